// The decoder for `peer_cert_as_username = pem` usernames: exactly what EMQX produces, nothing
// looser, since a value it half-reads could be a different certificate.
#include "emqx-exhook/base64.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/exhook/fake_emqx.h"

namespace certguard::exhook {
namespace {

TEST(DecodeBase64Test, DecodesEveryPaddingLength) {
  EXPECT_EQ(DecodeBase64(""), std::string());
  EXPECT_EQ(DecodeBase64("Zg=="), std::string("f"));
  EXPECT_EQ(DecodeBase64("Zm8="), std::string("fo"));
  EXPECT_EQ(DecodeBase64("Zm9v"), std::string("foo"));
  EXPECT_EQ(DecodeBase64("Zm9vYmFy"), std::string("foobar"));
  EXPECT_EQ(DecodeBase64("+/8A"), std::string("\xfb\xff\x00", 3));
}

TEST(DecodeBase64Test, RoundTripsWhatOpenSslEncodes) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) {
    bytes.push_back(static_cast<char>(i * 37));
    EXPECT_EQ(DecodeBase64(certguard::testing::Base64(bytes)), bytes) << i;
  }
}

TEST(DecodeBase64Test, RefusesAnythingEmqxWouldNotSend) {
  for (const std::string& text : {
           std::string("Zg"),          // padding missing
           std::string("Zg="),         // padding short
           std::string("Z==="),        // too much padding
           std::string("Zg==Zg=="),    // padding before the end
           std::string("Zm9v\n"),      // line break (PEM style)
           std::string(" Zm9v"),       // whitespace
           std::string("Zm9-"),        // URL-safe alphabet
           std::string("Zm9_"),        // URL-safe alphabet
           std::string("Zh=="),        // non-zero unused bits
           std::string("Zm9="),        // non-zero unused bits
           std::string("Zm\0v", 4),    // NUL
           std::string("-----BEGIN"),  // PEM armour
       }) {
    EXPECT_EQ(DecodeBase64(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace certguard::exhook
