#pragma once

#include <cstddef>
#include <string_view>

namespace certguard::testing {

// How many times `needle` occurs in `text` (overlapping occurrences count): how tests count log
// lines, warnings and reloads.
inline size_t CountOccurrences(std::string_view text, std::string_view needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace certguard::testing
