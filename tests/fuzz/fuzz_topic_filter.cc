// Topic names and filters against a reference model written for clarity, not speed: validity and
// matching straight from the MQTT rules (TopicMatchesFilter and the Mosquitto plugin's
// TopicFilterMatcher), containment and overlap by enumerating every topic that could tell the two
// filters apart. The compiled FilterTrie (with placeholders) must agree with
// the direct functions. Input: up to three strings separated by '\n' (topic-or-filter, filter,
// filter); any disagreement traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/filter_trie.h"
#include "shared/placeholder.h"
#include "shared/topic_filter.h"
#include "shared/topic_filter_matcher.h"
#include "shared/topic_template.h"

namespace {

using Levels = std::vector<std::string>;

constexpr size_t kMaxLength = 65535;  // MQTT's 16-bit string length

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// --- The reference model ----------------------------------------------------------------------

Levels Split(std::string_view s) {
  Levels out(1);
  for (char c : s) {
    if (c == '/') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

bool RefValidName(std::string_view s) {
  if (s.empty() || s.size() > kMaxLength) return false;
  for (char c : s) {
    if (c == '+' || c == '#' || c == '\0') return false;
  }
  return true;
}

bool RefValidFilter(std::string_view s) {
  if (s.empty() || s.size() > kMaxLength) return false;
  const Levels levels = Split(s);
  for (size_t i = 0; i < levels.size(); ++i) {
    const std::string& level = levels[i];
    if (level.find('\0') != std::string::npos) return false;
    const bool wild = level.find_first_of("+#") != std::string::npos;
    if (wild && level != "+" && !(level == "#" && i + 1 == levels.size())) return false;
  }
  return true;
}

bool IsWildcard(const std::string& level) { return level == "+" || level == "#"; }

bool MatchLevels(const Levels& t, size_t ti, const Levels& f, size_t fi) {
  if (fi == f.size()) return ti == t.size();
  if (f[fi] == "#") return true;  // the rest, including none: `a/#` matches `a`
  if (ti == t.size()) return false;
  if (f[fi] != "+" && f[fi] != t[ti]) return false;
  return MatchLevels(t, ti + 1, f, fi + 1);
}

bool RefMatch(const Levels& t, const Levels& f) {
  if (!t[0].empty() && t[0][0] == '$' && IsWildcard(f[0])) return false;  // the `$` rule
  return MatchLevels(t, 0, f, 0);
}

bool RefMatch(std::string_view topic, std::string_view filter) {
  if (!RefValidName(topic) || !RefValidFilter(filter)) return false;
  return RefMatch(Split(topic), Split(filter));
}

// Whether some topic starting with `prefix` could still be matched by `f`.
bool Compatible(const Levels& prefix, const Levels& f) {
  if (!prefix.empty() && !prefix[0].empty() && prefix[0][0] == '$' && IsWildcard(f[0])) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (i == f.size()) return false;
    if (f[i] == "#") return true;
    if (f[i] != "+" && f[i] != prefix[i]) return false;
  }
  return true;
}

// Every topic that can tell `a` and `b` apart, up to one level longer than the longer filter (a
// longer topic behaves like its truncation). At each depth a topic level matters only through
// being equal to a filter's literal level there or not, so the candidates are those literals, one
// fresh value, and at depth 1 also the empty level (a topic of one empty level is no topic) and a
// fresh `$` level. `keep` prunes prefixes that cannot lead to a topic of interest; `visit` sees
// each topic and returns true to stop. Returns nullopt when the walk would be too long.
template <typename Keep, typename Visit>
std::optional<bool> ForEachTopic(const Levels& a, const Levels& b, Keep keep, Visit visit) {
  const size_t max_depth = std::max(a.size(), b.size()) + 1;
  if (max_depth > 8) return std::nullopt;
  std::vector<std::vector<std::string>> candidates(max_depth);
  for (size_t d = 0; d < max_depth; ++d) {
    std::vector<std::string>& c = candidates[d];
    for (const Levels* f : {&a, &b}) {
      if (d < f->size() && !IsWildcard((*f)[d])) c.push_back((*f)[d]);
    }
    const auto add_fresh = [&c](std::string value) {
      while (std::find(c.begin(), c.end(), value) != c.end()) value += "~";
      c.push_back(value);
    };
    add_fresh("fresh");
    if (d == 0) {
      add_fresh("$fresh");
      if (std::find(c.begin(), c.end(), "") == c.end()) c.push_back("");
    }
  }
  size_t budget = 200000;
  Levels topic;
  bool stop = false;
  const auto walk = [&](const auto& self) -> bool {
    if (budget-- == 0) return false;
    const size_t d = topic.size();
    for (const std::string& level : candidates[d]) {
      topic.push_back(level);
      // A topic is non-empty text: one empty level is not one.
      const bool is_topic = !(topic.size() == 1 && level.empty());
      if (keep(topic)) {
        if (is_topic && visit(topic)) stop = true;
        if (!stop && d + 1 < max_depth && !self(self)) return false;
      }
      topic.pop_back();
      if (stop) return true;
    }
    return true;
  };
  if (!walk(walk)) return std::nullopt;
  return stop;
}

// nullopt: too expensive to decide by enumeration.
std::optional<bool> RefContains(std::string_view outer, std::string_view inner) {
  if (!RefValidFilter(outer) || !RefValidFilter(inner)) return false;
  const Levels o = Split(outer), i = Split(inner);
  std::optional<bool> counterexample = ForEachTopic(
      o, i, [&](const Levels& p) { return Compatible(p, i); },
      [&](const Levels& t) { return RefMatch(t, i) && !RefMatch(t, o); });
  if (!counterexample) return std::nullopt;
  return !*counterexample;
}

std::optional<bool> RefOverlap(std::string_view a, std::string_view b) {
  if (!RefValidFilter(a) || !RefValidFilter(b)) return true;
  const Levels x = Split(a), y = Split(b);
  return ForEachTopic(
      x, y, [&](const Levels& p) { return Compatible(p, x) && Compatible(p, y); },
      [&](const Levels& t) { return RefMatch(t, x) && RefMatch(t, y); });
}

std::string_view RefStripShared(std::string_view filter) {
  const std::string_view prefix = "$share/";
  if (filter.substr(0, prefix.size()) != prefix) return filter;
  const std::string_view rest = filter.substr(prefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view group = rest.substr(0, slash);
  if (group.empty() || group.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
    return {};
  }
  return rest.substr(slash + 1);
}

// --- The trie, against the direct functions ---------------------------------------------------

const certguard::PlaceholderValues kValues{"dev-7", "$cn", "client"};

std::string Substitute(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out.push_back(pattern[i]);
      continue;
    }
    const size_t close = pattern.find('}', i);
    const std::string_view name = pattern.substr(i + 1, close - i - 1);
    out += name == "id" ? kValues.id : name == "cn" ? kValues.cn : kValues.client_id;
    i = close;
  }
  return out;
}

void CheckTrie(const std::vector<std::string_view>& rule_texts, std::string_view query) {
  certguard::FilterTrie trie;
  std::vector<std::string> rules;  // substituted, indexed by RuleIndex
  for (std::string_view text : rule_texts) {
    auto pattern = certguard::TopicPattern::Parse(text);
    if (!pattern.ok()) continue;
    trie.Insert(pattern.value(), static_cast<certguard::FilterTrie::RuleIndex>(rules.size()));
    rules.push_back(Substitute(text));
    Check(certguard::IsValidTopicFilter(rules.back()));
  }
  trie.Freeze();
  Check(trie.empty() == rules.empty());

  const auto check = [&](certguard::FilterTrie::RuleIndex found, auto relation) {
    bool any = false;
    for (const std::string& rule : rules) any = any || relation(rule);
    Check(any == (found != certguard::FilterTrie::kNoRule));
    if (found != certguard::FilterTrie::kNoRule) {
      Check(found < rules.size() && relation(rules[found]));
    }
  };
  if (certguard::IsValidTopicName(query)) {
    check(trie.FindMatchingTopic(query, kValues),
          [&](const std::string& rule) { return certguard::TopicMatchesFilter(query, rule); });
  }
  if (certguard::IsValidTopicFilter(query)) {
    check(trie.FindContainingFilter(query, kValues),
          [&](const std::string& rule) { return certguard::FilterContains(rule, query); });
    check(trie.FindOverlappingFilter(query, kValues),
          [&](const std::string& rule) { return certguard::FiltersOverlap(rule, query); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 70000) return -1;  // room for one string past MQTT's 65535-byte limit
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() < 2) {
    const size_t newline = input.find('\n');
    if (newline == std::string_view::npos) break;
    parts.push_back(input.substr(0, newline));
    input.remove_prefix(newline + 1);
  }
  parts.push_back(input);

  for (std::string_view s : parts) {
    Check(certguard::IsValidTopicName(s) == RefValidName(s));
    Check(certguard::IsValidTopicFilter(s) == RefValidFilter(s));
    Check(certguard::StripSharedSubscription(s) == RefStripShared(s));
    Levels split;
    for (std::string_view level : certguard::SplitTopicLevels(s)) split.emplace_back(level);
    Check(split == Split(s));
  }
  for (std::string_view a : parts) {
    for (std::string_view b : parts) {
      Check(certguard::TopicMatchesFilter(a, b) == RefMatch(a, b));
      if (const auto matcher = certguard::TopicFilterMatcher::Of(b)) {
        Check(matcher->Matches(a) == RefMatch(a, b));
      } else {
        Check(!RefValidFilter(b) || b.size() > certguard::TopicFilterMatcher::kMaxBytes);
      }
      if (const auto contains = RefContains(a, b)) {
        Check(certguard::FilterContains(a, b) == *contains);
      }
      if (const auto overlap = RefOverlap(a, b)) {
        Check(certguard::FiltersOverlap(a, b) == *overlap);
      }
    }
  }
  // The first string as a topic or a filter, looked up in a trie of the others.
  CheckTrie({parts.begin() + (parts.size() > 1 ? 1 : 0), parts.end()}, parts[0]);
  return 0;
}
