#include "shared/identity_template.h"

#include <algorithm>
#include <cstddef>
#include <limits>

namespace certguard {
namespace {

constexpr std::string_view kIdPlaceholder = "{id}";

// Certificate strings longer than this never yield an id: no sane device id, SAN or CN is this
// long, and the bound keeps a hostile value's cost at O(kMaxMatchLength * template length).
constexpr size_t kMaxMatchLength = 4096;

// ends[i] is true when `pattern` matches exactly value[0, i). One pass of the glob's NFA over
// the value, O(|value| * |pattern|), no recursion or backtracking.
std::vector<bool> GlobMatchesOfPrefixes(std::string_view pattern, std::string_view value) {
  const size_t m = pattern.size();
  // state[k]: pattern[0, k) matches the value consumed so far.
  std::vector<bool> state(m + 1, false);
  std::vector<bool> next(m + 1, false);
  state[0] = true;
  for (size_t k = 0; k < m && pattern[k] == '*'; ++k) state[k + 1] = true;
  std::vector<bool> ends(value.size() + 1, false);
  ends[0] = state[m];
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    next[0] = false;
    for (size_t k = 0; k < m; ++k) {
      // A star either takes c (it matched up to here already) or matches nothing after the
      // preceding part took c.
      next[k + 1] = pattern[k] == '*' ? (state[k + 1] || next[k]) : (state[k] && pattern[k] == c);
    }
    state.swap(next);
    ends[i + 1] = state[m];
  }
  return ends;
}

}  // namespace

Result<IdentityTemplate> IdentityTemplate::Parse(std::string_view text) {
  size_t id_count = 0;
  size_t id_at = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') return Error{"unmatched } in identity template"};
    if (text[i] != '{') continue;
    const size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) return Error{"unclosed { in identity template"};
    const std::string_view placeholder = text.substr(i, close - i + 1);
    if (placeholder != kIdPlaceholder) {
      return Error{"unknown placeholder " + std::string(placeholder) + " in identity template"};
    }
    ++id_count;
    id_at = i;
    i = close;
  }
  if (id_count != 1) return Error{"template must contain exactly one {id}"};

  IdentityTemplate result;
  result.text_ = std::string(text);
  result.prefix_glob_ = std::string(text.substr(0, id_at));
  result.suffix_glob_ = std::string(text.substr(id_at + kIdPlaceholder.size()));
  return result;
}

std::optional<std::string> IdentityTemplate::Match(std::string_view value) const {
  if (value.size() > kMaxMatchLength) return std::nullopt;
  const size_t n = value.size();
  // prefix_ok[i]: the part before {id} matches value[0, i).
  const std::vector<bool> prefix_ok = GlobMatchesOfPrefixes(prefix_glob_, value);
  // suffix_ok[j]: the part after {id} matches value[j, n); computed as a prefix match of the
  // reversed suffix over the reversed value.
  const std::string reversed_suffix(suffix_glob_.rbegin(), suffix_glob_.rend());
  const std::string reversed_value(value.rbegin(), value.rend());
  const std::vector<bool> reversed_ends = GlobMatchesOfPrefixes(reversed_suffix, reversed_value);

  // first_suffix_from[j]: the smallest j' >= j where the suffix matches value[j', n), or npos.
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  std::vector<size_t> first_suffix_from(n + 2, kNone);
  for (size_t j = n + 1; j-- > 0;) {
    const bool here = j <= n && reversed_ends[n - j];
    first_suffix_from[j] = here ? j : first_suffix_from[j + 1];
  }

  // The capture value[i, j) must be non-empty (j >= i + 1). Shortest wins; among equally short
  // captures the leftmost, so the answer depends only on the template and the value.
  size_t best_start = kNone;
  size_t best_length = kNone;
  for (size_t i = 0; i < n; ++i) {
    if (!prefix_ok[i]) continue;
    const size_t j = first_suffix_from[i + 1];
    if (j == kNone) continue;
    if (j - i < best_length) {
      best_start = i;
      best_length = j - i;
    }
  }
  if (best_start == kNone) return std::nullopt;
  return std::string(value.substr(best_start, best_length));
}

bool GlobMatch(std::string_view pattern, std::string_view value) {
  size_t p = 0;
  size_t v = 0;
  // Where to resume after the last star: the pattern just past it, and the value position the
  // star's run currently ends at. Only the last star matters, which keeps this O(|p| * |v|)
  // worst case without recursion.
  size_t star = std::string_view::npos;
  size_t star_value = 0;
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_value = v;
    } else if (p < pattern.size() && pattern[p] == value[v]) {
      ++p;
      ++v;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      v = ++star_value;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace certguard
