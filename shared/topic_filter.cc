#include "shared/topic_filter.h"

#include <cstddef>
#include <string_view>
#include <vector>

namespace certguard {
namespace {

// MQTT strings carry a 16-bit length prefix.
constexpr std::size_t kMaxLength = 65535;

constexpr std::string_view kSharePrefix = "$share/";

// Walks a topic or filter one level at a time. Nothing is copied or allocated, because the
// matching functions run for every publish and every delivery inside the broker.
class LevelCursor {
 public:
  explicit LevelCursor(std::string_view text) : rest_(text) {}

  bool done() const { return done_; }

  // Everything not yet returned by Next(); "" once done().
  std::string_view rest() const { return rest_; }

  // The next level. "a/" yields "a" then "", so a trailing empty level is not lost.
  std::string_view Next() {
    const std::size_t slash = rest_.find('/');
    if (slash == std::string_view::npos) {
      const std::string_view level = rest_;
      rest_ = {};
      done_ = true;
      return level;
    }
    const std::string_view level = rest_.substr(0, slash);
    rest_.remove_prefix(slash + 1);
    return level;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// '+', '#' and NUL are never allowed inside a topic name, nor inside a literal filter level.
bool HasForbiddenChar(std::string_view text) {
  for (const char c : text) {
    if (c == '+' || c == '#' || c == '\0') return true;
  }
  return false;
}

bool IsWildcard(std::string_view level) { return level == "+" || level == "#"; }

// A first level that only a literal `$...` filter level can match (the `$` rule).
bool IsDollarLiteral(std::string_view level) {
  return !level.empty() && level.front() == '$' && !IsWildcard(level);
}

}  // namespace

std::vector<std::string_view> SplitTopicLevels(std::string_view topic) {
  std::vector<std::string_view> levels;
  LevelCursor cursor(topic);
  while (!cursor.done()) levels.push_back(cursor.Next());
  return levels;
}

bool IsValidTopicName(std::string_view topic) {
  return !topic.empty() && topic.size() <= kMaxLength && !HasForbiddenChar(topic);
}

bool IsValidTopicFilter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxLength) return false;
  std::size_t level_start = 0;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c == '/') {
      level_start = i + 1;
    } else if (c == '+' || c == '#') {
      const bool whole_level = i == level_start && (i + 1 == filter.size() || filter[i + 1] == '/');
      if (!whole_level) return false;
      if (c == '#' && i + 1 != filter.size()) return false;
    } else if (c == '\0') {
      return false;
    }
  }
  return true;
}

// Validation is fused into the walk: a mismatch returns false at once, which is also the answer
// for invalid input, so the rest of the strings only needs checking when they match.
bool TopicMatchesFilter(std::string_view topic, std::string_view filter) {
  if (topic.empty() || filter.empty() || topic.size() > kMaxLength || filter.size() > kMaxLength) {
    return false;
  }
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;

  LevelCursor topic_levels(topic);
  LevelCursor filter_levels(filter);
  while (!filter_levels.done()) {
    const std::string_view filter_level = filter_levels.Next();
    if (filter_level == "#") {
      // Also matches when the topic has already ended: `a/#` matches `a`.
      return filter_levels.done() && !HasForbiddenChar(topic_levels.rest());
    }
    if (topic_levels.done()) return false;
    const std::string_view topic_level = topic_levels.Next();
    if (filter_level == "+") {
      if (HasForbiddenChar(topic_level)) return false;
    } else if (filter_level != topic_level || HasForbiddenChar(filter_level)) {
      // Equal levels share their characters, so checking the filter level checks both.
      return false;
    }
  }
  return topic_levels.done();
}

bool FilterContains(std::string_view outer, std::string_view inner) {
  if (!IsValidTopicFilter(outer) || !IsValidTopicFilter(inner)) return false;

  LevelCursor outer_levels(outer);
  LevelCursor inner_levels(inner);
  for (std::size_t depth = 1;; ++depth) {
    // Inner still has levels (or a `#` that also reaches deeper): those topics are too long.
    if (outer_levels.done()) return inner_levels.done();
    const std::string_view o = outer_levels.Next();
    // Inner's topics end here; only a `#` that matches its parent level still covers them.
    if (inner_levels.done()) return o == "#";
    const std::string_view i = inner_levels.Next();

    if (depth == 1 && IsWildcard(o) && IsDollarLiteral(i)) return false;
    if (o == "#") return true;
    if (i == "#") {
      // Inner also matches the parent of this level, which outer (needing this level) misses,
      // unless that parent is not a topic: the zero-level one, or the empty string (one empty
      // level). Then inner matches exactly what `<prefix>/+/#` matches, and only `+/#` covers it.
      const bool parent_exists = depth > 2 || (depth == 2 && !inner.starts_with('/'));
      return !parent_exists && o == "+" && outer_levels.rest() == "#";
    }
    if (o != "+" && (i == "+" || o != i)) return false;
  }
}

bool FiltersOverlap(std::string_view a, std::string_view b) {
  if (!IsValidTopicFilter(a) || !IsValidTopicFilter(b)) return true;

  // A common topic of one level that must be empty is the empty string, which is not a topic.
  const bool first_level_empty = a.starts_with('/') || b.starts_with('/');
  LevelCursor a_levels(a);
  LevelCursor b_levels(b);
  for (std::size_t depth = 1;; ++depth) {
    if (a_levels.done() && b_levels.done()) return true;
    // One filter has ended: the other reaches the same topics only through a parent-matching `#`.
    // (Validity guarantees that a `#` returned here is the last level.)
    if (a_levels.done() || b_levels.done()) {
      LevelCursor& longer = a_levels.done() ? b_levels : a_levels;
      return longer.Next() == "#" && !(depth == 2 && first_level_empty);
    }
    const std::string_view x = a_levels.Next();
    const std::string_view y = b_levels.Next();

    if (depth == 1 &&
        ((IsWildcard(x) && IsDollarLiteral(y)) || (IsWildcard(y) && IsDollarLiteral(x)))) {
      return false;
    }
    if (x == "#" || y == "#") return true;
    if (x != "+" && y != "+" && x != y) return false;
  }
}

std::string_view StripSharedSubscription(std::string_view filter) {
  if (!filter.starts_with(kSharePrefix)) return filter;
  std::string_view rest = filter.substr(kSharePrefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view group = rest.substr(0, slash);
  if (group.empty() || HasForbiddenChar(group)) return {};
  rest.remove_prefix(slash + 1);
  return rest;  // Empty for `$share/g/`: still malformed, and an empty view says so.
}

}  // namespace certguard
