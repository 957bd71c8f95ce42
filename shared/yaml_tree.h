#pragma once

#include <yaml-cpp/mark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace certguard {

// A YAML document as a compact, read-only tree, built from yaml-cpp's event parser.
//
// yaml-cpp's own node tree (YAML::Load) costs about 600 bytes a node: for a 16 MB policy of
// 100,000 devices (1.4 million nodes) it took 2 s and most of a reload's memory peak (a broker
// loading that policy peaked at 964 MB of RSS, bench/memory_bench). This tree holds the same
// nodes, scalars and marks in three flat arrays, about 30 bytes a node, and is built in half the
// time (that peak is now 326 MB). yaml-cpp still does all of the parsing, so syntax errors, depth
// limits and marks are its own, exactly as YAML::Load reports them (tests/unit/yaml_tree_test.cc
// compares the two trees).
//
// An alias is the node its anchor names, as in yaml-cpp: the tree may share nodes, and an anchor
// aliased inside itself makes a cycle. Whoever walks the tree bounds the walk.
class YamlTree {
  struct Entry;

 public:
  class Node;
  struct Pair;

  // Parses the first document of `text`; an empty stream gives a null root without a mark, as
  // YAML::Load does. Throws what YAML::Load throws (YAML::ParserException, YAML::DeepRecursion).
  static YamlTree Parse(std::string_view text);

  // Nodes point at their tree: a tree that has handed out nodes must stay where it is.
  YamlTree(YamlTree&&) = default;
  YamlTree& operator=(YamlTree&&) = default;
  YamlTree(const YamlTree&) = delete;
  YamlTree& operator=(const YamlTree&) = delete;

  Node root() const;

 private:
  class Builder;
  friend class Node;

  enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };
  static constexpr uint32_t kNoNode = UINT32_MAX;

  // A scalar's `first` and `count` are its bytes in scalars_; a sequence's are its items in
  // children_, a map's its keys and values there, alternating.
  struct Entry {
    Kind kind;
    int32_t pos, line, column;
    uint32_t first, count;
  };

  std::vector<Entry> entries_;
  std::vector<uint32_t> children_;
  std::string scalars_;
  uint32_t root_ = kNoNode;

  YamlTree() = default;
};

// A handle on one node: two words, copied freely, valid while its tree lives. A default or
// missing node is invalid (false), like the YAML::Node a lookup of an absent key returns.
class YamlTree::Node {
 public:
  Node() = default;

  explicit operator bool() const { return tree_ != nullptr; }
  bool IsNull() const { return Is(Kind::kNull); }
  bool IsScalar() const { return Is(Kind::kScalar); }
  bool IsSequence() const { return Is(Kind::kSequence); }
  bool IsMap() const { return Is(Kind::kMap); }

  // The scalar's text; empty for any other node.
  std::string_view Scalar() const;
  // Where the node starts; a null mark for an invalid node.
  YAML::Mark Mark() const;
  // A sequence's items or a map's pairs; 0 for anything else.
  size_t size() const;

  // The value of the first pair whose key is the scalar `key`; invalid if there is none or this
  // is not a map.
  Node operator[](std::string_view key) const;

  // A node's children in order, for range-for loops: a sequence's items (T = Node) or a map's
  // pairs, repeated keys included (T = Pair). Nothing for any other node.
  template <typename T>
  class Children;
  Children<Node> items() const;
  Children<Pair> pairs() const;

 private:
  friend class YamlTree;
  Node(const YamlTree* tree, uint32_t index) : tree_(tree), index_(index) {}

  bool Is(Kind kind) const { return tree_ != nullptr && entry().kind == kind; }
  const Entry& entry() const { return tree_->entries_[index_]; }
  // The node children_[first + offset] names.
  Node Child(uint32_t offset) const { return {tree_, tree_->children_[entry().first + offset]}; }

  const YamlTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

struct YamlTree::Pair {
  Node first;
  Node second;
};

template <typename T>
class YamlTree::Node::Children {
 public:
  class iterator {
   public:
    iterator(const Node& parent, uint32_t at) : parent_(parent), at_(at) {}
    T operator*() const {
      if constexpr (std::is_same_v<T, Pair>) {
        return {parent_.Child(2 * at_), parent_.Child(2 * at_ + 1)};
      } else {
        return parent_.Child(at_);
      }
    }
    iterator& operator++() {
      ++at_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return at_ != other.at_; }

   private:
    Node parent_;
    uint32_t at_;
  };
  Children(const Node& parent, uint32_t count) : parent_(parent), count_(count) {}
  iterator begin() const { return {parent_, 0}; }
  iterator end() const { return {parent_, count_}; }

 private:
  Node parent_;
  uint32_t count_;
};

}  // namespace certguard
