#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/placeholder.h"
#include "shared/result.h"

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
  bool MatchesLevel(std::string_view level, const PlaceholderValues& values) const;
  // For kTemplate: whether the substituted level starts with '$' (the `$`-topic rule).
  bool StartsWithDollar(const PlaceholderValues& values) const;

  bool operator==(const TopicLevelPattern& other) const {
    return kind_ == other.kind_ && text_ == other.text_;
  }

 private:
  friend class TopicPattern;
  Kind kind_ = Kind::kLiteral;
  std::string text_;
  std::vector<Segment> segments_;
  PlaceholderMask placeholders_ = 0;
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
