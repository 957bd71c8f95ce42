#include "shared/filter_trie.h"

#include <algorithm>
#include <cassert>

namespace certguard {

// The levels still to be consumed. `rest` is everything after the current level; `done` is set
// once the last level has been consumed (a topic "a/" has two levels: "a" and "").
struct FilterTrie::Levels {
  std::string_view level;
  std::string_view rest;
  bool done = false;
  bool first = true;  // the first level, where the `$` rule applies
  // The levels consumed so far spell "", one empty level, which is no topic: overlap must not end
  // there (`+` and `/#` share no topic) and containment of a `#` need not cover it.
  bool after_empty_first = false;

  static Levels Of(std::string_view text) {
    Levels l;
    l.rest = text;
    l.Advance();
    l.first = true;
    return l;
  }
  // Moves to the next level; sets `done` when there is none.
  void Advance() {
    first = false;
    after_empty_first = false;
    if (rest.data() == nullptr) {
      done = true;
      return;
    }
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      level = rest;
      rest = std::string_view();  // data() == nullptr marks "no more levels"
    } else {
      level = rest.substr(0, slash);
      rest = rest.substr(slash + 1);
      if (rest.data() == nullptr) rest = std::string_view("", 0);
    }
  }
  Levels Next() const {
    Levels n = *this;
    n.Advance();
    return n;
  }
  bool LevelIsDollar() const { return first && !level.empty() && level.front() == '$'; }
};

FilterTrie::FilterTrie() { nodes_.emplace_back(); }

