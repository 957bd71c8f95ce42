// An idle broker's CPU with many connected devices: what certguard's once-a-second re-check
// sweep costs when no message flows, and whether a CRL that has gone stale under
// `stale_crl: warn` makes it dearer. A client is re-checked (its certificate read again) only
// once its PolicySnapshot::StillValidUntil has passed, and the sweep runs only once some client's
// has (RecheckHorizon). Before: a stale CRL under `warn` set that to "now" for every client, so
// every certificate was read again every second; and the sweep visited every client each second
// to skip it.
//
// Configurations, each round on brokers of their own (raw TLS clients that connect, then only
// keep their socket; keepalive 65535 s, so the broker has nothing to do for them):
//   a  no plugin (use_identity_as_username)
//   b  certguard, example policy, a fresh CRL
//   w  certguard, example policy with `stale_crl: warn` and a CRL whose nextUpdate has passed
// Reported: the broker's CPU over a window, in milliseconds per second, medians of the rounds.
//
// Usage: idle_broker_bench [--clients N] [--seconds S] [--rounds R]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/bench_support.h"
#include "bench/support/raw_mqtt.h"
#include "tests/support/file_limit.h"
#include "tests/support/mosquitto_broker.h"

namespace {

using namespace certguard::bench;
using certguard::testing::BrokerOptions;
using certguard::testing::MosquittoBroker;

struct Config {
  std::string key;
  BrokerOptions options;
  std::vector<double> cpu_ms_per_second;
};

// The broker's CPU in ms per second over `seconds`, with `identities` connected and idle.
double IdleCpu(const Config& config, const TlsClientContext& tls,
               const std::vector<ClientIdentity>& identities, int seconds) {
  MosquittoBroker broker(config.options);
  StartOrDie(broker, config.key);
  IdleConnections connections;
  std::string error;
  if (!connections.Open(tls, identities, broker.port(), 4, &error)) {
    Fail(config.key + ": " + error + "\n" + broker.Log().substr(0, 4000));
  }
  // Past the connects' tail and the first sweeps, which re-check nothing new.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double cpu_before = ProcessCpuSeconds(broker.pid());
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double cpu = ProcessCpuSeconds(broker.pid()) - cpu_before;
  const double elapsed = SecondsSince(start);
  if (!broker.IsRunning()) Fail(config.key + ": the broker died\n" + broker.Log());
  connections.CloseAll();
  broker.Stop();
  return cpu * 1000 / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int clients = 2'000;
  int seconds = 10;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--clients") == 0) clients = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  certguard::testing::RaiseFileLimit();
  std::printf("idle broker: %d clients, %d s windows, %d rounds; load average %s\n", clients,
              seconds, rounds, LoadAverage().c_str());

  BenchPki pki;
  const std::vector<ClientIdentity> identities = IssueIdentities(pki, "sensor-", clients);
  const std::vector<std::string> few_revoked = RevokedSerials(10);
  const std::string fresh = WritePolicyDir(pki, "fresh", ExamplePolicyText(), few_revoked);
  std::string warn_policy = ExamplePolicyText();
  const size_t at = warn_policy.find("stale_crl: deny");
  if (at == std::string::npos) Fail("the example policy no longer says `stale_crl: deny`");
  warn_policy.replace(at, 15, "stale_crl: warn");
  const std::string stale = WritePolicyDir(pki, "stale", warn_policy, few_revoked);
  // nextUpdate a minute ago: stale from the start.
  pki.temp().Write("stale/fleet-ca.crl", pki.ca().CrlDer(few_revoked, -60, -7200));

  BrokerOptions plain = TlsBrokerOptions(pki);
  plain.use_identity_as_username = true;
  std::vector<Config> configs{
      {"a no plugin", plain, {}},
      {"b certguard, fresh CRL", CertguardBrokerOptions(pki, fresh), {}},
      {"w certguard, stale CRL under warn", CertguardBrokerOptions(pki, stale), {}}};
  TlsClientContext tls(pki.ca_path());
  for (int round = 0; round < rounds; ++round) {
    for (Config& config : configs) {
      const double ms = IdleCpu(config, tls, identities, seconds);
      config.cpu_ms_per_second.push_back(ms);
      std::printf("round %d  %-36s %8.2f ms of broker CPU per second\n", round + 1,
                  config.key.c_str(), ms);
    }
  }

  std::printf("\nidle broker CPU, %d clients, median of %d rounds\n", clients, rounds);
  for (const Config& config : configs) {
    std::printf("  %-36s %8.2f ms/s\n", config.key.c_str(), Median(config.cpu_ms_per_second));
  }
  const double a = Median(configs[0].cpu_ms_per_second);
  const double b = Median(configs[1].cpu_ms_per_second);
  const double w = Median(configs[2].cpu_ms_per_second);
  Summary(Format("- idle broker CPU, %d clients: certguard (fresh CRL) - no plugin", clients),
          Format("%+.2f ms/s (%.2f vs %.2f)", b - a, b, a), "-", "info");
  Summary(Format("- idle broker CPU, %d clients: stale CRL under warn / fresh CRL", clients),
          Format("x%.2f (%.2f vs %.2f ms/s)", w / b, w, b), "-", "info");
  return 0;
}
