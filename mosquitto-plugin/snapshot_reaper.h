#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "shared/background_thread.h"
#include "shared/policy_snapshot.h"

namespace certguard::mosquitto_plugin {

// Frees replaced policy snapshots on a thread of its own. Left alone, the last reference to a
// snapshot is dropped on the broker's thread (by the tick that swaps in its successor, or by the
// last session rebound away from it), and freeing a 100,000-device policy with a
// million-serial CRL keeps the allocator busy for hundreds of milliseconds: every client's
// delivery would stall that long (seen: over a second, bench/reload_stall_bench).
class SnapshotReaper {
 public:
  SnapshotReaper() : thread_([this] { Run(); }) {}
  ~SnapshotReaper() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wakeup_.notify_one();
    thread_.join();
  }
  SnapshotReaper(const SnapshotReaper&) = delete;
  SnapshotReaper& operator=(const SnapshotReaper&) = delete;

  // Broker thread: holds `snapshot` until no one else does.
  void Retire(std::shared_ptr<const PolicySnapshot> snapshot) {
    if (snapshot) retired_.push_back(std::move(snapshot));
  }

  // Broker thread, every tick: passes the retired snapshots that only this holds to the reaper
  // thread. A snapshot the store has replaced can be reached only through existing references,
  // so once this holds the last one the count cannot rise again.
  void Collect() {
    if (!retired_.empty()) CollectRetired();
  }

 private:
  // Out of Collect, which the broker calls once per pass of its loop: the test stays inline.
  void CollectRetired() {
    std::vector<std::shared_ptr<const PolicySnapshot>> unused;
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (it->use_count() == 1) {
        unused.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
    if (unused.empty()) return;
    {
      std::lock_guard lock(mutex_);
      for (auto& snapshot : unused) doomed_.push_back(std::move(snapshot));
    }
    wakeup_.notify_one();
  }

  void Run() {
    NameThisThread("certguard-free");
    // Freeing is never urgent: on a busy machine it should not take a core from the broker.
    LowerThisThreadsPriority(10);
    std::unique_lock lock(mutex_);
    while (true) {
      wakeup_.wait(lock, [this] { return stop_ || !doomed_.empty(); });
      std::vector<std::shared_ptr<const PolicySnapshot>> batch = std::move(doomed_);
      doomed_.clear();
      lock.unlock();
      batch.clear();  // the snapshots are freed here, off the broker's thread
      // ...and their memory goes back to the system, or the broker's RSS keeps the largest
      // policy it ever held (the watcher does the same after each load).
      ReturnFreedMemoryToTheSystem();
      lock.lock();
      if (stop_ && doomed_.empty()) return;
    }
  }

  std::vector<std::shared_ptr<const PolicySnapshot>> retired_;  // broker thread only
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::vector<std::shared_ptr<const PolicySnapshot>> doomed_;  // guarded by mutex_
  bool stop_ = false;                                          // guarded by mutex_
  std::thread thread_;  // last: it starts once the members it uses exist
};

}  // namespace certguard::mosquitto_plugin
