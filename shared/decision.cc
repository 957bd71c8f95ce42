#include "shared/decision.h"

namespace certguard {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kConnect:
      return "connect";
    case Action::kPublish:
      return "publish";
    case Action::kSubscribe:
      return "subscribe";
    case Action::kReceive:
      return "receive";
    case Action::kUnsubscribe:
      return "unsubscribe";
  }
  return "?";
}

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kAllowedByRule:
      return "allowed by rule";
    case Reason::kDeniedByRule:
      return "denied by rule";
    case Reason::kNoAllowRule:
      return "no allow rule matches (default deny)";
    case Reason::kUnsubscribeAlwaysAllowed:
      return "unsubscribe is always allowed";
    case Reason::kConnectAllowed:
      return "certificate accepted";
    case Reason::kInvalidTopic:
      return "invalid topic or filter";
    case Reason::kNoCertificate:
      return "no client certificate";
    case Reason::kCertificateRefused:
      return "certificate refused";
    case Reason::kCertificateNotYetValid:
      return "certificate not yet valid";
    case Reason::kCertificateExpired:
      return "certificate expired";
    case Reason::kNoIdentity:
      return "no identity source matches the certificate";
    case Reason::kIdentityNotSubstitutable:
      return "identity refused";
    case Reason::kNeedsFullCertificate:
      return "the policy needs the full client certificate";
    case Reason::kIssuerNotTrusted:
      return "certificate not signed by a CA in `ca`";
    case Reason::kClientIdMismatch:
      return "client id does not match the device id";
    case Reason::kRevoked:
      return "certificate revoked";
    case Reason::kStaleSession:
      return "session authorised by a policy no longer in force";
    case Reason::kInternalError:
      return "internal error";
  }
  return "?";
}

std::string Decision::Explain() const {
  std::string out = allowed ? "allow: " : "deny: ";
  if (rule != nullptr) {
    out += "rule " + rule->location.file + ":" + std::to_string(rule->location.line) + ":" +
           std::to_string(rule->location.column) + " (" +
           (rule->effect == Effect::kAllow ? "allow " : "deny ") +
           std::string(ActionName(rule->action)) + " " + rule->filter + " for " + rule->applies_to +
           ")";
  } else {
    out += ReasonName(reason);
  }
  if (!detail.empty()) out += ": " + detail;
  return out;
}

}  // namespace certguard
