// mosquitto_broker.h must come first: in 2.0.11 mosquitto_plugin.h does not include it.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "mosquitto-plugin/certguard_plugin.h"
#include "shared/background_thread.h"

namespace certguard::mosquitto_plugin {
namespace {

// How often revocation and validity dates are re-checked for connected clients when no file has
// changed: a CRL goes stale and a certificate expires with time alone.
constexpr int64_t kRecheckIntervalSeconds = 1;
// The most a tick spends re-checking clients before it lets the broker deliver messages again,
// and how many times as long the sweep then rests (SweepPacer): at most a quarter of the broker
// thread's time.
constexpr auto kSweepBudget = std::chrono::microseconds(1000);
constexpr int kSweepRestPerBusy = 3;

// CPU time of the calling thread: what the broker's thread spent, whatever else the machine ran.
int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view ClientIdOf(const struct mosquitto* client) {
  const char* id = mosquitto_client_id(client);
  return id == nullptr ? std::string_view() : std::string_view(id);
}

// The certificate as certguard reads it, or the reason it cannot.
Result<CertificateInfo> InfoOf(X509* certificate) {
  if (certificate == nullptr) return Error{"no client certificate"};
  return CertificateInfo::FromX509(certificate);  // takes its own reference
}

}  // namespace

Result<std::unique_ptr<CertguardPlugin>> CertguardPlugin::Create(const Options& options) {
  if (options.policy_path.empty()) {
    return Error{"plugin_opt_policy is required (the certguard policy file)"};
  }
  // Loaded on a thread of its own, as every later snapshot is by the watcher: glibc then keeps
  // the snapshot's memory out of the main arena, which the broker's thread allocates from. When
  // a large snapshot is freed, its small blocks go to their arena's fastbins, and the next large
  // allocation from that arena consolidates them all at once: in the main arena that was a
  // delivery stall of over a second after a reload of a 100,000-device policy
  // (bench/reload_stall_bench).
  std::unique_ptr<PolicyStore> store;
  std::optional<Error> error;
  std::thread([&] {
    NameThisThread("certguard-load");
    // The reaper trims after it frees each replaced snapshot, which also returns what the load
    // left behind.
    auto opened =
        PolicyStore::Open(options.policy_path, PolicyStore::FreedMemory::kReturnedByCaller);
    if (opened) {
      store = std::move(opened).value();
    } else {
      error = opened.error();
    }
  }).join();
  if (!store) return *error;
  std::unique_ptr<AuditLog> audit;
  if (!options.audit_path.empty()) {
    auto opened = AuditLog::Open(options.audit_path);
    if (!opened) return opened.error();
    audit = std::move(opened).value();
  }
  return std::unique_ptr<CertguardPlugin>(
      new CertguardPlugin(options, std::move(store), std::move(audit)));
}

CertguardPlugin::CertguardPlugin(Options options, std::unique_ptr<PolicyStore> store,
                                 std::unique_ptr<AuditLog> audit)
    : options_(std::move(options)),
      store_(std::move(store)),
      audit_(std::move(audit)),
      sweep_pacer_(kSweepBudget, kSweepRestPerBusy) {
  snapshot_ = store_->current();
  store_->StartWatching();
  const auto& policy = snapshot_->policy();
  mosquitto_log_printf(MOSQ_LOG_NOTICE,
                       "certguard: policy %s loaded (%zu rule entries, %zu groups); "
                       "checking for changes every %lld ms",
                       options_.policy_path.c_str(), policy.rules.size(), policy.groups.size(),
                       static_cast<long long>(policy.refresh.count()));
}

void CertguardPlugin::Audit(std::string_view client_id, std::string_view device_id, Action action,
                            std::string_view topic, const Decision& decision) {
  if (audit_) audit_->Record(client_id, device_id, action, topic, decision);
}

int CertguardPlugin::OnBasicAuth(struct mosquitto* client) {
  const std::string client_id(ClientIdOf(client));
  // Each mosquitto_client_certificate() call returns a new reference: ask once.
  std::unique_ptr<X509, X509Deleter> peer(static_cast<X509*>(mosquitto_client_certificate(client)));
  const auto certificate = InfoOf(peer.get());
  const int64_t now = std::time(nullptr);
  Decision decision;
  DeviceSession session;
  if (!certificate) {
    decision = Decision::Deny(peer ? Reason::kCertificateRefused : Reason::kNoCertificate,
                              certificate.error().message);
  } else {
    decision = snapshot_->AuthorizeConnect(&certificate.value(), client_id, now, &session);
  }
  if (!decision.allowed) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "certguard: refused client \"%s\" from %s: %s",
                         client_id.c_str(), mosquitto_client_address(client),
                         decision.Explain().c_str());
    Audit(client_id, "", Action::kConnect, "", decision);
    return MOSQ_ERR_AUTH;
  }
  // Policies and ACLs downstream (and the broker's logs) see the device id as the username.
  if (mosquitto_set_username(client, session.device_id.c_str()) != MOSQ_ERR_SUCCESS) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "certguard: could not set username for \"%s\"",
                         client_id.c_str());
    return MOSQ_ERR_AUTH;
  }
  mosquitto_log_printf(MOSQ_LOG_INFO, "certguard: client \"%s\" is device \"%s\"",
                       client_id.c_str(), session.device_id.c_str());
  WarnOnce(ConnectWarning(decision));
  ClientState state;
  state.connection = client;
  state.certificate = std::move(peer);
  SetValidity(state, *certificate, now);
  state.session = std::move(session);
  // The broker keeps the subscriptions of a durable session, and of a connection it
  // authenticates again (SIGHUP), and the client does not send them again: keep what they prove,
  // proved again for the new session.
  if (ClientState* previous = clients_.Find(client_id);
      previous != nullptr && !previous->grants.empty() &&
      (previous->connection == client || !mosquitto_client_clean_session(client))) {
    state.grants = std::move(previous->grants);
    ReproveGrants(state);
  }
  clients_.Put(client_id, std::move(state));
  return MOSQ_ERR_SUCCESS;
}

