// certguard: the policy author's and operator's view of the core.
//   certguard lint POLICY
//   certguard identity POLICY --cert PEM
//   certguard check POLICY --cert PEM [--client-id ID] (--connect | --publish T | --subscribe F |
//   --receive T)
// Exit status: 0 allow (or ok), 1 deny, 2 usage or policy error.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "shared/certificate_info.h"
#include "shared/policy_snapshot.h"

namespace {

using certguard::Action;
using certguard::CertificateInfo;
using certguard::Decision;
using certguard::PolicySnapshot;

constexpr int kAllow = 0;
constexpr int kDeny = 1;
constexpr int kError = 2;

std::shared_ptr<const PolicySnapshot> LoadOrReport(const std::string& path) {
  auto snapshot = PolicySnapshot::Load(path);
  if (!snapshot) {
    std::cerr << snapshot.error().message << "\n";
    return nullptr;
  }
  return std::move(snapshot).value();
}

// Reads a PEM certificate. Returns nullopt (after printing why) when the file is unreadable;
// a certificate certguard refuses is reported by the caller as a deny, as a broker would.
std::optional<certguard::Result<CertificateInfo>> ReadCertificate(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": cannot read: " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::ostringstream pem;
  pem << in.rdbuf();
  return CertificateInfo::FromPem(pem.str());
}

int Lint(const std::string& policy_path) {
  const auto snapshot = LoadOrReport(policy_path);
  if (!snapshot) return kError;
  const auto& policy = snapshot->policy();
  std::cout << policy_path << ": ok (" << policy.rules.size() << " rule entries, "
            << policy.groups.size() << " groups, " << snapshot->cas().size() << " CA certificates, "
            << snapshot->denylist().size() << " denylist entries)\n";
  return kAllow;
}

int Identity(const std::string& policy_path, const std::string& cert_path) {
  const auto snapshot = LoadOrReport(policy_path);
  if (!snapshot) return kError;
  const auto cert = ReadCertificate(cert_path);
  if (!cert) return kError;
  if (!cert->ok()) {
    std::cout << "refused: " << cert->error().message << "\n";
    return kDeny;
  }
  const auto& policy = snapshot->policy();
  std::string tried;
  const auto id = policy.identity.Resolve(**cert, &tried);
  if (!id) {
    std::cout << "no identity: tried " << tried << "\n";
    return kDeny;
  }
  if (auto why = certguard::WhyNotSubstitutable(*id)) {
    std::cout << "refused: device id is unusable: " << *why << "\n";
    return kDeny;
  }
  std::cout << "id: " << *id << "\n";
  std::string groups;
  for (const auto& group : policy.groups) {
    if (group.Contains(*id, **cert)) groups += (groups.empty() ? "" : ", ") + group.name;
  }
  std::cout << "groups: " << (groups.empty() ? "(none)" : groups) << "\n";
  std::cout << "serial: " << (*cert)->serial_hex << "\nsha256: " << (*cert)->sha256_hex
            << "\nsubject: " << (*cert)->subject_dn << "\nissuer: " << (*cert)->issuer_dn << "\n";
  return kAllow;
}

int Check(const std::string& policy_path, const std::string& cert_path,
          std::optional<std::string> client_id, Action action, const std::string& topic) {
  const auto snapshot = LoadOrReport(policy_path);
  if (!snapshot) return kError;
  const auto cert = ReadCertificate(cert_path);
  if (!cert) return kError;
  if (!cert->ok()) {
    std::cout << "deny: " << ReasonName(certguard::Reason::kCertificateRefused) << ": "
              << cert->error().message << "\n";
    return kDeny;
  }
  if (!client_id) {
    // Without --client-id the client id is taken to be the device id.
    const auto id = snapshot->policy().identity.Resolve(**cert);
    client_id = id.value_or("");
  }
  certguard::DeviceSession session;
  const Decision connect =
      snapshot->AuthorizeConnect(&**cert, *client_id, std::time(nullptr), &session);
  if (action == Action::kConnect || !connect.allowed) {
    std::cout << (action == Action::kConnect ? "" : "deny: connect refused; ") << connect.Explain()
              << "\n";
    return connect.allowed ? kAllow : kDeny;
  }
  const Decision decision = snapshot->Authorize(session, action, topic);
  std::cout << decision.Explain() << "\n";
  return decision.allowed ? kAllow : kDeny;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "certguard: certificate-based MQTT authorization — check a policy as the brokers will"};
  app.require_subcommand(1);

  std::string policy_path;
  std::string cert_path;
  std::optional<std::string> client_id;
  bool connect = false;
  std::string publish, subscribe, receive;

  auto* lint = app.add_subcommand("lint", "load a policy and everything it names; report errors");
  lint->add_option("POLICY", policy_path, "policy file")->required();

  auto* identity = app.add_subcommand("identity", "show the device id a certificate gets");
  identity->add_option("POLICY", policy_path, "policy file")->required();
  identity->add_option("--cert", cert_path, "client certificate (PEM)")->required();

  auto* check = app.add_subcommand("check", "decide one connect, publish, subscribe or receive");
  check->add_option("POLICY", policy_path, "policy file")->required();
  check->add_option("--cert", cert_path, "client certificate (PEM)")->required();
  check->add_option("--client-id", client_id, "MQTT client id (default: the device id)");
  auto* actions = check->add_option_group("action", "what to decide");
  actions->add_flag("--connect", connect, "the connection itself");
  actions->add_option("--publish", publish, "publish to TOPIC");
  actions->add_option("--subscribe", subscribe, "subscribe to FILTER");
  actions->add_option("--receive", receive, "receive a message on TOPIC (each delivery)");
  actions->require_option(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kError;
  }

  try {
    if (*lint) return Lint(policy_path);
    if (*identity) return Identity(policy_path, cert_path);
    if (connect) return Check(policy_path, cert_path, client_id, Action::kConnect, "");
    if (actions->count("--publish") > 0) {
      return Check(policy_path, cert_path, client_id, Action::kPublish, publish);
    }
    if (actions->count("--subscribe") > 0) {
      return Check(policy_path, cert_path, client_id, Action::kSubscribe, subscribe);
    }
    return Check(policy_path, cert_path, client_id, Action::kReceive, receive);
  } catch (const std::exception& e) {
    std::cerr << "certguard: internal error: " << e.what() << "\n";
    return kError;
  }
}
