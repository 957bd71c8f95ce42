#include "bench/support/bench_support.h"

#include <sched.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef CERTGUARD_SOURCE_DIR
#error "CERTGUARD_SOURCE_DIR must be defined (bench/CMakeLists.txt does)"
#endif

namespace certguard::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  uint64_t ns = 0;
  bool any = false;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, error)) {
    // A thread that ends between the listing and the read takes its time with it: the broker's
    // threads live as long as it does.
    const std::string schedstat = ReadFile(entry.path().string() + "/schedstat");
    if (schedstat.empty()) continue;
    ns += std::strtoull(schedstat.c_str(), nullptr, 10);
    any = true;
  }
  if (!any) return ProcessCpuSecondsFromStat(pid);
  return static_cast<double>(ns) / 1e9;
}

double ProcessCpuSecondsFromStat(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) Fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Field 3 (state) is the first after ')'; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / ticks;
}

namespace {
size_t StatusBytes(pid_t pid, std::string_view field) {
  std::istringstream status(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size())) * 1024;
  }
  return 0;
}
}  // namespace

size_t ProcessRssBytes(pid_t pid) { return StatusBytes(pid, "VmRSS:"); }
size_t ProcessPeakRssBytes(pid_t pid) { return StatusBytes(pid, "VmHWM:"); }

