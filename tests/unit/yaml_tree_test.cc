// YamlTree must be yaml-cpp's node tree in a smaller form: the policy loader's error positions and
// every decision depend on it seeing the same nodes, scalars and marks. Most tests here compare
// the two trees of one text node by node (the policy fuzz target does the same on every input).
#include "shared/yaml_tree.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/yaml_tree_difference.h"

namespace certguard {
namespace {

using testing::YamlTreeDifference;

void ExpectSameAsYamlCpp(const std::string& text) {
  const auto difference = YamlTreeDifference(text);
  EXPECT_FALSE(difference.has_value()) << *difference << "\nin:\n" << text;
}

TEST(YamlTreeTest, EveryExamplePolicyGivesYamlCppsTree) {
  size_t policies = 0;
  for (const auto& file :
       std::filesystem::directory_iterator(std::string(CERTGUARD_SOURCE_DIR) + "/policies")) {
    if (file.path().extension() != ".yaml") continue;
    std::ifstream in(file.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    SCOPED_TRACE(file.path().string());
    ExpectSameAsYamlCpp(text.str());
    ++policies;
  }
  EXPECT_GE(policies, 4u);
}

TEST(YamlTreeTest, BlockAndFlowCollectionsScalarStylesAndNullsGiveYamlCppsTree) {
  for (const std::string text : {
           "a: 1\nb: [x, 'y', \"z\"]\nc: {d: e, f: }\n",
           "- one\n- - nested\n  - deeper: [1, {2: 3}]\n-\n- ~\n- null\n- \"~\"\n",
           "key: |\n  literal\n  block\nother: >\n  folded\n  text\nplain: multi\n  line\n",
           "quoted: \"tab\\there \\u00e9\"\nsingle: 'it''s'\nunicode: capteur-é\n",
           "? [complex, key]\n: value\n? {map: key}\n: other\n",
           "tagged: !!str 1\ncustom: !mine ~\nnulltag: !!null x\n",
           "# only a comment\n",
           "",
           "just a scalar",
           "\xEF\xBB\xBF"
           "bom: first\n",
           "first: doc\n---\nsecond: doc\n",
           "--- !!map\n? a\n: b\n...\n",
           // yaml-cpp accepts these two; the loader has its own words for the second.
           "- a\nb: c\n",
           "a: \"unterminated\nb: c\n",
       }) {
    ExpectSameAsYamlCpp(text);
  }
}

TEST(YamlTreeTest, RepeatedKeysAreAllKeptInOrder) {
  const std::string text = "deny: a\nallow: b\ndeny: c\n";
  ExpectSameAsYamlCpp(text);
  const YamlTree tree = YamlTree::Parse(text);
  std::vector<std::string> keys;
  for (const auto& [key, value] : tree.root().pairs()) keys.emplace_back(key.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"deny", "allow", "deny"}));
  // A lookup sees the first, as yaml-cpp's does; the policy loader refuses repeated keys first.
  EXPECT_EQ(tree.root()["deny"].Scalar(), "a");
}

TEST(YamlTreeTest, AnAliasIsTheNodeItsAnchorNames) {
  const std::string text = "base: &ids [a, b]\nsame: *ids\nscalar: &s x\nagain: *s\n";
  ExpectSameAsYamlCpp(text);
  const YamlTree tree = YamlTree::Parse(text);
  const YamlTree::Node same = tree.root()["same"];
  ASSERT_TRUE(same.IsSequence());
  EXPECT_EQ(same.size(), 2u);
  EXPECT_EQ(same.Mark().line, tree.root()["base"].Mark().line);
  EXPECT_EQ(tree.root()["again"].Scalar(), "x");
}

TEST(YamlTreeTest, AnAnchorAliasedInsideItselfMakesACycleAsInYamlCpp) {
  const std::string text = "loop: &a [x, *a]\n";
  ExpectSameAsYamlCpp(text);
  const YamlTree tree = YamlTree::Parse(text);
  const YamlTree::Node loop = tree.root()["loop"];
  YamlTree::Node inner;
  for (const YamlTree::Node& item : loop.items()) inner = item;
  ASSERT_TRUE(inner.IsSequence());
  EXPECT_EQ(inner.Mark().pos, loop.Mark().pos);
}

TEST(YamlTreeTest, AnAnchorRedefinedLaterIsTheNewNodeForLaterAliases) {
  ExpectSameAsYamlCpp("a: &x one\nb: *x\nc: &x two\nd: *x\n");
}

TEST(YamlTreeTest, SyntaxErrorsAreYamlCppsOwnWithTheSameMark) {
  for (const std::string& text : std::vector<std::string>{
           "a: [1, 2\n",
           "a: {b: c\n",
           "a: b: c\n",
           "a:\n\t- tab\n",
           "a: *undefined\n",
           "a: ]\n",
           "%YAML 2.0\n---\na: b\n",
           std::string(2000, '[') + std::string(2000, ']'),
       }) {
    ExpectSameAsYamlCpp(text);
    EXPECT_ANY_THROW(YamlTree::Parse(text)) << text;
  }
}

TEST(YamlTreeTest, LookupsOfAbsentKeysAndOnNonMapsGiveInvalidNodes) {
  const YamlTree tree = YamlTree::Parse("map: {a: 1}\nlist: [a]\nscalar: a\n");
  EXPECT_FALSE(tree.root()["missing"]);
  EXPECT_FALSE(tree.root()["list"]["a"]);
  EXPECT_FALSE(tree.root()["scalar"]["a"]);
  EXPECT_TRUE(tree.root()["map"]["a"]);
  const YamlTree::Node invalid;
  EXPECT_FALSE(invalid.IsNull() || invalid.IsScalar() || invalid.IsSequence() || invalid.IsMap());
  EXPECT_TRUE(invalid.Mark().is_null());
  EXPECT_EQ(invalid.size(), 0u);
  EXPECT_EQ(invalid.Scalar(), "");
}

TEST(YamlTreeTest, ItemsAndPairsOfTheWrongKindOfNodeAreEmpty) {
  const YamlTree tree = YamlTree::Parse("map: {a: 1}\nlist: [a, b]\n");
  size_t visited = 0;
  for ([[maybe_unused]] const YamlTree::Node& item : tree.root()["map"].items()) ++visited;
  for ([[maybe_unused]] const auto& pair : tree.root()["list"].pairs()) ++visited;
  EXPECT_EQ(visited, 0u);
  EXPECT_EQ(tree.root()["map"].size(), 1u);
  EXPECT_EQ(tree.root()["list"].size(), 2u);
}

TEST(YamlTreeTest, AFleetSizedPolicyGivesYamlCppsTree) {
  std::string text = "version: 1\nrules:\n";
  for (int i = 0; i < 5000; ++i) {
    const std::string id = "sensor-" + std::to_string(i);
    text +=
        "  - for: { id: \"" + id + "\" }\n    allow:\n      publish: [\"fleet/" + id + "/data\"]\n";
  }
  const auto difference = YamlTreeDifference(text, SIZE_MAX);
  EXPECT_FALSE(difference.has_value()) << *difference;
}

}  // namespace
}  // namespace certguard
