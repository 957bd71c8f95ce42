#include "shared/topic_levels.h"

#include <bit>
#include <cstring>

namespace certguard {
namespace {

constexpr size_t kMaxTopicBytes = 65535;  // MQTT strings carry a 16-bit length
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;

// The high bit of each byte of `word` that equals `byte`, and no other bit (exact: no borrow
// crosses from one byte into the next).
inline uint64_t BytesEqual(uint64_t word, unsigned char byte) {
  const uint64_t x = word ^ (kOnes * byte);
  return ~(((x & kLow7) + kLow7) | x | kLow7);
}

}  // namespace

bool TopicLevels::Split(std::string_view topic) {
  topic_ = topic;
  count_ = 0;
  more_ends_.clear();
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  const char* const data = topic.data();
  const size_t size = topic.size();
  for (size_t at = 0; at < size; at += 8) {
    // A constant-size copy compiles to one load; only the tail, padded with 'a' (neither a
    // separator nor forbidden), takes a variable one.
    uint64_t word;
    if (size - at >= 8) {
      std::memcpy(&word, data + at, 8);
    } else {
      word = kOnes * static_cast<unsigned char>('a');
      std::memcpy(&word, data + at, size - at);
    }
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    if ((BytesEqual(word, '+') | BytesEqual(word, '#') | BytesEqual(word, '\0')) != 0) {
      count_ = 0;
      more_ends_.clear();
      return false;
    }
    // The word's first byte is its lowest: the lowest set bit is the first '/'.
    for (uint64_t slashes = BytesEqual(word, '/'); slashes != 0; slashes &= slashes - 1) {
      AddEnd(static_cast<uint32_t>(at + (static_cast<unsigned>(std::countr_zero(slashes)) >> 3)));
    }
  }
  AddEnd(static_cast<uint32_t>(size));
  return true;
}

}  // namespace certguard
