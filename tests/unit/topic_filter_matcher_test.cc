// TopicFilterMatcher must answer exactly as TopicMatchesFilter (itself checked against
// libmosquitto in topic_differential_test.cc): the Mosquitto plugin allows deliveries with it.
#include "shared/topic_filter_matcher.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shared/topic_filter.h"
#include "tests/support/joined_levels.h"

namespace certguard {
namespace {

using certguard::testing::JoinedLevels;

bool Matches(std::string_view filter, std::string_view topic) {
  const auto matcher = TopicFilterMatcher::Of(filter);
  EXPECT_TRUE(matcher.has_value()) << filter;
  return matcher && matcher->Matches(topic);
}

TEST(TopicFilterMatcher, MatchesLevelByLevel) {
  EXPECT_TRUE(Matches("sensors/+/telemetry", "sensors/sensor-1/telemetry"));
  EXPECT_FALSE(Matches("sensors/+/telemetry", "sensors/sensor-1/status"));
  EXPECT_FALSE(Matches("sensors/+/telemetry", "sensors/sensor-1/telemetry/x"));
  EXPECT_FALSE(Matches("sensors/+/telemetry", "sensors/telemetry"));
  EXPECT_TRUE(Matches("sensors/#", "sensors/a/b/c"));
  EXPECT_TRUE(Matches("sensors/#", "sensors"));  // `#` also matches its parent level
  EXPECT_FALSE(Matches("sensors/+/#", "sensors"));
  EXPECT_TRUE(Matches("a//b", "a//b"));
  EXPECT_TRUE(Matches("+/+", "/"));
  EXPECT_TRUE(Matches("a/+", "a/"));
  EXPECT_FALSE(Matches("a", "a/"));
}

TEST(TopicFilterMatcher, FirstLevelWildcardsNeverMatchDollarTopics) {
  EXPECT_FALSE(Matches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(Matches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(Matches("$SYS/#", "$SYS/broker/uptime"));
  EXPECT_TRUE(Matches("a/#", "a/$x"));
  EXPECT_TRUE(Matches("#", "/$x"));
}

TEST(TopicFilterMatcher, NothingThatIsNoTopicNameMatches) {
  for (std::string_view topic : {std::string_view(""), std::string_view("a/+"),
                                 std::string_view("a/#"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(Matches("#", topic)) << topic;
    EXPECT_FALSE(Matches("a/+", topic)) << topic;
  }
}

TEST(TopicFilterMatcher, RefusesWhatIsNoFilterAndWhatIsTooLong) {
  for (std::string_view filter : {"", "a/#/b", "a+", "#a", "a/b#"}) {
    EXPECT_FALSE(TopicFilterMatcher::Of(filter).has_value()) << filter;
  }
  EXPECT_EQ(TopicFilterMatcher::Of("a/+/#")->filter(), "a/+/#");
  // Longer filters are left to the full decision: where the wildcards of one are fits 64 bits.
  EXPECT_TRUE(TopicFilterMatcher::Of(std::string(TopicFilterMatcher::kMaxBytes, 'a')));
  EXPECT_FALSE(TopicFilterMatcher::Of(std::string(TopicFilterMatcher::kMaxBytes + 1, 'a')));
}

// Every topic over levels that tell filters apart (literals, empty, `$`, a fresh one) or make it
// no topic name ('+', '#' or NUL, also past the first 16 bytes of a level), against every valid
// filter over the same literals and the wildcards, four levels deep; with a level long enough to
// take several 16-byte blocks and to make the topic 64 bytes or more.
TEST(TopicFilterMatcher, AgreesWithTopicMatchesFilterOnEveryShortTopicValidOrNot) {
  const std::string long_level(60, 'l');
  const std::vector<std::string> topic_levels = {
      "a", "", "$s", "c", "x+", std::string("n\0", 2), std::string(18, 'm') + "#", long_level};
  const std::vector<std::string> filter_levels = {"a", "", "$s", "+", "#", long_level};
  std::vector<std::string> filters;
  for (std::string& filter : JoinedLevels(filter_levels, 4)) {
    if (IsValidTopicFilter(filter) && filter.size() <= TopicFilterMatcher::kMaxBytes) {
      filters.push_back(std::move(filter));
    }
  }
  std::vector<std::string> topics = JoinedLevels(topic_levels, 4);
  topics.push_back("");

  size_t matches = 0;
  size_t long_topics = 0;
  size_t failures = 0;
  std::vector<TopicFilterMatcher> matchers;
  for (const std::string& filter : filters) matchers.push_back(*TopicFilterMatcher::Of(filter));
  size_t invalid_topics = 0;
  for (const std::string& topic : topics) {
    long_topics += topic.size() >= 64 ? 1 : 0;
    invalid_topics += IsValidTopicName(topic) ? 0 : 1;
    for (size_t f = 0; f < filters.size(); ++f) {
      const bool expected = TopicMatchesFilter(topic, filters[f]);
      matches += expected ? 1 : 0;
      if (matchers[f].Matches(topic) != expected && ++failures <= 20) {
        ADD_FAILURE() << "filter '" << filters[f] << "' topic '" << topic << "': expected "
                      << expected;
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  // Guard against a universe that tests nothing interesting.
  EXPECT_GT(matches, topics.size());
  EXPECT_GT(long_topics, topics.size() / 8);
  EXPECT_GT(invalid_topics, topics.size() / 4);
  EXPECT_GT(filters.size(), 400u);
}

}  // namespace
}  // namespace certguard
