#include "shared/identity_template.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace certguard {
namespace {

std::optional<std::string> MatchWith(std::string_view text, std::string_view value) {
  auto parsed = IdentityTemplate::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text;
  if (!parsed.ok()) return std::nullopt;
  return parsed->Match(value);
}

TEST(IdentityTemplateParseTest, AcceptsOneIdWithLiteralsAndGlobs) {
  for (const char* text : {"{id}", "spiffe://iot.example.com/device/{id}", "{id}.*.example.com",
                           "CN={id},O=Example", "*-{id}-*"}) {
    auto parsed = IdentityTemplate::Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    EXPECT_EQ(parsed->text(), text);
  }
}

TEST(IdentityTemplateParseTest, RequiresExactlyOneId) {
  for (const char* text : {"", "sensor-*", "{id}-{id}", "{id}{id}"}) {
    auto parsed = IdentityTemplate::Parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().message, "template must contain exactly one {id}") << text;
  }
}

TEST(IdentityTemplateParseTest, RejectsOtherPlaceholdersAndStrayBraces) {
  auto unknown = IdentityTemplate::Parse("{cn}/{id}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown placeholder {cn} in identity template");
  EXPECT_FALSE(IdentityTemplate::Parse("{ID}").ok());
  EXPECT_FALSE(IdentityTemplate::Parse("{id").ok());
  EXPECT_FALSE(IdentityTemplate::Parse("{id}}").ok());
  EXPECT_FALSE(IdentityTemplate::Parse("x{}{id}").ok());
}

TEST(IdentityTemplateMatchTest, SpiffeUriCapturesTheLastSegment) {
  const char* text = "spiffe://iot.example.com/device/{id}";
  EXPECT_EQ(MatchWith(text, "spiffe://iot.example.com/device/sensor-1"), "sensor-1");
  EXPECT_EQ(MatchWith(text, "spiffe://iot.example.com/device/"), std::nullopt);
  EXPECT_EQ(MatchWith(text, "spiffe://evil.example.com/device/sensor-1"), std::nullopt);
  EXPECT_EQ(MatchWith(text, "xspiffe://iot.example.com/device/sensor-1"), std::nullopt);
  // The template does not forbid '/' in the capture; id validation refuses it later.
  EXPECT_EQ(MatchWith(text, "spiffe://iot.example.com/device/a/b"), "a/b");
}

TEST(IdentityTemplateMatchTest, DnsSuffixMustMatchLiterally) {
  const char* text = "{id}.devices.example.com";
  EXPECT_EQ(MatchWith(text, "sensor-1.devices.example.com"), "sensor-1");
  EXPECT_EQ(MatchWith(text, "a.b.devices.example.com"), "a.b");
  EXPECT_EQ(MatchWith(text, ".devices.example.com"), std::nullopt);
  EXPECT_EQ(MatchWith(text, "sensor-1.devices.example.com.evil"), std::nullopt);
  EXPECT_EQ(MatchWith(text, "sensor-1.devicesXexample.com"), std::nullopt);
}

TEST(IdentityTemplateMatchTest, GlobAfterIdPrefersTheShortestCapture) {
  const char* text = "{id}.*.example.com";
  EXPECT_EQ(MatchWith(text, "sensor-1.eu.example.com"), "sensor-1");
  // Both "a" (glob "b.c") and "a.b" (glob "c") fit: the shortest capture wins.
  EXPECT_EQ(MatchWith(text, "a.b.c.example.com"), "a");
  // The glob may match an empty run.
  EXPECT_EQ(MatchWith(text, "sensor-1..example.com"), "sensor-1");
  EXPECT_EQ(MatchWith(text, "sensor-1.example.com"), std::nullopt);
}

TEST(IdentityTemplateMatchTest, GlobBeforeIdPrefersTheShortestThenLeftmostCapture) {
  EXPECT_EQ(MatchWith("*-{id}", "plant-7-sensor"), "sensor");
  EXPECT_EQ(MatchWith("*{id}*", "abc"), "a");
  EXPECT_EQ(MatchWith("*/{id}/*", "x/a/b/c"), "a");
}

TEST(IdentityTemplateMatchTest, DnTemplateMatchesAWholeSubject) {
  const char* text = "CN={id},O=Example";
  EXPECT_EQ(MatchWith(text, "CN=sensor-1,O=Example"), "sensor-1");
  EXPECT_EQ(MatchWith(text, "CN=sensor-1,OU=x,O=Example"), "sensor-1,OU=x");
  EXPECT_EQ(MatchWith(text, "CN=sensor-1,O=Example,C=DE"), std::nullopt);
}

TEST(IdentityTemplateMatchTest, EmptyCaptureNeverMatches) {
  EXPECT_EQ(MatchWith("{id}", ""), std::nullopt);
  EXPECT_EQ(MatchWith("device-{id}", "device-"), std::nullopt);
  EXPECT_EQ(MatchWith("{id}", "x"), "x");
}

TEST(IdentityTemplateMatchTest, ValuesLongerThanTheBoundNeverMatch) {
  EXPECT_EQ(MatchWith("{id}", std::string(4096, 'a')), std::string(4096, 'a'));
  EXPECT_EQ(MatchWith("{id}", std::string(4097, 'a')), std::nullopt);
}

TEST(IdentityTemplateMatchTest, HostileValuesStayFast) {
  auto parsed = IdentityTemplate::Parse("*a*a*a*a*a*{id}*a*a*a*a*a*b");
  ASSERT_TRUE(parsed.ok());
  const std::string value(4096, 'a');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(parsed->Match(value), std::nullopt);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(GlobMatchTest, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(GlobMatch("sensor-*", "sensor-1"));
  EXPECT_TRUE(GlobMatch("sensor-*", "sensor-"));
  EXPECT_FALSE(GlobMatch("sensor-*", "sensor"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_TRUE(GlobMatch("a*b*c", "abc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "acb"));
  EXPECT_TRUE(GlobMatch("*.example.com", "x.y.example.com"));
  EXPECT_TRUE(GlobMatch("**a**", "bab"));
}

TEST(GlobMatchTest, OnlyStarIsSpecial) {
  EXPECT_TRUE(GlobMatch("a?c", "a?c"));
  EXPECT_FALSE(GlobMatch("a?c", "abc"));
  EXPECT_TRUE(GlobMatch("[ab]", "[ab]"));
  EXPECT_FALSE(GlobMatch("[ab]", "a"));
  EXPECT_TRUE(GlobMatch("ops-console", "ops-console"));
  EXPECT_FALSE(GlobMatch("ops-console", "ops-consolE"));
}

TEST(GlobMatchTest, PathologicalPatternIsNotExponential) {
  const std::string value(10000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", value));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*", value));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace certguard
