#include "shared/revoked_serials.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <utility>

#include "shared/same_bytes.h"

namespace certguard {

namespace {

uint32_t HashOf(std::string_view serial) {
  return static_cast<uint32_t>(std::hash<std::string_view>{}(serial));
}

uint64_t SlotOf(uint32_t hash, uint32_t index) {
  return (static_cast<uint64_t>(hash) << 32) | (static_cast<uint64_t>(index) + 1);
}

uint32_t HashIn(uint64_t slot) { return static_cast<uint32_t>(slot >> 32); }
uint32_t IndexIn(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }

// A table at most half full: at least twice `count` slots, a power of two, never below 16.
size_t SlotsFor(size_t count) { return std::bit_ceil(std::max<size_t>(16, count * 2)); }

}  // namespace

void RevokedSerials::Reserve(size_t count, size_t bytes_each) {
  const size_t total = ends_.size() + count;
  ends_.reserve(total);
  bytes_.reserve(bytes_.size() + count * bytes_each);
  if (SlotsFor(total) > slots_.size()) Rehash(SlotsFor(total));
}

std::string_view RevokedSerials::SerialAt(uint32_t index) const {
  const uint32_t begin = index == 0 ? 0 : ends_[index - 1];
  return std::string_view(bytes_).substr(begin, ends_[index] - begin);
}

size_t RevokedSerials::FindSlot(std::string_view serial, uint32_t hash) const {
  const size_t mask = slots_.size() - 1;
  size_t at = hash & mask;
  while (slots_[at] != 0 &&
         !(HashIn(slots_[at]) == hash && SameBytes(SerialAt(IndexIn(slots_[at])), serial))) {
    at = (at + 1) & mask;
  }
  return at;
}

bool RevokedSerials::Insert(std::string_view serial) {
  if (SlotsFor(ends_.size() + 1) > slots_.size()) Rehash(SlotsFor(ends_.size() + 1));
  const uint32_t hash = HashOf(serial);
  const size_t at = FindSlot(serial, hash);
  if (slots_[at] != 0) return false;
  bytes_.append(serial);
  ends_.push_back(static_cast<uint32_t>(bytes_.size()));
  slots_[at] = SlotOf(hash, static_cast<uint32_t>(ends_.size() - 1));
  return true;
}

bool RevokedSerials::contains(std::string_view serial) const {
  return !slots_.empty() && slots_[FindSlot(serial, HashOf(serial))] != 0;
}

void RevokedSerials::Rehash(size_t slot_count) {
  std::vector<uint64_t> slots(slot_count, 0);
  const size_t mask = slot_count - 1;
  for (const uint64_t slot : slots_) {
    if (slot == 0) continue;
    size_t at = HashIn(slot) & mask;
    while (slots[at] != 0) at = (at + 1) & mask;
    slots[at] = slot;
  }
  slots_ = std::move(slots);
}

}  // namespace certguard