int CertguardPlugin::OnAclCheck(struct mosquitto* client, const char* topic, int access) {
  Action action;
  switch (access) {
    case MOSQ_ACL_UNSUBSCRIBE:
      // Always allowed, and the subscription's grant is no longer needed.
      if (ClientState* state = clients_.Find(client, ClientIdOf(client));
          state != nullptr && topic != nullptr) {
        state->grants.Forget(topic);
      }
      return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_WRITE:
      action = Action::kPublish;
      break;
    case MOSQ_ACL_SUBSCRIBE:
      action = Action::kSubscribe;
      break;
    case MOSQ_ACL_READ:
      action = Action::kReceive;
      break;
    default:
      return MOSQ_ERR_ACL_DENIED;
  }
  const std::string_view client_id = ClientIdOf(client);
  const std::string_view topic_view = topic == nullptr ? std::string_view() : topic;
  ClientState* state = clients_.Find(client, client_id);
  if (state == nullptr) {
    // A client certguard never admitted: BASIC_AUTH was skipped (use_identity_as_username on
    // its listener) or another plugin admitted it. Fail closed.
    if (!warned_unknown_client_) {
      warned_unknown_client_ = true;
      mosquitto_log_printf(MOSQ_LOG_WARNING,
                           "certguard: client \"%.*s\" has no identity admitted by "
                           "certguard; denying all its actions (is use_identity_as_username or "
                           "use_subject_as_username set on its listener? or is it an MQTT v5 "
                           "session kept after a clean-start connection ended? use clean start "
                           "false for durable sessions)",
                           static_cast<int>(client_id.size()), client_id.data());
    }
    Audit(client_id, "", action, topic_view,
          Decision::Deny(Reason::kStaleSession, "client not authenticated by certguard"));
    return MOSQ_ERR_ACL_DENIED;
  }
  if (state->refused) {
    Audit(client_id, state->session.device_id, action, topic_view,
          Decision::Deny(Reason::kRevoked, "client was refused by a policy change"));
    return MOSQ_ERR_ACL_DENIED;
  }
  if (state->session.snapshot != snapshot_ &&
      !Rebind(std::string(client_id), *state, std::time(nullptr))) {
    Audit(client_id, state->session.device_id, action, topic_view,
          Decision::Deny(Reason::kRevoked, "client was refused by a policy change"));
    return MOSQ_ERR_ACL_DENIED;
  }
  // A delivery through a subscription this snapshot allowed is allowed (ReceiveGrants). That is
  // nearly every delivery, and a subscriber's deliveries mostly come from different devices'
  // topics: the grants answer first, and RecentAllow keeps to what they do not cover.
  if (action == Action::kReceive && state->grants.Cover(snapshot_serial_, topic_view)) {
    return MOSQ_ERR_SUCCESS;
  }
  const bool repeatable = action != Action::kSubscribe;  // a SUBSCRIBE is rare: keep the entry
  if (repeatable && state->recent_allow.Holds(snapshot_serial_, action, topic_view)) {
    return MOSQ_ERR_SUCCESS;
  }
  const Decision decision = snapshot_->Authorize(state->session, action, topic_view);
  if (decision.allowed) {
    if (repeatable) {
      state->recent_allow.Remember(snapshot_serial_, action, topic_view);
    } else {
      state->grants.Grant(snapshot_serial_, topic_view);
    }
    return MOSQ_ERR_SUCCESS;
  }
  Audit(client_id, state->session.device_id, action, topic_view, decision);
  return MOSQ_ERR_ACL_DENIED;
}

