#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "shared/decision.h"
#include "shared/same_bytes.h"

namespace certguard::mosquitto_plugin {

// The last publish or receive a client was allowed, remembered under the snapshot that allowed
// it. A device publishes its telemetry to the same topic again and again, and a subscriber often
// gets one topic in a row: answering those from here skips splitting the topic and walking the
// tries, which was three quarters of certguard's cost per ACL check
// (bench/broker_instructions_bench). EMQX keeps a cache like this in front of every authorizer;
// this one cannot go stale, because it is keyed by `serial`, which the plugin changes whenever
// it swaps a snapshot in.
//
// Only allows are remembered: a denial is audited each time, and only a decision the snapshot
// made for exactly these bytes is ever repeated. The answer is a pure function of the session,
// the snapshot, the action and the topic; a caller must still check everything else (the
// client's state, `refused`, its binding to the current snapshot) before asking.
//
// One entry of a cache line: the plugin's state must stay small per client (bench/memory_bench),
// and longer topics are simply decided every time.
class RecentAllow {
 public:
  static constexpr size_t kMaxTopicBytes = 54;

  bool Holds(uint64_t serial, Action action, std::string_view topic) const {
    return serial_ == serial && serial != 0 && action_ == static_cast<uint8_t>(action) &&
           SameBytes(std::string_view(topic_, size_), topic);
  }

  void Remember(uint64_t serial, Action action, std::string_view topic) {
    if (topic.size() > kMaxTopicBytes) return;  // keeps the previous entry: it is still true
    serial_ = serial;
    action_ = static_cast<uint8_t>(action);
    size_ = static_cast<uint8_t>(topic.size());
    std::memcpy(topic_, topic.data(), topic.size());
  }

  void Forget() { serial_ = 0; }

 private:
  uint64_t serial_ = 0;  // 0: nothing remembered
  uint8_t action_ = 0;
  uint8_t size_ = 0;
  char topic_[kMaxTopicBytes] = {};
};

static_assert(sizeof(RecentAllow) == 64);

}  // namespace certguard::mosquitto_plugin
