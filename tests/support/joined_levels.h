#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace certguard::testing {

// Every string of `levels` joined by '/', from one level deep to `max_depth`: a universe of
// topics or filters for tests that compare a matcher against a reference on all of them.
inline std::vector<std::string> JoinedLevels(const std::vector<std::string>& levels,
                                             size_t max_depth) {
  std::vector<std::string> out;
  std::vector<std::string> frontier = {""};
  for (size_t depth = 1; depth <= max_depth; ++depth) {
    std::vector<std::string> next;
    for (const std::string& prefix : frontier) {
      for (const std::string& level : levels) {
        next.push_back(depth == 1 ? level : prefix + "/" + level);
      }
    }
    out.insert(out.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  return out;
}

}  // namespace certguard::testing
