#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "shared/certificate_info.h"
#include "shared/policy_snapshot.h"

struct mosquitto;

namespace certguard::mosquitto_plugin {

// What the plugin remembers about one client id between BASIC_AUTH and the end of its session.
struct ClientState {
  const struct mosquitto* connection = nullptr;  // null while a durable session is offline
  // The certificate the client connected with. While it is connected the broker's TLS session
  // holds this same object, so keeping it costs nothing. What certguard reads from it (a
  // CertificateInfo) is derived again when needed, on a rebind and when time may have changed a
  // re-check's answer: kept for every client it made the plugin's state 900 bytes a client
  // (bench/memory_bench).
  std::unique_ptr<X509, X509Deleter> certificate;
  // The snapshot's revocation and date checks said "valid" and cannot say otherwise while
  // not_before <= now <= valid_until (Unix seconds); see ValidUntil in certguard_plugin.cc.
  int64_t not_before = 0;
  int64_t valid_until = 0;
  DeviceSession session;
  bool refused = false;  // revoked or no longer authorised: every check denies until it reconnects
  // The connection ended and the broker discards the session: forgotten at the next tick, not at
  // once, because the broker checks the client's Will with us right after the disconnect.
  bool ended = false;
};

// Client states by MQTT client id. Keyed by id rather than by connection, because a durable
// session outlives its connection and a reconnect takes the session over with a new one.
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
  ClientState& Put(std::string_view client_id, ClientState state) {
    return clients_.insert_or_assign(std::string(client_id), std::move(state)).first->second;
  }
  void Erase(std::string_view client_id) {
    if (auto it = clients_.find(client_id); it != clients_.end()) clients_.erase(it);
  }
  Map& all() { return clients_; }
  size_t size() const { return clients_.size(); }

 private:
  Map clients_;
};

}  // namespace certguard::mosquitto_plugin
