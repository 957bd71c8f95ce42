#include "shared/filter_trie.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "shared/topic_filter.h"
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

// A node whose only way on is one '+', one placeholder or literals is walked by a shortcut: each
// must keep the `$` rule ('+' and '#' never match a `$` first level) and fall through to the
// general walk when the node has more than one kind of edge.
TEST(FilterTrieTest, EveryNodeShapeKeepsTheDollarRule) {
  const PlaceholderValues dollar_id{"$dev", "$dev", "$dev"};
  EXPECT_EQ(TrieOf({"+/c"}).FindMatchingTopic("z/c", kValues), 0u);
  EXPECT_EQ(TrieOf({"+/c"}).FindMatchingTopic("$z/c", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"a/+"}).FindMatchingTopic("a/$z", kValues), 0u);  // not a first level
  EXPECT_EQ(TrieOf({"#"}).FindMatchingTopic("$z/c", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"{id}/c"}).FindMatchingTopic("dev-1/c", kValues), 0u);
  EXPECT_EQ(TrieOf({"{id}/c"}).FindMatchingTopic("dev-2/c", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"a/{id}"}).FindMatchingTopic("a/dev-1", kValues), 0u);
  EXPECT_EQ(TrieOf({"a/{id}"}).FindMatchingTopic("a/dev-1/x", kValues), FilterTrie::kNoRule);
  // A placeholder is the device's own value: it matches a level equal to it, `$` or not.
  EXPECT_EQ(TrieOf({"{id}/c"}).FindMatchingTopic("$dev/c", dollar_id), 0u);
  // Mixed nodes: a literal and a '+', a placeholder and a '+'.
  EXPECT_EQ(TrieOf({"a/b", "+/c"}).FindMatchingTopic("$z/c", kValues), FilterTrie::kNoRule);
  EXPECT_EQ(TrieOf({"x/{id}/d", "x/+/c"}).FindMatchingTopic("x/dev-1/c", kValues), 1u);
  EXPECT_EQ(TrieOf({"x/{id}/d", "x/+/c"}).FindMatchingTopic("x/dev-1/d", kValues), 0u);
  EXPECT_EQ(TrieOf({"x/+/c", "x/+"}).FindMatchingTopic("x/q", kValues), 1u);
}

TEST(FilterTrieTest, MatchesDeepTopicsLongerThanTheSlashMask) {
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

// Topics shorter than 64 bytes are read through a mask of their slashes, longer ones by search:
// a walk must reach the same rule either way, at every length around that boundary, with levels
// (empty ones included) ending exactly at and next to it.
TEST(FilterTrieTest, AgreesWithTopicMatchesFilterAcrossTheSlashMaskBoundary) {
  const std::vector<std::string> filters = {"#",  "a/+/c",   "a/#",    "+/+", "+/b/#",
                                            "/+", "x/+/+/#", "a/bb/+", "+//c"};
  std::mt19937 random(64);
  const std::string alphabet = "abcx/";
  size_t matched = 0, unmatched = 0;
  for (size_t size = 1; size <= 130; ++size) {
    for (int n = 0; n < 200; ++n) {
      std::string topic(size, 'a');
      for (char& c : topic) c = alphabet[random() % alphabet.size()];
      for (size_t first = 0; first < filters.size(); ++first) {
        // Every suffix of the list, so the earliest matching filter differs between tries.
        const std::vector<std::string> some(filters.begin() + static_cast<long>(first),
                                            filters.end());
        const FilterTrie trie = TrieOf(some);
        const FilterTrie::RuleIndex found = trie.FindMatchingTopic(topic, kValues);
        bool any = false;
        for (const std::string& f : some) any = any || TopicMatchesFilter(topic, f);
        ASSERT_EQ(found != FilterTrie::kNoRule, any) << topic << " first " << first;
        if (any) {
          ASSERT_LT(found, some.size());
          ASSERT_TRUE(TopicMatchesFilter(topic, some[found])) << topic << " " << some[found];
        }
        (any ? matched : unmatched) += 1;
      }
    }
  }
  EXPECT_GT(matched, 10000u);  // the alphabet keeps both outcomes common
  EXPECT_GT(unmatched, 10000u);
}

}  // namespace
}  // namespace certguard
