#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace certguard {

// Whether `a` and `b` hold the same bytes. Topic levels, device ids and client ids are short: up
// to 16 bytes this is two overlapping loads from each side, a fraction of a call to memcmp, and
// it runs at every level of every decision. Longer strings go to memcmp, whose vector code beats
// inline 16-byte steps from 17 bytes on (callgrind: 30-byte topics, RecentAllow).
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const auto load64 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  const auto load32 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  if (n >= 8 && n <= 16) {
    return load64(a.data()) == load64(b.data()) &&
           load64(a.data() + n - 8) == load64(b.data() + n - 8);
  }
  if (n >= 4 && n < 8) {
    return load32(a.data()) == load32(b.data()) &&
           load32(a.data() + n - 4) == load32(b.data() + n - 4);
  }
  return a == b;
}

}  // namespace certguard
