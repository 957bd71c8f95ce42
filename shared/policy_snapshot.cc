#include "shared/policy_snapshot.h"

#include <openssl/x509.h>

#include <sys/stat.h>

namespace certguard {
namespace {

// Device-supplied text in a log line: printable ASCII kept, the rest escaped, and truncated, so a
// hostile CN can neither forge log lines nor flood them.
std::string Printable(std::string_view text) {
  static constexpr size_t kMax = 80;
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (out.size() >= kMax) out += "...(" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace

FileStamp FileStamp::Of(const std::string& path) {
  FileStamp stamp;
  stamp.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return stamp;
  stamp.exists = true;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return stamp;
}

bool PolicySnapshot::SupportingFilesChanged() const {
  // sources_[0] is the policy file itself.
  for (size_t i = 1; i < sources_.size(); ++i) {
    if (!(FileStamp::Of(sources_[i].path) == sources_[i])) return true;
  }
  return false;
}

bool PolicySnapshot::PolicyFileChanged() const {
  // Every snapshot records its policy file first (ReadFiles, AroundPolicy).
  return !(FileStamp::Of(sources_.front().path) == sources_.front());
}

bool PolicySnapshot::SourcesChanged() const {
  for (const FileStamp& stamp : sources_) {
    if (!(FileStamp::Of(stamp.path) == stamp)) return true;
  }
  return false;
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Load(const std::string& policy_path) {
  return Load(policy_path, nullptr);
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Load(const std::string& policy_path,
                                                                   std::vector<FileStamp>* read) {
  return Load(policy_path, read, nullptr);
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Load(const std::string& policy_path,
                                                                   std::vector<FileStamp>* read,
                                                                   const PolicySnapshot* previous) {
  auto snapshot = std::make_shared<PolicySnapshot>();
  std::optional<Error> error = snapshot->ReadFiles(policy_path);
  if (read != nullptr) *read = snapshot->sources_;
  if (error) return *std::move(error);
  snapshot->InheritIssuerMemo(previous);
  return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
}

void PolicySnapshot::InheritIssuerMemo(const PolicySnapshot* previous) {
  if (previous == nullptr || previous->cas_.size() != cas_.size()) return;
  for (size_t i = 0; i < cas_.size(); ++i) {
    if (X509_cmp(previous->cas_[i].get(), cas_[i].get()) != 0) return;
  }
  issuer_memo_ = previous->issuer_memo_;
}

size_t PolicySnapshot::verified_certificates() const {
  std::lock_guard lock(issuer_memo_->mutex);
  return issuer_memo_->verified.size();
}

std::optional<Error> PolicySnapshot::ReadFiles(const std::string& policy_path) {
  // Each file is stamped before it is read: a write that lands during the read changes the
  // stamp, so the next check reloads rather than keeping a half-read file for good.
  sources_.push_back(FileStamp::Of(policy_path));
  auto policy = Policy::Load(policy_path);
  if (!policy) return policy.error();
  return ReadSupportingFiles(std::move(policy).value());
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Rebuild(
    std::shared_ptr<const Policy> policy, std::vector<FileStamp>* read,
    const PolicySnapshot* previous) {
  FileStamp stamp = FileStamp::Of(policy->path);
  return AroundPolicy(std::move(policy), std::move(stamp), read, previous);
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Refresh(
    const PolicySnapshot& in_force, std::vector<FileStamp>* read) {
  return AroundPolicy(in_force.policy_, in_force.sources_.front(), read, &in_force);
}

Result<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::AroundPolicy(
    std::shared_ptr<const Policy> policy, FileStamp policy_stamp, std::vector<FileStamp>* read,
    const PolicySnapshot* previous) {
  auto snapshot = std::make_shared<PolicySnapshot>();
  snapshot->sources_.push_back(std::move(policy_stamp));
  std::optional<Error> error = snapshot->ReadSupportingFiles(std::move(policy));
  if (read != nullptr) *read = snapshot->sources_;
  if (error) return *std::move(error);
  snapshot->InheritIssuerMemo(previous);
  return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
}

std::optional<Error> PolicySnapshot::ReadSupportingFiles(std::shared_ptr<const Policy> policy) {
  const Policy& p = *policy;

  if (!p.ca_path.empty()) {
    sources_.push_back(FileStamp::Of(p.ca_path));
    auto cas = LoadCertificateBundle(p.ca_path);
    if (!cas) {
      return Error{p.ca_location.file + ":" + std::to_string(p.ca_location.line) + ":" +
                   std::to_string(p.ca_location.column) + ": `ca`: " + cas.error().message};
    }
    cas_ = std::move(cas.value());
  }
  if (!p.crl_paths.empty()) {
    for (const auto& path : p.crl_paths) sources_.push_back(FileStamp::Of(path));
    auto crls = CrlSet::Load(p.crl_paths, p.crl_paths, cas_);
    if (!crls) return crls.error();
    crls_ = std::move(crls.value());
  }
  if (!p.denylist_path.empty()) {
    sources_.push_back(FileStamp::Of(p.denylist_path));
    auto denylist = Denylist::Load(p.denylist_path, p.denylist_path);
    if (!denylist) return denylist.error();
    denylist_ = std::move(denylist.value());
  }
  policy_ = std::move(policy);
  return std::nullopt;
}

Decision PolicySnapshot::CheckStillValid(const CertificateInfo& cert, std::string_view device_id,
                                         int64_t now) const {
  if (cert.has_full_certificate) {
    if (now < cert.not_before) {
      return Decision::Deny(Reason::kCertificateNotYetValid,
                            "notBefore is " + std::to_string(cert.not_before - now) + "s ahead");
    }
    if (now > cert.not_after) {
      return Decision::Deny(Reason::kCertificateExpired,
                            "notAfter was " + std::to_string(now - cert.not_after) + "s ago");
    }
  }
  RevocationStatus status = denylist_.Check(cert, device_id);
  if (!status.revoked() && !crls_.empty()) status = crls_.Check(cert, now, policy_->stale_crl);
  if (status.revoked()) {
    if (status.kind == RevocationStatus::Kind::kNeedsFullCertificate) {
      return Decision::Deny(Reason::kNeedsFullCertificate, status.detail);
    }
    return Decision::Deny(Reason::kRevoked, status.detail);
  }
  // With `stale_crl: warn` a good answer from a stale CRL carries the warning: dropping it here
  // would make `warn` indistinguishable from a fresh CRL.
  Decision allowed = Decision::Allow(Reason::kConnectAllowed);
  allowed.detail = std::move(status.detail);
  return allowed;
}

int64_t PolicySnapshot::StillValidUntil(const CertificateInfo& cert, int64_t now) const {
  const CrlSet::IssuerCrl* crl = crls_.FindIssuer(cert.issuer_dn);
  if (crl == nullptr) return cert.not_after;
  if (!crl->StaleAt(now)) return std::min(cert.not_after, crl->next_update);
  // Stale: under `warn` nothing changes any more (its warning is given once); under `deny` the
  // next check refuses, so that check is now.
  return policy_->stale_crl == StaleCrlMode::kWarn ? cert.not_after : now;
}

bool PolicySnapshot::IssuerVerified(const CertificateInfo& cert) const {
  Digest digest{};
  const bool keyed = cert.has_full_certificate && cert.sha256_hex.size() == 2 * digest.size();
  if (keyed) {
    const auto nibble = [](char c) {
      return static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) & 0xF;
    };
    for (size_t i = 0; i < digest.size(); ++i) {
      digest[i] = static_cast<unsigned char>(nibble(cert.sha256_hex[2 * i]) << 4 |
                                             nibble(cert.sha256_hex[2 * i + 1]));
    }
    std::lock_guard lock(issuer_memo_->mutex);
    if (issuer_memo_->verified.contains(digest)) return true;
  }
  // Verified outside the lock; a refusal is not remembered (it costs the refused client, each
  // time, what it costs now).
  if (!cert.IsSignedByOneOf(cas_)) return false;
  if (keyed) {
    std::lock_guard lock(issuer_memo_->mutex);
    if (issuer_memo_->verified.size() >= IssuerMemo::kMaxVerified) issuer_memo_->verified.clear();
    issuer_memo_->verified.insert(digest);
  }
  return true;
}

Decision PolicySnapshot::AuthorizeConnect(const CertificateInfo* cert, std::string_view client_id,
                                          int64_t now, DeviceSession* session) const {
  if (cert == nullptr) return Decision::Deny(Reason::kNoCertificate);
  const Policy& p = *policy_;

  if (!cert->has_full_certificate) {
    // Never decide on less than the policy asks for: a check we cannot make is a refusal.
    std::string needs;
    const auto need = [&](const std::string& what) { needs += (needs.empty() ? "" : ", ") + what; };
    for (const auto& step : p.identity.steps()) {
      if (NeedsFullCertificate(step.source)) {
        need("identity source " + std::string(IdentitySourceName(step.source)));
      }
    }
    if (p.require_issuer) need("require_issuer");
    if (!crls_.empty()) need("CRLs");
    if (denylist_.has_certificate_entries()) need("serial/sha256 denylist entries");
    if (!needs.empty()) return Decision::Deny(Reason::kNeedsFullCertificate, needs);
  }

  std::string tried;
  const std::optional<std::string> id = p.identity.Resolve(*cert, &tried);
  if (!id) return Decision::Deny(Reason::kNoIdentity, "tried " + tried);
  if (auto why = WhyNotSubstitutable(*id)) {
    return Decision::Deny(Reason::kIdentityNotSubstitutable,
                          "device id \"" + Printable(*id) + "\" refused: " + *why);
  }
  if (p.require_issuer && !IssuerVerified(*cert)) {
    return Decision::Deny(Reason::kIssuerNotTrusted, "issuer " + Printable(cert->issuer_dn));
  }
  if (p.client_id_mode == ClientIdMode::kMustMatch && client_id != *id) {
    return Decision::Deny(Reason::kClientIdMismatch,
                          "client id \"" + Printable(client_id) + "\", device id \"" + *id + "\"");
  }
  Decision still = CheckStillValid(*cert, *id, now);
  if (!still.allowed) return still;

  std::vector<const PermissionSet*> permissions = p.PermissionsFor(*id, *cert);
  PlaceholderMask used = 0;
  for (const PermissionSet* set : permissions) used |= set->placeholders();
  const std::string_view cn =
      cert->common_names.empty() ? std::string_view() : std::string_view(cert->common_names[0]);
  // A rule that names {cn} or {client_id} is only safe when that value cannot reach other
  // devices' topics; where it could, the client is refused rather than the rule skipped (a
  // skipped deny rule would widen the grant).
  if (used & static_cast<PlaceholderMask>(Placeholder::kCn)) {
    if (auto why = WhyNotSubstitutable(cn)) {
      return Decision::Deny(Reason::kIdentityNotSubstitutable,
                            "{cn} value \"" + Printable(cn) + "\" refused: " + *why);
    }
  }
  if (used & static_cast<PlaceholderMask>(Placeholder::kClientId)) {
    if (auto why = WhyNotSubstitutable(client_id)) {
      return Decision::Deny(Reason::kIdentityNotSubstitutable,
                            "{client_id} value \"" + Printable(client_id) + "\" refused: " + *why);
    }
  }
  if (session != nullptr) {
    session->snapshot = shared_from_this();
    session->device_id = *id;
    session->cn = std::string(cn);
    session->client_id = std::string(client_id);
    session->permissions = std::move(permissions);
  }
  Decision allowed = Decision::Allow(Reason::kConnectAllowed);
  allowed.detail = "device id \"" + *id + "\"";
  if (!still.detail.empty()) {
    allowed.detail += kConnectWarningSeparator;
    allowed.detail += still.detail;
  }
  return allowed;
}

}  // namespace certguard
