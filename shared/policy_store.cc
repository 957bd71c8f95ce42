#include "shared/policy_store.h"

#include <algorithm>

#include "shared/background_thread.h"

namespace certguard {
namespace {

// How many nice steps below the thread that starts it the watcher runs. A reload parses for
// seconds; on a machine whose cores are all busy, a watcher at the broker's priority takes CPU
// from the broker's thread and holds up deliveries (seen: 120 ms during a reload of a
// 100,000-device policy and a 1,000,000-serial CRL, 19 ms with the watcher 10 steps lower;
// bench/reload_stall_bench). Only on a saturated machine does a reload then take longer.
constexpr int kWatcherNiceIncrement = 10;

// The stamps of the same files as they are now.
std::vector<FileStamp> StampsNow(const std::vector<FileStamp>& like) {
  std::vector<FileStamp> now;
  now.reserve(like.size());
  for (const FileStamp& stamp : like) now.push_back(FileStamp::Of(stamp.path));
  return now;
}

}  // namespace

Result<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& policy_path,
                                                       FreedMemory freed_memory) {
  auto first = PolicySnapshot::Load(policy_path);
  ReturnFreedMemoryToTheSystem();
  if (!first) return first.error();
  return std::unique_ptr<PolicyStore>(
      new PolicyStore(policy_path, std::move(first).value(), freed_memory));
}

PolicyStore::PolicyStore(std::string policy_path, std::shared_ptr<const PolicySnapshot> first,
                         FreedMemory freed_memory)
    : policy_path_(std::move(policy_path)),
      freed_memory_(freed_memory),
      current_(std::move(first)) {}

PolicyStore::~PolicyStore() { StopWatching(); }

ReloadEvent PolicyStore::LoadAndSwap() {
  std::vector<FileStamp> read;
  // The policy file is the one the snapshot in force parsed (and the last load did not fail):
  // only its CA, CRLs or denylist can have changed, so they are read around the policy in force
  // rather than parsing it again.
  const auto in_force = current();
  const bool policy_unchanged = rejected_stamps_.empty() && !in_force->PolicyFileChanged();
  auto next = policy_unchanged ? PolicySnapshot::Refresh(*in_force, &read)
                               : PolicySnapshot::Load(policy_path_, &read, in_force.get());
  if (next) {
    rejected_stamps_.clear();
    Swap(std::move(next).value());
    return {ReloadEvent::Kind::kReloaded, {}};
  }
  std::string message = next.error().message;
  // A typo in the policy must not hold up a revocation: when the CA, CRLs or denylist of the
  // policy in force changed, re-read them around that policy and swap that in.
  if (!policy_unchanged && in_force->SupportingFilesChanged()) {
    std::vector<FileStamp> rebuilt_from;
    auto refreshed =
        PolicySnapshot::Rebuild(in_force->shared_policy(), &rebuilt_from, in_force.get());
    if (refreshed) {
      Swap(std::move(refreshed).value());
      message += " (the policy in force is kept; its CA, CRLs and denylist were re-read)";
    }
    read.insert(read.end(), rebuilt_from.begin(), rebuilt_from.end());
  }
  // Retry once any file that either load looked at, or that the snapshot in force was built
  // from, changes: reported once, not on every check.
  // The freshest stamp of each path comes first (the failed load, then the rebuild).
  const auto& sources = current()->sources();
  read.insert(read.end(), sources.begin(), sources.end());
  rejected_stamps_.clear();
  for (FileStamp& stamp : read) {
    const bool seen = std::any_of(rejected_stamps_.begin(), rejected_stamps_.end(),
                                  [&](const FileStamp& s) { return s.path == stamp.path; });
    if (!seen) rejected_stamps_.push_back(std::move(stamp));
  }
  return {ReloadEvent::Kind::kRejected, std::move(message)};
}

void PolicyStore::Swap(std::shared_ptr<const PolicySnapshot> next) {
  const bool refresh_changed = next->policy().refresh != current()->policy().refresh;
  {
    std::lock_guard lock(current_mutex_);
    current_.swap(next);
  }
  // Bumped after the swap: whoever sees the new generation also sees the new snapshot.
  generation_.fetch_add(1);
  next.reset();  // the old snapshot dies here, outside the lock, unless sessions still hold it
  if (refresh_changed) {
    // A watcher asleep for the old period would keep the new one waiting (1h → 5s, say). The
    // empty critical section orders this notify after the watcher's predicate check.
    { std::lock_guard lock(watch_mutex_); }
    watch_wakeup_.notify_all();
  }
}

ReloadEvent PolicyStore::ReloadIfChanged() {
  std::lock_guard lock(reload_mutex_);
  if (!rejected_stamps_.empty()) {
    if (StampsNow(rejected_stamps_) == rejected_stamps_) return {};
  } else if (!current()->SourcesChanged()) {
    return {};
  }
  return LoadAndSwap();
}

ReloadEvent PolicyStore::Reload() {
  std::lock_guard lock(reload_mutex_);
  return LoadAndSwap();
}

void PolicyStore::StartWatching() {
  std::lock_guard lock(watch_mutex_);
  if (watcher_.joinable()) return;
  stop_watching_ = false;
  watcher_ = std::thread([this] { WatchLoop(); });
}

void PolicyStore::StopWatching() {
  {
    std::lock_guard lock(watch_mutex_);
    stop_watching_ = true;
  }
  watch_wakeup_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void PolicyStore::WatchLoop() {
  NameThisThread("certguard-watch");
  LowerThisThreadsPriority(kWatcherNiceIncrement);
  std::unique_lock lock(watch_mutex_);
  while (!stop_watching_) {
    const auto refresh = current()->policy().refresh;
    watch_wakeup_.wait_for(lock, refresh, [this, refresh] {
      return stop_watching_ || reload_requested_ || current()->policy().refresh != refresh;
    });
    if (stop_watching_) break;
    const bool forced = std::exchange(reload_requested_, false);
    lock.unlock();
    ReloadEvent event = forced ? Reload() : ReloadIfChanged();
    if (event.kind == ReloadEvent::Kind::kRejected ||
        (event.kind == ReloadEvent::Kind::kReloaded &&
         freed_memory_ == FreedMemory::kReturnedByWatcher)) {
      ReturnFreedMemoryToTheSystem();
    }
    if (event.kind != ReloadEvent::Kind::kUnchanged) {
      std::lock_guard events_lock(events_mutex_);
      events_.push_back(std::move(event));
    }
    lock.lock();
  }
}

void PolicyStore::RequestReload() {
  {
    std::lock_guard lock(watch_mutex_);
    reload_requested_ = true;
  }
  watch_wakeup_.notify_all();
}

std::vector<ReloadEvent> PolicyStore::TakeEvents() {
  std::lock_guard lock(events_mutex_);
  return std::exchange(events_, {});
}

}  // namespace certguard
