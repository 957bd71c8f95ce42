// Memory: what certguard adds per connected client, and what a 100,000-device policy costs.
//
// Per client, two ways:
//  - in the broker: 10,000 TLS clients connect (raw OpenSSL clients that keep only a socket each)
//    to a broker without the plugin (use_identity_as_username) and to one with certguard; the
//    broker's RSS growth per client with the plugin minus without it is the plugin's share;
//  - in this process: the plugin's own structures (ClientRegistry of ClientState, as
//    OnBasicAuth builds them from the same certificates), counted with mallinfo2 (heap bytes in
//    use, malloc overhead included) and by sizeof.
// Policy: heap bytes and RSS of a loaded 100,000-device policy snapshot (in this process), and the
// broker's RSS with it against the example policy.
//
// Usage: memory_bench [--clients N]
#include <malloc.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/bench_support.h"
#include "bench/support/raw_mqtt.h"
#include "mosquitto-plugin/client_registry.h"
#include "shared/certificate_info.h"
#include "shared/policy_snapshot.h"
#include "tests/support/file_limit.h"
#include "tests/support/mosquitto_broker.h"

namespace {

using namespace certguard::bench;
using certguard::CertificateInfo;
using certguard::DeviceSession;
using certguard::PolicySnapshot;
using certguard::mosquitto_plugin::ClientRegistry;
using certguard::mosquitto_plugin::ClientState;
using certguard::testing::BrokerOptions;
using certguard::testing::MosquittoBroker;

constexpr int kFleetDevices = 100'000;
constexpr size_t kTargetBytesPerClient = 512;

size_t HeapInUse() { return mallinfo2().uordblks; }

// Broker RSS with `clients` connected, minus before they connected. Returns bytes per client.
double BrokerBytesPerClient(const std::string& name, const BrokerOptions& options,
                            const TlsClientContext& tls,
                            const std::vector<ClientIdentity>& identities, size_t* rss_idle,
                            size_t* rss_full) {
  MosquittoBroker broker(options);
  StartOrDie(broker, name);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  *rss_idle = ProcessRssBytes(broker.pid());
  IdleConnections connections;
  std::string error;
  const auto start = Clock::now();
  if (!connections.Open(tls, identities, broker.port(), 4, &error)) {
    Fail(name + ": " + error + "\n" + broker.Log().substr(0, 4000));
  }
  const double seconds = SecondsSince(start);
  // Let the broker read whatever is still in flight (session tickets acknowledged, ...).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  if (!broker.IsRunning()) Fail(name + ": the broker died\n" + broker.Log());
  *rss_full = ProcessRssBytes(broker.pid());
  const double per_client = (static_cast<double>(*rss_full) - static_cast<double>(*rss_idle)) /
                            static_cast<double>(identities.size());
  std::printf(
      "  %-36s RSS %7.1f MB idle -> %7.1f MB with %zu clients: %6.0f bytes/client "
      "(connected in %.1f s)\n",
      name.c_str(), *rss_idle / 1e6, *rss_full / 1e6, identities.size(), per_client, seconds);
  connections.CloseAll();
  broker.Stop();
  return per_client;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens under bench.sh
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int clients = 10'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--clients") == 0) clients = std::atoi(argv[i + 1]);
  }
  if (const rlim_t files = certguard::testing::RaiseFileLimit();
      files != 0 && files < static_cast<rlim_t>(clients) + 200) {
    Fail(Format("open file limit %llu is too low for %d clients (ulimit -n)",
                static_cast<unsigned long long>(files), clients));
  }
  std::printf("memory: %d clients; load average %s\n", clients, LoadAverage().c_str());

  BenchPki pki;
  std::vector<ClientIdentity> identities;
  std::vector<std::shared_ptr<X509>> certificates;
  identities.reserve(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) {
    const std::string id = "sensor-" + std::to_string(i);
    const auto issued = pki.ca().Issue(certguard::testing::WithCn(id));
    identities.emplace_back(id, issued.cert_pem, issued.key_pem);
    certificates.push_back(issued.x509);
  }
  const std::vector<std::string> few_revoked = RevokedSerials(10);
  const std::string example = WritePolicyDir(pki, "example", ExamplePolicyText(), few_revoked);
  const std::string fleet = WritePolicyDir(
      pki, "fleet", WithDeviceRules(ExamplePolicyText(), kFleetDevices), few_revoked);

