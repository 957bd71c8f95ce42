#pragma once

#include <chrono>

namespace certguard::mosquitto_plugin {

// When the re-check sweep may use the broker's thread. After a reload every connected client is
// re-checked (its certificate read again: tens of microseconds each), in slices of at most
// `budget`. A cap on each slice alone did not keep delivery moving: under load the broker ticks
// after every message, so slice followed slice, and the broker's thread served the sweep almost
// all the time until it was done. With 2,000 clients, messages sent once a millisecond queued for
// 50 ms, each held up to 13 ms (bench/reload_stall_bench). So after each slice the sweep also
// rests `rest_per_busy` times as long as the slice took, which leaves the broker at least that
// share of its thread while a sweep runs. A sweep of 2,000 clients then takes a few hundred
// milliseconds instead of fifty; no decision waits for it (a client not yet reached is rebound by
// its own next check), only the disconnection of a revoked client that does nothing meanwhile.
class SweepPacer {
 public:
  using Clock = std::chrono::steady_clock;

  SweepPacer(Clock::duration budget, int rest_per_busy)
      : budget_(budget), rest_per_busy_(rest_per_busy) {}

  // Whether a slice may start at `now`.
  bool MayRun(Clock::time_point now) const { return now >= resume_at_; }
  // When a slice that starts at `start` must stop.
  Clock::time_point Deadline(Clock::time_point start) const { return start + budget_; }
  // A slice ran from `start` to `end` and left clients to visit.
  void SliceEnded(Clock::time_point start, Clock::time_point end) {
    resume_at_ = end + (end - start) * rest_per_busy_;
  }
  // The sweep visited every client: the next one, a second or a reload later, need not wait.
  void SweepFinished() { resume_at_ = Clock::time_point(); }

 private:
  Clock::duration budget_;
  int rest_per_busy_;
  Clock::time_point resume_at_;
};

}  // namespace certguard::mosquitto_plugin
