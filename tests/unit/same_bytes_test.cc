// SameBytes compares in word loads whose size depends on the length: at every length, a
// difference in any one byte must be seen, and no load may reach past either string (the
// buffers here are exactly as long as the strings, so ASan would catch one).
#include "shared/same_bytes.h"

#include <memory>
#include <string_view>

#include <gtest/gtest.h>

namespace certguard {
namespace {

TEST(SameBytes, SeesADifferenceInAnyByteAtEveryLength) {
  for (size_t size = 0; size <= 80; ++size) {
    const auto a = std::make_unique<char[]>(size + 1);
    const auto b = std::make_unique<char[]>(size + 1);
    for (size_t i = 0; i < size; ++i) a[i] = b[i] = static_cast<char>('a' + i % 26);
    const std::string_view va(a.get(), size);
    const std::string_view vb(b.get(), size);
    EXPECT_TRUE(SameBytes(va, vb)) << size;
    for (size_t at = 0; at < size; ++at) {
      b[at] = static_cast<char>(b[at] ^ 0x01);
      EXPECT_FALSE(SameBytes(va, vb)) << size << " at " << at;
      b[at] = static_cast<char>(b[at] ^ 0x80);  // a high bit only, then back
      b[at] = static_cast<char>(b[at] ^ 0x01);
      EXPECT_FALSE(SameBytes(va, vb)) << size << " at " << at;
      b[at] = a[at];
    }
    if (size > 0) {
      EXPECT_FALSE(SameBytes(va, vb.substr(1))) << size;
      EXPECT_FALSE(SameBytes(va.substr(0, size - 1), vb)) << size;
    }
  }
}

}  // namespace
}  // namespace certguard
