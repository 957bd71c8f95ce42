// TLS connect rate through Mosquitto (TLS 1.3, EC P-256 client certificates, loopback): each
// connection is a full handshake (no resumption), CONNECT, CONNACK, DISCONNECT. Sequential (one
// client at a time) and 16 concurrent clients, for
//   A  no plugin (use_identity_as_username): the baseline
//   B  certguard with the example policy whose CRL lists 100,000 revoked serials
//   C  no plugin, the broker's own `crlfile` with the same 100,000 serials (for comparison)
//   B' as B, but every connection is by a device never seen before (certguard remembers the
//      certificates whose signature it verified; this is the cost without that)
// The figure that decides is the broker's CPU time per connection (its threads' run time from
// /proc, see ProcessCpuSeconds); connections/s are printed beside it. Configurations are
// interleaved round by round and ratios are medians of per-round ratios.
//
// Usage: mosquitto_connect_bench [--rounds N] [--connections N]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/bench_support.h"
#include "bench/support/raw_mqtt.h"
#include "tests/support/mosquitto_broker.h"

namespace {

using namespace certguard::bench;
using certguard::testing::BrokerOptions;
using certguard::testing::MosquittoBroker;

constexpr int kRevokedSerials = 100'000;
constexpr int kConcurrency = 16;
// Distinct devices: connection i uses device i % kDevices, and concurrent clients never share
// one (each thread owns the devices congruent to it), so no connection takes another's session.
constexpr int kDevices = 64;

struct Config {
  std::string name;
  std::unique_ptr<MosquittoBroker> broker;
  // Every connection by a device never seen before (a reconnect storm after a restart, or a
  // fleet growing), instead of the same 64 devices reconnecting: certguard remembers a
  // certificate whose signature it has verified, and this shows the cost without that.
  bool fresh_devices = false;
  std::vector<double> cpu_ms[2];  // [sequential, concurrent]
  std::vector<double> rate[2];
};

// Opens and closes `count` connections from `threads` threads; returns {broker CPU ms per
// connection, connections per second}.
std::pair<double, double> RunRound(Config& config, const TlsClientContext& tls,
                                   const std::vector<ClientIdentity>& devices,
                                   const std::vector<ClientIdentity>& fresh,
                                   std::atomic<size_t>& fresh_used, int threads, int count) {
  const pid_t pid = config.broker->pid();
  const int port = config.broker->port();
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex error_mutex;
  const double cpu_before = ProcessCpuSeconds(pid);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const int share = count / threads + (t < count % threads ? 1 : 0);
      for (int i = 0; i < share && !failed.load(); ++i) {
        const ClientIdentity* device =
            &devices[static_cast<size_t>(t + (i * threads) % kDevices) % devices.size()];
        if (config.fresh_devices) {
          const size_t next = fresh_used++;
          if (next >= fresh.size()) {
            std::lock_guard lock(error_mutex);
            if (!failed.exchange(true)) error = "out of new devices";
            break;
          }
          device = &fresh[next];
        }
        MqttTlsConnection connection;
        std::string why;
        const int rc = MqttTlsConnect(tls, *device, port, &connection, &why);
        if (rc != 0) {
          std::lock_guard lock(error_mutex);
          if (!failed.exchange(true)) {
            error = rc > 0 ? device->client_id() + ": CONNACK " + std::to_string(rc) : why;
          }
        }
        MqttTlsDisconnect(&connection);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  const double wall = SecondsSince(start);
  if (failed) Fail(config.name + ": " + error + "\n" + config.broker->Log());
  // Let the broker finish tearing down the last connections before reading its clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double cpu = ProcessCpuSeconds(pid) - cpu_before;
  return {cpu * 1e3 / count, count / wall};
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens under bench.sh
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int rounds = 6;
  int connections = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--connections") == 0) connections = std::atoi(argv[i + 1]);
  }
  std::printf(
      "mosquitto TLS connects: %d rounds (+1 warm-up) of %d connections per "
      "configuration and mode; load average %s\n",
      rounds, connections, LoadAverage().c_str());

  BenchPki pki;
  std::vector<ClientIdentity> devices;
  for (int i = 0; i < kDevices; ++i) {
    const BenchPki::Client client = pki.IssueClient("sensor-" + std::to_string(i));
    devices.emplace_back(client.id, client.issued.cert_pem, client.issued.key_pem);
  }
  // Enough never-seen devices for every connection of the fresh-device configuration.
  std::vector<ClientIdentity> fresh;
  const size_t fresh_needed = static_cast<size_t>(rounds * 2 * connections + connections);
  fresh.reserve(fresh_needed);
  for (size_t i = 0; i < fresh_needed; ++i) {
    const auto issued = pki.ca().Issue(certguard::testing::WithCn("new-" + std::to_string(i)));
    fresh.emplace_back("new-" + std::to_string(i), issued.cert_pem, issued.key_pem);
  }
  std::atomic<size_t> fresh_used{0};
  const std::vector<std::string> revoked = RevokedSerials(kRevokedSerials);
  const std::string policy = WritePolicyDir(pki, "example", ExamplePolicyText(), revoked);
  // The broker's crlfile wants PEM; the same serials, a separate file.
  const std::string crl_pem = pki.temp().Write("broker-crl.pem", pki.ca().CrlPem(revoked, 86400));
  TlsClientContext tls(pki.ca_path());

  std::vector<Config> configs(4);
  BrokerOptions a = TlsBrokerOptions(pki);
  a.use_identity_as_username = true;
  configs[0].name = "A no plugin";
  configs[0].broker = std::make_unique<MosquittoBroker>(a);
  configs[1].name = "B certguard, 100k-serial CRL";
  configs[1].broker = std::make_unique<MosquittoBroker>(CertguardBrokerOptions(pki, policy));
  BrokerOptions c = a;
  c.crl_file = crl_pem;
  configs[2].name = "C no plugin, broker crlfile 100k";
  configs[2].broker = std::make_unique<MosquittoBroker>(c);
  configs[3].name = "B' certguard, every device new";
  configs[3].broker = std::make_unique<MosquittoBroker>(CertguardBrokerOptions(pki, policy));
  configs[3].fresh_devices = true;
  for (Config& config : configs) {
    StartOrDie(*config.broker, config.name);
    std::printf("%s: broker pid %d\n", config.name.c_str(), static_cast<int>(config.broker->pid()));
  }

  const int thread_counts[2] = {1, kConcurrency};
  const char* mode_names[2] = {"sequential", "16 concurrent"};
  for (int round = 0; round <= rounds; ++round) {
    for (int mode = 0; mode < 2; ++mode) {
      for (size_t k = 0; k < configs.size(); ++k) {
        Config& config = configs[(k + static_cast<size_t>(round)) % configs.size()];
        // The warm-up round is shorter: it only has to fill caches.
        const int count = round == 0 ? connections / 4 : connections;
        const auto [cpu_ms, rate] =
            RunRound(config, tls, devices, fresh, fresh_used, thread_counts[mode], count);
        if (round == 0) continue;
        config.cpu_ms[mode].push_back(cpu_ms);
        config.rate[mode].push_back(rate);
        std::printf("round %d  %-13s %-34s %6.3f ms CPU/conn  %6.0f conn/s\n", round,
                    mode_names[mode], config.name.c_str(), cpu_ms, rate);
        std::fflush(stdout);
      }
    }
  }

  std::printf(
      "\nbroker CPU per TLS connection, median of %d rounds (min-max); ratio to A = "
      "median of per-round ratios; load average now %s\n",
      rounds, LoadAverage().c_str());
  for (int mode = 0; mode < 2; ++mode) {
    std::printf("%s\n", mode_names[mode]);
    for (const Config& config : configs) {
      const auto& cpu = config.cpu_ms[mode];
      std::printf("  %-34s %6.3f ms (%.3f-%.3f)  x%.3f of A  %6.0f conn/s\n", config.name.c_str(),
                  Median(cpu), Percentile(cpu, 0), Percentile(cpu, 100),
                  Median(Ratios(cpu, configs[0].cpu_ms[mode])), Median(config.rate[mode]));
    }
    const double b_a = Median(Ratios(configs[1].cpu_ms[mode], configs[0].cpu_ms[mode]));
    Summary(std::string("2 broker CPU/TLS connection, ") + mode_names[mode] +
                ", certguard+100k CRL / no plugin",
            Format("x%.3f (%.3f vs %.3f ms)", b_a, Median(configs[1].cpu_ms[mode]),
                   Median(configs[0].cpu_ms[mode])),
            "<= 1.05", b_a <= 1.05 ? "pass" : "MISS");
    const double fresh_a = Median(Ratios(configs[3].cpu_ms[mode], configs[0].cpu_ms[mode]));
    Summary(std::string("2 broker CPU/TLS connection, ") + mode_names[mode] +
                ", certguard, every device new / no plugin",
            Format("x%.3f (%.3f ms)", fresh_a, Median(configs[3].cpu_ms[mode])), "-", "info");
    Summary(std::string("2 connections/s, ") + mode_names[mode] + ", A / B / B' / C(crlfile)",
            Format("%.0f / %.0f / %.0f / %.0f (C x%.2f CPU of A)", Median(configs[0].rate[mode]),
                   Median(configs[1].rate[mode]), Median(configs[3].rate[mode]),
                   Median(configs[2].rate[mode]),
                   Median(Ratios(configs[2].cpu_ms[mode], configs[0].cpu_ms[mode]))),
            "-", "info");
  }
  for (Config& config : configs) config.broker->Stop();
  return 0;
}
