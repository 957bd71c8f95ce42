#include "shared/topic_filter.h"

#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include "shared/topic_bytes.h"

namespace certguard {
namespace {

using topic_bytes::kMaxTopicBytes;

constexpr std::string_view kSharePrefix = "$share/";

// Walks a topic or filter one level at a time. Nothing is copied or allocated, because
// containment and overlap run inside the broker for every subscribe.
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
// A table keeps the per-byte test to one load on the hot path.
constexpr std::array<bool, 256> kForbidden = [] {
  std::array<bool, 256> table{};
  table[static_cast<unsigned char>('+')] = true;
  table[static_cast<unsigned char>('#')] = true;
  table[0] = true;
  return table;
}();

bool IsForbidden(char c) { return kForbidden[static_cast<unsigned char>(c)]; }

bool HasForbiddenChar(std::string_view text) {
  for (const char c : text) {
    if (IsForbidden(c)) return true;
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
  return !topic.empty() && topic.size() <= kMaxTopicBytes && !HasForbiddenChar(topic);
}

bool IsValidTopicFilter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes) return false;
  std::size_t level_start = 0;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c == '/') {
      level_start = i + 1;
    } else if (IsForbidden(c)) {
      // NUL is never allowed; '+' must be a whole level, '#' the whole last level.
      if (c == '\0' || i != level_start) return false;
      if (i + 1 != filter.size() && (c == '#' || filter[i + 1] != '/')) return false;
    }
  }
  return true;
}

// One byte-wise pass with validation fused in: a mismatch returns false at once, which is also
// the answer for invalid input, so the rest of the strings only needs checking when they match.
bool TopicMatchesFilter(std::string_view topic, std::string_view filter) {
  const std::size_t topic_size = topic.size();
  const std::size_t filter_size = filter.size();
  if (topic_size == 0 || filter_size == 0 || topic_size > kMaxTopicBytes ||
      filter_size > kMaxTopicBytes) {
    return false;
  }
  if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) return false;

  std::size_t t = 0;
  std::size_t f = 0;
  while (true) {
    // Here both are at the start of a level; the topic's level may be empty.
    if (f < filter_size && filter[f] == '#') {
      return f + 1 == filter_size && !HasForbiddenChar(topic.substr(t));
    }
    if (f < filter_size && filter[f] == '+') {
      ++f;
      if (f < filter_size && filter[f] != '/') return false;
      for (; t < topic_size && topic[t] != '/'; ++t) {
        if (IsForbidden(topic[t])) return false;
      }
    } else {
      // A literal level. Equal bytes mean checking the filter's byte checks the topic's too.
      for (; f < filter_size && filter[f] != '/'; ++f, ++t) {
        if (t == topic_size || topic[t] != filter[f] || IsForbidden(filter[f])) return false;
      }
      if (t < topic_size && topic[t] != '/') return false;
    }
    // Here both are at the end of a level: at a '/' or at the end.
    if (f == filter_size) return t == topic_size;
    ++f;
    // The topic has no more levels: only a `#` matching its parent level can still match.
    if (t == topic_size) return filter.substr(f) == "#";
    ++t;
  }
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
