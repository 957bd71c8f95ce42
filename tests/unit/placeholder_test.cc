// Which values may be substituted for {id}, {cn} and {client_id}: anything that could widen a
// device's rule to other devices' or the broker's topics is refused.
#include "shared/placeholder.h"

#include <gtest/gtest.h>

#include <string>

namespace certguard {
namespace {

TEST(WhyNotSubstitutable, OrdinaryDeviceIdsAreAccepted) {
  for (const char* id : {"sensor-1", "dev_42", "a", "urn:dev:7", "capteur-é", "设备-1", "x.y"}) {
    EXPECT_EQ(WhyNotSubstitutable(id), std::nullopt) << id;
  }
}

TEST(WhyNotSubstitutable, WildcardsSeparatorsAndNulAreRefused) {
  const std::string with_nul("a\0b", 3);
  for (const std::string& id : {std::string("+"), std::string("#"), std::string("a/b"),
                                std::string("/"), std::string("sensor-+"), with_nul}) {
    EXPECT_NE(WhyNotSubstitutable(id), std::nullopt) << id;
  }
}

TEST(WhyNotSubstitutable, EmptyTooLongAndControlCharactersAreRefused) {
  EXPECT_NE(WhyNotSubstitutable(""), std::nullopt);
  EXPECT_EQ(WhyNotSubstitutable(std::string(kMaxPlaceholderValueBytes, 'a')), std::nullopt);
  EXPECT_NE(WhyNotSubstitutable(std::string(kMaxPlaceholderValueBytes + 1, 'a')), std::nullopt);
  EXPECT_NE(WhyNotSubstitutable("line\nbreak"), std::nullopt);
  EXPECT_NE(WhyNotSubstitutable("esc\x1b[31m"), std::nullopt);
  EXPECT_NE(WhyNotSubstitutable("del\x7f"), std::nullopt);
}

TEST(WhyNotSubstitutable, InvalidUtf8IsRefused) {
  for (const char* id : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf5\x80\x80\x80", "a\xffz"}) {
    EXPECT_NE(WhyNotSubstitutable(id), std::nullopt) << id;
  }
}

// A device named "$SYS" with `{id}/#` would otherwise reach the broker's own topics.
TEST(WhyNotSubstitutable, ALeadingDollarIsRefusedButADollarInsideIsNot) {
  EXPECT_NE(WhyNotSubstitutable("$SYS"), std::nullopt);
  EXPECT_NE(WhyNotSubstitutable("$"), std::nullopt);
  EXPECT_EQ(WhyNotSubstitutable("price$1"), std::nullopt);
}

}  // namespace
}  // namespace certguard
