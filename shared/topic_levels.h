#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace certguard {

// A topic name checked once per decision and read level by level by every trie the decision
// walks (deny and allow, for every principal that applies). For a topic shorter than 64 bytes
// (nearly every topic a device sends) Split records where the slashes are as one bit per byte,
// found sixteen bytes at a time, so no walk searches the text for '/' again: a level's end is one
// shift and one bit count away. A longer topic is searched with memchr as each walk reaches its
// levels. This runs for every message a broker delivers, twice.
class TopicLevels {
 public:
  // Checks `topic`. False when it is not a valid topic name (see IsValidTopicName): empty,
  // longer than 65,535 bytes, or holding NUL, '+' or '#'; the levels are then unusable.
  bool Split(std::string_view topic);
  bool valid() const { return valid_; }

  // The topic as given to Split.
  std::string_view text() const { return topic_; }

  // The level that starts at offset `begin` ends at the returned offset: its '/', or the end of
  // the text. The first level starts at 0 and each next one after the end of the one before;
  // once a start is past the end of the text, there are no more levels. "a//b" has the levels
  // "a", "" and "b"; "/" has "" and "". Requires valid() and begin <= text().size().
  uint32_t LevelEnd(uint32_t begin) const {
    if (masked_) {
      const uint64_t after = slashes_ >> begin;  // begin <= size < 64
      return after != 0 ? begin + static_cast<uint32_t>(std::countr_zero(after))
                        : static_cast<uint32_t>(topic_.size());
    }
    return LongLevelEnd(begin);
  }

 private:
  // Topics shorter than this have their slashes in `slashes_` (a shift by 64 is undefined).
  static constexpr size_t kMaskedBytes = 64;

  uint32_t LongLevelEnd(uint32_t begin) const;

  std::string_view topic_;
  uint64_t slashes_ = 0;  // bit i: byte i is '/' (masked_ only)
  // topic_.size() < kMaskedBytes, kept apart: testing it from the size cost a missed check 5
  // instructions more (callgrind, broker_instructions_bench alternate).
  bool masked_ = false;
  bool valid_ = false;
};

}  // namespace certguard
