#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certguard {

// The per-device values a topic rule may refer to: `{id}`, `{cn}`, `{client_id}`.
enum class Placeholder : uint8_t { kId = 1, kCn = 2, kClientId = 4 };

// Bit set of Placeholder values, so a rule set can say which values it needs.
using PlaceholderMask = uint8_t;

struct PlaceholderValues {
  std::string_view id;
  std::string_view cn;
  std::string_view client_id;

  std::string_view Get(Placeholder p) const {
    switch (p) {
      case Placeholder::kId:
        return id;
      case Placeholder::kCn:
        return cn;
      case Placeholder::kClientId:
        return client_id;
    }
    return {};
  }
};

// Longest value we substitute. Device ids are short; a 10 KB CN is an attack, not an id.
inline constexpr size_t kMaxPlaceholderValueBytes = 256;

// Why `value` can never be substituted into a topic, or nullopt when it can. A value is refused
// when it is empty, longer than kMaxPlaceholderValueBytes, not valid UTF-8, starts with `$`, or
// contains `/`, `+`, `#`, NUL or another control character: each would let one device's rule
// reach other devices' or the broker's topics.
std::optional<std::string> WhyNotSubstitutable(std::string_view value);

std::string_view PlaceholderName(Placeholder p);

}  // namespace certguard