void CertguardPlugin::OnReload() {
  store_->RequestReload();
  if (audit_) {
    if (auto reopened = audit_->Reopen(); !reopened) {
      mosquitto_log_printf(MOSQ_LOG_WARNING, "certguard: %s", reopened.error().message.c_str());
    }
  }
}

void CertguardPlugin::OnTick() {
  // Sessions that ended before this tick: their Will has been checked by now. A client that
  // reconnected meanwhile has a fresh state, which is not `ended`.
  // (Each step tests for work first: the broker ticks once per pass of its loop, which is once
  // per message under a light load, and an empty vector swapped and freed is not free.)
  if (!to_forget_.empty()) {
    for (const std::string& client_id : std::exchange(to_forget_, {})) {
      if (const ClientState* state = clients_.Find(client_id); state != nullptr && state->ended) {
        clients_.Erase(client_id);
      }
    }
  }
  const int64_t now = std::time(nullptr);
  // The broker ticks on every pass of its loop, thousands of times a second under load: look at
  // the store (two mutexes and a reference count) only when it has swapped in a snapshot, and
  // for rejected reloads once a second.
  const uint64_t generation = store_->generation();
  // Ticks that swap a snapshot in or re-check clients for it are timed in the broker thread's CPU
  // time: how long a reload can hold up delivery, as the log then says, free of the machine's
  // scheduling noise (bench/reload_stall_bench reads it).
  const bool timed = reload_cost_.active || generation != seen_generation_;
  const int64_t tick_began = timed ? ThreadCpuNs() : 0;
  const auto tick_began_wall =
      timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  if (generation != seen_generation_ || now != store_checked_at_) {
    seen_generation_ = generation;
    store_checked_at_ = now;
    for (const ReloadEvent& event : store_->TakeEvents()) {
      if (event.kind == ReloadEvent::Kind::kRejected) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "certguard: policy change rejected, the previous policy stays in "
                             "force: %s",
                             event.message.c_str());
      }
    }
    if (auto current = store_->current(); current != snapshot_) {
      // From here on every decision uses the new snapshot: a client still bound to the old one
      // is rebound on its next check, and the sweep reaches the idle ones.
      reaper_.Retire(std::exchange(snapshot_, std::move(current)));
      ++snapshot_serial_;  // every client's RecentAllow is now void
      mosquitto_log_printf(MOSQ_LOG_NOTICE,
                           "certguard: policy reloaded (generation %llu); re-checking %zu clients",
                           static_cast<unsigned long long>(store_->generation()), clients_.size());
      reload_cost_ = {true, store_->generation(), clients_.size(), 0, 0, 0, tick_began_wall};
      StartSweep();
    }
  }
  if (!sweep_.under_way && now >= next_sweep_ && !horizon_.Holds(now)) StartSweep();
  if (sweep_.under_way) {
    // The clock is read only while a sweep is under way: this runs after every message.
    if (const auto wall = std::chrono::steady_clock::now(); sweep_pacer_.MayRun(wall)) {
      ContinueSweep(now, wall);
    }
  }
  if (timed && reload_cost_.active) {
    const int64_t spent = ThreadCpuNs() - tick_began;
    reload_cost_.busy_ns += spent;
    reload_cost_.longest_tick_ns = std::max(reload_cost_.longest_tick_ns, spent);
    // Wall time too: a tick that waits (on a lock, for a core) holds delivery up without CPU.
    reload_cost_.longest_tick_wall_ns = std::max(
        reload_cost_.longest_tick_wall_ns,
        static_cast<int64_t>(
            std::chrono::nanoseconds(std::chrono::steady_clock::now() - tick_began_wall).count()));
    if (!sweep_.under_way) {
      reload_cost_.active = false;
      mosquitto_log_printf(MOSQ_LOG_NOTICE,
                           "certguard: generation %llu re-checked %zu clients in %.2f ms of the "
                           "broker thread's time, the longest tick %.2f ms (%.2f ms wall), "
                           "over %.1f ms",
                           static_cast<unsigned long long>(reload_cost_.generation),
                           reload_cost_.clients, static_cast<double>(reload_cost_.busy_ns) / 1e6,
                           static_cast<double>(reload_cost_.longest_tick_ns) / 1e6,
                           static_cast<double>(reload_cost_.longest_tick_wall_ns) / 1e6,
                           std::chrono::duration<double, std::milli>(
                               std::chrono::steady_clock::now() - reload_cost_.swapped_at)
                               .count());
    }
  }
  reaper_.Collect();
  // Kicking runs our DISCONNECT callback inside the call, which may erase the client's state:
  // kick only after every loop over the registry is finished, and by id, never by reference.
  if (to_kick_.empty()) return;
  for (const std::string& client_id : std::exchange(to_kick_, {})) {
    mosquitto_kick_client_by_clientid(client_id.c_str(), false);
  }
}