  // --- The plugin's structures, in this process. ---
  std::printf(
      "plugin structures (this process): sizeof ClientState %zu, CertificateInfo %zu, "
      "DeviceSession %zu, registry node ~%zu\n",
      sizeof(ClientState), sizeof(CertificateInfo), sizeof(DeviceSession),
      sizeof(std::pair<const std::string, ClientState>) + 2 * sizeof(void*));
  double heap_per_client = 0;
  double grant_per_client = 0;
  {
    auto snapshot = PolicySnapshot::Load(example);
    if (!snapshot) Fail(snapshot.error().message);
    ClientRegistry registry;
    const size_t before = HeapInUse();
    const int64_t now = std::time(nullptr);
    for (int i = 0; i < clients; ++i) {
      auto info = CertificateInfo::FromX509(certificates[static_cast<size_t>(i)].get());
      if (!info) Fail(info.error().message);
      DeviceSession session;
      const std::string& id = identities[static_cast<size_t>(i)].client_id();
      const auto decision = (*snapshot)->AuthorizeConnect(&info.value(), id, now, &session);
      if (!decision.allowed) Fail(id + ": " + decision.Explain());
      // As OnBasicAuth keeps it: the broker's certificate object (one more reference, no copy:
      // the X509s here were made before counting), two dates and the session.
      ClientState state;
      X509_up_ref(certificates[static_cast<size_t>(i)].get());
      state.certificate.reset(certificates[static_cast<size_t>(i)].get());
      state.not_before = info->not_before;
      state.valid_until = info->not_after;
      state.session = std::move(session);
      // A distinct address per client stands in for the broker's connection, which the registry
      // indexes (its entries count here too).
      state.connection =
          reinterpret_cast<const struct mosquitto*>(&identities[static_cast<size_t>(i)]);
      registry.Put(id, std::move(state));
    }
    heap_per_client = static_cast<double>(HeapInUse() - before) / clients;
    std::printf(
        "  heap in use per client (ClientRegistry entry with its DeviceSession, malloc "
        "overhead): %.0f bytes\n",
        heap_per_client);
    // Most devices subscribe to their commands: what the grant of that subscription adds, as
    // OnAclCheck keeps it (the broker's own subscription record is not counted here).
    const size_t before_grants = HeapInUse();
    for (int i = 0; i < clients; ++i) {
      const std::string& id = identities[static_cast<size_t>(i)].client_id();
      ClientState* state = registry.Find(id);
      state->grants.Grant(1, "devices/" + id + "/commands/#");
    }
    grant_per_client = static_cast<double>(HeapInUse() - before_grants) / clients;
    std::printf("  with each client's commands subscription granted: +%.0f bytes per client\n",
                grant_per_client);
  }

  // --- The broker, with and without the plugin. ---
  TlsClientContext tls(pki.ca_path());
  BrokerOptions plain = TlsBrokerOptions(pki);
  plain.use_identity_as_username = true;
  size_t idle_plain = 0, full_plain = 0, idle_plugin = 0, full_plugin = 0;
  std::printf("broker RSS:\n");
  const double plain_per_client =
      BrokerBytesPerClient("no plugin", plain, tls, identities, &idle_plain, &full_plain);
  const double plugin_per_client =
      BrokerBytesPerClient("certguard (example policy)", CertguardBrokerOptions(pki, example), tls,
                           identities, &idle_plugin, &full_plugin);
  const double plugin_share = plugin_per_client - plain_per_client;
  std::printf("  the plugin's share: %.0f bytes per connected client\n", plugin_share);

  // --- A 100,000-device policy. ---
  size_t policy_heap = 0, policy_rss = 0;
  {
    malloc_trim(0);
    const size_t heap_before = HeapInUse();
    const size_t rss_before = ProcessRssBytes(::getpid());
    auto snapshot = PolicySnapshot::Load(fleet);
    if (!snapshot) Fail(snapshot.error().message);
    malloc_trim(0);  // as the adapters' PolicyStore does after every load
    policy_heap = HeapInUse() - heap_before;
    policy_rss = ProcessRssBytes(::getpid()) - rss_before;
  }
  size_t broker_example = 0, broker_fleet = 0, broker_fleet_peak = 0;
  {
    MosquittoBroker with_example(CertguardBrokerOptions(pki, example));
    StartOrDie(with_example, "broker, example policy");
    BrokerOptions fleet_options = CertguardBrokerOptions(pki, fleet);
    fleet_options.start_timeout = std::chrono::milliseconds(120000);
    MosquittoBroker with_fleet(fleet_options);
    StartOrDie(with_fleet, "broker, 100k-device policy");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    broker_example = ProcessRssBytes(with_example.pid());
    broker_fleet = ProcessRssBytes(with_fleet.pid());
    broker_fleet_peak = ProcessPeakRssBytes(with_fleet.pid());
  }
  std::printf(
      "100,000-device policy: %.1f MB heap, %.1f MB RSS in this process; broker RSS "
      "%.1f MB with it vs %.1f MB with the example policy (+%.1f MB), its peak while loading "
      "%.1f MB\n",
      policy_heap / 1e6, policy_rss / 1e6, broker_fleet / 1e6, broker_example / 1e6,
      (static_cast<double>(broker_fleet) - static_cast<double>(broker_example)) / 1e6,
      broker_fleet_peak / 1e6);
  std::printf("load average now %s\n", LoadAverage().c_str());

  Summary("5 plugin state per connected client (broker RSS, 10k clients)",
          Format("%.0f bytes (RSS/client %.0f with, %.0f without)", plugin_share, plugin_per_client,
                 plain_per_client),
          "<= 512 bytes", plugin_share <= kTargetBytesPerClient ? "pass" : "MISS");
  Summary("5 plugin state per client (its structures, heap)", Format("%.0f bytes", heap_per_client),
          "<= 512 bytes", heap_per_client <= kTargetBytesPerClient ? "pass" : "MISS");
  Summary("5 plugin state per client with its commands subscription (its structures, heap)",
          Format("%.0f bytes (+%.0f for the subscription's grant)",
                 heap_per_client + grant_per_client, grant_per_client),
          "-", "info");
  Summary(
      "5 100k-device policy memory",
      Format("%.1f MB heap, broker RSS +%.1f MB (peak while loading %.1f MB)", policy_heap / 1e6,
             (static_cast<double>(broker_fleet) - static_cast<double>(broker_example)) / 1e6,
             broker_fleet_peak / 1e6),
      "-", "info");
  return 0;
}
