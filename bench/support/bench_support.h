#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "bench/support/raw_mqtt.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/test_pki.h"

// What the end-to-end benchmarks share: process CPU and memory from /proc, medians, the summary
// lines scripts/bench.sh turns into its table, a PKI on disk, the policies and broker configs
// that are compared.
namespace certguard::bench {

using Clock = std::chrono::steady_clock;

// CPU seconds the process's threads have run so far: the sum of /proc/PID/task/*/schedstat
// (nanoseconds), the same quantity as utime + stime of /proc/PID/stat without its 10 ms clock
// ticks, which would add ±2 % to a half-second interval. Falls back to /proc/PID/stat.
double ProcessCpuSeconds(pid_t pid);
// utime + stime of /proc/PID/stat (clock ticks), all threads including finished ones.
double ProcessCpuSecondsFromStat(pid_t pid);
// VmRSS of /proc/PID/status, in bytes; 0 if unreadable.
size_t ProcessRssBytes(pid_t pid);
// The most RSS the process ever had (VmHWM): a broker's peak while it loaded its policy.
size_t ProcessPeakRssBytes(pid_t pid);
// "0.52 0.61 0.70" from /proc/loadavg: printed with every result, since the machine is shared.
std::string LoadAverage();

double Median(std::vector<double> values);
// num[i] / den[i], round by round: the benchmarks report the median of such paired ratios, so
// drift in the machine's load between rounds hits both sides of each ratio alike.
std::vector<double> Ratios(const std::vector<double>& num, const std::vector<double>& den);
// p in [0, 100], nearest rank.
double Percentile(std::vector<double> values, double p);
double SecondsSince(Clock::time_point start);

// One row of the table scripts/bench.sh prints: a tab-separated line starting with "SUMMARY".
// verdict: "pass", "MISS" or "info" (a figure without a target).
void Summary(const std::string& figure, const std::string& value, const std::string& target,
             const std::string& verdict);
std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Dies with a message: a benchmark whose set-up fails has nothing to report.
[[noreturn]] void Fail(const std::string& message);

// A CA, a server certificate for 127.0.0.1 and client certificates, written to a temp dir.
class BenchPki {
 public:
  BenchPki();
  const std::string& dir() const { return dir_.path(); }
  testing::TempDir& temp() { return dir_; }
  testing::TestCa& ca() { return ca_; }
  const std::string& ca_path() const { return ca_path_; }
  const std::string& server_cert_path() const { return server_cert_path_; }
  const std::string& server_key_path() const { return server_key_path_; }

  struct Client {
    std::string id;  // the CN, also used as client id
    std::string cert_path;
    std::string key_path;
    testing::IssuedCertificate issued;
  };
  // CN=id; the files are written as clients/<id>.crt and .key.
  Client IssueClient(const std::string& id);

 private:
  testing::TempDir dir_;
  testing::TestCa ca_;
  std::string ca_path_;
  std::string server_cert_path_;
  std::string server_key_path_;
};

// `count` identities for raw clients, CN and client id `prefix`0, `prefix`1, …, issued by
// `pki`'s CA (nothing written to disk). With "sensor-", devices of the example policy.
std::vector<ClientIdentity> IssueIdentities(BenchPki& pki, const std::string& prefix, int count);

// policies/sensors-dashboards.yaml as shipped (the example policy the demo runs on).
std::string ExamplePolicyText();
// `policy` plus one explicit rule per device sensor-0 .. sensor-(devices-1):
//   - for: { id: "sensor-N" }
//     allow: { publish: [fleet/sensor-N/data, fleet/sensor-N/cfg/#], subscribe:
//     [fleet/sensor-N/cmd/+] }
// inserted at the end of its `rules:` (before `revocation:`).
std::string WithDeviceRules(const std::string& policy, int devices);
// `count` distinct 16-byte serials (as large CAs issue them) that no BenchPki certificate has;
// `salt` makes a different set.
std::vector<std::string> RevokedSerials(int count, int salt = 0);

// Writes a policy directory as the example expects it: policy.yaml, ca.crt (the BenchPki CA),
// fleet-ca.crl (a DER CRL of `crl_serials`), revoked.txt (two entries for devices that do not
// connect). Returns the policy path.
std::string WritePolicyDir(BenchPki& pki, const std::string& subdir, const std::string& policy,
                           const std::vector<std::string>& crl_serials);

// The example policy's rights for a sensor `publisher` and a dashboard `subscriber`, as Mosquitto's
// acl_file expresses them.
std::string AclFileEquivalent(const std::string& publisher, const std::string& subscriber);
// The same for several sensors.
std::string AclFileEquivalent(const std::vector<std::string>& publishers,
                              const std::string& subscriber);

// A TLS listener on 127.0.0.1 requiring client certificates, without debug logging.
testing::BrokerOptions TlsBrokerOptions(const BenchPki& pki);
// The same with certguard loaded with `policy_path` (no use_identity_as_username).
testing::BrokerOptions CertguardBrokerOptions(const BenchPki& pki, const std::string& policy_path);

// A libmosquitto client connecting as `client` over TLS, with TCP_NODELAY, recording no messages.
testing::MqttClientOptions BenchClientOptions(const BenchPki::Client& client, int port,
                                              const BenchPki& pki,
                                              std::chrono::milliseconds timeout);

// Starts the broker or dies with its log.
void StartOrDie(testing::MosquittoBroker& broker, const std::string& what);

// With CERTGUARD_BENCH_NICE set (scripts/bench.sh sets -10), shifts the nice value of every
// thread of this process by that much, so that other jobs on a shared machine do not add their
// scheduling delays to what is measured. Call it first: threads and processes started later
// (brokers, exhook servers) inherit the shifted value from the thread that starts them, so every
// thread of the experiment moves by the same amount and their priorities relative to each other
// (a plugin thread that lowers its own, say) stay as they are. (Shifting a child again, as this
// once did, put the broker 10 steps above the benchmark's clients, and certguard's loader, 10
// below the broker, level with them: on two CPUs the loader then held one CPU whole while the
// broker and every client queued on the other, bench/reload_stall_bench.) Returns the shift
// applied, or 0 when none was asked for or allowed.
int ApplyBenchPriority();

// The CPUs this process may run on (its affinity), in order; empty when it cannot be read.
std::vector<int> AllowedCpus();

// Confines the calling thread, and the threads and processes it starts from now on, to `cpus`.
bool PinThisThreadTo(const std::vector<int>& cpus);

}  // namespace certguard::bench
