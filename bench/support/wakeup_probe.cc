#include "bench/support/wakeup_probe.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "bench/support/bench_support.h"

namespace certguard::bench {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WakeupProbe::WakeupProbe() {
  std::vector<int> cpus = AllowedCpus();
  if (cpus.empty()) cpus.push_back(-1);
  wakeups_.reserve(600'000 * cpus.size());
  for (const int cpu : cpus) threads_.emplace_back([this, cpu] { Run(cpu); });
}

WakeupProbe::~WakeupProbe() {
  stop_ = true;
  for (std::thread& thread : threads_) thread.join();
}

void WakeupProbe::Run(int cpu) {
  const bool pinned = cpu >= 0 && PinThisThreadTo({cpu});
  sched_param param{};
  param.sched_priority = 50;
  if (pinned && ::sched_setscheduler(0, SCHED_FIFO, &param) == 0) ++realtime_threads_;
  const int recorded_cpu = pinned ? cpu : -1;
  constexpr int64_t kPeriodNs = 1'000'000;
  int64_t due = SteadyNs();
  while (!stop_.load(std::memory_order_relaxed)) {
    due += kPeriodNs;
    std::this_thread::sleep_until(
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
    const int64_t woke = SteadyNs();
    {
      std::lock_guard lock(mutex_);
      wakeups_.push_back({due, woke, recorded_cpu});
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

double WakeupProbe::AwayWithin(int64_t begin_ns, int64_t end_ns) const {
  // One probe's late stretches never overlap: after a wake-up more than a period late the next
  // one is due a period after it woke. Only stretches over 1 ms count: a timer's ordinary
  // lateness, tens of microseconds, would otherwise add up over a long flight and excuse it.
  constexpr int64_t kAwayNs = 1'000'000;
  std::map<int, int64_t> away_by_cpu;
  std::lock_guard lock(mutex_);
  for (const Wakeup& w : wakeups_) {
    if (w.woke_ns - w.due_ns <= kAwayNs) continue;
    const int64_t from = std::max(w.due_ns, begin_ns);
    const int64_t to = std::min(w.woke_ns, end_ns);
    if (to > from) away_by_cpu[w.cpu] += to - from;
  }
  int64_t most = 0;
  for (const auto& [cpu, away] : away_by_cpu) most = std::max(most, away);
  return static_cast<double>(most) / 1e6;
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
