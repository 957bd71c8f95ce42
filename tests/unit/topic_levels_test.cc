#include "shared/topic_levels.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "shared/topic_bytes.h"
#include "shared/topic_filter.h"

namespace certguard {
namespace {

std::vector<std::string> LevelsOf(std::string_view topic) {
  TopicLevels levels;
  EXPECT_TRUE(levels.Split(topic)) << topic;
  std::vector<std::string> out;
  for (uint32_t begin = 0; begin <= topic.size();) {
    const uint32_t end = levels.LevelEnd(begin);
    out.emplace_back(topic.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

using Levels = std::vector<std::string>;

TEST(TopicLevelsTest, SplitsOnEverySlashKeepingEmptyLevels) {
  EXPECT_EQ(LevelsOf("a"), (Levels{"a"}));
  EXPECT_EQ(LevelsOf("a/b/c"), (Levels{"a", "b", "c"}));
  EXPECT_EQ(LevelsOf("a//b"), (Levels{"a", "", "b"}));
  EXPECT_EQ(LevelsOf("/"), (Levels{"", ""}));
  EXPECT_EQ(LevelsOf("/a/"), (Levels{"", "a", ""}));
  EXPECT_EQ(LevelsOf("$SYS/broker/uptime"), (Levels{"$SYS", "broker", "uptime"}));
  EXPECT_EQ(LevelsOf("sensors/sensor-50000/telemetry"),
            (Levels{"sensors", "sensor-50000", "telemetry"}));
}

TEST(TopicLevelsTest, RefusesWhatIsNoTopicName) {
  TopicLevels levels;
  for (std::string_view bad : {std::string_view(""), std::string_view("a/+"), std::string_view("#"),
                               std::string_view("a/b#"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(levels.Split(bad)) << bad;
    EXPECT_FALSE(levels.valid());
  }
  EXPECT_FALSE(levels.Split(std::string(65536, 'a')));
  EXPECT_TRUE(levels.Split(std::string(65535, 'a')));
}

// The bytes are read sixteen at a time, the last block overlapping the one before, and topics
// from 64 bytes on are searched instead of masked: a forbidden byte or a slash must be found at
// every offset, on both sides of that boundary.
TEST(TopicLevelsTest, FindsSlashesAndForbiddenBytesAtEveryOffset) {
  for (size_t size = 1; size <= 90; ++size) {
    for (size_t at = 0; at < size; ++at) {
      std::string topic(size, 'x');
      topic[at] = '/';
      std::vector<std::string> expected{topic.substr(0, at), topic.substr(at + 1)};
      EXPECT_EQ(LevelsOf(topic), expected) << size << " " << at;
      for (char forbidden : {'+', '#', '\0'}) {
        topic[at] = forbidden;
        TopicLevels levels;
        EXPECT_FALSE(levels.Split(topic)) << size << " " << at << " " << int(forbidden);
      }
    }
  }
}

TEST(TopicLevelsTest, ReadsALongDeepTopicLevelByLevel) {
  std::string topic = "l0";
  for (int i = 1; i < 100; ++i) topic += "/l" + std::to_string(i);
  const Levels levels = LevelsOf(topic);
  ASSERT_EQ(levels.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(levels[static_cast<size_t>(i)], "l" + std::to_string(i));
}

// The reference: SplitTopicLevels and IsValidTopicName, byte by byte.
TEST(TopicLevelsTest, AgreesWithTheByteWiseFunctionsOnRandomStrings) {
  std::mt19937 random(20261124);
  const std::string alphabet("ab/+#$\0\x80\xff", 9);
  TopicLevels levels;
  for (int n = 0; n < 100000; ++n) {
    // Lengths on both sides of 64, where the slash mask gives way to a search.
    std::string topic(random() % 100, 'a');
    for (char& c : topic) c = alphabet[random() % alphabet.size()];
    const bool valid = IsValidTopicName(topic);
    ASSERT_EQ(levels.Split(topic), valid) << topic;
    if (!valid) continue;
    const std::vector<std::string_view> expected = SplitTopicLevels(topic);
    uint32_t begin = 0;
    for (std::string_view want : expected) {
      ASSERT_LE(begin, topic.size()) << topic;
      const uint32_t end = levels.LevelEnd(begin);
      ASSERT_EQ(std::string_view(topic).substr(begin, end - begin), want) << topic;
      begin = end + 1;
    }
    ASSERT_GT(begin, topic.size()) << topic;
  }
}

// The checks a single filter's match makes without a split: a level's end, or that it holds
// what no topic name may, whichever 16-byte block of the level it is in.
TEST(TopicLevelsTest, CheckedLevelEndFindsTheLevelsEndOrWhatItMayNotHold) {
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("sensors/s-1/telemetry", 8), 11u);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("sensors/s-1", 8), 11u);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/", 2), 2u);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/+/b", 2), topic_bytes::kForbidden);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/b#", 2), topic_bytes::kForbidden);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd(std::string_view("a/\0/b", 5), 2),
            topic_bytes::kForbidden);
  // A forbidden byte after the level's end is the next level's business.
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/b/#", 2), 3u);
  const std::string long_level(40, 'x');
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/" + long_level + "/b", 2), 42u);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/" + long_level + "+/b", 2), topic_bytes::kForbidden);
  EXPECT_EQ(topic_bytes::CheckedLevelEnd("a/" + long_level, 2), 42u);
}

TEST(TopicLevelsTest, NothingForbiddenLooksAtEveryByte) {
  EXPECT_TRUE(topic_bytes::NothingForbidden(""));
  EXPECT_TRUE(topic_bytes::NothingForbidden("a/b/c"));
  for (size_t at = 0; at < 40; ++at) {
    for (char bad : {'+', '#', '\0'}) {
      std::string text(40, 'x');
      text[at] = bad;
      EXPECT_FALSE(topic_bytes::NothingForbidden(text)) << at;
    }
  }
}

}  // namespace
}  // namespace certguard
