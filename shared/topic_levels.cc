#include "shared/topic_levels.h"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace certguard {
namespace {

constexpr size_t kMaxTopicBytes = 65535;  // MQTT strings carry a 16-bit length

// What one block of 16 bytes holds: bit i of `slashes` is set when byte i is '/'; `forbidden`
// when any byte is '+', '#' or NUL.
struct Block {
  uint32_t slashes;
  bool forbidden;
};

#if defined(__SSE2__)
// Every x86-64 CPU has SSE2: four byte compares cover the block.
inline Block Scan(const char* bytes) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i bad = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), _mm_cmpeq_epi8(v, _mm_set1_epi8('#'))),
      _mm_cmpeq_epi8(v, _mm_setzero_si128()));
  return {static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')))),
          _mm_movemask_epi8(bad) != 0};
}
#else
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;

// The high bit of each byte of `word` that equals `byte`, and no other bit (exact: no borrow
// crosses from one byte into the next).
inline uint64_t BytesEqual(uint64_t word, unsigned char byte) {
  const uint64_t x = word ^ (kOnes * byte);
  return ~(((x & kLow7) + kLow7) | x | kLow7);
}

// Elsewhere, eight bytes at a time in a 64-bit word.
inline Block Scan(const char* bytes) {
  Block block{0, false};
  for (unsigned half = 0; half < 2; ++half) {
    uint64_t word;
    std::memcpy(&word, bytes + 8 * half, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    block.forbidden |=
        (BytesEqual(word, '+') | BytesEqual(word, '#') | BytesEqual(word, '\0')) != 0;
    // The word's first byte is its lowest: its high bit becomes bit 0 of the mask.
    for (uint64_t slashes = BytesEqual(word, '/'); slashes != 0; slashes &= slashes - 1) {
      block.slashes |= 1u << (8 * half + (static_cast<unsigned>(std::countr_zero(slashes)) >> 3));
    }
  }
  return block;
}
#endif

}  // namespace

bool TopicLevels::Split(std::string_view topic) {
  topic_ = topic;
  count_ = 0;
  more_ends_.clear();
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  const char* const data = topic.data();
  const size_t size = topic.size();
  for (size_t at = 0; at < size; at += 16) {
    Block block;
    if (size - at >= 16) {
      block = Scan(data + at);
    } else {
      // The tail, padded with 'a' (neither a separator nor forbidden).
      char tail[16];
      std::memset(tail, 'a', sizeof tail);
      std::memcpy(tail, data + at, size - at);
      block = Scan(tail);
    }
    if (block.forbidden) {
      count_ = 0;
      more_ends_.clear();
      return false;
    }
    for (uint32_t slashes = block.slashes; slashes != 0; slashes &= slashes - 1) {
      AddEnd(static_cast<uint32_t>(at + static_cast<unsigned>(std::countr_zero(slashes))));
    }
  }
  AddEnd(static_cast<uint32_t>(size));
  return true;
}

}  // namespace certguard
