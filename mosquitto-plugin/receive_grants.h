#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/topic_filter.h"
#include "shared/topic_filter_matcher.h"
#include "shared/topic_levels.h"

namespace certguard::mosquitto_plugin {

// The subscriptions of one client that the snapshot allowed, as proofs about deliveries.
//
// A subscription is allowed when an allow-subscribe rule contains its filter and no
// deny-subscribe rule overlaps it (design.md, "Semantics"). Every topic the filter matches is
// then matched by that allow rule and by no deny rule: receiving it is allowed too, for the
// same session under the same snapshot. The broker checks every delivery to every subscriber
// (ACL READ), and a dashboard reads a different device's topic each time, so the client's last
// allowed check (RecentAllow) rarely holds for it; matching the topic against the client's
// allowed filters costs a comparison per level instead of a full decision
// (bench/broker_instructions_bench).
//
// Proofs, not a record of the broker's subscriptions: a filter here only ever allows what the
// session's rules allow anyway, whether or not the broker still holds the subscription. So the
// set may lag behind the broker (a subscription it never saw, one past kMaxFilters) and costs
// only speed then; what it must never do is outlive the snapshot and session that proved it,
// hence the serial (RecentAllow's) and Reprove after every rebind.
class ReceiveGrants {
 public:
  // Bounds the memory per client and the filters a delivery that no filter covers is tried
  // against before its full decision.
  static constexpr size_t kMaxFilters = 8;

  // `subscription` (as the client sent it, `$share/<group>/` included) was just allowed under
  // `serial`. Filters proved under another serial are dropped first; when full, the oldest goes.
  void Grant(uint64_t serial, std::string_view subscription) {
    if (serial != serial_) {
      entries_.clear();
      serial_ = serial;
    }
    if (serial == 0 || Find(subscription) != entries_.end()) return;
    auto matcher = TopicFilterMatcher::Of(StripSharedSubscription(subscription));
    if (!matcher) return;  // an allowed subscription is valid; nothing is granted on doubt
    if (entries_.size() == kMaxFilters) entries_.erase(entries_.begin());
    entries_.push_back({std::string(subscription), std::move(*matcher)});
  }

  // The client unsubscribed from `subscription`.
  void Forget(std::string_view subscription) {
    if (auto it = Find(subscription); it != entries_.end()) entries_.erase(it);
  }

  // Whether a filter proved under `serial` matches `topic`, a valid topic name.
  bool Cover(uint64_t serial, std::string_view topic) const {
    if (serial != serial_ || entries_.empty()) return false;
    TopicLevels levels;
    if (!levels.Split(topic)) return false;
    for (const Entry& entry : entries_) {
      if (entry.filter.Matches(levels)) return true;
    }
    return false;
  }

  // The client's session or snapshot changed (a reload, a reconnect): keeps the subscriptions
  // for which `allowed(subscription)` still holds, now proved under `serial`.
  template <typename Allowed>
  void Reprove(uint64_t serial, Allowed allowed) {
    std::erase_if(entries_, [&](const Entry& entry) { return !allowed(entry.subscription); });
    serial_ = serial;
  }

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string subscription;
    TopicFilterMatcher filter;
  };

  std::vector<Entry>::iterator Find(std::string_view subscription) {
    return std::find_if(entries_.begin(), entries_.end(),
                        [&](const Entry& entry) { return entry.subscription == subscription; });
  }

  uint64_t serial_ = 0;  // 0: nothing proved
  std::vector<Entry> entries_;
};

}  // namespace certguard::mosquitto_plugin
