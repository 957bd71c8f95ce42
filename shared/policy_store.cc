#include "shared/policy_store.h"

namespace certguard {
namespace {

// The stamps a snapshot load would take now: for a rejected load we cannot know every file it
// would have read, so we remember the policy file and the files the last good snapshot read.
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
  auto next = PolicySnapshot::Load(policy_path_);
  if (!next) {
    rejected_stamps_ = StampsNow(current()->sources());
    return {ReloadEvent::Kind::kRejected, next.error().message};
  }
  rejected_stamps_.clear();
  current_.store(std::move(next).value());
  generation_.fetch_add(1);
  return {ReloadEvent::Kind::kReloaded, {}};
}

ReloadEvent PolicyStore::ReloadIfChanged() {
  std::lock_guard lock(reload_mutex_);
  const auto snapshot = current();
  if (!snapshot->SourcesChanged()) return {};
  if (!rejected_stamps_.empty() && StampsNow(snapshot->sources()) == rejected_stamps_) return {};
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
    watch_wakeup_.wait_for(lock, refresh, [this] { return stop_watching_ || reload_requested_; });
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
