#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace certguard::exhook {

// A thread-safe map from string keys to immutable values that keeps at most about `capacity`
// entries, dropping the least recently used. Split into shards with a lock each, so the gRPC
// worker threads rarely wait for each other. Values are shared_ptr<const Value>: a reader keeps
// the value it found even if another thread replaces or evicts it meanwhile.
template <typename Value>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity)
      : per_shard_capacity_(capacity / kShards > 0 ? capacity / kShards : 1) {}

  std::shared_ptr<const Value> Find(std::string_view key) {
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mutex);
    auto found = shard.index.find(key);
    if (found == shard.index.end()) return nullptr;
    shard.order.splice(shard.order.begin(), shard.order, found->second);
    return found->second->second;
  }

  void Put(std::string_view key, std::shared_ptr<const Value> value) {
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mutex);
    if (auto found = shard.index.find(key); found != shard.index.end()) {
      found->second->second = std::move(value);
      shard.order.splice(shard.order.begin(), shard.order, found->second);
      return;
    }
    shard.order.emplace_front(std::string(key), std::move(value));
    // The index's key views the list node's string, which never moves while the node lives.
    shard.index.emplace(shard.order.front().first, shard.order.begin());
    if (shard.order.size() > per_shard_capacity_) {
      shard.index.erase(shard.order.back().first);
      shard.order.pop_back();
    }
  }

  size_t size() {
    size_t total = 0;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      total += shard.order.size();
    }
    return total;
  }

 private:
  static constexpr size_t kShards = 16;
  using Entry = std::pair<std::string, std::shared_ptr<const Value>>;

  struct Shard {
    std::mutex mutex;
    std::list<Entry> order;  // most recently used first
    std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index;
  };

  Shard& ShardFor(std::string_view key) {
    return shards_[std::hash<std::string_view>{}(key) % kShards];
  }

  const size_t per_shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace certguard::exhook
