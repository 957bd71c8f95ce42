#include "shared/topic_filter_matcher.h"

#include <bit>

#include "shared/same_bytes.h"
#include "shared/topic_bytes.h"
#include "shared/topic_filter.h"

namespace certguard {

std::optional<TopicFilterMatcher> TopicFilterMatcher::Of(std::string_view filter) {
  if (filter.size() > kMaxBytes || !IsValidTopicFilter(filter)) return std::nullopt;
  uint64_t pluses = 0;
  for (size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '+') pluses |= uint64_t{1} << i;  // valid: always a whole level
  }
  return TopicFilterMatcher(filter, pluses);
}

// A literal run of the filter starts at its start or after a `+` (so at a '/') and ends before a
// `+` (so after a '/') or at its end: equal bytes keep the topic's levels aligned with the
// filter's. Every byte of the topic is either in a run, taken by a `+`, or left to a `#`.
bool TopicFilterMatcher::Matches(std::string_view topic) const {
  if (topic.empty() || topic.size() > topic_bytes::kMaxTopicBytes) return false;
  const char* const filter = filter_.data();
  // A last level of '#' matches its parent level too (`a/#` matches `a`): what it leaves of the
  // filter, the `core`, ends with the '/' that the topic may lack.
  const bool hash = filter_.back() == '#';
  const auto core = static_cast<uint32_t>(filter_.size() - (hash ? 1 : 0));
  // The `$` rule: a first level of '+' or '#' never matches a topic that starts with '$'.
  if (topic.front() == '$' && (core == 0 || (pluses_ & 1) != 0)) return false;
  uint32_t at = 0;     // in the filter
  uint32_t begin = 0;  // in the topic
  for (uint64_t pluses = pluses_; pluses != 0; pluses &= pluses - 1) {
    const auto plus = static_cast<uint32_t>(std::countr_zero(pluses));
    const uint32_t run = plus - at;
    if (topic.size() - begin < run ||
        !SameBytes(std::string_view(filter + at, run), topic.substr(begin, run))) {
      return false;
    }
    begin = topic_bytes::CheckedLevelEnd(topic, begin + run);  // the `+` takes one level
    if (begin == topic_bytes::kForbidden) return false;
    at = plus + 1;
  }
  const std::string_view rest = topic.substr(begin);
  const std::string_view run(filter + at, core - at);
  if (!hash) return SameBytes(run, rest);
  if (run.empty()) return topic_bytes::NothingForbidden(rest);  // the filter `#`
  // `run` ends with the '/' before the '#': the topic goes on past it, or stops just before it.
  if (rest.starts_with(run)) return topic_bytes::NothingForbidden(rest.substr(run.size()));
  return SameBytes(run.substr(0, run.size() - 1), rest);
}

}  // namespace certguard
