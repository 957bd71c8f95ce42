// certguard-exhook: certguard's policy for EMQX, as an ExHook gRPC server.
//   certguard-exhook --policy PATH --listen HOST:PORT [--peer-cert pem|none]
//                    [--tls-cert F --tls-key F [--tls-ca F]] [--audit FILE] [--threads N]
// Signals: SIGTERM/SIGINT stop gracefully (exit 0); SIGHUP reloads the policy now and reopens
// the audit log. Exit 1 when the policy, the TLS files or the listen address cannot be used.
#include <absl/synchronization/mutex.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "emqx-exhook/event_log.h"
#include "emqx-exhook/exhook_authorizer.h"
#include "emqx-exhook/exhook_server.h"
#include "shared/audit_log.h"
#include "shared/policy_store.h"

namespace {

using certguard::AuditLog;
using certguard::PolicyStore;
using certguard::ReloadEvent;
using certguard::exhook::ExhookAuthorizer;
using certguard::exhook::ExhookServer;
using certguard::exhook::LogEvent;
using certguard::exhook::PeerCertMode;

constexpr int kStartFailed = 1;
// How long running calls may take to finish on SIGTERM. A call takes microseconds; gRPC also
// waits this long for idle client connections (EMQX keeps its pool open) before closing them.
constexpr auto kShutdownGrace = std::chrono::seconds(2);
// How often the main thread reports reload outcomes when no signal arrives.
constexpr auto kEventPoll = std::chrono::milliseconds(200);

struct Options {
  std::string policy;
  certguard::exhook::ServerOptions server;
  PeerCertMode peer_cert = PeerCertMode::kNone;
  std::string audit;
};

void WarnIfEveryClientIsRefused(const ExhookAuthorizer& authorizer, const PolicyStore& store) {
  if (auto why = authorizer.WhyEveryClientIsRefused(*store.current())) {
    LogEvent("warning: " + *why);
  }
}

void ReportReloads(PolicyStore& store, const ExhookAuthorizer& authorizer) {
  for (const ReloadEvent& event : store.TakeEvents()) {
    if (event.kind == ReloadEvent::Kind::kRejected) {
      LogEvent("policy change rejected, the previous policy stays in force: " + event.message);
    } else if (event.kind == ReloadEvent::Kind::kReloaded) {
      LogEvent("policy reloaded (generation " + std::to_string(store.generation()) + ")");
      WarnIfEveryClientIsRefused(authorizer, store);
    }
  }
}

int Run(const Options& options) {
  // Debian builds Abseil without NDEBUG, which leaves its deadlock detector on: every lock gRPC
  // takes then updates a global lock-order graph under a global lock (a few percent of the
  // server's CPU per call, bench/exhook_bench). A debugging aid, not wanted in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Signals are taken synchronously by this thread alone: block them before any other thread
  // (policy watcher, gRPC) exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = PolicyStore::Open(options.policy);
  if (!store) {
    LogEvent("cannot load the policy: " + store.error().message);
    return kStartFailed;
  }
  std::unique_ptr<AuditLog> audit;
  if (!options.audit.empty()) {
    auto opened = AuditLog::Open(options.audit);
    if (!opened) {
      LogEvent(opened.error().message);
      return kStartFailed;
    }
    audit = std::move(opened).value();
  }
  ExhookAuthorizer authorizer(*store.value(), options.peer_cert, audit.get(),
                              certguard::exhook::LogEvent);
  auto server = ExhookServer::Start(options.server, &authorizer);
  if (!server) {
    LogEvent(server.error().message);
    return kStartFailed;
  }
  const auto& policy = store.value()->current()->policy();
  LogEvent("listening on " + options.server.listen.substr(0, options.server.listen.rfind(':')) +
           ":" + std::to_string(server.value()->port()) + " (" +
           (options.server.tls_cert.empty() ? "plain TCP"
            : options.server.tls_ca.empty() ? "TLS"
                                            : "mutual TLS") +
           ", " + std::to_string(options.server.threads) + " threads, --peer-cert " +
           (options.peer_cert == PeerCertMode::kPem ? "pem" : "none") + "); policy " +
           options.policy + " (" + std::to_string(policy.rules.size()) + " rule entries, " +
           std::to_string(policy.groups.size()) + " groups)");
  WarnIfEveryClientIsRefused(authorizer, *store.value());
  store.value()->StartWatching();

  const timespec poll{0, std::chrono::nanoseconds(kEventPoll).count()};
  while (true) {
    const int signal = sigtimedwait(&signals, nullptr, &poll);
    ReportReloads(*store.value(), authorizer);
    if (signal == SIGHUP) {
      LogEvent("SIGHUP: reloading the policy");
      store.value()->RequestReload();
      if (audit) {
        if (auto reopened = audit->Reopen(); !reopened) LogEvent(reopened.error().message);
      }
    } else if (signal == SIGTERM || signal == SIGINT) {
      LogEvent(std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT") + ": shutting down");
      break;
    }
  }
  server.value()->Shutdown(kShutdownGrace);
  store.value()->StopWatching();
  LogEvent("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.server.threads =
      static_cast<int>(std::max(2u, std::min(16u, std::thread::hardware_concurrency())));
  CLI::App app{"certguard-exhook: certguard's certificate-based authorization for EMQX (ExHook)"};
  app.add_option("--policy", options.policy, "policy file (YAML, version 1)")->required();
  app.add_option("--listen", options.server.listen, "HOST:PORT to serve gRPC on")->required();
  const std::map<std::string, PeerCertMode> modes{{"none", PeerCertMode::kNone},
                                                  {"pem", PeerCertMode::kPem}};
  app.add_option("--peer-cert", options.peer_cert,
                 "pem: EMQX runs with mqtt.peer_cert_as_username = pem, read the certificate "
                 "from the username; none (default): only the CN and DN")
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case));
  app.add_option("--tls-cert", options.server.tls_cert, "serve TLS with this certificate (PEM)");
  app.add_option("--tls-key", options.server.tls_key, "the key of --tls-cert (PEM)");
  app.add_option("--tls-ca", options.server.tls_ca,
                 "require EMQX to present a client certificate signed by this CA (mutual TLS)");
  app.add_option("--audit", options.audit, "append one JSON line per denial to this file");
  app.add_option("--threads", options.server.threads, "gRPC worker threads")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  return Run(options);
}
