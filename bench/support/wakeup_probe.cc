#include "bench/support/wakeup_probe.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

namespace certguard::bench {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WakeupProbe::WakeupProbe() {
  wakeups_.reserve(600'000);
  thread_ = std::thread([this] { Run(); });
}

WakeupProbe::~WakeupProbe() {
  stop_ = true;
  thread_.join();
}

void WakeupProbe::Run() {
  sched_param param{};
  param.sched_priority = 50;
  realtime_ = ::sched_setscheduler(0, SCHED_FIFO, &param) == 0;
  constexpr int64_t kPeriodNs = 1'000'000;
  int64_t due = SteadyNs();
  while (!stop_.load(std::memory_order_relaxed)) {
    due += kPeriodNs;
    std::this_thread::sleep_until(
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
    const int64_t woke = SteadyNs();
    {
      std::lock_guard lock(mutex_);
      wakeups_.push_back({due, woke});
    }
    // After a long stall, start the schedule afresh: the wake-ups it missed were not late, they
    // did not happen, and the stall is already recorded once.
    if (woke - due > kPeriodNs) due = woke;
  }
}

double WakeupProbe::LongestLateDueBetween(int64_t begin_ns, int64_t end_ns) const {
  int64_t longest = 0;
  std::lock_guard lock(mutex_);
  for (const Wakeup& w : wakeups_) {
    if (w.due_ns >= begin_ns && w.due_ns <= end_ns)
      longest = std::max(longest, w.woke_ns - w.due_ns);
  }
  return static_cast<double>(longest) / 1e6;
}

double WakeupProbe::LongestLateWithin(int64_t begin_ns, int64_t end_ns) const {
  int64_t longest = 0;
  std::lock_guard lock(mutex_);
  for (const Wakeup& w : wakeups_) {
    const int64_t from = std::max(w.due_ns, begin_ns);
    const int64_t to = std::min(w.woke_ns, end_ns);
    longest = std::max(longest, to - from);
  }
  return static_cast<double>(longest) / 1e6;
}

std::vector<WakeupProbe::Wakeup> WakeupProbe::LateWakeups(int64_t begin_ns, int64_t end_ns,
                                                          double min_late_ms) const {
  std::vector<Wakeup> late;
  std::lock_guard lock(mutex_);
  for (const Wakeup& w : wakeups_) {
    if (w.due_ns >= begin_ns && w.due_ns <= end_ns &&
        static_cast<double>(w.woke_ns - w.due_ns) / 1e6 > min_late_ms) {
      late.push_back(w);
    }
  }
  return late;
}

}  // namespace certguard::bench
