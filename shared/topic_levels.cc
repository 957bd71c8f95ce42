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

// The block of up to 16 bytes at `bytes` (`size` of them), padded with 'a' (neither a separator
// nor forbidden) when shorter: never read past the text.
inline Block ScanUpTo16(const char* bytes, size_t size) {
  if (size >= 16) return Scan(bytes);
  char padded[16];
  std::memset(padded, 'a', sizeof padded);
  std::memcpy(padded, bytes, size);
  return Scan(padded);
}

}  // namespace

uint32_t TopicLevels::CheckedLevelEnd(std::string_view topic, uint32_t begin) {
  for (size_t at = begin; at < topic.size(); at += 16) {
    const Block block = ScanUpTo16(topic.data() + at, topic.size() - at);
    if (block.slashes != 0) {
      const uint32_t before_slash = (1u << std::countr_zero(block.slashes)) - 1;
      if ((block.forbidden & before_slash) != 0) return kForbidden;
      return static_cast<uint32_t>(at) + static_cast<uint32_t>(std::countr_zero(block.slashes));
    }
    if (block.forbidden != 0) return kForbidden;
  }
  return static_cast<uint32_t>(topic.size());
}

bool TopicLevels::NothingForbidden(std::string_view text) {
  for (size_t at = 0; at < text.size(); at += 16) {
    if (ScanUpTo16(text.data() + at, text.size() - at).forbidden != 0) return false;
  }
  return true;
}

// A topic of 64 bytes or more: rare, so its levels are found as the walk reaches them.
uint32_t TopicLevels::LongLevelEnd(uint32_t begin) const {
  const void* slash = std::memchr(topic_.data() + begin, '/', topic_.size() - begin);
  return slash == nullptr ? static_cast<uint32_t>(topic_.size())
                          : static_cast<uint32_t>(static_cast<const char*>(slash) - topic_.data());
}

bool TopicLevels::Split(std::string_view topic) {
  // Worked out in locals and stored once: the 16-byte loads may alias any member.
  const size_t size = topic.size();
  const bool masked = size < kMaskedBytes;
  topic_ = topic;
  masked_ = masked;
  slashes_ = 0;
  valid_ = false;
  if (topic.empty() || size > kMaxTopicBytes) return false;
  const char* const data = topic.data();
  uint64_t slashes = 0;
  uint32_t forbidden = 0;
  if (size < 16) {
    // A short topic, padded with 'a' (neither a separator nor forbidden).
    char padded[16];
    std::memset(padded, 'a', sizeof padded);
    std::memcpy(padded, data, size);
    const Block block = Scan(padded);
    slashes = block.slashes;
    forbidden = block.forbidden;
  } else {
    // Whole blocks, then one that ends with the topic and may overlap the one before: it reads
    // some bytes twice, which sets the same bits twice.
    size_t at = 0;
    for (; at + 16 < size; at += 16) {
      const Block block = Scan(data + at);
      forbidden |= block.forbidden;
      if (masked) slashes |= uint64_t{block.slashes} << at;
    }
    const size_t last = size - 16;
    const Block block = Scan(data + last);
    forbidden |= block.forbidden;
    if (masked) slashes |= uint64_t{block.slashes} << last;
  }
  slashes_ = slashes;
  valid_ = forbidden == 0;
  return valid_;
}

}  // namespace certguard
