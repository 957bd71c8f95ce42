#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/placeholder.h"
#include "shared/result.h"
#include "shared/same_bytes.h"

namespace certguard {

// One level of a topic filter as written in a policy: a literal (`sensors`), a wildcard
// (`+`, `#`), or a literal with placeholders (`{id}`, `dev-{client_id}`).
class TopicLevelPattern {
 public:
  enum class Kind { kLiteral, kSingleWildcard, kMultiWildcard, kTemplate };

  struct Segment {
    bool is_placeholder = false;
    Placeholder placeholder = Placeholder::kId;
    std::string literal;
    bool operator==(const Segment&) const = default;
  };

  Kind kind() const { return kind_; }
  // The literal text; for kTemplate, the level as written.
  const std::string& text() const { return text_; }
  PlaceholderMask placeholders() const { return placeholders_; }

  // For kTemplate: whether `level` equals this pattern with `values` substituted. Does not
  // allocate. Callers make sure the values are substitutable (WhyNotSubstitutable).
  bool MatchesLevel(std::string_view level, const PlaceholderValues& values) const {
    // The usual template level is one placeholder (`{id}`): one comparison, inline.
    if (sole_placeholder_) {
      const std::string_view value = values.Get(*sole_placeholder_);
      return !value.empty() && SameBytes(value, level);
    }
    return MatchesSegments(level, values);
  }
  // For kTemplate: whether the substituted level starts with '$' (the `$`-topic rule).
  bool StartsWithDollar(const PlaceholderValues& values) const;

  bool operator==(const TopicLevelPattern& other) const {
    return kind_ == other.kind_ && text_ == other.text_;
  }

 private:
  bool MatchesSegments(std::string_view level, const PlaceholderValues& values) const;

  friend class TopicPattern;
  Kind kind_ = Kind::kLiteral;
  std::string text_;
  std::vector<Segment> segments_;
  PlaceholderMask placeholders_ = 0;
  std::optional<Placeholder> sole_placeholder_;  // the level is this placeholder and nothing else
};

// A topic filter as written in a policy rule, e.g. `sensors/{id}/telemetry` or
// `devices/{id}/commands/#`. Placeholders stand inside one level, never across levels.
class TopicPattern {
 public:
  // Error messages carry no location; `column_offset` tells the caller where in `text` the
  // problem is (0-based), so it can point at it.
  struct ParseError {
    std::string message;
    size_t offset = 0;
  };
  static Result<TopicPattern> Parse(std::string_view text, ParseError* where = nullptr);

  const std::string& text() const { return text_; }
  const std::vector<TopicLevelPattern>& levels() const { return levels_; }
  PlaceholderMask placeholders() const { return placeholders_; }

 private:
  std::string text_;
  std::vector<TopicLevelPattern> levels_;
  PlaceholderMask placeholders_ = 0;
};

}  // namespace certguard
