#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/result.h"
#include "shared/revoked_serials.h"

namespace certguard {

// The outcome of looking a certificate up in the revocation data.
struct RevocationStatus {
  enum class Kind {
    kGood,
    kRevokedByCrl,          // serial listed in the CRL of the certificate's issuer
    kDenylistedSerial,      // denylist `serial:`
    kDenylistedSha256,      // denylist `sha256:`
    kDenylistedId,          // denylist `id:`
    kStaleCrl,              // the issuer's CRL is past nextUpdate and stale_crl is deny
    kNoCrlForIssuer,        // CRLs are configured but none is for this issuer: fail closed
    kNeedsFullCertificate,  // CRL/serial/sha256 checks configured, only CN/DN available
  };
  Kind kind = Kind::kGood;
  std::string detail;  // e.g. "serial 1A2B in crl/fleet-ca.crl", "denylist revoked.txt:7"

  bool revoked() const { return kind != Kind::kGood; }
};

enum class StaleCrlMode { kDeny, kWarn };

// Certificate revocation lists, each verified against the policy's CA certificates, indexed by
// issuer so that a lookup is one hash probe.
class CrlSet {
 public:
  // Loads every CRL in each file (PEM with one or more CRLs, or a single DER CRL). Each must be
  // signed by a certificate in `cas` whose subject is the CRL's issuer; otherwise an Error
  // "PATH: CRL issued by <dn> is not signed by a CA in `ca`". `display_paths[i]` names
  // `paths[i]` in messages (the path as written in the policy).
  static Result<CrlSet> Load(const std::vector<std::string>& paths,
                             const std::vector<std::string>& display_paths,
                             const std::vector<X509Ptr>& cas);

  // Defined out of line: with them inline, GCC 12 at -O2 reports a false -Wfree-nonheap-object
  // when a Result<CrlSet> holding an Error is destroyed (seen in policy_snapshot.cc).
  CrlSet();
  ~CrlSet();
  CrlSet(const CrlSet&);
  CrlSet& operator=(const CrlSet&);
  CrlSet(CrlSet&&) noexcept;
  CrlSet& operator=(CrlSet&&) noexcept;

  bool empty() const { return by_issuer_.empty(); }

  // `now` in Unix seconds. kStaleCrl only with StaleCrlMode::kDeny. With kWarn a stale CRL is
  // still consulted; when the answer is then kGood its `detail` carries the staleness warning
  // (an empty detail on kGood means nothing to report).
  RevocationStatus Check(const CertificateInfo& cert, int64_t now, StaleCrlMode stale) const;

  // The earliest nextUpdate over all CRLs (INT64_MAX when none): when decisions may change.
  int64_t EarliestNextUpdate() const;

  struct IssuerCrl;
  // The merged CRL data for an issuer (key as CertificateInfo::issuer_dn), or null: for
  // diagnostics (`certguard lint`) and tests.
  const IssuerCrl* FindIssuer(const std::string& issuer_dn) const;

  // Several CRLs for one issuer (a bundle plus a newer file, say) are merged: the union of their
  // serials, and the earliest nextUpdate, since the set is only as fresh as its oldest member.
  struct IssuerCrl {
    std::string source;               // display path; "a.crl, b.crl" when merged from several files
    int64_t next_update = INT64_MAX;  // Unix seconds; INT64_MAX when absent
    std::string next_update_source;   // the display path that gave next_update
    RevokedSerials revoked_serials;   // same form as CertificateInfo::serial_hex

    // Past its nextUpdate at `now`: what `stale_crl` decides about.
    bool StaleAt(int64_t now) const { return now > next_update; }
  };

 private:
  std::unordered_map<std::string, IssuerCrl> by_issuer_;  // key: issuer_dn (RFC 2253 form)
};

// The operator's denylist: lines `serial:HEX`, `sha256:HEX`, `id:DEVICE-ID`; `#` starts a
// comment; blank lines are ignored; surrounding whitespace is trimmed. HEX is case-insensitive and
// may contain ':' separators; serials are normalised like CertificateInfo::serial_hex.
class Denylist {
 public:
  // Errors name `display_path:line: message` (e.g. "revoked.txt:3: unknown entry kind 'srl'").
  static Result<Denylist> Load(const std::string& path, const std::string& display_path);
  static Result<Denylist> Parse(std::string_view text, const std::string& display_path);

  // `device_id` is the resolved id. Serial and sha256 entries need a full certificate: when they
  // exist and `cert.has_full_certificate` is false the answer is kNeedsFullCertificate.
  RevocationStatus Check(const CertificateInfo& cert, std::string_view device_id) const;

  size_t size() const;
  bool has_certificate_entries() const { return !serials_.empty() || !sha256s_.empty(); }

 private:
  std::string source_;
  std::unordered_map<std::string, int> serials_;  // value: line number, for the explanation
  std::unordered_map<std::string, int> sha256s_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace certguard
