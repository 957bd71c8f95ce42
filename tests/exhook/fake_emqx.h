#pragma once

#include <openssl/x509.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tests/support/test_pki.h"

// certguard-exhook's peer in tests: calls it over gRPC exactly as EMQX does.
namespace certguard::testing {

// emqx.exhook.v2 (EMQX 5.0-5.8) or emqx.exhook.v3 (EMQX 5.9+).
enum class ExhookVersion { kV2, kV3 };
std::string VersionName(ExhookVersion version);
// For GoogleTest's parameter names and messages.
inline void PrintTo(ExhookVersion version, std::ostream* out) { *out << VersionName(version); }

// ClientAuthorizeRequest.type on the wire; any other int is an unknown type.
constexpr int kAuthorizePublish = 0;
constexpr int kAuthorizeSubscribe = 1;

// What EMQX puts into ClientInfo for one connection.
struct EmqxClientInfo {
  std::string client_id;
  std::string username;
  std::string cn;
  std::string dn;
  std::string peerhost = "127.0.0.1";
  uint32_t peerport = 50123;
  uint32_t sockport = 8883;
  std::string protocol = "mqtt";
  std::string node = "emqx@127.0.0.1";
};

// As EMQX describes a TLS client presenting `certificate`: `cn` = the CN values joined by ",",
// `dn` = the RFC 4514 subject (most specific first, specials and non-ASCII bytes escaped), and,
// when EMQX runs with `mqtt.peer_cert_as_username = pem`, `username` = base64 of the DER.
EmqxClientInfo ClientInfoFor(const IssuedCertificate& certificate, const std::string& client_id,
                             bool peer_cert_as_username_pem);
std::string EmqxCommonNames(X509* certificate);
std::string EmqxDistinguishedName(X509* certificate);
std::string Base64(std::string_view bytes);
// The filter EMQX asks client.authorize about for a SUBSCRIBE to `filter`: without the
// `$share/<group>/` prefix of a shared subscription.
std::string EmqxAuthorizedFilter(const std::string& filter);

// One EMQX node's connection pool to the exhook server. Thread-safe. Each call returns the
// server's answer, or nullopt when the RPC failed or the answer broke the protocol (counted in
// failures(); last_error() says what).
class FakeEmqx {
 public:
  FakeEmqx(ExhookVersion version, std::shared_ptr<grpc::Channel> channel);
  ~FakeEmqx();
  static std::shared_ptr<grpc::Channel> PlainChannel(const std::string& address);

  // OnProviderLoaded with BrokerInfo and RequestMeta: the hook names the server asked for.
  std::optional<std::vector<std::string>> LoadProvider();
  bool UnloadProvider();

  // A client's CONNECT as EMQX hooks it: client.connect, client.authenticate, and when admitted
  // session.created, client.connected; then client.connack (with the result code). Returns the
  // authenticate answer.
  std::optional<bool> Connect(const EmqxClientInfo& client);
  // Only client.authenticate.
  std::optional<bool> Authenticate(const EmqxClientInfo& client);
  // client.authorize with a raw type (kAuthorizePublish, kAuthorizeSubscribe or anything else).
  std::optional<bool> Authorize(const EmqxClientInfo& client, int type, const std::string& topic);
  // SUBSCRIBE: client.subscribe, then client.authorize(SUBSCRIBE) for the filter (shared
  // subscriptions stripped, as EMQX does), then session.subscribed when allowed.
  std::optional<bool> Subscribe(const EmqxClientInfo& client, const std::string& filter);
  // PUBLISH: client.authorize(PUBLISH).
  std::optional<bool> Publish(const EmqxClientInfo& client, const std::string& topic) {
    return Authorize(client, kAuthorizePublish, topic);
  }
  // client.disconnected, then session.terminated.
  bool Disconnect(const EmqxClientInfo& client);

  uint64_t calls() const { return calls_.load(); }
  uint64_t failures() const { return failures_.load(); }
  std::string last_error() const;

  class Caller;  // the version-specific half

 private:
  std::unique_ptr<Caller> caller_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace certguard::testing
