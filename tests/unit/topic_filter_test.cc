#include "shared/topic_filter.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace certguard {
namespace {

using std::string_view_literals::operator""sv;

// ---------------------------------------------------------------------------------------------
// SplitTopicLevels

TEST(TopicSplitLevels, KeepsEmptyLevels) {
  EXPECT_EQ(SplitTopicLevels("a//b"), (std::vector<std::string_view>{"a", "", "b"}));
  EXPECT_EQ(SplitTopicLevels(""), (std::vector<std::string_view>{""}));
  EXPECT_EQ(SplitTopicLevels("/"), (std::vector<std::string_view>{"", ""}));
  EXPECT_EQ(SplitTopicLevels("/a"), (std::vector<std::string_view>{"", "a"}));
  EXPECT_EQ(SplitTopicLevels("a/"), (std::vector<std::string_view>{"a", ""}));
  EXPECT_EQ(SplitTopicLevels("a/b/c"), (std::vector<std::string_view>{"a", "b", "c"}));
}

// ---------------------------------------------------------------------------------------------
// Validity

TEST(TopicNameValidity, AcceptsOrdinaryAndEmptyLevelTopics) {
  for (const char* topic : {"a", "a/b", "/", "//", "/a", "a/", "$SYS/uptime", "température/温度"}) {
    EXPECT_TRUE(IsValidTopicName(topic)) << topic;
  }
}

TEST(TopicNameValidity, RejectsWildcardsEmptyAndNul) {
  for (const char* topic : {"", "+", "#", "a/+", "a/#", "a+b", "a#"}) {
    EXPECT_FALSE(IsValidTopicName(topic)) << topic;
  }
  EXPECT_FALSE(IsValidTopicName("a\0b"sv));
}

TEST(TopicNameValidity, LimitsLengthTo65535Bytes) {
  EXPECT_TRUE(IsValidTopicName(std::string(65535, 'a')));
  EXPECT_FALSE(IsValidTopicName(std::string(65536, 'a')));
}

TEST(TopicFilterValidity, AcceptsWholeLevelWildcards) {
  for (const char* filter : {"+", "#", "/", "//", "a", "a/+", "a/#", "+/+", "+/#", "/#", "/+",
                             "a/+/b", "+//#", "$SYS/#", "$share/g/a"}) {
    EXPECT_TRUE(IsValidTopicFilter(filter)) << filter;
  }
}

TEST(TopicFilterValidity, RejectsMisplacedWildcardsEmptyAndNul) {
  for (const char* filter : {"a/#/b", "#/", "#/a", "a+", "+a", "a/b+", "a/+b", "#a", "a#", "a/#b",
                             "++", "##", "+#", "", "a/#/#"}) {
    EXPECT_FALSE(IsValidTopicFilter(filter)) << filter;
  }
  EXPECT_FALSE(IsValidTopicFilter("a\0b"sv));
  EXPECT_FALSE(IsValidTopicFilter("\0"sv));
}

TEST(TopicFilterValidity, LimitsLengthTo65535Bytes) {
  EXPECT_TRUE(IsValidTopicFilter(std::string(65535, 'a')));
  EXPECT_FALSE(IsValidTopicFilter(std::string(65536, 'a')));
}

// ---------------------------------------------------------------------------------------------
// TopicMatchesFilter

struct MatchCase {
  const char* topic;
  const char* filter;
  bool matches;
};

TEST(TopicMatchesFilter, FollowsMqttWildcardRules) {
  const MatchCase cases[] = {
      {"a", "a", true},
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a", "b", false},
      {"ab", "a", false},
      {"a", "ab", false},
      // '+' is exactly one level, which may be empty.
      {"a/b", "a/+", true},
      {"a/", "a/+", true},
      {"a", "a/+", false},
      {"a/b/c", "a/+", false},
      {"/", "+/+", true},
      {"/a", "+/a", true},
      {"a", "+", true},
      {"a/b", "+", false},
      // '#' is the parent level plus any number of further levels.
      {"a", "a/#", true},
      {"a/", "a/#", true},
      {"a/b/c", "a/#", true},
      {"ab", "a/#", false},
      {"b", "a/#", false},
      {"a", "#", true},
      {"/", "#", true},
      {"a/b/c", "#", true},
      {"a", "+/#", true},
      {"a/b", "a/+/#", true},
      {"a", "a/+/#", false},
      {"a/", "a/+/#", true},
      {"a/b", "a/+/+/#", false},
      // Empty levels are real levels.
      {"a//b", "a/+/b", true},
      {"a//b", "a/b", false},
      {"a//b", "a//b", true},
      {"/a", "a", false},
      {"a/", "a", false},
      {"/", "/", true},
      {"//", "/", false},
      {"//", "/#", true},
      {"//", "+/+/+", true},
      // Multi-byte UTF-8 is compared byte for byte.
      {"température/温度", "+/温度", true},
      {"température/温度", "temperature/#", false},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(TopicMatchesFilter(c.topic, c.filter), c.matches)
        << "topic '" << c.topic << "' filter '" << c.filter << "'";
  }
}

TEST(TopicMatchesFilter, FirstLevelWildcardNeverMatchesDollarTopics) {
  EXPECT_FALSE(TopicMatchesFilter("$SYS/x", "#"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS/x", "+/x"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS/x", "+/#"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS", "+"));
  EXPECT_FALSE(TopicMatchesFilter("$", "#"));
}

TEST(TopicMatchesFilter, LiteralDollarFilterMatchesDollarTopics) {
  EXPECT_TRUE(TopicMatchesFilter("$SYS/x", "$SYS/#"));
  EXPECT_TRUE(TopicMatchesFilter("$SYS/x", "$SYS/+"));
  EXPECT_TRUE(TopicMatchesFilter("$SYS", "$SYS/#"));
  EXPECT_FALSE(TopicMatchesFilter("$SYS/x", "$sys/#"));
}

TEST(TopicMatchesFilter, DollarRuleAppliesOnlyToTheFirstLevel) {
  EXPECT_TRUE(TopicMatchesFilter("a/$SYS", "a/+"));
  EXPECT_TRUE(TopicMatchesFilter("a/$SYS/x", "a/#"));
  EXPECT_TRUE(TopicMatchesFilter("x$/a", "+/a"));
}

TEST(TopicMatchesFilter, InvalidInputNeverMatches) {
  EXPECT_FALSE(TopicMatchesFilter("", "#"));
  EXPECT_FALSE(TopicMatchesFilter("a", ""));
  EXPECT_FALSE(TopicMatchesFilter("a/+", "a/+"));
  EXPECT_FALSE(TopicMatchesFilter("a/#", "#"));
  EXPECT_FALSE(TopicMatchesFilter("a/b+", "a/#"));
  EXPECT_FALSE(TopicMatchesFilter("a/b+", "+/+"));
  EXPECT_FALSE(TopicMatchesFilter("a+", "a+"));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "a/#/b"));
  EXPECT_FALSE(TopicMatchesFilter("a/b", "#/b"));
  EXPECT_FALSE(TopicMatchesFilter("a\0b"sv, "#"));
  EXPECT_FALSE(TopicMatchesFilter("a/b\0"sv, "a/+"));
  EXPECT_FALSE(TopicMatchesFilter("a\0"sv, "a\0"sv));
  EXPECT_FALSE(TopicMatchesFilter(std::string(65536, 'a'), "#"));
}

// ---------------------------------------------------------------------------------------------
// FilterContains

struct ContainsCase {
  const char* outer;
  const char* inner;
  bool contains;
};

TEST(FilterContains, MatchesTheDesignTable) {
  const ContainsCase cases[] = {
      {"a/+", "a/#", false},  {"a/+/b", "a/#", false}, {"+/+", "a/#", false},
      {"a/#", "a/+/b", true}, {"a/#", "a", true},      {"a/+/#", "a/b", true},
  };
  for (const ContainsCase& c : cases) {
    EXPECT_EQ(FilterContains(c.outer, c.inner), c.contains)
        << "outer '" << c.outer << "' inner '" << c.inner << "'";
  }
}

TEST(FilterContains, MultiLevelWildcardIsNotContainedInSingleLevel) {
  EXPECT_FALSE(FilterContains("a/+", "a/#"));
  EXPECT_FALSE(FilterContains("+", "#"));
  EXPECT_FALSE(FilterContains("a/+/#", "a/#"));  // `a/#` also matches `a`.
}

TEST(FilterContains, EveryFilterContainsItself) {
  for (const char* filter : {"a", "a/b", "+", "#", "a/+", "a/#", "/", "//", "+/#", "$SYS/#"}) {
    EXPECT_TRUE(FilterContains(filter, filter)) << filter;
  }
}

TEST(FilterContains, SingleLevelWildcardContainsAnyOneLevel) {
  EXPECT_TRUE(FilterContains("a/+", "a/b"));
  EXPECT_TRUE(FilterContains("a/+", "a/"));
  EXPECT_TRUE(FilterContains("+/+", "a/+"));
  EXPECT_FALSE(FilterContains("a/b", "a/+"));
  EXPECT_FALSE(FilterContains("a/+", "a"));
  EXPECT_FALSE(FilterContains("a/+", "a/b/c"));
}

TEST(FilterContains, MultiLevelWildcardContainsItsParentLevel) {
  EXPECT_TRUE(FilterContains("a/#", "a"));
  EXPECT_TRUE(FilterContains("a/#", "a/"));
  EXPECT_TRUE(FilterContains("a/#", "a/#"));
  EXPECT_TRUE(FilterContains("a/#", "a/+/#"));
  EXPECT_TRUE(FilterContains("#", "a/#"));
  EXPECT_TRUE(FilterContains("+/#", "a"));
  EXPECT_FALSE(FilterContains("a/b/#", "a"));
  EXPECT_FALSE(FilterContains("a/b/#", "a/#"));
}

TEST(FilterContains, HashAndPlusHashMatchTheSameTopics) {
  // `#` would also match the parent of the first level, but a topic with no levels does not
  // exist, so both filters match exactly the non-`$` topics.
  EXPECT_TRUE(FilterContains("+/#", "#"));
  EXPECT_TRUE(FilterContains("#", "+/#"));
  EXPECT_FALSE(FilterContains("+/+/#", "#"));
}

TEST(FilterContains, EmptyStringIsNotATopicSoSlashHashHasNoParent) {
  // `/#` would match its parent, the empty string, but that is not a valid topic name; so `/#`
  // matches exactly what `/+/#` matches.
  EXPECT_TRUE(FilterContains("/+/#", "/#"));
  EXPECT_TRUE(FilterContains("+/+/#", "/#"));
  EXPECT_TRUE(FilterContains("/#", "/+/#"));
  EXPECT_FALSE(FilterContains("/+", "/#"));
  // With a non-empty first level the parent is a real topic and must be covered.
  EXPECT_FALSE(FilterContains("a/+/#", "a/#"));
  EXPECT_FALSE(FilterContains("+/+/#", "+/#"));
}

TEST(FilterContains, FirstLevelWildcardContainsNoDollarFilter) {
  EXPECT_FALSE(FilterContains("#", "$SYS/#"));
  EXPECT_FALSE(FilterContains("#", "$SYS"));
  EXPECT_FALSE(FilterContains("+/#", "$SYS/x"));
  EXPECT_FALSE(FilterContains("+/x", "$SYS/x"));
  EXPECT_FALSE(FilterContains("+", "$"));
  EXPECT_TRUE(FilterContains("$SYS/#", "$SYS/x"));
  EXPECT_TRUE(FilterContains("#", "a/$SYS"));
}

TEST(FilterContains, DollarFilterContainsNoWildcardFirstLevel) {
  EXPECT_FALSE(FilterContains("$SYS/#", "+/#"));
  EXPECT_FALSE(FilterContains("$SYS/#", "#"));
}

TEST(FilterContains, EmptyLevelsAreRealLevels) {
  EXPECT_TRUE(FilterContains("+/+", "/"));
  EXPECT_TRUE(FilterContains("/#", "//"));
  EXPECT_FALSE(FilterContains("/", "//"));
  EXPECT_FALSE(FilterContains("a", "a/"));
  EXPECT_FALSE(FilterContains("a//b", "a/+/b"));
}

TEST(FilterContains, InvalidInputIsNeverContained) {
  EXPECT_FALSE(FilterContains("#", "a/#/b"));
  EXPECT_FALSE(FilterContains("#", "a+"));
  EXPECT_FALSE(FilterContains("#", ""));
  EXPECT_FALSE(FilterContains("a/#/b", "a"));
  EXPECT_FALSE(FilterContains("", ""));
  EXPECT_FALSE(FilterContains("#", "a\0"sv));
}

// ---------------------------------------------------------------------------------------------
// FiltersOverlap

struct OverlapCase {
  const char* a;
  const char* b;
  bool overlap;
};

TEST(FiltersOverlap, FindsACommonTopicOrProvesThereIsNone) {
  const OverlapCase cases[] = {
      {"a/+", "a/b", true},      {"a/+", "+/b", true},  {"a/#", "a", true},
      {"a/#", "+/b/c", true},    {"#", "a/b", true},    {"+/#", "a", true},
      {"a/+", "a", false},       {"a/+", "b/+", false}, {"a/b", "a/c", false},
      {"a/+/c", "a/b/d", false}, {"a/b/#", "a", false}, {"+", "a/b", false},
      {"+/+", "+", false},       {"/", "+/+", true},    {"/", "+", false},
      {"a//b", "a/+/b", true},
  };
  for (const OverlapCase& c : cases) {
    EXPECT_EQ(FiltersOverlap(c.a, c.b), c.overlap) << "'" << c.a << "' vs '" << c.b << "'";
    EXPECT_EQ(FiltersOverlap(c.b, c.a), c.overlap) << "'" << c.b << "' vs '" << c.a << "'";
  }
}

TEST(FiltersOverlap, FirstLevelWildcardNeverMeetsDollarFilter) {
  EXPECT_FALSE(FiltersOverlap("#", "$SYS/x"));
  EXPECT_FALSE(FiltersOverlap("$SYS/x", "#"));
  EXPECT_FALSE(FiltersOverlap("#", "$SYS/#"));
  EXPECT_FALSE(FiltersOverlap("+/x", "$SYS/+"));
  EXPECT_TRUE(FiltersOverlap("$SYS/#", "$SYS/+"));
  EXPECT_TRUE(FiltersOverlap("a/#", "a/$SYS"));
}

TEST(FiltersOverlap, EmptyStringIsNotACommonTopic) {
  // The only topic `+` and `/#` share would be the empty string, which is not a topic name.
  EXPECT_FALSE(FiltersOverlap("+", "/#"));
  EXPECT_FALSE(FiltersOverlap("/#", "+"));
  EXPECT_TRUE(FiltersOverlap("/#", "+/+"));
  EXPECT_TRUE(FiltersOverlap("/#", "/#"));
  EXPECT_TRUE(FiltersOverlap("+", "+/#"));
}

TEST(FiltersOverlap, InvalidInputCountsAsOverlapSoDenialsFailClosed) {
  EXPECT_TRUE(FiltersOverlap("a/#/b", "x"));
  EXPECT_TRUE(FiltersOverlap("x", "a+"));
  EXPECT_TRUE(FiltersOverlap("", "x"));
  EXPECT_TRUE(FiltersOverlap("x", "#a"));
  EXPECT_TRUE(FiltersOverlap("x", "x\0"sv));
}

// ---------------------------------------------------------------------------------------------
// StripSharedSubscription

TEST(TopicStripSharedSubscription, ReturnsTheFilterOfASharedSubscription) {
  EXPECT_EQ(StripSharedSubscription("$share/g/a/b"), "a/b");
  EXPECT_EQ(StripSharedSubscription("$share/group-1/#"), "#");
  EXPECT_EQ(StripSharedSubscription("$share/g/+/x"), "+/x");
  EXPECT_EQ(StripSharedSubscription("$share/g//"), "/");
  EXPECT_EQ(StripSharedSubscription("$share/g/$SYS/#"), "$SYS/#");
  // Only one prefix is stripped; a nested one is an ordinary literal filter.
  EXPECT_EQ(StripSharedSubscription("$share/g/$share/h/a"), "$share/h/a");
}

TEST(TopicStripSharedSubscription, LeavesOrdinaryFiltersUnchanged) {
  for (const char* filter :
       {"a/b", "#", "$SYS/#", "$share", "$shared/g/a", "share/g/a", "$SHARE/g/a", "a/$share/g/b"}) {
    EXPECT_EQ(StripSharedSubscription(filter), filter) << filter;
  }
}

TEST(TopicStripSharedSubscription, RejectsMalformedSharedSubscriptions) {
  for (const char* filter : {"$share/", "$share/g", "$share/g/", "$share//a", "$share/+/a",
                             "$share/#/a", "$share/g+/a", "$share/#"}) {
    EXPECT_TRUE(StripSharedSubscription(filter).empty()) << filter;
  }
  EXPECT_TRUE(StripSharedSubscription("$share/g\0/a"sv).empty());
}

}  // namespace
}  // namespace certguard
