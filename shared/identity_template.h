#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/result.h"

namespace certguard {

// An identity template such as "spiffe://iot.example.com/device/{id}" or "{id}.*.example.com":
// exactly one `{id}`, `*` a glob for any run of characters (possibly empty) outside it, everything
// else literal. `{id}` captures a non-empty run. Where several captures would fit, the shortest
// `{id}` wins, so the result never depends on anything but the template and the value.
class IdentityTemplate {
 public:
  // Error messages have no location; the policy loader adds it. E.g. "template must contain
  // exactly one {id}", "unknown placeholder {foo} in identity template".
  static Result<IdentityTemplate> Parse(std::string_view text);

  // The `{id}` capture, or nullopt when the value does not fit.
  std::optional<std::string> Match(std::string_view value) const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string prefix_glob_;  // the pattern before {id}
  std::string suffix_glob_;  // the pattern after {id}
};

// Glob on a whole string: `*` matches any run of characters (possibly empty); nothing else is
// special. Linear-time two-pointer matching, no recursion (hostile ids cannot blow the stack).
bool GlobMatch(std::string_view pattern, std::string_view value);

}  // namespace certguard
