#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shared/policy_snapshot.h"
#include "shared/result.h"

namespace certguard {

// What happened when the store looked at its files.
struct ReloadEvent {
  enum class Kind { kUnchanged, kReloaded, kRejected };
  Kind kind = Kind::kUnchanged;
  std::string message;  // for kRejected: the load error ("policy.yaml:3:5: ..."); the old
                        // snapshot stays in force
};

// Holds the snapshot in force and replaces it when its files change. Readers never wait for a
// reload: the new snapshot is built aside and swapped in under a lock held only for the pointer
// swap, and a reader keeps whatever snapshot it loaded for as long as it holds the pointer.
class PolicyStore {
 public:
  // Who gives the memory a reload freed back to the system. That is malloc_trim, which walks
  // every arena, the broker's own included, under its lock: about 30 ms of CPU beside a
  // 1,000,000-serial CRL, so it should run once per reload, not twice.
  enum class FreedMemory {
    // The watcher, after every load: for callers that let replaced snapshots die anywhere.
    kReturnedByWatcher,
    // The caller, after it frees a replaced snapshot (the Mosquitto plugin's reaper): its trim
    // returns the load's garbage too. The watcher still trims after a rejected load, which no
    // snapshot's freeing follows.
    kReturnedByCaller,
  };

  // Loads the policy once; a policy that does not load is an Error (adapters refuse to start).
  static Result<std::unique_ptr<PolicyStore>> Open(
      const std::string& policy_path, FreedMemory freed_memory = FreedMemory::kReturnedByWatcher);
  ~PolicyStore();

  std::shared_ptr<const PolicySnapshot> current() const {
    std::lock_guard lock(current_mutex_);
    return current_;
  }
  // Increases by one on every successful swap.
  uint64_t generation() const { return generation_.load(); }
  const std::string& policy_path() const { return policy_path_; }

  // Re-reads the files if any of them changed since the snapshot in force was read; after a
  // rejected attempt, if any file *that attempt* read changed (a broken file is reported once,
  // not on every check).
  ReloadEvent ReloadIfChanged();
  // Re-reads the files unconditionally (SIGHUP).
  ReloadEvent Reload();

  // Starts a thread that calls ReloadIfChanged every `refresh` of the policy in force, so the
  // broker's thread never parses YAML or CRLs. Events queue up for TakeEvents.
  void StartWatching();
  void StopWatching();
  // Asks the watcher thread to reload now, whether or not the files changed (SIGHUP). Returns at
  // once; the outcome arrives through TakeEvents.
  void RequestReload();
  // Reload events since the last call (kUnchanged ones are not queued). Thread-safe.
  std::vector<ReloadEvent> TakeEvents();

 private:
  PolicyStore(std::string policy_path, std::shared_ptr<const PolicySnapshot> first,
              FreedMemory freed_memory);
  ReloadEvent LoadAndSwap();
  void Swap(std::shared_ptr<const PolicySnapshot> next);
  void WatchLoop();

  const std::string policy_path_;
  const FreedMemory freed_memory_;
  // Guards the pointer copy only, never a reload (snapshots are built aside), so a reader waits
  // nanoseconds at most. Not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its
  // internal lock with memory_order_relaxed, a data race (ThreadSanitizer reports it) that a
  // weak-memory CPU can turn into a pointer paired with another snapshot's reference count.
  mutable std::mutex current_mutex_;
  std::shared_ptr<const PolicySnapshot> current_;
  std::atomic<uint64_t> generation_{1};

  std::mutex reload_mutex_;                 // one reload at a time (watcher thread vs SIGHUP)
  std::vector<FileStamp> rejected_stamps_;  // files a rejected load read, as it read them

  std::mutex events_mutex_;
  std::vector<ReloadEvent> events_;

  std::mutex watch_mutex_;
  std::condition_variable watch_wakeup_;
  bool stop_watching_ = false;
  bool reload_requested_ = false;
  std::thread watcher_;
};

}  // namespace certguard
