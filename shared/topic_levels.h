#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace certguard {

// A topic name split into its levels once per decision, so that every trie the decision walks
// (deny and allow, for every principal that applies) reads the levels instead of searching the
// text for '/' again. The split and the topic-name check are one pass over the bytes, sixteen at
// a time: this runs for every message a broker delivers, twice.
class TopicLevels {
 public:
  // Splits `topic`. False, leaving no levels, when `topic` is not a valid topic name (see
  // IsValidTopicName): empty, longer than 65,535 bytes, or holding NUL, '+' or '#'.
  bool Split(std::string_view topic);

  // "a//b" has the levels "a", "" and "b"; "/" has "" and "".
  size_t size() const { return count_; }
  std::string_view operator[](size_t i) const {
    const uint32_t begin = i == 0 ? 0 : End(i - 1) + 1;
    return topic_.substr(begin, End(i) - begin);
  }

 private:
  // Topics of up to this many levels are split without allocating.
  static constexpr size_t kInlineLevels = 24;

  uint32_t End(size_t i) const {
    return i < kInlineLevels ? ends_[i] : more_ends_[i - kInlineLevels];
  }
  void AddEnd(uint32_t end) {
    if (count_ < kInlineLevels) {
      ends_[count_] = end;
    } else {
      more_ends_.push_back(end);
    }
    ++count_;
  }

  std::string_view topic_;
  size_t count_ = 0;
  uint32_t ends_[kInlineLevels];  // where each level ends (its '/', or the topic's size)
  std::vector<uint32_t> more_ends_;
};

}  // namespace certguard
