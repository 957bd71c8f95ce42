#include "shared/topic_template.h"

#include "shared/same_bytes.h"
#include "shared/topic_filter.h"

namespace certguard {
namespace {

struct PlaceholderSpelling {
  std::string_view name;
  Placeholder placeholder;
};
constexpr PlaceholderSpelling kPlaceholders[] = {
    {"id", Placeholder::kId}, {"cn", Placeholder::kCn}, {"client_id", Placeholder::kClientId}};

}  // namespace

bool TopicLevelPattern::MatchesSegments(std::string_view level,
                                        const PlaceholderValues& values) const {
  size_t pos = 0;
  for (const Segment& segment : segments_) {
    const std::string_view piece = segment.is_placeholder ? values.Get(segment.placeholder)
                                                          : std::string_view(segment.literal);
    if (piece.empty() && segment.is_placeholder) return false;  // never substitute an empty value
    if (level.size() - pos < piece.size() || level.compare(pos, piece.size(), piece) != 0) {
      return false;
    }
    pos += piece.size();
  }
  return pos == level.size();
}

bool TopicLevelPattern::StartsWithDollar(const PlaceholderValues& values) const {
  for (const Segment& segment : segments_) {
    const std::string_view piece = segment.is_placeholder ? values.Get(segment.placeholder)
                                                          : std::string_view(segment.literal);
    if (!piece.empty()) return piece.front() == '$';
  }
  return false;
}

Result<TopicPattern> TopicPattern::Parse(std::string_view text, ParseError* where) {
  const auto fail = [&](std::string message, size_t offset) -> Result<TopicPattern> {
    if (where != nullptr) *where = {message, offset};
    return Error{std::move(message)};
  };

  TopicPattern pattern;
  pattern.text_ = std::string(text);
  // The filter with each placeholder replaced by a plain character: it must be a valid MQTT
  // filter, which rules out `+{id}`, `{id}#` and the like with the same code the broker uses.
  std::string skeleton;

  size_t level_start = 0;
  TopicLevelPattern level;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      const std::string_view raw = text.substr(level_start, i - level_start);
      level.text_ = std::string(raw);
      if (level.placeholders_ != 0) {
        level.kind_ = TopicLevelPattern::Kind::kTemplate;
        if (level.segments_.size() == 1) level.sole_placeholder_ = level.segments_[0].placeholder;
      } else if (raw == "+") {
        level.kind_ = TopicLevelPattern::Kind::kSingleWildcard;
      } else if (raw == "#") {
        level.kind_ = TopicLevelPattern::Kind::kMultiWildcard;
      } else {
        level.kind_ = TopicLevelPattern::Kind::kLiteral;
        level.segments_.clear();
      }
      pattern.placeholders_ |= level.placeholders_;
      pattern.levels_.push_back(std::move(level));
      level = TopicLevelPattern();
      if (i < text.size()) skeleton.push_back('/');
      level_start = i + 1;
      continue;
    }
    if (text[i] == '}') return fail("unmatched '}' in topic filter", i);
    if (text[i] != '{') {
      skeleton.push_back(text[i]);
      if (level.segments_.empty() || level.segments_.back().is_placeholder) {
        level.segments_.push_back({});
      }
      level.segments_.back().literal.push_back(text[i]);
      continue;
    }
    const size_t close = text.find_first_of("}/", i + 1);
    if (close == std::string_view::npos) return fail("unterminated placeholder", i);
    if (text[close] == '/') {
      return fail("placeholder spans topic levels (a placeholder stands inside one level)", i);
    }
    const std::string_view name = text.substr(i + 1, close - i - 1);
    const PlaceholderSpelling* found = nullptr;
    for (const auto& spelling : kPlaceholders) {
      if (spelling.name == name) found = &spelling;
    }
    if (found == nullptr) {
      return fail(
          "unknown placeholder {" + std::string(name) + "} (known: {id}, {cn}, {client_id})", i);
    }
    level.segments_.push_back({true, found->placeholder, {}});
    level.placeholders_ |= static_cast<PlaceholderMask>(found->placeholder);
    skeleton.push_back('x');
    i = close;
  }
  if (!IsValidTopicFilter(skeleton)) {
    return fail("'" + std::string(text) +
                    "' is not a valid MQTT topic filter ('+' and '#' must fill a whole level, "
                    "'#' only at the end)",
                0);
  }
  return pattern;
}

}  // namespace certguard
