#include "shared/revoked_serials.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_set>

namespace certguard {
namespace {

TEST(RevokedSerialsTest, EmptyListContainsNothing) {
  const RevokedSerials serials;
  EXPECT_EQ(serials.size(), 0u);
  EXPECT_FALSE(serials.contains("5A01"));
  EXPECT_FALSE(serials.contains(""));
}

TEST(RevokedSerialsTest, ContainsWhatWasInsertedAndNothingElse) {
  RevokedSerials serials;
  EXPECT_TRUE(serials.Insert("5A01"));
  EXPECT_TRUE(serials.Insert("-7F"));
  EXPECT_TRUE(serials.contains("5A01"));
  EXPECT_TRUE(serials.contains("-7F"));
  EXPECT_FALSE(serials.contains("5A02"));
  EXPECT_FALSE(serials.contains("7F"));
  EXPECT_EQ(serials.size(), 2u);
}

TEST(RevokedSerialsTest, ASerialListedTwiceIsHeldOnce) {
  RevokedSerials serials;
  EXPECT_TRUE(serials.Insert("ABCDEF"));
  EXPECT_FALSE(serials.Insert("ABCDEF"));
  EXPECT_EQ(serials.size(), 1u);
  EXPECT_EQ(serials.bytes(), 6u);
}

// Serials sit back to back: a serial must never match a neighbour's bytes, or the prefix or
// the run that two neighbours make together.
TEST(RevokedSerialsTest, PrefixesAndNeighboursAreNotMatches) {
  RevokedSerials serials;
  ASSERT_TRUE(serials.Insert("AB"));
  ASSERT_TRUE(serials.Insert("CD"));
  ASSERT_TRUE(serials.Insert("0123456789ABCDEF0123456789ABCDEF01"));
  EXPECT_FALSE(serials.contains("A"));
  EXPECT_FALSE(serials.contains("ABC"));
  EXPECT_FALSE(serials.contains("ABCD"));
  EXPECT_FALSE(serials.contains("BC"));
  EXPECT_FALSE(serials.contains("0123456789ABCDEF0123456789ABCDEF0"));
  EXPECT_FALSE(serials.contains("0123456789ABCDEF0123456789ABCDEF012"));
  EXPECT_TRUE(serials.contains("CD"));
}

TEST(RevokedSerialsTest, HoldsAnyBytesIncludingNulAndTheEmptySerial) {
  RevokedSerials serials;
  const std::string with_nul(
      "5A\0"
      "01",
      5);
  ASSERT_TRUE(serials.Insert(with_nul));
  ASSERT_TRUE(serials.Insert(""));
  EXPECT_TRUE(serials.contains(with_nul));
  EXPECT_TRUE(serials.contains(""));
  EXPECT_FALSE(serials.contains("5A"));
}

// Against unordered_set on random serials, through every growth of the table: each one listed
// is found, and as many unlisted ones (mostly of the same lengths) are not.
TEST(RevokedSerialsTest, AgreesWithAHashSetThroughEveryGrowth) {
  std::mt19937_64 random(20261208);
  const auto random_serial = [&random] {
    std::string serial(1 + random() % 24, '0');
    for (char& c : serial) c = "0123456789ABCDEF"[random() % 16];
    return serial;
  };
  RevokedSerials serials;
  std::unordered_set<std::string> reference;
  for (int i = 0; i < 20000; ++i) {
    const std::string serial = random_serial();
    EXPECT_EQ(serials.Insert(serial), reference.insert(serial).second) << serial;
  }
  EXPECT_EQ(serials.size(), reference.size());
  for (const std::string& serial : reference) EXPECT_TRUE(serials.contains(serial)) << serial;
  for (int i = 0; i < 20000; ++i) {
    const std::string serial = random_serial();
    EXPECT_EQ(serials.contains(serial), reference.contains(serial)) << serial;
  }
}

TEST(RevokedSerialsTest, ReserveKeepsWhatIsAlreadyHeld) {
  RevokedSerials serials;
  ASSERT_TRUE(serials.Insert("01"));
  serials.Reserve(100000, 32);
  EXPECT_TRUE(serials.contains("01"));
  EXPECT_TRUE(serials.Insert("02"));
  EXPECT_FALSE(serials.Insert("01"));
  EXPECT_EQ(serials.size(), 2u);
}

}  // namespace
}  // namespace certguard
