#pragma once
// Compares certguard's YamlTree with yaml-cpp's own node tree of the same text. Header-only, so
// that the fuzz target (which links no test library) can run it on every input it tries.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <string>

#include "shared/yaml_tree.h"

namespace certguard::testing {

namespace yaml_tree_detail {

inline std::string Describe(const YAML::Mark& mark) {
  return std::to_string(mark.pos) + "@" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

// The same words for a node of either tree.
template <typename AnyNode>
std::string KindOf(const AnyNode& node) {
  if (!node) return "invalid";
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return "scalar";
  if (node.IsSequence()) return "sequence";
  if (node.IsMap()) return "map";
  return "undefined";
}

// yaml-cpp refuses documents nested deeper than this (YAML::DeepRecursion); only a cycle leads
// further down.
constexpr size_t kDeepestDocument = 2000;

// Walks both trees together. `budget` bounds the walk, and the depth the stack it takes: aliases
// can share nodes or make cycles, which both trees keep as they are.
inline std::optional<std::string> Difference(const YAML::Node& expected, const YamlTree::Node& got,
                                             size_t& budget, size_t depth = 0) {
  if (budget == 0 || depth > kDeepestDocument + 1) return std::nullopt;
  --budget;
  const std::string at = expected ? Describe(expected.Mark()) : "?";
  if (KindOf(expected) != KindOf(got)) {
    return "at " + at + ": yaml-cpp has a " + KindOf(expected) + ", YamlTree a " + KindOf(got);
  }
  if (!expected) return std::nullopt;
  if (Describe(expected.Mark()) != Describe(got.Mark())) {
    return "at " + at + ": YamlTree's mark is " + Describe(got.Mark());
  }
  if (expected.IsScalar() && expected.Scalar() != got.Scalar()) {
    return "at " + at + ": scalar '" + expected.Scalar() + "' became '" +
           std::string(got.Scalar()) + "'";
  }
  if (expected.size() != got.size()) {
    return "at " + at + ": " + std::to_string(expected.size()) + " children became " +
           std::to_string(got.size());
  }
  if (expected.IsSequence()) {
    size_t i = 0;
    for (const YamlTree::Node& item : got.items()) {
      if (auto d = Difference(expected[i++], item, budget, depth + 1)) return d;
    }
  } else if (expected.IsMap()) {
    auto it = expected.begin();
    for (const auto& [key, value] : got.pairs()) {
      if (auto d = Difference(it->first, key, budget, depth + 1)) return d;
      if (auto d = Difference(it->second, value, budget, depth + 1)) return d;
      ++it;
    }
  }
  return std::nullopt;
}

}  // namespace yaml_tree_detail

// The first difference between YAML::Load(text) and YamlTree::Parse(text), in words: kinds,
// marks, scalars, children, or what each threw. nullopt when they agree on every node visited
// (at most `budget` nodes).
inline std::optional<std::string> YamlTreeDifference(const std::string& text,
                                                     size_t budget = 100'000) {
  YAML::Node expected;
  std::string expected_error;
  try {
    expected = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    expected_error = yaml_tree_detail::Describe(e.mark) + " " + e.msg;
  }
  std::optional<YamlTree> tree;
  std::string error;
  try {
    tree.emplace(YamlTree::Parse(text));
  } catch (const YAML::Exception& e) {
    error = yaml_tree_detail::Describe(e.mark) + " " + e.msg;
  }
  if (expected_error != error) {
    return "yaml-cpp threw '" + expected_error + "', YamlTree threw '" + error + "'";
  }
  if (!tree) return std::nullopt;
  return yaml_tree_detail::Difference(expected, tree->root(), budget);
}

}  // namespace certguard::testing
