#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

// How late this machine wakes a thread that does nothing else: the floor under any latency a
// benchmark measures here. The probe asks to wake every millisecond, at real-time priority where
// it may (SCHED_FIFO, which nothing of normal priority in this machine can delay: what delays it
// is the machine itself, a hypervisor that gives the core away or a kernel section that cannot
// be preempted), and records how late each wake-up came. Its own cost is about a microsecond a
// millisecond.
namespace certguard::bench {

class WakeupProbe {
 public:
  // Times are steady_clock nanoseconds since its epoch, as the benchmarks stamp messages.
  struct Wakeup {
    int64_t due_ns;
    int64_t woke_ns;
  };

  WakeupProbe();
  ~WakeupProbe();
  WakeupProbe(const WakeupProbe&) = delete;
  WakeupProbe& operator=(const WakeupProbe&) = delete;

  // Whether the probe got real-time priority (it runs at normal priority otherwise, and then
  // other processes' load shows in it too).
  bool realtime() const { return realtime_.load(); }
  // The latest that any wake-up due in [begin_ns, end_ns] came, in ms.
  double LongestLateDueBetween(int64_t begin_ns, int64_t end_ns) const;
  // The longest time the probe waited past a due time inside [begin_ns, end_ns]: how long the
  // machine was away during that span, as far as the probe saw.
  double LongestLateWithin(int64_t begin_ns, int64_t end_ns) const;
  // The wake-ups due in [begin_ns, end_ns] that came more than `min_late_ms` late.
  std::vector<Wakeup> LateWakeups(int64_t begin_ns, int64_t end_ns, double min_late_ms) const;

 private:
  void Run();

  std::atomic<bool> stop_{false};
  std::atomic<bool> realtime_{false};
  mutable std::mutex mutex_;
  std::vector<Wakeup> wakeups_;
  std::thread thread_;
};

}  // namespace certguard::bench
