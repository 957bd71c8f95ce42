#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace certguard {

// Which warnings an adapter has already logged. A condition that every decision meets (a stale
// CRL under `stale_crl: warn`) is logged once per distinct text, not once per call or client; the
// text names the state (the CRL and its nextUpdate), so a new state is logged again. Bounded in
// case texts churn for months. Thread-safe.
class WarningsLogged {
 public:
  // True the first time `warning` is seen: the caller logs it then.
  bool FirstTime(std::string_view warning) {
    std::lock_guard lock(mutex_);
    if (seen_.size() >= kMaxRemembered) seen_.clear();
    return seen_.emplace(warning).second;
  }

 private:
  static constexpr size_t kMaxRemembered = 1024;
  std::mutex mutex_;
  std::unordered_set<std::string> seen_;
};

}  // namespace certguard
