#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace certguard::topic_bytes {

// Topic bytes read sixteen at a time, for the checks every delivery and publish makes: where the
// level separators are, and whether a byte no topic name may hold ('+', '#', NUL) is there.
// TopicLevels::Split reads a whole topic this way; TopicFilterMatcher only the bytes a filter's
// wildcards take.

// The longest topic name or filter: MQTT strings carry a 16-bit length.
inline constexpr size_t kMaxTopicBytes = 65535;

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

// The block of up to 16 bytes at `bytes` (`size` of them), padded with 'a' (neither a separator
// nor forbidden) when shorter: never read past the text.
inline Block ScanUpTo16(const char* bytes, size_t size) {
  if (size >= 16) return Scan(bytes);
  char padded[16];
  std::memset(padded, 'a', sizeof padded);
  std::memcpy(padded, bytes, size);
  return Scan(padded);
}

// The end of the level of `topic` that starts at `begin` (its '/', or the end of the text), or
// kForbidden when that level holds '+', '#' or NUL. Requires begin <= topic.size().
inline constexpr uint32_t kForbidden = UINT32_MAX;
inline uint32_t CheckedLevelEnd(std::string_view topic, uint32_t begin) {
  for (size_t at = begin; at < topic.size(); at += 16) {
    const Block block = ScanUpTo16(topic.data() + at, topic.size() - at);
    if (block.slashes != 0) {
      const auto slash = static_cast<uint32_t>(std::countr_zero(block.slashes));
      if ((block.forbidden & ((1u << slash) - 1)) != 0) return kForbidden;
      return static_cast<uint32_t>(at) + slash;
    }
    if (block.forbidden != 0) return kForbidden;
  }
  return static_cast<uint32_t>(topic.size());
}

// Whether `text` holds no '+', '#' or NUL.
inline bool NothingForbidden(std::string_view text) {
  for (size_t at = 0; at < text.size(); at += 16) {
    if (ScanUpTo16(text.data() + at, text.size() - at).forbidden != 0) return false;
  }
  return true;
}

}  // namespace certguard::topic_bytes
