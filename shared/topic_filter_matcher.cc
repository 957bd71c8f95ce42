#include "shared/topic_filter_matcher.h"

#include "shared/same_bytes.h"
#include "shared/topic_filter.h"

namespace certguard {

std::optional<TopicFilterMatcher> TopicFilterMatcher::Of(std::string_view filter) {
  if (!IsValidTopicFilter(filter)) return std::nullopt;
  TopicFilterMatcher matcher;
  matcher.filter_ = filter;
  uint32_t begin = 0;
  for (std::string_view level : SplitTopicLevels(filter)) {
    const Kind kind = level == "+"   ? Kind::kSingleWildcard
                      : level == "#" ? Kind::kMultiWildcard
                                     : Kind::kLiteral;
    matcher.levels_.push_back({begin, static_cast<uint32_t>(level.size()), kind});
    begin += static_cast<uint32_t>(level.size()) + 1;
  }
  return matcher;
}

bool TopicFilterMatcher::Matches(const TopicLevels& topic) const {
  if (!topic.valid()) return false;
  const char* const text = topic.text().data();
  const auto size = static_cast<uint32_t>(topic.text().size());
  // The `$` rule: a first level of '+' or '#' never matches a topic that starts with '$'.
  const bool dollar = text[0] == '$';
  const Level* const first = levels_.data();
  const Level* const last = first + levels_.size();
  uint32_t begin = 0;  // where the topic's next level starts; past its end when it has no more
  for (const Level* level = first; level != last; ++level) {
    // '#' is the filter's last level and matches what is left, none included (`a/#` matches `a`).
    if (level->kind == Kind::kMultiWildcard) return level != first || !dollar;
    if (begin > size) return false;  // the topic ran out of levels first
    const uint32_t end = topic.LevelEnd(begin);
    if (level->kind == Kind::kSingleWildcard) {
      if (level == first && dollar) return false;
    } else if (!SameBytes(std::string_view(filter_.data() + level->begin, level->size),
                          std::string_view(text + begin, end - begin))) {
      return false;
    }
    begin = end + 1;
  }
  return begin > size;  // and the filter ran out of levels when the topic did
}

}  // namespace certguard
