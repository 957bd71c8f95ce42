#include "shared/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <istream>
#include <stdexcept>
#include <streambuf>

namespace certguard {
namespace {

// yaml-cpp reads from a stream; this one reads the caller's bytes where they are, so that a large
// policy is not copied once more while it is parsed.
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // never written: a get area only
    setg(begin, begin, begin + text.size());
  }
};

// Indices and offsets are 32 bits to keep entries small; a document that outgrows them is
// refused rather than wrapped.
uint32_t Checked(size_t value) {
  if (value >= UINT32_MAX) throw std::length_error("the YAML document is too large");
  return static_cast<uint32_t>(value);
}

}  // namespace

// Children arrive between their container's start and end events, interleaved with the
// children of containers nested inside. Each container's children wait on one shared stack and
// move to children_ in one piece when the container ends, so building allocates nothing per node.
class YamlTree::Builder : public YAML::EventHandler {
 public:
  explicit Builder(YamlTree& tree) : tree_(tree) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Attach(Add(Kind::kNull, mark, 0, 0, anchor));
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    // yaml-cpp refuses an alias to an undefined anchor before it gets here.
    if (anchor >= anchors_.size() || anchors_[anchor] == kNoNode) {
      throw std::logic_error("YAML alias to an unknown anchor");
    }
    Attach(anchors_[anchor]);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    // The end fits, so the start and the length do too.
    Checked(tree_.scalars_.size() + value.size());
    const auto first = static_cast<uint32_t>(tree_.scalars_.size());
    tree_.scalars_ += value;
    Attach(Add(Kind::kScalar, mark, first, static_cast<uint32_t>(value.size()), anchor));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Kind::kMap, mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct OpenContainer {
    uint32_t index;
    size_t first_pending;
  };

  uint32_t Add(Kind kind, const YAML::Mark& mark, uint32_t first, uint32_t count,
               YAML::anchor_t anchor) {
    const uint32_t index = Checked(tree_.entries_.size());
    tree_.entries_.push_back({kind, mark.pos, mark.line, mark.column, first, count});
    if (anchor != YAML::NullAnchor) {
      if (anchor >= anchors_.size()) anchors_.resize(anchor + 1, kNoNode);
      anchors_[anchor] = index;
    }
    return index;
  }

  void Attach(uint32_t index) {
    if (open_.empty()) {
      tree_.root_ = index;
    } else {
      pending_.push_back(index);
    }
  }

  void Open(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    const uint32_t index = Add(kind, mark, 0, 0, anchor);
    Attach(index);
    open_.push_back({index, pending_.size()});
  }

  void Close() {
    const OpenContainer container = open_.back();
    open_.pop_back();
    const size_t children = pending_.size() - container.first_pending;
    Entry& entry = tree_.entries_[container.index];
    Checked(tree_.children_.size() + children);  // the end fits, so the start does too
    entry.first = static_cast<uint32_t>(tree_.children_.size());
    // A map's children are its keys and values, alternating; it counts pairs.
    entry.count = static_cast<uint32_t>(entry.kind == Kind::kMap ? children / 2 : children);
    tree_.children_.insert(tree_.children_.end(),
                           pending_.begin() + static_cast<std::ptrdiff_t>(container.first_pending),
                           pending_.end());
    pending_.resize(container.first_pending);
  }

  YamlTree& tree_;
  std::vector<OpenContainer> open_;
  std::vector<uint32_t> pending_;
  std::vector<uint32_t> anchors_;  // yaml-cpp numbers anchors from 1 in document order
};

YamlTree YamlTree::Parse(std::string_view text) {
  YamlTree tree;
  ViewBuffer buffer(text);
  std::istream stream(&buffer);
  YAML::Parser parser(stream);
  Builder builder(tree);
  parser.HandleNextDocument(builder);
  if (tree.root_ == kNoNode) {
    tree.root_ = static_cast<uint32_t>(tree.entries_.size());
    const YAML::Mark none = YAML::Mark::null_mark();
    tree.entries_.push_back({Kind::kNull, none.pos, none.line, none.column, 0, 0});
  }
  return tree;
}

YamlTree::Node YamlTree::root() const { return {this, root_}; }

std::string_view YamlTree::Node::Scalar() const {
  if (!IsScalar()) return {};
  return std::string_view(tree_->scalars_.data() + entry().first, entry().count);
}

YAML::Mark YamlTree::Node::Mark() const {
  if (tree_ == nullptr) return YAML::Mark::null_mark();
  YAML::Mark mark;
  mark.pos = entry().pos;
  mark.line = entry().line;
  mark.column = entry().column;
  return mark;
}

size_t YamlTree::Node::size() const { return IsSequence() || IsMap() ? entry().count : 0; }

YamlTree::Node YamlTree::Node::operator[](std::string_view key) const {
  for (const auto& [k, v] : pairs()) {
    if (k.IsScalar() && k.Scalar() == key) return v;
  }
  return {};
}

YamlTree::Node::Children<YamlTree::Node> YamlTree::Node::items() const {
  return {*this, IsSequence() ? entry().count : 0};
}

YamlTree::Node::Children<YamlTree::Pair> YamlTree::Node::pairs() const {
  return {*this, IsMap() ? entry().count : 0};
}

}  // namespace certguard
