#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/decision.h"
#include "shared/policy.h"
#include "shared/result.h"
#include "shared/revocation_list.h"

namespace certguard {

class PolicySnapshot;

// What a broker adapter keeps per connected client between decisions. Holds its snapshot, so the
// rule sets it points to outlive any reload; an adapter re-authorises sessions when the snapshot
// it holds is no longer the current one.
struct DeviceSession {
  std::shared_ptr<const PolicySnapshot> snapshot;
  std::string device_id;
  std::string cn;
  std::string client_id;
  std::vector<const PermissionSet*> permissions;

  PlaceholderValues values() const { return {device_id, cn, client_id}; }
};

// Where CheckStillValid's warning starts in an allowing connect decision's `detail`.
inline constexpr std::string_view kConnectWarningSeparator = "; warning: ";

// The warning (`stale_crl: warn`) an allowing AuthorizeConnect decision carries, or empty. Each
// adapter logs it once: the admission stands, but the operator must hear that a CRL is stale.
inline std::string_view ConnectWarning(const Decision& connect) {
  if (!connect.allowed) return {};
  const size_t at = connect.detail.find(kConnectWarningSeparator);
  if (at == std::string::npos) return {};
  return std::string_view(connect.detail).substr(at + kConnectWarningSeparator.size());
}

// The identity of a file as last read, to notice when it changes.
struct FileStamp {
  std::string path;
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  static FileStamp Of(const std::string& path);
  bool operator==(const FileStamp&) const = default;
};

// One consistent view of everything that decides: the compiled policy, its CA certificates,
// CRLs and denylist. Immutable; a reload builds a new one and swaps it in whole.
class PolicySnapshot : public std::enable_shared_from_this<PolicySnapshot> {
 public:
  // Errors: "policy.yaml:12:9: message" for the policy, "crl/x.crl: message" for CRLs,
  // "revoked.txt:3: message" for the denylist.
  static Result<std::shared_ptr<const PolicySnapshot>> Load(const std::string& policy_path);
  // Same; `read` (if non-null) receives the stamps of every file the load read or looked for,
  // also when it fails, so that a store retries a rejected load when one of *those* files
  // changes (a new CRL the edited policy names may appear after the edit).
  static Result<std::shared_ptr<const PolicySnapshot>> Load(const std::string& policy_path,
                                                            std::vector<FileStamp>* read);
  // Same, as the successor of `previous` (may be null): when both trust exactly the same CA
  // certificates, what `previous` found signed by them (require_issuer) stays known, so a reload
  // that leaves `ca` alone does not verify every connected device's signature again.
  static Result<std::shared_ptr<const PolicySnapshot>> Load(const std::string& policy_path,
                                                            std::vector<FileStamp>* read,
                                                            const PolicySnapshot* previous);

  // The policy in force with its CA, CRLs and denylist re-read: when an edit breaks the policy
  // file, revocations must still take effect under the policy that is kept.
  static Result<std::shared_ptr<const PolicySnapshot>> Rebuild(
      std::shared_ptr<const Policy> policy, std::vector<FileStamp>* read,
      const PolicySnapshot* previous = nullptr);

  // `in_force` with its CA, CRLs and denylist re-read and its policy as it is, for when only those
  // files changed: a CRL is republished every few hours, a policy is edited rarely, and parsing a
  // 100,000-device policy again is about half of the ~3 s of CPU of its reload, and its peak.
  // The policy file keeps the stamp it had in `in_force`, so an edit made meanwhile is still
  // seen as a change.
  static Result<std::shared_ptr<const PolicySnapshot>> Refresh(const PolicySnapshot& in_force,
                                                               std::vector<FileStamp>* read);

  // How many certificates this snapshot knows to be signed by one of its CAs (require_issuer).
  size_t verified_certificates() const;

  const Policy& policy() const { return *policy_; }
  const std::shared_ptr<const Policy>& shared_policy() const { return policy_; }
  const std::vector<X509Ptr>& cas() const { return cas_; }
  const CrlSet& crls() const { return crls_; }
  const Denylist& denylist() const { return denylist_; }
  // Every file this snapshot was built from, as it was when read.
  const std::vector<FileStamp>& sources() const { return sources_; }
  // True when any source file differs from when this snapshot read it.
  bool SourcesChanged() const;
  // The same, for the files the policy names (CA, CRLs, denylist) but not the policy itself.
  bool SupportingFilesChanged() const;
  // The same, for the policy file alone.
  bool PolicyFileChanged() const;

