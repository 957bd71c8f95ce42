#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace certguard {

// The serials one issuer's CRLs revoke, in three flat arrays: the serials back to back, where
// each ends, and an open-addressing table of (hash, index) slots. A CA that has revoked
// 1,000,000 certificates publishes a CRL that an unordered_set<std::string> held in two heap
// blocks per serial (about 120 MB): every reload allocated two million blocks on the loader's
// thread and freed as many, with the allocator's trim after them, while the broker ran beside
// it. Here that list is three allocations, a lookup touches two cache lines, and freeing it is
// three calls to free.
class RevokedSerials {
 public:
  // Room for `count` serials of about `bytes_each` bytes without growing.
  void Reserve(size_t count, size_t bytes_each);

  // Whether `serial` can still be added. Offsets are 32-bit and a slot's position comes from
  // 32 bits of hash: 4 GiB of serials, 2^31 of them, far beyond any CRL a broker could read
  // (CrlSet::Load refuses a CRL that would pass them).
  bool HasRoomFor(std::string_view serial) const {
    return size() < kMaxSerials && bytes_.size() + serial.size() <= kMaxBytes;
  }

  // Adds `serial`, for which there is room (HasRoomFor); false when it is already listed.
  bool Insert(std::string_view serial);

  bool contains(std::string_view serial) const;
  size_t size() const { return ends_.size(); }
  size_t bytes() const { return bytes_.size(); }

 private:
  static constexpr size_t kMaxSerials = size_t{1} << 31;
  static constexpr size_t kMaxBytes = UINT32_MAX;

  std::string_view SerialAt(uint32_t index) const;
  // The slot that holds `serial` (hashed to `hash`), or else the empty slot where its probe
  // ends. The table must have slots.
  size_t FindSlot(std::string_view serial, uint32_t hash) const;
  void Rehash(size_t slot_count);

  std::string bytes_;           // every serial, back to back
  std::vector<uint32_t> ends_;  // serial i is bytes_[ends_[i-1] (0 for the first), ends_[i])
  // 0 is an empty slot; otherwise the low 32 bits of the serial's hash, shifted up, and its
  // index + 1. The slot's position comes from the same hash bits, so growing never rehashes a
  // serial's bytes. At most half full, so a miss ends after a probe or two.
  std::vector<uint64_t> slots_;
};

}  // namespace certguard
