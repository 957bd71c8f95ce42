#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/topic_levels.h"

namespace certguard {

// One topic filter split into its levels once, so that matching a topic that is already split
// (TopicLevels) costs one comparison per level. The Mosquitto plugin matches every delivery to a
// subscriber against the filters it subscribed to (mosquitto-plugin/receive_grants.h); the
// TopicLevels split it shares with the full decision also checks the topic name.
//
// Matches gives exactly TopicMatchesFilter's answer, the `$` rule included
// (tests/unit/topic_differential_test.cc, tests/fuzz/fuzz_topic_filter.cc).
class TopicFilterMatcher {
 public:
  // nullopt when `filter` is not a valid topic filter (IsValidTopicFilter).
  static std::optional<TopicFilterMatcher> Of(std::string_view filter);

  const std::string& filter() const { return filter_; }

  // Whether the filter matches `topic`; false when `topic` is not a valid topic name.
  bool Matches(const TopicLevels& topic) const;

 private:
  enum class Kind : uint8_t { kLiteral, kSingleWildcard, kMultiWildcard };
  struct Level {
    uint32_t begin;  // a literal's bytes in filter_
    uint32_t size;
    Kind kind;
  };

  TopicFilterMatcher() = default;

  std::string filter_;
  std::vector<Level> levels_;
};

}  // namespace certguard