void CertguardPlugin::StartSweep() {
  sweep_ = clients_.BeginWalk();
  horizon_.BeginPass();
  next_sweep_ = std::time(nullptr) + kRecheckIntervalSeconds;
}

void CertguardPlugin::ContinueSweep(int64_t now, std::chrono::steady_clock::time_point start) {
  const auto deadline = sweep_pacer_.Deadline(start);
  size_t visited = 0;
  bool costly = false;
  const auto visit = [&](const std::string& client_id, ClientState& state) {
    ++visited;
    if (state.refused || state.ended) return;
    if (state.session.snapshot != snapshot_) {
      Rebind(client_id, state, now);
      costly = true;
      return;  // a rebind re-checks revocation and dates too
    }
    if (now >= state.not_before && now <= state.valid_until) {
      horizon_.Narrow(state.not_before, state.valid_until);
      return;
    }
    costly = true;
    const auto certificate = InfoOf(state.certificate.get());
    if (!certificate) {
      Refuse(client_id, state,
             Decision::Deny(Reason::kCertificateRefused, certificate.error().message));
      return;
    }
    const Decision still = snapshot_->CheckStillValid(*certificate, state.session.device_id, now);
    if (!still.allowed) {
      Refuse(client_id, state, still);
      return;
    }
    WarnOnce(still.detail);
    SetValidity(state, *certificate, now);
  };
  while (clients_.VisitNextBucket(sweep_, visit)) {
    // Reading the clock costs more than skipping clients whose answer cannot have changed: look
    // at it every few dozen. A rebind or a re-check costs a hundred times more (parsing the
    // certificate, and with require_issuer verifying its signature): look after each, or 32 of
    // them hold up delivery for 3-4 ms (bench/reload_stall_bench).
    if (std::exchange(costly, false) || visited >= 32) {
      visited = 0;
      if (const auto at = std::chrono::steady_clock::now(); at > deadline) {
        sweep_pacer_.SliceEnded(start, at);
        return;
      }
    }
  }
  horizon_.FinishPass();
  sweep_pacer_.SweepFinished();
}

