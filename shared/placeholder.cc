#include "shared/placeholder.h"

namespace certguard {
namespace {

// Returns the length of the UTF-8 sequence at `s[i]`, or 0 when it is malformed, overlong,
// a surrogate or beyond U+10FFFF.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

std::optional<std::string> WhyNotSubstitutable(std::string_view value) {
  if (value.empty()) return "it is empty";
  // `{id}/#` for a device called "$SYS" would reach the broker's own topics, which a wildcard
  // never does: `$` at the start of a level is the broker's, not a device's.
  if (value.front() == '$') return "it starts with '$' (reserved for broker topics)";
  if (value.size() > kMaxPlaceholderValueBytes) {
    return "it is longer than " + std::to_string(kMaxPlaceholderValueBytes) + " bytes";
  }
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '/' || c == '+' || c == '#') {
      return std::string("it contains '") + static_cast<char>(c) + "'";
    }
    if (c == 0) return "it contains a NUL byte";
    if (c < 0x20 || c == 0x7F) return "it contains a control character";
    const size_t len = Utf8SequenceLength(value, i);
    if (len == 0) return "it is not valid UTF-8";
    i += len;
  }
  return std::nullopt;
}

std::string_view PlaceholderName(Placeholder p) {
  switch (p) {
    case Placeholder::kId:
      return "{id}";
    case Placeholder::kCn:
      return "{cn}";
    case Placeholder::kClientId:
      return "{client_id}";
  }
  return "{?}";
}

}  // namespace certguard
