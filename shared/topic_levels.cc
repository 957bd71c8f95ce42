#include "shared/topic_levels.h"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace certguard {
namespace {

constexpr size_t kMaxTopicBytes = 65535;  // MQTT strings carry a 16-bit length

// What one block of 16 bytes holds: bit i of `slashes` is set when byte i is '/', bit i of
// `forbidden` when byte i is '+', '#' or NUL.
struct Block {
  uint32_t slashes;
  uint32_t forbidden;
};

#if defined(__SSE2__)
// Every x86-64 CPU has SSE2: four byte compares cover the block.
inline Block Scan(const char* bytes) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i bad = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), _mm_cmpeq_epi8(v, _mm_set1_epi8('#'))),
      _mm_cmpeq_epi8(v, _mm_setzero_si128()));
  return {static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')))),
          static_cast<uint32_t>(_mm_movemask_epi8(bad))};
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

// One bit per byte (bit i for byte i of the block) from BytesEqual's high bits; the word's first
// byte is its lowest.
inline uint32_t ByteBits(uint64_t high_bits, unsigned half) {
  uint32_t bits = 0;
  for (; high_bits != 0; high_bits &= high_bits - 1) {
    bits |= 1u << (8 * half + (static_cast<unsigned>(std::countr_zero(high_bits)) >> 3));
  }
  return bits;
}

// Elsewhere, eight bytes at a time in a 64-bit word.
inline Block Scan(const char* bytes) {
  Block block{0, 0};
  for (unsigned half = 0; half < 2; ++half) {
    uint64_t word;
    std::memcpy(&word, bytes + 8 * half, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    block.forbidden |=
        ByteBits(BytesEqual(word, '+') | BytesEqual(word, '#') | BytesEqual(word, '\0'), half);
    block.slashes |= ByteBits(BytesEqual(word, '/'), half);
  }
  return block;
}
#endif

}  // namespace

// Out of line: it allocates, and deep topics are rare.
void TopicLevels::AddDeepEnd(uint32_t end) {
  if (starts_ == inline_starts_) {
    more_starts_.assign(inline_starts_, inline_starts_ + kInlineLevels + 1);
  }
  more_starts_.push_back(end + 1);
  starts_ = more_starts_.data();
}

bool TopicLevels::Split(std::string_view topic) {
  topic_ = topic;
  Reset();
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  const char* const data = topic.data();
  const size_t size = topic.size();
  for (size_t at = 0; at < size;) {
    // Block by block; the last may overlap the one before, and skips the bytes that one took.
    size_t base = at;
    unsigned first = 0;
    Block block;
    if (size - at >= 16) {
      block = Scan(data + at);
    } else if (size >= 16) {
      base = size - 16;
      first = static_cast<unsigned>(at - base);
      block = Scan(data + base);
    } else {
      // A short topic, padded with 'a' (neither a separator nor forbidden).
      char padded[16];
      std::memset(padded, 'a', sizeof padded);
      std::memcpy(padded, data, size);
      block = Scan(padded);
    }
    const uint32_t keep = ~0u << first;
    if ((block.forbidden & keep) != 0) {
      Reset();
      return false;
    }
    for (uint32_t slashes = block.slashes & keep; slashes != 0; slashes &= slashes - 1) {
      AddEnd(static_cast<uint32_t>(base + static_cast<unsigned>(std::countr_zero(slashes))));
    }
    at = base + 16;
  }
  AddEnd(static_cast<uint32_t>(size));
  return true;
}

}  // namespace certguard
