#include "emqx-exhook/exhook_authorizer.h"

#include <ctime>
#include <utility>

#include "emqx-exhook/base64.h"
#include "emqx-exhook/event_log.h"

namespace certguard::exhook {
namespace {

// Real client certificates are a few kB; a longer credential or client id is decided but not
// cached, so hostile sizes cannot make the cache hold gigabytes.
constexpr size_t kMaxCachedKeyBytes = 16 * 1024;

constexpr std::string_view kPemModeHint =
    "EMQX sends only the certificate's CN and DN: set `mqtt.peer_cert_as_username = pem` in EMQX "
    "and start certguard-exhook with `--peer-cert pem`";

void AppendField(std::string& key, std::string_view field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

}  // namespace

ExhookAuthorizer::ExhookAuthorizer(const PolicyStore& store, PeerCertMode mode, AuditLog* audit,
                                   std::function<void(std::string_view)> log, size_t cache_capacity)
    : store_(store), mode_(mode), audit_(audit), log_(std::move(log)), cache_(cache_capacity) {}

std::string ExhookAuthorizer::CacheKey(const ClientFacts& client) const {
  // Length-prefixed, so no two different tuples give the same key.
  std::string key;
  AppendField(key, client.client_id);
  AppendField(key, client.cn);
  AppendField(key, client.dn);
  if (mode_ == PeerCertMode::kPem) AppendField(key, client.username);
  return key;
}

Result<CertificateInfo> ExhookAuthorizer::ReadCredential(const ClientFacts& client,
                                                         Reason* refusal) const {
  *refusal = Reason::kCertificateRefused;
  if (client.cn.empty() && client.dn.empty()) {
    // Without a TLS peer certificate EMQX leaves the client's own username in place, even in
    // pem mode: it must not be read as a certificate.
    *refusal = Reason::kNoCertificate;
    return Error{"EMQX saw no client certificate (empty cn and dn)"};
  }
  auto from_strings = CertificateInfo::FromSubjectStrings(client.cn, client.dn);
  if (!from_strings) return Error{"cn/dn from EMQX: " + from_strings.error().message};
  if (mode_ == PeerCertMode::kNone) return from_strings;

  const std::optional<std::string> der = DecodeBase64(client.username);
  if (!der) {
    return Error{
        "username is not a base64 certificate (is `mqtt.peer_cert_as_username = pem` set in "
        "EMQX?)"};
  }
  auto certificate = CertificateInfo::FromDer(*der);
  if (!certificate) return Error{"certificate in username: " + certificate.error().message};
  // The username could hold any device's public certificate; only cn/dn come from EMQX's own
  // TLS handshake, so they must describe the same subject.
  if (certificate->subject != from_strings->subject ||
      certificate->common_names != from_strings->common_names) {
    return Error{"the certificate in username is not the TLS peer's: its subject \"" +
                 certificate->subject_dn + "\" differs from EMQX's dn \"" +
                 from_strings->subject_dn + "\""};
  }
  return certificate;
}

std::shared_ptr<const ExhookAuthorizer::ClientEntry> ExhookAuthorizer::BuildEntry(
    const ClientFacts& client) const {
  auto entry = std::make_shared<ClientEntry>();
  Reason refusal = Reason::kCertificateRefused;
  auto certificate = ReadCredential(client, &refusal);
  if (certificate) {
    entry->certificate = std::make_shared<const CertificateInfo>(std::move(certificate).value());
  } else {
    entry->refusal = Decision::Deny(refusal, certificate.error().message);
  }
  return entry;
}

ExhookAuthorizer::Admission ExhookAuthorizer::Admit(const ClientFacts& client, int64_t now) {
  std::shared_ptr<const PolicySnapshot> snapshot = store_.current();
  const std::string key = CacheKey(client);
  std::shared_ptr<const ClientEntry> entry = cache_.Find(key);
  if (entry == nullptr) {
    entry = BuildEntry(client);
    if (key.size() <= kMaxCachedKeyBytes) cache_.Put(key, entry);
  }
  if (entry->certificate == nullptr) return {{entry->refusal, snapshot}, entry, false};

  if (entry->session.snapshot == snapshot) {
    // Admitted by this snapshot before: only revocation and dates can have changed.
    Decision still = snapshot->CheckStillValid(*entry->certificate, entry->session.device_id, now);
    if (still.allowed) {
      if (!still.detail.empty()) WarnOnce(still.detail);
      return {{std::move(still), snapshot}, entry, false};
    }
  }
  const bool was_admitted = entry->session.snapshot != nullptr;
  auto updated = std::make_shared<ClientEntry>();
  updated->certificate = entry->certificate;
  Decision decision = snapshot->AuthorizeConnect(entry->certificate.get(), client.client_id, now,
                                                 &updated->session);
  if (!decision.allowed) updated->session = DeviceSession{};
  // Remember a new session, and forget a lost one (so its loss is reported once).
  if ((decision.allowed || was_admitted) && key.size() <= kMaxCachedKeyBytes) {
    cache_.Put(key, updated);
  }
  const bool lost_admission = was_admitted && !decision.allowed;
  if (const std::string_view warning = ConnectWarning(decision); !warning.empty()) {
    WarnOnce(warning);
  }
  AddOperatorHint(decision);
  return {{std::move(decision), std::move(snapshot)}, std::move(updated), lost_admission};
}

void ExhookAuthorizer::WarnOnce(std::string_view warning) {
  if (warned_.FirstTime(warning)) {
    log_("warning: " + std::string(warning) + "; clients are still admitted");
  }
}

void ExhookAuthorizer::AddOperatorHint(Decision& decision) const {
  if (mode_ == PeerCertMode::kNone && decision.reason == Reason::kNeedsFullCertificate) {
    decision.detail += "; ";
    decision.detail += kPemModeHint;
  }
}

Verdict ExhookAuthorizer::Authenticate(const ClientFacts& client, int64_t now) {
  Admission admission = Admit(client, now);
  if (!admission.verdict.allowed()) {
    log_("refused client " + Quoted(client.client_id) + " from " + Quoted(client.peerhost) + ": " +
         admission.verdict.decision.Explain());
    Audit(client, "", Action::kConnect, "", admission.verdict.decision);
  }
  return std::move(admission.verdict);
}

Verdict ExhookAuthorizer::Authorize(const ClientFacts& client, Action action,
                                    std::string_view topic, int64_t now) {
  Admission admission = Admit(client, now);
  if (!admission.verdict.allowed()) {
    if (admission.lost_admission) {
      // EMQX keeps the connection open; only its requests are refused from now on.
      log_("client " + Quoted(client.client_id) +
           " is no longer admitted, denying its requests: " + admission.verdict.decision.Explain() +
           " (kick it to close the connection: DELETE /api/v5/clients/{clientid})");
    }
    Audit(client, "", action, topic, admission.verdict.decision);
    return std::move(admission.verdict);
  }
  const DeviceSession& session = admission.entry->session;
  Verdict verdict{session.snapshot->Authorize(session, action, topic), session.snapshot};
  if (!verdict.allowed()) Audit(client, session.device_id, action, topic, verdict.decision);
  return verdict;
}

void ExhookAuthorizer::Audit(const ClientFacts& client, std::string_view device_id, Action action,
                             std::string_view topic, const Decision& decision) {
  if (audit_ != nullptr) audit_->Record(client.client_id, device_id, action, topic, decision);
}

std::optional<std::string> ExhookAuthorizer::WhyEveryClientIsRefused(
    const PolicySnapshot& snapshot) const {
  if (mode_ == PeerCertMode::kPem) return std::nullopt;
  // A client as EMQX describes it in this mode: the core refuses it up front when the policy
  // needs more than CN and DN, whatever the names.
  auto probe = CertificateInfo::FromSubjectStrings("probe", "CN=probe");
  if (!probe) return std::nullopt;
  Decision decision =
      snapshot.AuthorizeConnect(&probe.value(), "probe", std::time(nullptr), nullptr);
  if (decision.reason != Reason::kNeedsFullCertificate) return std::nullopt;
  return "the policy needs " + decision.detail + ", so every client will be refused; " +
         std::string(kPemModeHint);
}

}  // namespace certguard::exhook
