// Mosquitto end to end (TLS 1.3, client certificates, loopback): one publisher, one subscriber,
// 64-byte payloads, QoS 0 and QoS 1, through five broker configurations:
//   a  no authorization: use_identity_as_username, no ACL, no plugin (the baseline)
//   b  certguard with the example policy (policies/sensors-dashboards.yaml as shipped)
//   c  certguard with the example policy plus explicit rules for 100,000 devices
//   d  Mosquitto's acl_file with the example policy's rights for the clients that connect
//   e  the dynamic security plugin with the same rights, as far as it can express them
//   a2 a second broker configured exactly as (a): a control, whose ratio to (a) shows the noise
// The figure that decides is the broker's CPU time per message (its threads' run time from /proc
// over a fixed number of messages, see ProcessCpuSeconds), which tolerates a shared machine far
// better than a rate; rates are printed beside it. Configurations are interleaved round by round
// (the order rotates each round) and every ratio is the median of per-round ratios, so drift in the
// machine's load hits both sides of a ratio alike.
//
// Usage: mosquitto_throughput_bench [--rounds N] [--qos0 MESSAGES] [--qos1 MESSAGES] [--window N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/support/bench_support.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"

namespace {

using namespace certguard::bench;
using certguard::testing::BrokerOptions;
using certguard::testing::MosquittoBroker;
using certguard::testing::MqttClient;
using certguard::testing::MqttClientOptions;

constexpr const char* kDynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
constexpr int kFleetDevices = 100'000;
// Messages in flight between publisher and subscriber (--window): enough to keep the broker
// busy, few enough that no queue grows (QoS 0 is never dropped to an online subscriber that
// keeps up).
size_t g_window = 200;
const char* const kPublisher = "sensor-50000";  // has an explicit rule in the fleet policy
const char* const kSubscriber = "dashboard-1";
const char* const kTopic = "sensors/sensor-50000/telemetry";
const char* const kFilter = "sensors/+/telemetry";

// The same rights for the dynamic security plugin (2.0.11): one role per client with literal
// topics (dynsec substitutes no %u/%c, has no glob membership and no subject attributes), the
// `$SYS` denies at a higher priority than the allows (dynsec takes the first match by priority,
// not "deny wins"), everything else denied by default, receiving included.
std::string DynsecEquivalent() {
  const std::string p = kPublisher;
  return R"({
  "defaultACLAccess": {"publishClientSend": false, "publishClientReceive": false,
                       "subscribe": false, "unsubscribe": true},
  "clients": [
    {"username": ")" +
         p + R"(", "roles": [{"rolename": "device-)" + p + R"("}]},
    {"username": ")" +
         kSubscriber + R"(", "roles": [{"rolename": "dashboards"}]}
  ],
  "groups": [],
  "roles": [
    {"rolename": "device-)" +
         p + R"(", "acls": [
      {"acltype": "publishClientSend", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "subscribePattern", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "publishClientReceive", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "publishClientSend", "topic": "sensors/)" +
         p + R"(/telemetry", "allow": true},
      {"acltype": "publishClientSend", "topic": "devices/)" +
         p + R"(/status", "allow": true},
      {"acltype": "subscribePattern", "topic": "devices/)" +
         p + R"(/commands/#", "allow": true},
      {"acltype": "publishClientReceive", "topic": "devices/)" +
         p + R"(/commands/#", "allow": true}
    ]},
    {"rolename": "dashboards", "acls": [
      {"acltype": "publishClientSend", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "subscribePattern", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "publishClientReceive", "topic": "$SYS/#", "priority": 10, "allow": false},
      {"acltype": "subscribePattern", "topic": "sensors/+/telemetry", "allow": true},
      {"acltype": "subscribePattern", "topic": "devices/+/status", "allow": true},
      {"acltype": "publishClientReceive", "topic": "sensors/+/telemetry", "allow": true},
      {"acltype": "publishClientReceive", "topic": "devices/+/status", "allow": true}
    ]}
  ]
}
)";
}

struct Config {
  std::string key;  // a..e
  std::string name;
  std::unique_ptr<MosquittoBroker> broker;
  std::unique_ptr<MqttClient> publisher;
  std::unique_ptr<MqttClient> subscriber;
  // per QoS: CPU microseconds per message and messages per second, one entry per round
  std::vector<double> cpu_us[2];
  std::vector<double> rate[2];
};

MqttClientOptions ClientOptions(const BenchPki::Client& client, int port, const BenchPki& pki) {
  return BenchClientOptions(client, port, pki, std::chrono::milliseconds(10000));
}

