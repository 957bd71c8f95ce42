#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mosquitto-plugin/client_registry.h"
#include "mosquitto-plugin/recheck_horizon.h"
#include "mosquitto-plugin/snapshot_reaper.h"
#include "mosquitto-plugin/sweep_pacer.h"
#include "shared/audit_log.h"
#include "shared/policy_store.h"
#include "shared/warnings_logged.h"

struct mosquitto;

namespace certguard::mosquitto_plugin {

// The adapter: one method per broker event, each translating the event into a core call and the
// core's answer back. Everything runs on the broker's thread except the PolicyStore's watcher,
// which only builds snapshots.
class CertguardPlugin {
 public:
  struct Options {
    std::string policy_path;
    std::string audit_path;  // empty: no audit log
  };

  // Loads the policy; an Error stops the broker from starting.
  static Result<std::unique_ptr<CertguardPlugin>> Create(const Options& options);

  // MOSQ_ERR_SUCCESS or MOSQ_ERR_AUTH.
  int OnBasicAuth(struct mosquitto* client);
  // MOSQ_ERR_SUCCESS or MOSQ_ERR_ACL_DENIED.
  int OnAclCheck(struct mosquitto* client, const char* topic, int access);
  // SIGHUP: reload the policy (off this thread) and reopen the audit log.
  void OnReload();
  // Every main-loop pass: apply a new snapshot, disconnect clients it no longer admits, and
  // re-check revocation and dates as time passes.
  void OnTick();
  void OnDisconnect(struct mosquitto* client);

  size_t client_count() const { return clients_.size(); }

 private:
  CertguardPlugin(Options options, std::unique_ptr<PolicyStore> store,
                  std::unique_ptr<AuditLog> audit);

  // Re-authorises one client against `snapshot_`; refuses it when the snapshot no longer
  // admits it. Returns false when refused.
  bool Rebind(const std::string& client_id, ClientState& state, int64_t now);
  // Keeps the subscriptions `state` was granted that its session, under snapshot_, still allows.
  void ReproveGrants(ClientState& state);
  // Starts a sweep over every known client (a walk over the registry's buckets, which clients
  // may join and leave between its steps): after a snapshot swap, and at most once a second
  // while horizon_ does not hold.
  void StartSweep();
  // Works through the sweep from `start` for at most kSweepBudget, so no tick holds up message
  // delivery for long (and sweep_pacer_ then makes it rest): each client is rebound to the
  // current snapshot if needed, then its revocation and dates are re-checked.
  void ContinueSweep(int64_t now, std::chrono::steady_clock::time_point start);
  // Records until when `certificate`'s revocation and date checks keep answering as they just
  // did at `now`, in `state` and in horizon_.
  void SetValidity(ClientState& state, const CertificateInfo& certificate, int64_t now);
  void Refuse(const std::string& client_id, ClientState& state, const Decision& why);
  // Logs a warning that an allowing decision carried (`stale_crl: warn`) the first time it is
  // seen: a stale CRL warns for every client of its issuer that connects or is re-checked. An
  // empty warning (the usual case) logs nothing.
  void WarnOnce(std::string_view warning);
  void Audit(std::string_view client_id, std::string_view device_id, Action action,
             std::string_view topic, const Decision& decision);

  Options options_;
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<AuditLog> audit_;
  SnapshotReaper reaper_;                           // before the snapshot holders: it outlives them
  std::shared_ptr<const PolicySnapshot> snapshot_;  // the one this thread decides with
  // Changes with every snapshot_ (never repeats, unlike an address): what RecentAllow keys on.
  uint64_t snapshot_serial_ = 1;
  ClientRegistry clients_;
  std::vector<std::string> to_kick_;
  std::vector<std::string> to_forget_;  // client ids whose state ended; see ClientState::ended
  ClientRegistry::Walk sweep_;          // the sweep under way, if any
  int64_t next_sweep_ = 0;
  RecheckHorizon horizon_;        // while it holds, a sweep would only skip every client
  SweepPacer sweep_pacer_;        // when the sweep under way may next use the broker's thread
  uint64_t seen_generation_ = 0;  // the store's generation when OnTick last looked at it
  int64_t store_checked_at_ = 0;  // and when (Unix seconds)
  // The broker thread's CPU time spent on the last reload, logged once its sweep is done.
  struct ReloadCost {
    bool active = false;
    uint64_t generation = 0;
    size_t clients = 0;
    int64_t busy_ns = 0;
    int64_t longest_tick_ns = 0;
    int64_t longest_tick_wall_ns = 0;
    std::chrono::steady_clock::time_point swapped_at;  // the sweep's span, paced by sweep_pacer_
  } reload_cost_;
  bool warned_unknown_client_ = false;
  WarningsLogged warned_;
};

}  // namespace certguard::mosquitto_plugin
