#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace certguard::mosquitto_plugin {

// The span of time over which no connected client's revocation and date check can change its
// answer: from the latest notBefore to the earliest PolicySnapshot::StillValidUntil that any
// client holds. The plugin's once-a-second sweep runs only once the clock has left this span (a
// certificate expired, a CRL's nextUpdate passed, the clock went back): visiting every client each
// second only to skip it cost the broker's thread O(clients) per second for nothing
// (bench/idle_broker_bench).
//
// It may be narrower than the truth, never wider: a client that leaves does not widen it again.
// A sweep does, since it visits every client: what is narrowed from BeginPass to FinishPass (the
// clients it visits, and any client admitted or rebound meanwhile) is the whole span.
class RecheckHorizon {
 public:
  // A client whose answer holds while not_before <= now <= valid_until.
  void Narrow(int64_t not_before, int64_t valid_until) {
    current_.Narrow(not_before, valid_until);
    pass_.Narrow(not_before, valid_until);
  }

  // True when no client's answer can have changed at `now`.
  bool Holds(int64_t now) const { return current_.Holds(now); }

  // A sweep over every client starts (again, if one was under way).
  void BeginPass() { pass_ = Span{}; }
  // That sweep visited every client.
  void FinishPass() { current_ = pass_; }

 private:
  struct Span {
    // With no client, nothing can change.
    int64_t latest_not_before = std::numeric_limits<int64_t>::min();
    int64_t earliest_valid_until = std::numeric_limits<int64_t>::max();

    void Narrow(int64_t not_before, int64_t valid_until) {
      latest_not_before = std::max(latest_not_before, not_before);
      earliest_valid_until = std::min(earliest_valid_until, valid_until);
    }
    bool Holds(int64_t now) const {
      return now >= latest_not_before && now <= earliest_valid_until;
    }
  };

  Span current_;
  Span pass_;
};

}  // namespace certguard::mosquitto_plugin
