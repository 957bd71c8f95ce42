// Differential tests for shared/topic_filter: matching against libmosquitto, and containment /
// overlap against a brute-force oracle built from matching.

#include <mosquitto.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "shared/topic_filter.h"

namespace certguard {
namespace {

void InitMosquittoOnce() {
  static const int rc = mosquitto_lib_init();
  ASSERT_EQ(rc, MOSQ_ERR_SUCCESS) << mosquitto_strerror(rc);
}

// Levels a generated topic or filter is built from. They cover empty levels, `$` levels (which
// the `$` rule treats specially when first), levels that merely contain `$`, and 2-, 3- and
// 4-byte UTF-8. None contains '/', '+', '#' or NUL, so every generated string is valid by
// construction (apart from the empty string, which the generator skips).
constexpr std::array<std::string_view, 16> kLevels = {
    "a",        "b",    "c",           "",     "",     "$SYS", "$x",  "$", "x$",
    "sensor-7", "élan", "température", "温度", "🙂", "a b",  "ß€𝄞",
};

class PairGenerator {
 public:
  explicit PairGenerator(std::uint64_t seed) : rng_(seed) {}

  // Fills `topic` and `filter` (reusing their buffers) with a valid topic name and filter.
  void Next(std::string& topic, std::string& filter) {
    do {
      GenerateTopic();
    } while (topic_levels_.size() == 1 && topic_levels_[0].empty());
    do {
      if (Percent() < 75) {
        DeriveFilterFromTopic();
      } else {
        GenerateIndependentFilter();
      }
    } while (filter_levels_.size() == 1 && filter_levels_[0].empty());
    Join(topic_levels_, topic);
    Join(filter_levels_, filter);
  }

 private:
  unsigned Percent() { return static_cast<unsigned>(rng_() % 100); }

  std::string_view RandomLevel() { return kLevels[rng_() % kLevels.size()]; }

  void GenerateTopic() {
    topic_levels_.clear();
    const std::size_t depth = 1 + rng_() % 6;
    for (std::size_t i = 0; i < depth; ++i) topic_levels_.push_back(RandomLevel());
  }

  // Mostly matching filters: levels of the topic, some turned into `+`, often cut off by `#`
  // (at any position, including right after the last level), sometimes perturbed so that the
  // near misses are exercised too.
  void DeriveFilterFromTopic() {
    filter_levels_.clear();
    const std::size_t hash_at = Percent() < 40 ? rng_() % (topic_levels_.size() + 1) : SIZE_MAX;
    for (std::size_t i = 0; i < topic_levels_.size(); ++i) {
      if (i == hash_at) break;
      filter_levels_.push_back(Percent() < 30 ? "+" : topic_levels_[i]);
    }
    const unsigned perturb = Percent();
    if (perturb < 8 && !filter_levels_.empty()) {
      filter_levels_[rng_() % filter_levels_.size()] = RandomLevel();
    } else if (perturb < 12) {
      filter_levels_.push_back(Percent() < 50 ? "+" : RandomLevel());
    } else if (perturb < 16 && filter_levels_.size() > 1) {
      filter_levels_.pop_back();
    }
    if (hash_at != SIZE_MAX) filter_levels_.push_back("#");
  }

  void GenerateIndependentFilter() {
    filter_levels_.clear();
    const std::size_t depth = 1 + rng_() % 6;
    for (std::size_t i = 0; i < depth; ++i) {
      const bool last = i + 1 == depth;
      const unsigned pick = Percent();
      if (last && pick < 20) {
        filter_levels_.push_back("#");
      } else if (pick < 45) {
        filter_levels_.push_back("+");
      } else {
        filter_levels_.push_back(RandomLevel());
      }
    }
  }

  static void Join(const std::vector<std::string_view>& levels, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < levels.size(); ++i) {
      if (i > 0) out.push_back('/');
      out.append(levels[i]);
    }
  }

