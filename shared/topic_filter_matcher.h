#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace certguard {

// A view of a valid topic filter under 64 bytes together with where its `+` levels are, one bit
// per byte. Matching compares the literal runs between the wildcards whole (`sensors/` and
// `/telemetry` in `sensors/+/telemetry`) and lets each `+` take one level of the topic: a compare
// per wildcard rather than per level, and only the bytes the wildcards take are checked for what
// a topic name may not hold (the runs equal the filter's bytes, which never are '+', '#' or NUL).
// The Mosquitto plugin matches every delivery to a subscriber against the filters it subscribed
// to (mosquitto-plugin/receive_grants.h), which keeps only the text and the mask.
//
// Matches gives exactly TopicMatchesFilter's answer, for any bytes, the `$` rule included
// (tests/unit/topic_filter_matcher_test.cc, tests/fuzz/fuzz_topic_filter.cc).
class TopicFilterMatcher {
 public:
  static constexpr size_t kMaxBytes = 63;

  // nullopt when `filter` is not a valid topic filter (IsValidTopicFilter) or is longer than
  // kMaxBytes. The matcher points into `filter`.
  static std::optional<TopicFilterMatcher> Of(std::string_view filter);
  // A matcher Of(filter) gave before, rebuilt from its parts.
  TopicFilterMatcher(std::string_view filter, uint64_t pluses) : filter_(filter), pluses_(pluses) {}

  std::string_view filter() const { return filter_; }
  uint64_t pluses() const { return pluses_; }

  // Whether the filter matches `topic`; false when `topic` is not a valid topic name.
  bool Matches(std::string_view topic) const;

 private:
  std::string_view filter_;
  uint64_t pluses_;  // bit i: filter_[i] is a `+` level
};

}  // namespace certguard
