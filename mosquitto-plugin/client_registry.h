#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mosquitto-plugin/receive_grants.h"
#include "mosquitto-plugin/recent_allow.h"
#include "shared/certificate_info.h"
#include "shared/policy_snapshot.h"
#include "shared/same_bytes.h"

struct mosquitto;

namespace certguard::mosquitto_plugin {

// What the plugin remembers about one client id between BASIC_AUTH and the end of its session.
struct ClientState {
  // Null while a durable session is offline. Set through ClientRegistry (Put, Detach), which
  // indexes states by it.
  const struct mosquitto* connection = nullptr;
  // The certificate the client connected with. While it is connected the broker's TLS session
  // holds this same object, so keeping it costs nothing. What certguard reads from it (a
  // CertificateInfo) is derived again when needed, on a rebind and when time may have changed a
  // re-check's answer: kept for every client it made the plugin's state 900 bytes a client
  // (bench/memory_bench).
  std::unique_ptr<X509, X509Deleter> certificate;
  // The snapshot's revocation and date checks said "valid" and cannot say otherwise while
  // not_before <= now <= valid_until (Unix seconds); see PolicySnapshot::StillValidUntil.
  int64_t not_before = 0;
  int64_t valid_until = 0;
  DeviceSession session;
  RecentAllow recent_allow;
  // The subscriptions the session was allowed, which prove deliveries.
  ReceiveGrants grants;
  bool refused = false;  // revoked or no longer authorised: every check denies until it reconnects
  // The connection ended and the broker discards the session: forgotten at the next tick, not at
  // once, because the broker checks the client's Will with us right after the disconnect.
  bool ended = false;
};

// Client states by MQTT client id. Keyed by id rather than by connection, because a durable
// session outlives its connection and a reconnect takes the session over with a new one.
//
// Every ACL check looks its client up: hashing the id string was an eighth of certguard's cost
// per check (bench/broker_instructions_bench). So a connected state is also indexed by its
// connection, whose hash is the pointer itself. The id is still compared on that path: the
// broker may reuse a freed connection's address for another client, and a state found by
// address alone could then lend one client another's rights.
class ClientRegistry {
 public:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, ClientState, Hash, std::equal_to<>>;

  ClientState* Find(std::string_view client_id) {
    auto it = clients_.find(client_id);
    return it == clients_.end() ? nullptr : &it->second;
  }
  // The state of `client_id`, found through `connection` when that is its current connection.
  ClientState* Find(const struct mosquitto* connection, std::string_view client_id) {
    if (auto it = by_connection_.find(connection); it != by_connection_.end()) {
      if (SameBytes(it->second->first, client_id)) return &it->second->second;
    }
    return Find(client_id);
  }
  // Replaces whatever `client_id` had (a takeover's old connection included).
  ClientState& Put(std::string_view client_id, ClientState state) {
    auto it = clients_.find(client_id);
    if (it == clients_.end()) {
      it = clients_.emplace(std::string(client_id), ClientState()).first;
    } else {
      Unindex(*it);
    }
    it->second = std::move(state);
    if (it->second.connection != nullptr) by_connection_[it->second.connection] = &*it;
    return it->second;
  }
  // The state's connection ended; the state stays (a durable session, or a Will to check).
  void Detach(ClientState& state) {
    if (state.connection == nullptr) return;
    if (auto it = by_connection_.find(state.connection);
        it != by_connection_.end() && &it->second->second == &state) {
      by_connection_.erase(it);
    }
    state.connection = nullptr;
  }
  void Erase(std::string_view client_id) {
    if (auto it = clients_.find(client_id); it != clients_.end()) {
      Unindex(*it);
      clients_.erase(it);
    }
  }
  size_t size() const { return clients_.size(); }

  // Where a walk over every client, paused between the broker's ticks, stands: a bucket of the
  // map rather than a copy of every id, which took the broker's thread 6 ms in one tick at
  // 100,000 clients.
  struct Walk {
    size_t bucket = 0;
    size_t bucket_count = 0;  // the map's when the walk began at bucket 0
    bool under_way = false;
  };
  Walk BeginWalk() const { return {0, clients_.bucket_count(), true}; }

  // Calls visit(id, state) for every client in the walk's next bucket and returns true; returns
  // false, and ends the walk, once every bucket has been visited. When the map has grown (and
  // rehashed) since the walk began, the walk begins again, so every client present all along is
  // visited at least once; a client added meanwhile may or may not be. `visit` must not add or
  // erase clients: calls that do happen between steps.
  template <typename Visit>
  bool VisitNextBucket(Walk& walk, Visit&& visit) {
    if (!walk.under_way) return false;
    if (walk.bucket_count != clients_.bucket_count()) walk = BeginWalk();
    if (walk.bucket == walk.bucket_count) {
      walk.under_way = false;
      return false;
    }
    for (auto it = clients_.begin(walk.bucket); it != clients_.end(walk.bucket); ++it) {
      visit(it->first, it->second);
    }
    ++walk.bucket;
    return true;
  }

 private:
  void Unindex(Map::value_type& entry) {
    if (entry.second.connection == nullptr) return;
    // Only if the index still names this state: another may have taken over the address.
    if (auto it = by_connection_.find(entry.second.connection);
        it != by_connection_.end() && it->second == &entry) {
      by_connection_.erase(it);
    }
  }

  Map clients_;
  // Connected states by connection; map nodes do not move, so the entries stay valid until their
  // state is erased (which unindexes it).
  std::unordered_map<const struct mosquitto*, Map::value_type*> by_connection_;
};

}  // namespace certguard::mosquitto_plugin
