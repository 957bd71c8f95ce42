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
// be preempted), and records how late each wake-up came. It does so on every CPU this process
// may run on, one thread pinned to each: a hypervisor takes one virtual CPU at a time, and a
// single probe saw only the one it ran on (a delivery held 14.8 ms while it saw 0.6 ms, and the
// other CPU ran the broker five times slower than usual: perf sched timehist). Its own cost is
// about a microsecond a millisecond per CPU.
namespace certguard::bench {

class WakeupProbe {
 public:
  // Times are steady_clock nanoseconds since its epoch, as the benchmarks stamp messages.
  struct Wakeup {
    int64_t due_ns;
    int64_t woke_ns;
    int cpu;  // the CPU its thread is pinned to (-1: pinning was refused)
  };

  WakeupProbe();
  ~WakeupProbe();
  WakeupProbe(const WakeupProbe&) = delete;
  WakeupProbe& operator=(const WakeupProbe&) = delete;

  // Whether every probe thread got real-time priority and its CPU (otherwise a thread runs at
  // normal priority or floats, and then other processes' load shows in it too).
  bool realtime() const { return realtime_threads_.load() == static_cast<int>(threads_.size()); }
  // How many CPUs are watched.
  int cpus() const { return static_cast<int>(threads_.size()); }
  // The latest that any wake-up due in [begin_ns, end_ns] came, on any CPU, in ms.
  double LongestLateDueBetween(int64_t begin_ns, int64_t end_ns) const;
  // How long the machine was away during [begin_ns, end_ns], as far as the probes saw: on each
  // CPU, the time its probe spent waiting past a due time inside the span, summed over the
  // span's wake-ups more than 1 ms late (a hypervisor often takes a CPU several times in a row:
  // 9 stretches of 3-16 ms within 100 ms were seen); the most of any one CPU, in ms.
  double AwayWithin(int64_t begin_ns, int64_t end_ns) const;
  // The wake-ups due in [begin_ns, end_ns] that came more than `min_late_ms` late.
  std::vector<Wakeup> LateWakeups(int64_t begin_ns, int64_t end_ns, double min_late_ms) const;

 private:
  void Run(int cpu);

  std::atomic<bool> stop_{false};
  std::atomic<int> realtime_threads_{0};
  mutable std::mutex mutex_;
  std::vector<Wakeup> wakeups_;  // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace certguard::bench
