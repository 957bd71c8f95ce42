// Inputs the fuzz targets (tests/fuzz) found to break something, each pinned here with the fix it
// needed, so that the unit tests catch a regression without running a fuzzer.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "shared/policy.h"

namespace certguard {
namespace {

// fuzz_policy_parser: "billion laughs". Each anchor is a list of eight aliases of the previous
// one, so 12 short lines stand for 8^11 scalars; walking that tree kept Policy::Parse (and so a
// broker's reload thread) busy for hours. The loader now refuses a tree that is far larger than
// its text.
TEST(FuzzRegressions, PolicyAliasExpansionIsRefusedQuickly) {
  std::string yaml =
      "version: 1\nx0: &a0 [\"q\", \"q\", \"q\", \"q\", \"q\", \"q\", \"q\", \"q\"]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 8; ++k) yaml += (k == 0 ? "" : ", ") + prev;
    yaml += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const auto policy = Policy::Parse(yaml, "laughs.yaml");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(policy.ok());
  EXPECT_TRUE(policy.error().message.starts_with("laughs.yaml:")) << policy.error().message;
  EXPECT_NE(policy.error().message.find("too many entries"), std::string::npos)
      << policy.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// The cap must not refuse what aliases are for: one list of topics reused by a few rules.
TEST(FuzzRegressions, PolicyAliasReuseStillLoads) {
  const std::string yaml =
      "version: 1\n"
      "identity:\n  from: [{cn: \"{id}\"}]\n"
      "rules:\n"
      "  - for: all\n"
      "    allow:\n"
      "      publish: &topics [\"a/{id}\", \"b/{id}\", \"c/{id}/#\"]\n"
      "      subscribe: *topics\n"
      "  - for: { id: ops }\n"
      "    allow: { publish: *topics, subscribe: *topics }\n";
  const auto policy = Policy::Parse(yaml, "reuse.yaml");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy.value()->rules.size(), 12u);
}

}  // namespace
}  // namespace certguard