void Connect(Config& config, const BenchPki& pki, const BenchPki::Client& pub,
             const BenchPki::Client& sub) {
  const int port = config.broker->port();
  config.publisher = std::make_unique<MqttClient>(ClientOptions(pub, port, pki));
  config.subscriber = std::make_unique<MqttClient>(ClientOptions(sub, port, pki));
  for (MqttClient* client : {config.publisher.get(), config.subscriber.get()}) {
    const int rc = client->Connect();
    if (rc != 0) {
      Fail(config.name + ": connect returned " + std::to_string(rc) + " (" + client->LastError() +
           ")\n" + config.broker->Log());
    }
  }
  const int granted = config.subscriber->Subscribe(kFilter, 1);
  if (granted != 1) Fail(config.name + ": subscribe returned " + std::to_string(granted));
  // One message through proves the rights are in place before anything is timed.
  if (config.publisher->Publish(kTopic, "probe", 1) != 0 ||
      !config.subscriber->WaitForMessages(1, std::chrono::milliseconds(5000))) {
    Fail(config.name + ": the probe message did not get through\n" + config.broker->Log());
  }
}

// Publishes `count` messages and waits until all are delivered. Returns {CPU us/msg, msg/s}.
std::pair<double, double> RunRound(Config& config, int qos, int count) {
  MqttClient& pub = *config.publisher;
  MqttClient& sub = *config.subscriber;
  const std::string payload(64, 'x');
  sub.ClearReceived();
  const pid_t pid = config.broker->pid();
  const double cpu_before = ProcessCpuSeconds(pid);
  const auto start = Clock::now();
  const auto wait = std::chrono::milliseconds(30000);
  for (int i = 0; i < count; ++i) {
    if (static_cast<size_t>(i) >= g_window && !sub.WaitForMessages(i - g_window + 1, wait)) {
      Fail(Format("%s: QoS %d: only %zu of %d messages delivered after 30 s", config.name.c_str(),
                  qos, sub.ReceivedCount(), i));
    }
    if (pub.PublishAsync(kTopic, payload, qos) < 0) Fail(config.name + ": " + pub.LastError());
  }
  if (!sub.WaitForMessages(static_cast<size_t>(count), wait)) {
    Fail(Format("%s: QoS %d: %zu of %d messages delivered", config.name.c_str(), qos,
                sub.ReceivedCount(), count));
  }
  const double wall = SecondsSince(start);
  const double cpu = ProcessCpuSeconds(pid) - cpu_before;
  return {cpu * 1e6 / count, count / wall};
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens under bench.sh
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int rounds = 6;
  int messages[2] = {60'000, 30'000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--qos0") == 0) messages[0] = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--qos1") == 0) messages[1] = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--window") == 0) g_window = std::strtoul(argv[i + 1], nullptr, 10);
  }
  std::printf(
      "mosquitto throughput: %d rounds (+1 warm-up) of %d QoS 0 and %d QoS 1 messages "
      "per configuration; load average %s\n",
      rounds, messages[0], messages[1], LoadAverage().c_str());

  BenchPki pki;
  const BenchPki::Client pub = pki.IssueClient(kPublisher);
  const BenchPki::Client sub = pki.IssueClient(kSubscriber);
  const std::vector<std::string> few_revoked = RevokedSerials(10);
  const std::string example = WritePolicyDir(pki, "example", ExamplePolicyText(), few_revoked);
  const std::string fleet = WritePolicyDir(
      pki, "fleet", WithDeviceRules(ExamplePolicyText(), kFleetDevices), few_revoked);

  std::vector<Config> configs(6);
  {
    BrokerOptions a = TlsBrokerOptions(pki);
    a.use_identity_as_username = true;
    configs[0].key = "a";
    configs[0].name = "a no authorization";
    configs[0].broker = std::make_unique<MosquittoBroker>(a);

    configs[1].key = "b";
    configs[1].name = "b certguard, example policy";
    configs[1].broker = std::make_unique<MosquittoBroker>(CertguardBrokerOptions(pki, example));

    configs[2].key = "c";
    configs[2].name = "c certguard, 100k-device policy";
    BrokerOptions c = CertguardBrokerOptions(pki, fleet);
    c.start_timeout = std::chrono::milliseconds(120000);
    configs[2].broker = std::make_unique<MosquittoBroker>(c);

    BrokerOptions d = TlsBrokerOptions(pki);
    d.use_identity_as_username = true;
    d.global_lines = {"acl_file " +
                      pki.temp().Write("acl_file", AclFileEquivalent(kPublisher, kSubscriber))};
    configs[3].key = "d";
    configs[3].name = "d acl_file, equivalent rules";
    configs[3].broker = std::make_unique<MosquittoBroker>(d);

    BrokerOptions e = TlsBrokerOptions(pki);
    e.use_identity_as_username = true;
    e.plugin_path = kDynsecPlugin;
    e.plugin_options = {
        {"config_file", pki.temp().Write("dynamic-security.json", DynsecEquivalent())}};
    configs[4].key = "e";
    configs[4].name = "e dynamic security plugin";
    configs[4].broker = std::make_unique<MosquittoBroker>(e);

    configs[5].key = "a2";
    configs[5].name = "a2 no authorization (control)";
    configs[5].broker = std::make_unique<MosquittoBroker>(a);
  }
  for (Config& config : configs) {
    StartOrDie(*config.broker, config.name);
    Connect(config, pki, pub, sub);
    std::printf("%s: broker pid %d\n", config.name.c_str(), static_cast<int>(config.broker->pid()));
  }

  // Round 0 warms caches, TLS sessions and allocators and is not counted.
  for (int round = 0; round <= rounds; ++round) {
    for (int qos = 0; qos <= 1; ++qos) {
      for (size_t k = 0; k < configs.size(); ++k) {
        Config& config = configs[(k + static_cast<size_t>(round)) % configs.size()];
        const auto [cpu_us, rate] = RunRound(config, qos, messages[qos]);
        if (round == 0) continue;
        config.cpu_us[qos].push_back(cpu_us);
        config.rate[qos].push_back(rate);
        std::printf("round %d  QoS %d  %-34s %7.2f us CPU/msg  %8.0f msg/s\n", round, qos,
                    config.name.c_str(), cpu_us, rate);
        std::fflush(stdout);
      }
    }
  }

  std::printf(
      "\nbroker CPU per message, median of %d rounds (min-max), ratio to (a) = median of "
      "per-round ratios; load average now %s\n",
      rounds, LoadAverage().c_str());
  const Config& a = configs[0];
  const Config& b = configs[1];
  const Config& c = configs[2];
  const Config& d = configs[3];
  for (int qos = 0; qos <= 1; ++qos) {
    std::printf("QoS %d\n", qos);
    for (const Config& config : configs) {
      const auto& cpu = config.cpu_us[qos];
      std::printf("  %-34s %7.2f us (%.2f-%.2f)  x%.3f of (a)  %8.0f msg/s  rate x%.2f\n",
                  config.name.c_str(), Median(cpu), Percentile(cpu, 0), Percentile(cpu, 100),
                  Median(Ratios(cpu, a.cpu_us[qos])), Median(config.rate[qos]),
                  Median(Ratios(config.rate[qos], a.rate[qos])));
    }
    const double b_a = Median(Ratios(b.cpu_us[qos], a.cpu_us[qos]));
    const double c_a = Median(Ratios(c.cpu_us[qos], a.cpu_us[qos]));
    const double b_d = Median(Ratios(b.cpu_us[qos], d.cpu_us[qos]));
    const double c_d = Median(Ratios(c.cpu_us[qos], d.cpu_us[qos]));
    const double c_b = Median(Ratios(c.cpu_us[qos], b.cpu_us[qos]));
    const std::string q = "QoS " + std::to_string(qos);
    const auto verdict = [](double ratio, double limit) {
      return ratio <= limit ? "pass" : "MISS";
    };
    Summary("1 " + q + " broker CPU/msg certguard example / no auth",
            Format("x%.3f (%.2f vs %.2f us)", b_a, Median(b.cpu_us[qos]), Median(a.cpu_us[qos])),
            "<= 1.05", verdict(b_a, 1.05));
    Summary("1 " + q + " broker CPU/msg certguard 100k / no auth",
            Format("x%.3f (%.2f us)", c_a, Median(c.cpu_us[qos])), "<= 1.05", verdict(c_a, 1.05));
    Summary("1 " + q + " broker CPU/msg certguard example / acl_file",
            Format("x%.3f (acl_file %.2f us)", b_d, Median(d.cpu_us[qos])), "<= 1.00",
            verdict(b_d, 1.0));
    Summary("1 " + q + " broker CPU/msg certguard 100k / acl_file", Format("x%.3f", c_d), "-",
            "info");
    Summary("1 " + q + " broker CPU/msg certguard 100k / example", Format("x%.3f", c_b), "<= 1.05",
            verdict(c_b, 1.05));
    Summary("1 " + q + " broker CPU/msg dynsec / no auth",
            Format("x%.3f (%.2f us)", Median(Ratios(configs[4].cpu_us[qos], a.cpu_us[qos])),
                   Median(configs[4].cpu_us[qos])),
            "-", "info");
    Summary("1 " + q + " broker CPU/msg control a2 / a (noise)",
            Format("x%.3f", Median(Ratios(configs[5].cpu_us[qos], a.cpu_us[qos]))), "-", "info");
    Summary("1 " + q + " msg/s a / b / c / d / e",
            Format("%.0f / %.0f / %.0f / %.0f / %.0f", Median(a.rate[qos]), Median(b.rate[qos]),
                   Median(c.rate[qos]), Median(d.rate[qos]), Median(configs[4].rate[qos])),
            "-", "info");
  }
  for (Config& config : configs) {
    config.publisher->Disconnect();
    config.subscriber->Disconnect();
    config.broker->Stop();
  }
  return 0;
}
