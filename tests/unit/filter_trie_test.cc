#include "shared/filter_trie.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shared/topic_template.h"

namespace certguard {
namespace {

const PlaceholderValues kValues{"dev-1", "dev-1", "dev-1"};

FilterTrie TrieOf(const std::vector<std::string>& filters) {
  FilterTrie trie;
  FilterTrie::RuleIndex rule = 0;
  for (const std::string& filter : filters) {
    trie.Insert(TopicPattern::Parse(filter).value(), rule++);
  }
  trie.Freeze();
  return trie;
}

// A trie whose first level is literal only refuses a topic on its first byte. The byte is
// hashed into 128 bits: bytes that share a bit ('$' and 0xA4, a UTF-8 continuation byte) must
// still be told apart by the walk,
// an empty first level is a topic starting with '/', and any other way on at the root turns the
// shortcut off.
TEST(FilterTrieTest, FirstByteShortcutNeverDecidesAMatch) {
  const FilterTrie sys = TrieOf({"$SYS/#", "/lead/+"});
  EXPECT_EQ(sys.FindMatchingTopic("$SYS/broker/load", kValues), 0u);
  EXPECT_EQ(sys.FindMatchingTopic("dSYS/broker/load", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(sys.FindMatchingTopic("\xa4SYS/broker/load", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(sys.FindMatchingTopic("\xc3\xa4/x", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"\xc3\xa4/+"}).FindMatchingTopic("\xc3\xa4/x", kValues), 0u);
  EXPECT_EQ(TrieOf({"\xc3\xa4/+"}).FindMatchingTopic("C/x", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(sys.FindMatchingTopic("sensors/dev-1", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(sys.FindMatchingTopic("/lead/x", kValues), 1u);
  EXPECT_EQ(sys.FindMatchingTopic("lead/x", kValues), FilterTrie::kNoRule);

  EXPECT_EQ(TrieOf({"{id}/x"}).FindMatchingTopic("dev-1/x", kValues), 0u);
  EXPECT_EQ(TrieOf({"a/b", "+/c"}).FindMatchingTopic("z/c", kValues), 1u);
  EXPECT_EQ(TrieOf({"a/b", "#"}).FindMatchingTopic("z/c", kValues), 1u);
  // The `$` rule still holds where the shortcut is off.
  EXPECT_EQ(TrieOf({"a/b", "+/c"}).FindMatchingTopic("$z/c", kValues), FilterTrie::kNoRule);
}

// Literal levels are compared in overlapping word loads: a level that differs from the rule's in
// any one byte, at any length, must not match.
TEST(FilterTrieTest, LiteralLevelMatchesOnlyItselfAtEveryLengthAndPosition) {
  for (size_t size = 1; size <= 40; ++size) {
    std::string literal(size, 'k');
    for (size_t i = 0; i < size; ++i) literal[i] = static_cast<char>('a' + i % 26);
    const FilterTrie trie = TrieOf({"top/" + literal + "/end"});
    EXPECT_EQ(trie.FindMatchingTopic("top/" + literal + "/end", kValues), 0u) << literal;
    for (size_t at = 0; at < size; ++at) {
      std::string other = literal;
      other[at] = 'Z';
      EXPECT_EQ(trie.FindMatchingTopic("top/" + other + "/end", kValues), FilterTrie::kNoRule)
          << literal << " vs " << other;
    }
    EXPECT_EQ(trie.FindMatchingTopic("top/" + literal + "x/end", kValues), FilterTrie::kNoRule);
    EXPECT_EQ(trie.FindMatchingTopic("top/" + literal.substr(1) + "/end", kValues),
              FilterTrie::kNoRule);
  }
}

TEST(FilterTrieTest, WideFanOutFindsEveryLiteralByBinarySearch) {
  std::vector<std::string> filters;
  for (int i = 0; i < 50; ++i) filters.push_back("devices/device-" + std::to_string(i) + "/#");
  const FilterTrie trie = TrieOf(filters);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(trie.FindMatchingTopic("devices/device-" + std::to_string(i) + "/a/b", kValues),
              static_cast<FilterTrie::RuleIndex>(i));
  }
  EXPECT_EQ(trie.FindMatchingTopic("devices/device-50/a", kValues), FilterTrie::kNoRule);
}

TEST(FilterTrieTest, MatchesTopicsDeeperThanTheInlineLevels) {
  std::string filter = "a", topic = "a";
  for (int i = 1; i < 40; ++i) {
    filter += i % 3 == 0 ? "/+" : "/l" + std::to_string(i);
    topic += "/l" + std::to_string(i);
  }
  const FilterTrie trie = TrieOf({filter});
  EXPECT_EQ(trie.FindMatchingTopic(topic, kValues), 0u);
  EXPECT_EQ(trie.FindMatchingTopic(topic + "/more", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(trie.FindMatchingTopic(topic.substr(0, topic.rfind('/')), kValues),
            FilterTrie::kNoRule);
}

TEST(FilterTrieTest, InvalidTopicNamesMatchNothing) {
  const FilterTrie trie = TrieOf({"#", "+/+"});
  EXPECT_EQ(trie.FindMatchingTopic("", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(trie.FindMatchingTopic("a/+", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(trie.FindMatchingTopic("a/#", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(trie.FindMatchingTopic(std::string("a\0b", 3), kValues), FilterTrie::kNoRule);
  EXPECT_EQ(trie.FindMatchingTopic("a/b", kValues), 0u);
}

}  // namespace
}  // namespace certguard