  // The connect checks of design.md ("Connect"). On success fills `session` (if non-null).
  // `cert` is null when the client presented none. `now`: Unix seconds. An allowing decision's
  // `detail` names the device id, then CheckStillValid's warning after kConnectWarningSeparator.
  Decision AuthorizeConnect(const CertificateInfo* cert, std::string_view client_id, int64_t now,
                            DeviceSession* session) const;

  // Re-checks only what can change while a client stays connected: revocation (including CRL
  // staleness as time passes) and certificate validity dates. Cheap: hash probes. An allowing
  // decision carries a warning in `detail` when a stale CRL was accepted (`stale_crl: warn`).
  // Within one snapshot the answer changes with time only at the certificate's notBefore and
  // notAfter and at its issuer CRL's nextUpdate (StillValidUntil).
  Decision CheckStillValid(const CertificateInfo& cert, std::string_view device_id,
                           int64_t now) const;
  // The last second (Unix) up to which CheckStillValid gives, from `now` on, the answer it gives
  // at `now`, provided the clock does not go back before `cert`'s notBefore: the Mosquitto
  // plugin re-checks a connected client only after it. A CRL already stale under `stale_crl:
  // warn` changes nothing more (its warning is given once), so it does not bound the answer:
  // re-checking such clients every second would parse every certificate again, every second.
  int64_t StillValidUntil(const CertificateInfo& cert, int64_t now) const;

  // Hot path: no allocation, cost in topic levels. The session must come from this snapshot.
  Decision Authorize(const DeviceSession& session, Action action, std::string_view topic) const {
    if (session.snapshot.get() != this) {
      return Decision::Deny(Reason::kStaleSession);
    }
    return policy_->Authorize(action, session.permissions, session.values(), topic);
  }

 private:
  // A snapshot of `policy`, read when `policy_stamp` was its file's stamp, with the files it
  // names read now: what Rebuild and Refresh share.
  static Result<std::shared_ptr<const PolicySnapshot>> AroundPolicy(
      std::shared_ptr<const Policy> policy, FileStamp policy_stamp, std::vector<FileStamp>* read,
      const PolicySnapshot* previous);
  // Reads the policy and every file it names into this snapshot; sources_ grows as files are
  // looked at, whether or not they load.
  std::optional<Error> ReadFiles(const std::string& policy_path);
  // The CA bundle, CRLs and denylist that `policy` names; sets policy_ on success.
  std::optional<Error> ReadSupportingFiles(std::shared_ptr<const Policy> policy);
  // require_issuer: `cert` is signed by a CA in cas_. Remembers the certificates it has verified.
  bool IssuerVerified(const CertificateInfo& cert) const;

  std::shared_ptr<const Policy> policy_;
  std::vector<X509Ptr> cas_;
  CrlSet crls_;
  Denylist denylist_;
  std::vector<FileStamp> sources_;

  // Shares `previous`'s memo when its CA certificates are exactly these.
  void InheritIssuerMemo(const PolicySnapshot* previous);

  // Certificates (by SHA-256 of their DER, which covers the signature) already found signed by
  // a CA in cas_: a device that reconnects with the same certificate is not verified again.
  // The signature check was half of what the Mosquitto plugin added to a TLS connection
  // (bench/mosquitto_connect_bench). Bounded; shared by every thread deciding with this snapshot
  // and by its successors that trust the same CAs, so only a change of CAs starts afresh.
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    size_t operator()(const Digest& d) const noexcept {
      size_t h;
      std::memcpy(&h, d.data(), sizeof h);  // already uniformly distributed
      return h;
    }
  };
  struct IssuerMemo {
    static constexpr size_t kMaxVerified = 1 << 17;
    std::mutex mutex;
    std::unordered_set<Digest, DigestHash> verified;  // guarded by mutex
  };
  std::shared_ptr<IssuerMemo> issuer_memo_ = std::make_shared<IssuerMemo>();
};

}  // namespace certguard
