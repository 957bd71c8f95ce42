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
  TopicLevels() = default;
  // starts_ may point into the object itself.
  TopicLevels(const TopicLevels&) = delete;
  TopicLevels& operator=(const TopicLevels&) = delete;

  // Splits `topic`. False, leaving no levels, when `topic` is not a valid topic name (see
  // IsValidTopicName): empty, longer than 65,535 bytes, or holding NUL, '+' or '#'.
  bool Split(std::string_view topic);

  // "a//b" has the levels "a", "" and "b"; "/" has "" and "".
  size_t size() const { return count_; }
  // The topic as given to Split.
  std::string_view text() const { return topic_; }
  std::string_view operator[](size_t i) const {
    const uint32_t begin = starts_[i];
    return std::string_view(topic_.data() + begin, starts_[i + 1] - 1 - begin);
  }

 private:
  // Topics of up to this many levels are split without allocating.
  static constexpr size_t kInlineLevels = 24;

  // Records that a level ends at `end` (its '/', or the topic's size): the next starts after it.
  void AddEnd(uint32_t end) {
    const size_t index = count_ + 1;
    if (index <= kInlineLevels) {
      inline_starts_[index] = end + 1;
    } else {
      AddDeepEnd(end);
    }
    ++count_;
  }
  void AddDeepEnd(uint32_t end);
  void Reset() {
    count_ = 0;
    starts_ = inline_starts_;
    inline_starts_[0] = 0;
    more_starts_.clear();
  }

  std::string_view topic_;
  size_t count_ = 0;
  // Level i is [starts_[i], starts_[i + 1] - 1): one past each level's end is where the next
  // starts, with a last entry one past the topic. One array whichever its size, so that reading
  // a level costs no test of where it is kept.
  const uint32_t* starts_ = inline_starts_;
  uint32_t inline_starts_[kInlineLevels + 1];  // filled as far as count_ (Split)
  std::vector<uint32_t> more_starts_;
};

}  // namespace certguard