void CertguardPlugin::SetValidity(ClientState& state, const CertificateInfo& certificate,
                                  int64_t now) {
  state.not_before = certificate.not_before;
  state.valid_until = snapshot_->StillValidUntil(certificate, now);
  horizon_.Narrow(state.not_before, state.valid_until);
}

void CertguardPlugin::WarnOnce(std::string_view warning) {
  if (warning.empty() || !warned_.FirstTime(warning)) return;
  mosquitto_log_printf(MOSQ_LOG_WARNING, "certguard: warning: %.*s; clients are still admitted",
                       static_cast<int>(warning.size()), warning.data());
}

void CertguardPlugin::Refuse(const std::string& client_id, ClientState& state,
                             const Decision& why) {
  if (state.refused) return;
  state.refused = true;
  mosquitto_log_printf(MOSQ_LOG_NOTICE,
                       "certguard: disconnecting client \"%s\" (device \"%s\"): %s",
                       client_id.c_str(), state.session.device_id.c_str(), why.Explain().c_str());
  Audit(client_id, state.session.device_id, Action::kConnect, "", why);
  if (state.connection != nullptr) to_kick_.push_back(client_id);
}

bool CertguardPlugin::Rebind(const std::string& client_id, ClientState& state, int64_t now) {
  DeviceSession session;
  const auto certificate = InfoOf(state.certificate.get());
  const Decision decision =
      certificate ? snapshot_->AuthorizeConnect(&certificate.value(), client_id, now, &session)
                  : Decision::Deny(Reason::kCertificateRefused, certificate.error().message);
  if (!decision.allowed) {
    Refuse(client_id, state, decision);
    return false;
  }
  if (session.device_id != state.session.device_id) {
    // The broker knows the client by its old id (its username): it must reconnect.
    Refuse(
        client_id, state,
        Decision::Deny(Reason::kNoIdentity, "device id changed from \"" + state.session.device_id +
                                                "\" to \"" + session.device_id + "\""));
    return false;
  }
  // The new snapshot may hold a CRL that is already stale under `stale_crl: warn`: say so now,
  // as a connect would, since nothing re-checks this client before its notAfter.
  WarnOnce(ConnectWarning(decision));
  state.session = std::move(session);
  state.recent_allow.Forget();
  ReproveGrants(state);
  SetValidity(state, *certificate, now);
  return true;
}

void CertguardPlugin::ReproveGrants(ClientState& state) {
  state.grants.Reprove(snapshot_serial_, [&](std::string_view subscription) {
    return snapshot_->Authorize(state.session, Action::kSubscribe, subscription).allowed;
  });
}

void CertguardPlugin::OnDisconnect(struct mosquitto* client) {
  const std::string_view client_id = ClientIdOf(client);
  ClientState* state = clients_.Find(client, client_id);
  // A takeover authenticates the new connection before the old one goes: leave the new state.
  if (state == nullptr || state->connection != client) return;
  // Durable session: deliveries to it are still checked while it is offline.
  clients_.Detach(*state);
  if (mosquitto_client_clean_session(client)) {
    // Mosquitto 2.0 runs this callback *before* it publishes the client's Will, whose topic it
    // then checks with us (WRITE): forgetting the client here would deny every Will. Forget it
    // at the next tick. (An MQTT v5 client with clean start and a session expiry interval keeps
    // its session too, but the 2.0 plugin API does not show the interval: such a session is
    // forgotten like this one, and deliveries queued for it are denied.)
    state->ended = true;
    to_forget_.emplace_back(client_id);
  }
}

}  // namespace certguard::mosquitto_plugin
