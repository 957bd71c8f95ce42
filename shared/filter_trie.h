#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/placeholder.h"
#include "shared/same_bytes.h"
#include "shared/topic_levels.h"
#include "shared/topic_template.h"

namespace certguard {

// The topic filters of one kind of rule (say, "allow publish") for one principal, compiled into
// a trie keyed by topic level. A lookup walks the topic or filter level by level, so its cost
// depends on the number of levels, not on how many rules the trie holds. Placeholder levels are
// compared against the device's values during the walk: one trie serves every device.
class FilterTrie {
 public:
  using RuleIndex = uint32_t;
  static constexpr RuleIndex kNoRule = UINT32_MAX;

  // Adds `pattern`; `rule` is what lookups report when this pattern decides. The first rule
  // added for an identical pattern is kept.
  void Insert(const TopicPattern& pattern, RuleIndex rule);
  // Sorts literal edges for binary search; call once after the last Insert.
  void Freeze();

  bool empty() const { return nodes_.size() <= 1 && !HasRule(nodes_.front()); }

  // A rule whose filter matches the topic name `topic`, or kNoRule (always for an invalid
  // topic name).
  RuleIndex FindMatchingTopic(std::string_view topic, const PlaceholderValues& values) const;
  // The same for a topic already split (the hot path: one split serves every trie).
  RuleIndex FindMatchingTopic(const TopicLevels& topic, const PlaceholderValues& values) const {
    assert(frozen_);  // LiteralChildBySearch needs Freeze's sorted edges
    if (!topic.valid()) return kNoRule;
    if (!MayStartWith(topic.text().front())) return kNoRule;
    return MatchTopic(0, topic, 0, values);
  }
  // A rule whose filter contains every topic that `filter` matches, or kNoRule.
  RuleIndex FindContainingFilter(std::string_view filter, const PlaceholderValues& values) const;
  // A rule whose filter matches some topic that `filter` matches too, or kNoRule.
  RuleIndex FindOverlappingFilter(std::string_view filter, const PlaceholderValues& values) const;

  FilterTrie();

 private:
  static constexpr uint32_t kNoNode = UINT32_MAX;
  struct TemplateEdge {
    TopicLevelPattern pattern;
    uint32_t child;
  };
  struct Node {
    std::vector<std::pair<std::string, uint32_t>> literals;  // sorted by level after Freeze
    std::vector<TemplateEdge> templates;
    uint32_t single_wildcard = kNoNode;
    RuleIndex rule_ending_here = kNoRule;  // a filter that ends at this node
    RuleIndex multi_wildcard = kNoRule;    // a filter whose next (last) level is '#'
    // The ways on, when they are of one common kind (set by Freeze): most levels of most
    // filters are one literal, one '+' or one placeholder. The walk then goes straight on and
    // skips what cannot apply.
    enum class Shape : uint8_t {
      kGeneral,
      kLiteralsOnly,  // literal edges only
      kWildcardOnly,  // one '+' edge only
      kTemplateOnly,  // one template edge only
    };
    Shape shape = Shape::kGeneral;
  };
  static bool HasRule(const Node& node) {
    return node.rule_ending_here != kNoRule || node.multi_wildcard != kNoRule;
  }
  // Inline: it runs at every level of every walk, and most nodes have a few literal edges.
  uint32_t LiteralChild(const Node& node, std::string_view level) const {
    if (node.literals.size() > 8) return LiteralChildBySearch(node, level);
    for (const auto& edge : node.literals) {
      if (SameBytes(edge.first, level)) return edge.second;
    }
    return kNoNode;
  }
  uint32_t LiteralChildBySearch(const Node& node, std::string_view level) const;
  // False when no topic starting with `byte` can match: most tries are reached only through a
  // few literal first levels (`$SYS/#` in a `for: all` deny), and most topics a client sends
  // miss most of them at the first byte.
  bool MayStartWith(char byte) const {
    const auto b = static_cast<unsigned char>(byte);
    return ((root_first_bytes_[(b >> 6) & 1] >> (b & 63)) & 1) != 0;
  }
  uint32_t AddNode();

  // A cursor over the levels of a topic or filter, so lookups never allocate.
  struct Levels;
  RuleIndex MatchTopic(uint32_t node, const TopicLevels& topic, uint32_t begin,
                       const PlaceholderValues& values) const;
  RuleIndex MatchContaining(uint32_t node, Levels levels, const PlaceholderValues& values) const;
  RuleIndex MatchOverlapping(uint32_t node, Levels levels, const PlaceholderValues& values) const;
  RuleIndex AnyRuleBelow(uint32_t node, bool skip_dollar, bool skip_own_end,
                         const PlaceholderValues& values) const;

  std::vector<Node> nodes_;
  // Bit (b & 127) is set for the first byte b of each literal first level ('/' for an empty one),
  // every bit when the root has any other way on (set by Freeze). 128 bits, not 64: with 64, '$'
  // and 'd' share a bit, and every `devices/...` topic walked the `$SYS/#` deny trie.
  uint64_t root_first_bytes_[2] = {~uint64_t{0}, ~uint64_t{0}};
  bool frozen_ = false;
};

}  // namespace certguard
