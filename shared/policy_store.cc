#include "shared/policy_store.h"

namespace certguard {
namespace {

// The stamps of the same files as they are now.
std::vector<FileStamp> StampsNow(const std::vector<FileStamp>& like) {
  std::vector<FileStamp> now;
  now.reserve(like.size());
  for (const FileStamp& stamp : like) now.push_back(FileStamp::Of(stamp.path));
  return now;
}

}  // namespace

Result<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& policy_path) {
  auto first = PolicySnapshot::Load(policy_path);
  if (!first) return first.error();
  return std::unique_ptr<PolicyStore>(new PolicyStore(policy_path, std::move(first).value()));
}

PolicyStore::PolicyStore(std::string policy_path, std::shared_ptr<const PolicySnapshot> first)
    : policy_path_(std::move(policy_path)), current_(std::move(first)) {}

PolicyStore::~PolicyStore() { StopWatching(); }

ReloadEvent PolicyStore::LoadAndSwap() {
  std::vector<FileStamp> read;
  auto next = PolicySnapshot::Load(policy_path_, &read);
  if (!next) {
    // The files the failed load looked at, not those of the snapshot in force: the fix may be a
    // file only the new policy names (a CRL copied in after the edit).
    rejected_stamps_ = std::move(read);
    return {ReloadEvent::Kind::kRejected, next.error().message};
  }
  rejected_stamps_.clear();
  std::shared_ptr<const PolicySnapshot> replaced = std::move(next).value();
  const bool refresh_changed = replaced->policy().refresh != current()->policy().refresh;
  {
    std::lock_guard lock(current_mutex_);
    current_.swap(replaced);
  }
  // Bumped after the swap: whoever sees the new generation also sees the new snapshot.
  generation_.fetch_add(1);
  replaced.reset();  // the old snapshot dies here, outside the lock, unless sessions still hold it
  if (refresh_changed) {
    // A watcher asleep for the old period would keep the new one waiting (1h → 5s, say). The
    // empty critical section orders this notify after the watcher's predicate check.
    { std::lock_guard lock(watch_mutex_); }
    watch_wakeup_.notify_all();
  }
  return {ReloadEvent::Kind::kReloaded, {}};
}

ReloadEvent PolicyStore::ReloadIfChanged() {
  std::lock_guard lock(reload_mutex_);
  if (!rejected_stamps_.empty()) {
    // Retry only when a file the rejected load read has changed: reported once, not per check.
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
