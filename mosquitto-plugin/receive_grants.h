#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "shared/topic_filter.h"
#include "shared/topic_filter_matcher.h"

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
// set may lag behind the broker (a subscription it never saw, one past kMaxFilters, a filter
// of TopicFilterMatcher::kMaxBytes or more) and costs only speed then; what it must never do is
// outlive the snapshot and session that proved it, hence the serial (RecentAllow's) and Reprove
// after every rebind.
//
// Every client pays a pointer; a device with its one commands subscription one allocation of
// about 20 bytes more than the subscription (bench/memory_bench): the entries are packed in a
// block rebuilt whole on the rare subscribe, unsubscribe or rebind.
class ReceiveGrants {
 public:
  // Bounds the memory per client and the filters a delivery that none covers is tried against
  // before its full decision.
  static constexpr size_t kMaxFilters = 8;

  // `subscription` (as the client sent it, `$share/<group>/` included) was just allowed under
  // `serial`. Filters proved under another serial are dropped first; when full, the oldest goes.
  void Grant(uint64_t serial, std::string_view subscription) {
    if (serial == 0) return;
    std::string entries = serial == this->serial() ? std::string(Entries()) : std::string();
    if (subscription.size() > UINT8_MAX || Find(entries, subscription) != kNotFound) return;
    const std::string_view filter = StripSharedSubscription(subscription);
    const auto matcher = TopicFilterMatcher::Of(filter);
    if (!matcher) return;  // too long (an allowed subscription is valid): decided in full
    if (Count(entries) == kMaxFilters) entries.erase(0, Next(entries, 0));
    const Header header{static_cast<uint8_t>(subscription.size()),
                        static_cast<uint8_t>(subscription.size() - filter.size()),
                        matcher->pluses()};
    entries.append(reinterpret_cast<const char*>(&header), sizeof header);
    entries.append(subscription);
    Store(serial, entries);
  }

  // The client unsubscribed from `subscription`.
  void Forget(std::string_view subscription) {
    std::string entries(Entries());
    const size_t at = Find(entries, subscription);
    if (at == kNotFound) return;
    entries.erase(at, Next(entries, at) - at);
    Store(serial(), entries);
  }

  // Whether a filter proved under `serial` matches `topic`, a valid topic name.
  bool Cover(uint64_t serial, std::string_view topic) const {
    if (block_ == nullptr || serial != this->serial() || topic.empty()) return false;
    const std::string_view entries = Entries();
    for (size_t at = 0; at < entries.size(); at = Next(entries, at)) {
      const Header header = HeaderAt(entries, at);
      const char* const filter = entries.data() + at + sizeof(Header) + header.filter_begin;
      // Most filters start with a literal: one byte turns away a topic from another tree.
      if (*filter != topic.front() && *filter != '+' && *filter != '#') continue;
      const TopicFilterMatcher matcher(std::string_view(filter, header.size - header.filter_begin),
                                       header.pluses);
      if (matcher.Matches(topic)) return true;
    }
    return false;
  }

  // The client's session or snapshot changed (a reload, a reconnect): keeps the subscriptions
  // for which `allowed(subscription)` still holds, now proved under `serial`.
  template <typename Allowed>
  void Reprove(uint64_t serial, Allowed allowed) {
    if (block_ == nullptr) return;
    std::string entries(Entries());
    for (size_t at = 0; at < entries.size();) {
      const size_t next = Next(entries, at);
      if (allowed(
              std::string_view(entries).substr(at + sizeof(Header), next - at - sizeof(Header)))) {
        at = next;
      } else {
        entries.erase(at, next - at);
      }
    }
    Store(serial, entries);
  }

  bool empty() const { return block_ == nullptr; }
  size_t size() const { return Count(Entries()); }

 private:
  // Before each subscription's bytes. Filters are under 64 bytes; a `$share` group name is not
  // bounded, so a subscription over 255 bytes is not granted.
  struct [[gnu::packed]] Header {
    uint8_t size;          // of the subscription
    uint8_t filter_begin;  // where its filter starts (after `$share/<group>/`)
    uint64_t pluses;       // where the filter's `+` levels are, as TopicFilterMatcher keeps them
  };
  // At the start of block_: the serial the entries were proved under, and their size.
  struct [[gnu::packed]] Prefix {
    uint64_t serial;
    uint16_t bytes;
  };
  static constexpr size_t kNotFound = SIZE_MAX;

  static Header HeaderAt(std::string_view entries, size_t at) {
    Header header;
    std::memcpy(&header, entries.data() + at, sizeof header);
    return header;
  }
  static size_t Next(std::string_view entries, size_t at) {
    return at + sizeof(Header) + HeaderAt(entries, at).size;
  }
  static size_t Count(std::string_view entries) {
    size_t count = 0;
    for (size_t at = 0; at < entries.size(); at = Next(entries, at)) ++count;
    return count;
  }
  static size_t Find(std::string_view entries, std::string_view subscription) {
    for (size_t at = 0; at < entries.size(); at = Next(entries, at)) {
      if (entries.substr(at + sizeof(Header), HeaderAt(entries, at).size) == subscription) {
        return at;
      }
    }
    return kNotFound;
  }

  Prefix PrefixOf() const {
    Prefix prefix;
    std::memcpy(&prefix, block_.get(), sizeof prefix);
    return prefix;
  }
  uint64_t serial() const { return block_ == nullptr ? 0 : PrefixOf().serial; }
  std::string_view Entries() const {
    if (block_ == nullptr) return {};
    return std::string_view(block_.get() + sizeof(Prefix), PrefixOf().bytes);
  }
  // Nothing is kept for no entries: a client that unsubscribed from everything costs a pointer.
  void Store(uint64_t serial, std::string_view entries) {
    if (entries.empty()) {
      block_.reset();
      return;
    }
    // At most kMaxFilters entries of at most sizeof(Header) + 255 bytes: well within 16 bits.
    const Prefix prefix{serial, static_cast<uint16_t>(entries.size())};
    auto block = std::make_unique_for_overwrite<char[]>(sizeof prefix + entries.size());
    std::memcpy(block.get(), &prefix, sizeof prefix);
    std::memcpy(block.get() + sizeof prefix, entries.data(), entries.size());
    block_ = std::move(block);
  }

  std::unique_ptr<char[]> block_;
};

}  // namespace certguard::mosquitto_plugin
