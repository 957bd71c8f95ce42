#include "shared/topic_levels.h"

#include <bit>
#include <cstring>

#include "shared/topic_bytes.h"

namespace certguard {
namespace {

using topic_bytes::Block;
using topic_bytes::kMaxTopicBytes;
using topic_bytes::Scan;
using topic_bytes::ScanUpTo16;

}  // namespace

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
    const Block block = ScanUpTo16(data, size);
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