uint32_t FilterTrie::AddNode() {
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void FilterTrie::Insert(const TopicPattern& pattern, RuleIndex rule) {
  assert(!frozen_);
  uint32_t node = 0;
  for (const TopicLevelPattern& level : pattern.levels()) {
    switch (level.kind()) {
      case TopicLevelPattern::Kind::kMultiWildcard:
        if (nodes_[node].multi_wildcard == kNoRule) nodes_[node].multi_wildcard = rule;
        return;  // '#' is always the last level
      case TopicLevelPattern::Kind::kSingleWildcard:
        if (nodes_[node].single_wildcard == kNoNode) {
          const uint32_t child = AddNode();
          nodes_[node].single_wildcard = child;
        }
        node = nodes_[node].single_wildcard;
        break;
      case TopicLevelPattern::Kind::kLiteral: {
        auto& literals = nodes_[node].literals;
        auto it = std::find_if(literals.begin(), literals.end(),
                               [&](const auto& edge) { return edge.first == level.text(); });
        if (it == literals.end()) {
          const uint32_t child = AddNode();
          nodes_[node].literals.emplace_back(level.text(), child);
          node = child;
        } else {
          node = it->second;
        }
        break;
      }
      case TopicLevelPattern::Kind::kTemplate: {
        auto& templates = nodes_[node].templates;
        auto it = std::find_if(templates.begin(), templates.end(),
                               [&](const auto& edge) { return edge.pattern == level; });
        if (it == templates.end()) {
          const uint32_t child = AddNode();
          nodes_[node].templates.push_back({level, child});
          node = child;
        } else {
          node = it->child;
        }
        break;
      }
    }
  }
  if (nodes_[node].rule_ending_here == kNoRule) nodes_[node].rule_ending_here = rule;
}

void FilterTrie::Freeze() {
  for (Node& node : nodes_) {
    std::sort(node.literals.begin(), node.literals.end());
    node.literals.shrink_to_fit();
    node.templates.shrink_to_fit();
    node.shape = Node::Shape::kGeneral;
    if (node.multi_wildcard == kNoRule) {
      const bool literals = !node.literals.empty();
      const size_t templates = node.templates.size();
      const bool wildcard = node.single_wildcard != kNoNode;
      if (templates == 0 && !wildcard) {
        node.shape = Node::Shape::kLiteralsOnly;
      } else if (!literals && templates == 0 && wildcard) {
        node.shape = Node::Shape::kWildcardOnly;
      } else if (!literals && templates == 1 && !wildcard) {
        node.shape = Node::Shape::kTemplateOnly;
      }
    }
  }
  nodes_.shrink_to_fit();
  const Node& root = nodes_.front();
  root_first_bytes_[0] = root_first_bytes_[1] = ~uint64_t{0};
  if (root.shape == Node::Shape::kLiteralsOnly && root.rule_ending_here == kNoRule) {
    root_first_bytes_[0] = root_first_bytes_[1] = 0;
    for (const auto& [level, child] : root.literals) {
      // A topic whose first level is empty starts with the '/' that ends it.
      const auto first = static_cast<unsigned char>(level.empty() ? '/' : level.front());
      root_first_bytes_[(first >> 6) & 1] |= uint64_t{1} << (first & 63);
    }
  }
  frozen_ = true;
}

uint32_t FilterTrie::LiteralChildBySearch(const Node& node, std::string_view level) const {
  // Sorted by Freeze: binary search beats a scan on a wide fan-out.
  const auto& literals = node.literals;
  auto it = std::lower_bound(literals.begin(), literals.end(), level,
                             [](const auto& edge, std::string_view l) { return edge.first < l; });
  return (it != literals.end() && it->first == level) ? it->second : kNoNode;
}

FilterTrie::RuleIndex FilterTrie::FindMatchingTopic(std::string_view topic,
                                                    const PlaceholderValues& values) const {
  TopicLevels levels;
  if (!levels.Split(topic)) return kNoRule;
  return FindMatchingTopic(levels, values);
}

FilterTrie::RuleIndex FilterTrie::FindContainingFilter(std::string_view filter,
                                                       const PlaceholderValues& values) const {
  assert(frozen_);
  return MatchContaining(0, Levels::Of(filter), values);
}

FilterTrie::RuleIndex FilterTrie::FindOverlappingFilter(std::string_view filter,
                                                        const PlaceholderValues& values) const {
  assert(frozen_);
  return MatchOverlapping(0, Levels::Of(filter), values);
}

// The recursion depth is bounded by the trie's depth (the longest policy filter), not by the
// topic: a walk stops where the trie has no edge for the next level. Alternatives are tried in
// a fixed order (literal, templates, then '+'); only one that has another after it needs a
// frame of its own to come back to. The last goes on in this loop, which on the common path
// (one literal or one placeholder edge per level) is the whole walk.
FilterTrie::RuleIndex FilterTrie::MatchTopic(uint32_t index, const TopicLevels& topic,
                                             uint32_t begin,
                                             const PlaceholderValues& values) const {
  const std::string_view all = topic.text();
  while (true) {
    const Node& node = nodes_[index];
    if (begin > all.size()) {
      // `a/#` also matches `a`.
      return node.rule_ending_here != kNoRule ? node.rule_ending_here : node.multi_wildcard;
    }
    const uint32_t end = topic.LevelEnd(begin);
    const std::string_view text(all.data() + begin, end - begin);
    // The `$` rule: only '+' and '#' look at it (a literal or placeholder level matches `$` like
    // any other byte), so only their paths pay for it.
    const auto first_level_is_dollar = [&] {
      return begin == 0 && !text.empty() && text.front() == '$';
    };
    switch (node.shape) {
      case Node::Shape::kLiteralsOnly:
        index = LiteralChild(node, text);
        if (index == kNoNode) return kNoRule;
        begin = end + 1;
        continue;
      case Node::Shape::kWildcardOnly:
        if (first_level_is_dollar()) return kNoRule;  // '+' never matches a `$` first level
        index = node.single_wildcard;
        begin = end + 1;
        continue;
      case Node::Shape::kTemplateOnly:
        if (!node.templates.front().pattern.MatchesLevel(text, values)) return kNoRule;
        index = node.templates.front().child;
        begin = end + 1;
        continue;
      case Node::Shape::kGeneral:
        break;
    }
    const bool dollar = first_level_is_dollar();
    if (node.multi_wildcard != kNoRule && !dollar) return node.multi_wildcard;
    uint32_t next = LiteralChild(node, text);
    for (const TemplateEdge& edge : node.templates) {
      if (!edge.pattern.MatchesLevel(text, values)) continue;
      if (next != kNoNode) {
        if (RuleIndex r = MatchTopic(next, topic, end + 1, values); r != kNoRule) return r;
      }
      next = edge.child;
    }
    if (node.single_wildcard != kNoNode && !dollar) {
      if (next != kNoNode) {
        if (RuleIndex r = MatchTopic(next, topic, end + 1, values); r != kNoRule) return r;
      }
      next = node.single_wildcard;
    }
    if (next == kNoNode) return kNoRule;
    index = next;
    begin = end + 1;
  }
}

FilterTrie::RuleIndex FilterTrie::MatchContaining(uint32_t index, Levels levels,
                                                  const PlaceholderValues& values) const {
  const Node& node = nodes_[index];
  if (levels.done) {
    return node.rule_ending_here != kNoRule ? node.rule_ending_here : node.multi_wildcard;
  }
  // A trie '#' here contains whatever follows, unless the `$` rule keeps a literal `$` first
  // level out of it. A wildcard first level in the filter already excludes `$` topics.
  if (node.multi_wildcard != kNoRule && !levels.LevelIsDollar()) return node.multi_wildcard;
  if (levels.level == "#") {
    // The filter's `#` also matches the topic of the levels so far, which only a '#' here would
    // contain, unless those levels are no topic (none, or one empty level): then `+/#` matches
    // exactly the same topics (`+/#` contains `#`, `/+/#` contains `/#`).
    if ((levels.first || levels.after_empty_first) && node.single_wildcard != kNoNode) {
      return nodes_[node.single_wildcard].multi_wildcard;
    }
    return kNoRule;
  }
  Levels next = levels.Next();
  next.after_empty_first = levels.first && levels.level.empty();
  if (levels.level == "+") {
    // Only a '+' contains a '+': literals and templates each match one value.
    return node.single_wildcard != kNoNode ? MatchContaining(node.single_wildcard, next, values)
                                           : kNoRule;
  }
  if (const uint32_t child = LiteralChild(node, levels.level); child != kNoNode) {
    if (RuleIndex r = MatchContaining(child, next, values); r != kNoRule) return r;
  }
  for (const TemplateEdge& edge : node.templates) {
    if (edge.pattern.MatchesLevel(levels.level, values)) {
      if (RuleIndex r = MatchContaining(edge.child, next, values); r != kNoRule) return r;
    }
  }
  if (node.single_wildcard != kNoNode && !levels.LevelIsDollar()) {
    return MatchContaining(node.single_wildcard, next, values);
  }
  return kNoRule;
}

FilterTrie::RuleIndex FilterTrie::AnyRuleBelow(uint32_t index, bool skip_dollar, bool skip_own_end,
                                               const PlaceholderValues& values) const {
  // Every node exists because some filter passes through it, so any edge leads to a rule. Only
  // `$` edges at the first level can be out of reach of a wildcard.
  const Node& node = nodes_[index];
  if (node.rule_ending_here != kNoRule && !skip_own_end) return node.rule_ending_here;
  if (node.multi_wildcard != kNoRule) return node.multi_wildcard;
  const auto first_rule = [&](uint32_t child) { return AnyRuleBelow(child, false, false, values); };
  if (node.single_wildcard != kNoNode) return first_rule(node.single_wildcard);
  for (const auto& edge : node.literals) {
    if (!skip_dollar || edge.first.empty() || edge.first.front() != '$') {
      return first_rule(edge.second);
    }
  }
  for (const TemplateEdge& edge : node.templates) {
    if (!skip_dollar || !edge.pattern.StartsWithDollar(values)) return first_rule(edge.child);
  }
  return kNoRule;
}

FilterTrie::RuleIndex FilterTrie::MatchOverlapping(uint32_t index, Levels levels,
                                                   const PlaceholderValues& values) const {
  const Node& node = nodes_[index];
  if (levels.done) {
    if (levels.after_empty_first) return kNoRule;
    return node.rule_ending_here != kNoRule ? node.rule_ending_here : node.multi_wildcard;
  }
  const std::string_view level = levels.level;
  if (level == "#") {
    // The filter matches this node's own topic (unless that is "") and everything below it.
    return AnyRuleBelow(index, levels.first, levels.after_empty_first, values);
  }
  const bool wildcard_level = level == "+";
  // A trie '#' here overlaps anything at this level, except a literal `$` first level.
  if (node.multi_wildcard != kNoRule && !levels.LevelIsDollar()) return node.multi_wildcard;
  const Levels next = levels.Next();
  // The levels after a common first level `common` (templates never substitute "").
  const auto after = [&](std::string_view common) {
    Levels n = next;
    n.after_empty_first = levels.first && common.empty();
    return n;
  };
  if (node.single_wildcard != kNoNode && !levels.LevelIsDollar()) {
    if (RuleIndex r = MatchOverlapping(node.single_wildcard, after(level), values); r != kNoRule) {
      return r;
    }
  }
  if (!wildcard_level) {
    if (const uint32_t child = LiteralChild(node, level); child != kNoNode) {
      if (RuleIndex r = MatchOverlapping(child, after(level), values); r != kNoRule) return r;
    }
    for (const TemplateEdge& edge : node.templates) {
      if (edge.pattern.MatchesLevel(level, values)) {
        if (RuleIndex r = MatchOverlapping(edge.child, next, values); r != kNoRule) return r;
      }
    }
    return kNoRule;
  }
  // A '+' in the filter meets every literal and template edge: this is the one walk whose cost
  // grows with the fan-out of a node (see README, "Limits").
  for (const auto& edge : node.literals) {
    if (levels.first && !edge.first.empty() && edge.first.front() == '$') continue;
    if (RuleIndex r = MatchOverlapping(edge.second, after(edge.first), values); r != kNoRule) {
      return r;
    }
  }
  for (const TemplateEdge& edge : node.templates) {
    if (levels.first && edge.pattern.StartsWithDollar(values)) continue;
    if (RuleIndex r = MatchOverlapping(edge.child, next, values); r != kNoRule) return r;
  }
  return kNoRule;
}

}  // namespace certguard
