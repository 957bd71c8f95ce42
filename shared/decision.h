#pragma once

#include <string>
#include <string_view>

namespace certguard {

enum class Action { kConnect, kPublish, kSubscribe, kReceive, kUnsubscribe };
std::string_view ActionName(Action action);

enum class Effect { kAllow, kDeny };

// Where a rule's filter was written, so a decision can point at it.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// One filter of one rule: `allow: publish: ["sensors/{id}/telemetry"]` gives one RuleEntry.
struct RuleEntry {
  Effect effect = Effect::kAllow;
  Action action =
      Action::kPublish;     // kPublish or kSubscribe (subscribe rules also decide kReceive)
  std::string filter;       // as written
  std::string applies_to;   // the rule's `for`, as written: "sensors", "all", "id:x"
  SourceLocation location;  // of the filter
};

// Why a decision came out the way it did.
enum class Reason {
  kAllowedByRule,  // `rule` allowed it and no deny rule matched
  kDeniedByRule,   // `rule` is a deny entry that matched
  kNoAllowRule,    // default deny: no allow entry matched
  kUnsubscribeAlwaysAllowed,
  kConnectAllowed,
  kInvalidTopic,  // not a valid topic name / filter, or a malformed $share
  kNoCertificate,
  kCertificateRefused,  // hostile or unparsable certificate
  kCertificateNotYetValid,
  kCertificateExpired,
  kNoIdentity,                // no identity source matched
  kIdentityNotSubstitutable,  // the id (or a {cn}/{client_id} value in use) could be abused
  kNeedsFullCertificate,      // the policy needs SANs/fingerprint/CRL/... and only CN+DN were given
  kIssuerNotTrusted,          // require_issuer and not signed by a CA in `ca`
  kClientIdMismatch,
  kRevoked,       // CRL, denylist, stale CRL or no CRL for the issuer
  kStaleSession,  // the session was authorised by a policy that is no longer in force
  kInternalError,
};
std::string_view ReasonName(Reason reason);

// The answer to one question, with enough to explain it. `rule` points into the policy snapshot
// that decided and stays valid while the caller holds that snapshot.
struct Decision {
  bool allowed = false;
  Reason reason = Reason::kInternalError;
  const RuleEntry* rule = nullptr;
  std::string detail;  // connect decisions and errors only: the hot path never fills it

  static Decision Allow(Reason reason, const RuleEntry* rule = nullptr) {
    return {true, reason, rule, {}};
  }
  static Decision Deny(Reason reason, std::string detail = {}, const RuleEntry* rule = nullptr) {
    return {false, reason, rule, std::move(detail)};
  }

  // One line for operators: "deny: rule policy.yaml:30:18 (deny publish $SYS/# for all)".
  std::string Explain() const;
};

}  // namespace certguard