std::string LoadAverage() {
  std::string text = ReadFile("/proc/loadavg");
  std::istringstream in(text);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::vector<double> Ratios(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> out;
  for (size_t i = 0; i < num.size() && i < den.size(); ++i) out.push_back(num[i] / den[i]);
  return out;
}

testing::MqttClientOptions BenchClientOptions(const BenchPki::Client& client, int port,
                                              const BenchPki& pki,
                                              std::chrono::milliseconds timeout) {
  testing::MqttClientOptions options;
  options.port = port;
  options.client_id = client.id;
  options.ca_file = pki.ca_path();
  options.cert_file = client.cert_path;
  options.key_file = client.key_path;
  options.tcp_nodelay = true;
  options.record_messages = false;
  options.capture_library_log = false;
  options.timeout = timeout;
  return options;
}

double Median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Summary(const std::string& figure, const std::string& value, const std::string& target,
             const std::string& verdict) {
  std::printf("SUMMARY\t%s\t%s\t%s\t%s\n", figure.c_str(), value.c_str(), target.c_str(),
              verdict.c_str());
  std::fflush(stdout);
}

std::string Format(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

void Fail(const std::string& message) {
  std::fprintf(stderr, "bench: %s\n", message.c_str());
  std::fflush(stdout);
  std::exit(1);
}

BenchPki::BenchPki() : ca_("certguard bench CA") {
  ca_path_ = dir_.Write("ca.crt", ca_.cert_pem());
  const testing::IssuedCertificate server = ca_.IssueServer();
  server_cert_path_ = dir_.Write("server.crt", server.cert_pem);
  server_key_path_ = dir_.Write("server.key", server.key_pem);
}

BenchPki::Client BenchPki::IssueClient(const std::string& id) {
  Client client;
  client.id = id;
  client.issued = ca_.Issue(testing::WithCn(id));
  client.cert_path = dir_.Write("clients/" + id + ".crt", client.issued.cert_pem);
  client.key_path = dir_.Write("clients/" + id + ".key", client.issued.key_pem);
  return client;
}

std::vector<ClientIdentity> IssueIdentities(BenchPki& pki, const std::string& prefix, int count) {
  std::vector<ClientIdentity> identities;
  identities.reserve(static_cast<size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    const std::string id = prefix + std::to_string(i);
    const testing::IssuedCertificate issued = pki.ca().Issue(testing::WithCn(id));
    identities.emplace_back(id, issued.cert_pem, issued.key_pem);
  }
  return identities;
}

std::string ExamplePolicyText() {
  const std::string path = std::string(CERTGUARD_SOURCE_DIR) + "/policies/sensors-dashboards.yaml";
  std::string text = ReadFile(path);
  if (text.empty()) Fail("cannot read " + path);
  return text;
}

std::string WithDeviceRules(const std::string& policy, int devices) {
  const size_t at = policy.find("\nrevocation:");
  if (at == std::string::npos) Fail("the example policy has no `revocation:` section any more");
  std::string rules;
  rules.reserve(static_cast<size_t>(devices) * 190);
  for (int i = 0; i < devices; ++i) {
    const std::string id = "sensor-" + std::to_string(i);
    rules += "  - for: { id: \"" + id + "\" }\n    allow:\n      publish:   [\"fleet/" + id +
             "/data\", \"fleet/" + id + "/cfg/#\"]\n      subscribe: [\"fleet/" + id +
             "/cmd/+\"]\n";
  }
  std::string out = policy;
  out.insert(at + 1, rules);
  return out;
}

std::vector<std::string> RevokedSerials(int count, int salt) {
  std::vector<std::string> serials;
  serials.reserve(static_cast<size_t>(count));
  char buffer[48];
  for (int i = 0; i < count; ++i) {
    // BenchPki's certificates get small serials from 0x1000 up: these never collide.
    std::snprintf(buffer, sizeof buffer, "5A%06X%024X", salt, i + 1);
    serials.emplace_back(buffer);
  }
  return serials;
}

std::string WritePolicyDir(BenchPki& pki, const std::string& subdir, const std::string& policy,
                           const std::vector<std::string>& crl_serials) {
  testing::TempDir& dir = pki.temp();
  dir.Write(subdir + "/ca.crt", pki.ca().cert_pem());
  dir.Write(subdir + "/fleet-ca.crl", pki.ca().CrlDer(crl_serials, 7 * 86400));
  dir.Write(subdir + "/revoked.txt",
            "# devices that never connect in the benchmarks\nid:sensor-retired-1\n"
            "serial:5AFFFFFF00000000000000000000000000\n");
  return dir.Write(subdir + "/policy.yaml", policy);
}

// acl_file cannot select users by a glob (`sensor-*`) or a subject attribute, nor substitute into
// `topic` lines, so the group rules become one `user` block per device that exists, with the
// device's id written in; the `for: all` deny becomes a `topic deny` in each block (acl_file puts
// deny lines first). SUBSCRIBE is never checked by acl_file (only deliveries are), so subscribe
// rules become `read`. The operators group has no member here and is left out.
std::string AclFileEquivalent(const std::string& publisher, const std::string& subscriber) {
  return AclFileEquivalent(std::vector<std::string>{publisher}, subscriber);
}

std::string AclFileEquivalent(const std::vector<std::string>& publishers,
                              const std::string& subscriber) {
  std::string text = "# the example policy's rights for the clients that connect\n";
  for (const std::string& publisher : publishers) {
    text += "user " + publisher + "\ntopic deny $SYS/#\ntopic write sensors/" + publisher +
            "/telemetry\ntopic write devices/" + publisher + "/status\ntopic read devices/" +
            publisher + "/commands/#\n\n";
  }
  return text + "user " + subscriber +
         "\ntopic deny $SYS/#\ntopic read sensors/+/telemetry\ntopic read devices/+/status\n";
}

testing::BrokerOptions TlsBrokerOptions(const BenchPki& pki) {
  testing::BrokerOptions options;
  options.ca_file = pki.ca_path();
  options.cert_file = pki.server_cert_path();
  options.key_file = pki.server_key_path();
  options.require_certificate = true;
  options.tcp_nodelay = true;
  // A production log level: "debug" writes two lines per message.
  options.log_types = {"error", "warning", "notice", "information"};
  return options;
}

testing::BrokerOptions CertguardBrokerOptions(const BenchPki& pki, const std::string& policy_path) {
  testing::BrokerOptions options = TlsBrokerOptions(pki);
#ifndef CERTGUARD_PLUGIN_PATH
#error "CERTGUARD_PLUGIN_PATH must be defined (bench/CMakeLists.txt does)"
#endif
  options.plugin_path = CERTGUARD_PLUGIN_PATH;
  options.plugin_options = {{"policy", policy_path}};
  return options;
}

void StartOrDie(testing::MosquittoBroker& broker, const std::string& what) {
  const ::testing::AssertionResult started = broker.Start();
  if (!started) Fail(what + ": " + started.message());
}

int ApplyBenchPriority() {
  const char* value = std::getenv("CERTGUARD_BENCH_NICE");
  if (value == nullptr || *value == '\0') return 0;
  const int shift = std::atoi(value);
  const std::string tasks = "/proc/self/task";
  std::error_code ignored;
  int applied = 0;
  // On Linux a nice value belongs to a thread, not to the process.
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ignored)) {
    const int tid = std::atoi(entry.path().filename().c_str());
    if (tid <= 0) continue;
    errno = 0;
    const int current = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno != 0) continue;
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), current + shift) == 0) applied = shift;
  }
  return applied;
}

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

bool PinThisThreadTo(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

}  // namespace certguard::bench
