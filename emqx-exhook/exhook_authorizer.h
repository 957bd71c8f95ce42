#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "emqx-exhook/bounded_cache.h"
#include "shared/audit_log.h"
#include "shared/certificate_info.h"
#include "shared/decision.h"
#include "shared/policy_snapshot.h"
#include "shared/policy_store.h"
#include "shared/warnings_logged.h"

namespace certguard::exhook {

// Where a client's identity comes from (design.md, "Interfaces" → EMQX).
enum class PeerCertMode {
  // Only ClientInfo.cn and .dn: the username is the client's own choice and is ignored.
  kNone,
  // The operator declares that EMQX runs with `mqtt.peer_cert_as_username = pem`: the username is
  // the base64 DER of the TLS peer's certificate, and must agree with cn/dn.
  kPem,
};

// A decision with the snapshot that made it, which keeps `decision.rule` valid.
struct Verdict {
  Decision decision;
  std::shared_ptr<const PolicySnapshot> snapshot;

  bool allowed() const { return decision.allowed; }
};

// What EMQX tells about a client in every request (its ClientInfo), reduced to what decides.
struct ClientFacts {
  std::string_view client_id;
  std::string_view username;
  std::string_view cn;
  std::string_view dn;
  std::string_view peerhost;  // for log lines only
};

// The broker-neutral half of the exhook: EMQX's view of a client in, the core's decision out. No
// gRPC here. Stateless per request as far as decisions go: every call re-derives the client's
// session from the snapshot in force, so a reload or revocation bites on the very next call. What
// is cached (bounded) is only work: the parsed certificate and the session built for a
// snapshot, re-validated (revocation, dates) on every call.
class ExhookAuthorizer {
 public:
  // Log lines go to `log` (one per event, never one per allowed decision); denials go to
  // `audit` when it is non-null.
  ExhookAuthorizer(const PolicyStore& store, PeerCertMode mode, AuditLog* audit,
                   std::function<void(std::string_view)> log, size_t cache_capacity = 8192);

  // client.authenticate: the connect decision.
  Verdict Authenticate(const ClientFacts& client, int64_t now);
  // client.authorize: publish (topic name) or subscribe (filter; `$share/g/F` is checked as F).
  Verdict Authorize(const ClientFacts& client, Action action, std::string_view topic, int64_t now);

  // Why `snapshot` refuses every client in this mode (a policy that needs the full certificate
  // while EMQX sends only CN and DN), or nullopt. For a warning at start-up and after reloads.
  std::optional<std::string> WhyEveryClientIsRefused(const PolicySnapshot& snapshot) const;

 private:
  // What is known about one (credential, client id) pair.
  struct ClientEntry {
    // Null when the credential was refused before any policy looked at it; `refusal` says why.
    std::shared_ptr<const CertificateInfo> certificate;
    Decision refusal;
    // Valid while session.snapshot is the snapshot in force; null snapshot: not admitted.
    DeviceSession session;
  };

  // The client's connect decision under the snapshot in force, with the session it admits.
  struct Admission {
    Verdict verdict;
    std::shared_ptr<const ClientEntry> entry;  // carries the session when admitted
    bool lost_admission = false;  // admitted by the last snapshot or moment, refused now
  };
  Admission Admit(const ClientFacts& client, int64_t now);

  // Reads the credential EMQX sent, as `mode_` says to.
  Result<CertificateInfo> ReadCredential(const ClientFacts& client, Reason* refusal) const;
  std::shared_ptr<const ClientEntry> BuildEntry(const ClientFacts& client) const;
  std::string CacheKey(const ClientFacts& client) const;
  // Logs a `stale_crl: warn` warning the first time it is seen (see WarnOnce in the plugin).
  void WarnOnce(std::string_view warning);
  // Adds to `decision.detail` what the operator must change, where the mode is the cause.
  void AddOperatorHint(Decision& decision) const;
  void Audit(const ClientFacts& client, std::string_view device_id, Action action,
             std::string_view topic, const Decision& decision);

  const PolicyStore& store_;
  const PeerCertMode mode_;
  AuditLog* const audit_;
  const std::function<void(std::string_view)> log_;
  BoundedCache<ClientEntry> cache_;
  WarningsLogged warned_;
};

}  // namespace certguard::exhook