  std::mt19937_64 rng_;
  std::vector<std::string_view> topic_levels_;
  std::vector<std::string_view> filter_levels_;
};

TEST(TopicDifferential, MatchingAgreesWithLibmosquittoOnAMillionGeneratedPairs) {
  InitMosquittoOnce();
  constexpr std::size_t kPairs = 1'000'000;
  PairGenerator generator(0x5eed'cafe'f00d'0001ULL);
  std::string topic;
  std::string filter;
  std::size_t matched = 0;
  std::size_t dollar_topic_wildcard_filter = 0;
  std::size_t disagreements = 0;
  for (std::size_t n = 0; n < kPairs; ++n) {
    generator.Next(topic, filter);
    ASSERT_TRUE(IsValidTopicName(topic)) << topic;
    ASSERT_TRUE(IsValidTopicFilter(filter)) << filter;
    bool expected = false;
    const int rc = mosquitto_topic_matches_sub(filter.c_str(), topic.c_str(), &expected);
    ASSERT_EQ(rc, MOSQ_ERR_SUCCESS) << "libmosquitto rejected topic '" << topic << "' filter '"
                                    << filter << "': " << mosquitto_strerror(rc);
    const bool actual = TopicMatchesFilter(topic, filter);
    if (actual != expected && ++disagreements <= 20) {
      ADD_FAILURE() << "topic '" << topic << "' filter '" << filter << "': libmosquitto says "
                    << expected << ", we say " << actual;
    }
    matched += expected ? 1 : 0;
    if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) {
      ++dollar_topic_wildcard_filter;
    }
  }
  std::cout << "[ topic differential ] " << kPairs << " pairs, " << matched << " matched, "
            << kPairs - matched << " not matched, " << dollar_topic_wildcard_filter
            << " `$` topics against a first-level wildcard\n";
  EXPECT_EQ(disagreements, 0u);
  // Guard against a generator that drifted into testing nothing interesting.
  EXPECT_GT(matched, kPairs / 5);
  EXPECT_GT(kPairs - matched, kPairs / 5);
  EXPECT_GT(dollar_topic_wildcard_filter, kPairs / 100);
}

TEST(TopicDifferential, ValidityAgreesWithLibmosquittoOnShortStrings) {
  InitMosquittoOnce();
  // Every non-empty string of length <= 5 over the characters that decide validity.
  constexpr std::string_view kAlphabet = "a/+#$";
  std::size_t valid_filters = 0;
  std::size_t strings = 0;
  std::string text;
  for (std::size_t length = 1; length <= 5; ++length) {
    std::size_t combinations = 1;
    for (std::size_t i = 0; i < length; ++i) combinations *= kAlphabet.size();
    for (std::size_t code = 0; code < combinations; ++code) {
      text.clear();
      for (std::size_t i = 0, rest = code; i < length; ++i, rest /= kAlphabet.size()) {
        text.push_back(kAlphabet[rest % kAlphabet.size()]);
      }
      ++strings;
      const bool mosquitto_filter = mosquitto_sub_topic_check(text.c_str()) == MOSQ_ERR_SUCCESS;
      const bool mosquitto_topic = mosquitto_pub_topic_check(text.c_str()) == MOSQ_ERR_SUCCESS;
      EXPECT_EQ(IsValidTopicFilter(text), mosquitto_filter) << text;
      EXPECT_EQ(IsValidTopicName(text), mosquitto_topic) << text;
      valid_filters += mosquitto_filter ? 1 : 0;
    }
  }
  std::cout << "[ topic differential ] " << strings << " short strings, " << valid_filters
            << " valid filters\n";
}

// Brute-force oracle for FilterContains and FiltersOverlap.
//
// Why a bounded topic universe decides both relations for these filters: a filter only looks at
// a topic's levels through equality with its own literals, through `+`/`#`, and through whether
// the first level starts with `$`. Take any valid topic T matched by some filter of the family.
//  - Replace each level of T that is not a filter literal by "c": no filter has "c" as a literal
//    and "c" does not start with `$`, so every filter matches the new topic iff it matched T. (A
//    first level starting with `$` but not equal to the literal "$s" is matched by no filter at
//    all, so such topics are irrelevant.)
//  - Cut T down to depth D+1, D = max filter depth: a topic deeper than D is matched only by
//    filters ending in `#`, and those look at no more than D-1 leading levels, so the cut keeps
//    every filter's verdict.
// So each witness (a topic in inner but not outer, or in both a and b) has a representative in
// the universe of topics of depth <= D+2 over {a, b, "", $s, c}, and the universe answers
// exactly. The empty string (one empty level) is not a valid topic and matches nothing.
TEST(TopicDifferential, ContainsAndOverlapAgreeWithBruteForceOracle) {
  InitMosquittoOnce();
  constexpr std::array<std::string_view, 6> kFilterLevels = {"a", "b", "", "$s", "+", "#"};
  constexpr std::array<std::string_view, 5> kTopicLevels = {"a", "b", "", "$s", "c"};
  constexpr std::size_t kMaxFilterDepth = 3;
  constexpr std::size_t kMaxTopicDepth = kMaxFilterDepth + 2;

  auto enumerate = [](auto levels, std::size_t max_depth) {
    std::vector<std::string> out;
    std::vector<std::string> frontier = {""};
    for (std::size_t depth = 1; depth <= max_depth; ++depth) {
      std::vector<std::string> next;
      for (const std::string& prefix : frontier) {
        for (std::string_view level : levels) {
          next.push_back(depth == 1 ? std::string(level) : prefix + "/" + std::string(level));
        }
      }
      out.insert(out.end(), next.begin(), next.end());
      frontier = std::move(next);
    }
    return out;
  };

  std::vector<std::string> filters;
  for (std::string& f : enumerate(kFilterLevels, kMaxFilterDepth)) {
    if (IsValidTopicFilter(f)) filters.push_back(std::move(f));
  }
  const std::vector<std::string> topics = enumerate(kTopicLevels, kMaxTopicDepth);

  // Match sets as bitsets over the topic universe.
  const std::size_t words = (topics.size() + 63) / 64;
  std::vector<std::uint64_t> match(filters.size() * words, 0);
  std::size_t matched_pairs = 0;
  for (std::size_t f = 0; f < filters.size(); ++f) {
    for (std::size_t t = 0; t < topics.size(); ++t) {
      const bool ours = TopicMatchesFilter(topics[t], filters[f]);
      if (!topics[t].empty()) {
        bool theirs = false;
        ASSERT_EQ(mosquitto_topic_matches_sub(filters[f].c_str(), topics[t].c_str(), &theirs),
                  MOSQ_ERR_SUCCESS);
        ASSERT_EQ(ours, theirs) << "topic '" << topics[t] << "' filter '" << filters[f] << "'";
      } else {
        ASSERT_FALSE(ours) << filters[f];
      }
      if (ours) {
        match[f * words + t / 64] |= std::uint64_t{1} << (t % 64);
        ++matched_pairs;
      }
    }
  }

  std::size_t contained = 0;
  std::size_t overlapping = 0;
  std::size_t failures = 0;
  for (std::size_t o = 0; o < filters.size(); ++o) {
    for (std::size_t i = 0; i < filters.size(); ++i) {
      bool subset = true;
      bool intersect = false;
      for (std::size_t w = 0; w < words; ++w) {
        const std::uint64_t outer = match[o * words + w];
        const std::uint64_t inner = match[i * words + w];
        subset = subset && (inner & ~outer) == 0;
        intersect = intersect || (inner & outer) != 0;
      }
      contained += subset ? 1 : 0;
      overlapping += intersect ? 1 : 0;
      if (FilterContains(filters[o], filters[i]) != subset && ++failures <= 20) {
        ADD_FAILURE() << "FilterContains('" << filters[o] << "', '" << filters[i] << "') should be "
                      << subset;
      }
      if (FiltersOverlap(filters[o], filters[i]) != intersect && ++failures <= 20) {
        ADD_FAILURE() << "FiltersOverlap('" << filters[o] << "', '" << filters[i] << "') should be "
                      << intersect;
      }
    }
  }
  const std::size_t pairs = filters.size() * filters.size();
  std::cout << "[ topic oracle ] " << filters.size() << " filters x " << topics.size()
            << " topics (" << matched_pairs << " matches); " << pairs << " filter pairs, "
            << contained << " contained, " << overlapping << " overlapping\n";
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(contained, filters.size());  // More than the reflexive pairs.
  EXPECT_LT(contained, pairs);
  EXPECT_GT(overlapping, contained);
  EXPECT_LT(overlapping, pairs);
}

}  // namespace
}  // namespace certguard
