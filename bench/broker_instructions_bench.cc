// The broker's cost per message and per TLS connection counted in instructions, not seconds:
// Mosquitto runs under valgrind's callgrind, and the instructions its process executes (every
// thread, user space; the kernel's share is not counted) are read over a fixed workload. Unlike
// CPU time on a shared 2-core machine (mosquitto_throughput_bench's control broker swings
// ±7 % against an identical one), the count repeats to a fraction of a percent, so it can show
// whether certguard stays within 5 % of the broker's own cost.
//
// Messages go one at a time (publish, wait until the subscriber has it, next), so every message
// takes the same path through the broker's loop whatever the machine is doing; batching, which
// makes CPU per message depend on the rate, is out of the picture. Each message costs two ACL
// checks (the publisher's write, the subscriber's read), and certguard answers a check that
// repeats its client's last allowed one from memory (mosquitto-plugin/recent_allow.h) and a read
// through a subscription it allowed from that subscription's grant (receive_grants.h), so three
// workloads tell its best, usual and worst case apart:
//   repeat     one device publishes its telemetry topic again and again: both checks repeat
//   fleet      8 devices publish their telemetry topics in turn to one dashboard: each device's
//              write repeats, the dashboard's read never does (its subscription's grant answers)
//   alternate  one device alternates its telemetry and status topics: no check ever repeats (the
//              reads are answered from grants, every write takes a full decision)
// Configurations:
//   a  no authorization (use_identity_as_username)     b  certguard, example policy
//   c  certguard, example + 100,000 device rules       d  acl_file with equivalent rules
//   n  no authorization plus a plugin that allows every ACL check and does nothing else
//      (bench/null_acl_plugin.cc): what Mosquitto spends calling any ACL plugin, the floor
//      under certguard's cost
//   t  as (n), and the plugin starts one thread that only waits: what glibc's multi-threaded
//      mode costs the broker per message, the floor under any plugin that keeps work (certguard:
//      reloads) off the broker's thread
//   a2 a second (a): its ratio to (a) shows what is left of the noise
// and for connections (full TLS 1.3 handshake, CONNECT, CONNACK, DISCONNECT, one at a time):
//   A  no plugin     B  certguard, example policy, CRL of 100,000 serials (64 devices reconnect)
//   B' as B, every connection by a device never seen before
//
// Each round starts a broker for every configuration in turn, so the rounds interleave the
// configurations and each sample comes from a broker of its own. Brokers start with
// instrumentation off (so the 100,000-device policy loads at near native speed);
// callgrind_control switches it on for each measured window only.
//
// Usage: broker_instructions_bench [--rounds N] [--messages N] [--connections N] [--dumps DIR]
//   --dumps DIR  keeps callgrind's dumps there for callgrind_annotate: DIR/callgrind-K (K numbers
//                the configurations in the order above) holds callgrind.out.PID.N, one PID per
//                round and one N per measured window (workload by workload, QoS 0 then 1)
#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/bench_support.h"
#include "bench/support/raw_mqtt.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/subprocess.h"

namespace {

using namespace certguard::bench;
using certguard::testing::BrokerOptions;
using certguard::testing::MosquittoBroker;
using certguard::testing::MqttClient;
using certguard::testing::MqttClientOptions;
using certguard::testing::RunCommand;

constexpr const char* kValgrind = "/usr/bin/valgrind";
constexpr const char* kCallgrindControl = "/usr/bin/callgrind_control";
constexpr int kFleetDevices = 100'000;
constexpr int kRevokedSerials = 100'000;
constexpr int kDevices = 64;
constexpr int kPublishers = 8;  // sensor-50000 ... sensor-50007, with rules in the fleet policy
const char* const kSubscriber = "dashboard-1";

std::string Publisher(int i) { return "sensor-" + std::to_string(50'000 + i); }

// Who publishes what, in turn.
struct Send {
  int publisher;
  std::string topic;
};
struct Workload {
  std::string key;
  std::vector<Send> sends;
};

std::vector<Workload> Workloads() {
  std::vector<Workload> workloads{{"repeat", {{0, "sensors/" + Publisher(0) + "/telemetry"}}},
                                  {"fleet", {}},
                                  {"alternate",
                                   {{0, "sensors/" + Publisher(0) + "/telemetry"},
                                    {0, "devices/" + Publisher(0) + "/status"}}}};
  for (int i = 0; i < kPublishers; ++i) {
    workloads[1].sends.push_back({i, "sensors/" + Publisher(i) + "/telemetry"});
  }
  return workloads;
}

// Runs callgrind_control on the broker (valgrind's gdbserver takes the command the next time the
// broker runs, or interrupts its syscall).
void Control(pid_t pid, const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{kCallgrindControl};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.push_back(std::to_string(pid));
  const auto result = RunCommand(argv);
  if (result.exit_code != 0) Fail("callgrind_control failed: " + result.output);
}

// A broker under callgrind whose instruction count can be taken over a window of work.
class CountedBroker {
 public:
  CountedBroker(BrokerOptions options, const std::string& dir, const std::string& name)
      : dir_(dir), name_(name) {
    std::filesystem::create_directories(dir_);
    const std::string wrapper = dir_ + "/mosquitto-under-callgrind.sh";
    std::ofstream(wrapper) << "#!/bin/sh\n"
                           << "exec " << kValgrind
                           << " --tool=callgrind --instr-atstart=no --callgrind-out-file=" << dir_
                           << "/callgrind.out.%p /usr/sbin/mosquitto \"$@\"\n";
    std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
    options.mosquitto_path = wrapper;
    options.start_timeout = std::chrono::milliseconds(600'000);
    options.stop_timeout = std::chrono::milliseconds(120'000);
    broker_ = std::make_unique<MosquittoBroker>(std::move(options));
    StartOrDie(*broker_, name_);
  }

  MosquittoBroker& broker() { return *broker_; }
  const std::string& name() const { return name_; }

  // Instructions the broker executes while `work` runs.
  template <typename Work>
  double Count(Work&& work) {
    const pid_t pid = broker_->pid();
    Control(pid, {"--instr=on"});
    Control(pid, {"--zero"});
    work();
    Control(pid, {"--dump"});
    Control(pid, {"--instr=off"});
    return LatestDumpTotal(pid);
  }

 private:
  // The `totals:` line of the newest callgrind.out.PID.N.
  double LatestDumpTotal(pid_t pid) const {
    const std::string prefix = "callgrind.out." + std::to_string(pid) + ".";
    int newest = -1;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind(prefix, 0) == 0)
        newest = std::max(newest, std::atoi(file.c_str() + prefix.size()));
    }
    if (newest < 0) Fail(name_ + ": callgrind wrote no dump in " + dir_);
    std::ifstream in(dir_ + "/" + prefix + std::to_string(newest));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("totals:", 0) == 0) return std::strtod(line.c_str() + 7, nullptr);
    }
    Fail(name_ + ": no totals line in callgrind dump " + std::to_string(newest));
  }

  std::string dir_;
  std::string name_;
  std::unique_ptr<MosquittoBroker> broker_;
};

MqttClientOptions ClientOptions(const BenchPki::Client& client, int port, const BenchPki& pki) {
  return BenchClientOptions(client, port, pki, std::chrono::milliseconds(60'000));
}

struct MessageConfig {
  std::string key;
  BrokerOptions options;
  // Instructions per message by workload and QoS, one entry per round.
  std::vector<std::vector<double>> per_message[2] = {};
};

struct ConnectConfig {
  std::string key;
  BrokerOptions options;
  bool fresh_devices = false;
  std::vector<double> per_connection;
};

// `count` messages one at a time, the workload's sends in turn: each is delivered before the
// next is sent.
void LockStep(const std::vector<std::unique_ptr<MqttClient>>& publishers, const Workload& workload,
              MqttClient& subscriber, int qos, int count, const std::string& what) {
  const std::string payload(64, 'x');
  subscriber.ClearReceived();
  for (int i = 0; i < count; ++i) {
    const Send& send = workload.sends[static_cast<size_t>(i) % workload.sends.size()];
    MqttClient& publisher = *publishers.at(static_cast<size_t>(send.publisher));
    if (publisher.PublishAsync(send.topic, payload, qos) < 0) {
      Fail(what + ": " + publisher.LastError());
    }
    if (!subscriber.WaitForMessages(static_cast<size_t>(i) + 1,
                                    std::chrono::milliseconds(60'000))) {
      Fail(Format("%s: message %d of %d was not delivered", what.c_str(), i + 1, count));
    }
  }
}

double Spread(const std::vector<double>& values) {
  const double median = Median(values);
  return median > 0 ? (Percentile(values, 100) - Percentile(values, 0)) / median * 100 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int rounds = 3;
  int messages = 500;
  int connections = 60;
  std::string
      dumps;  // where callgrind's dumps go (kept for callgrind_annotate); default: a temp dir
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--messages") == 0) messages = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--connections") == 0) connections = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--dumps") == 0) dumps = argv[i + 1];
  }
  if (!std::filesystem::exists(kValgrind) || !std::filesystem::exists(kCallgrindControl)) {
    Fail("valgrind (with callgrind_control) is not installed");
  }
  std::printf(
      "broker instructions (callgrind): %d rounds of %d messages per QoS, one at a time, and %d "
      "TLS connections, per configuration; load average %s\n",
      rounds, messages, connections, LoadAverage().c_str());

  BenchPki pki;
  if (dumps.empty()) dumps = pki.dir();
  std::vector<BenchPki::Client> pubs;
  std::vector<std::string> publisher_ids;
  for (int i = 0; i < kPublishers; ++i) {
    pubs.push_back(pki.IssueClient(Publisher(i)));
    publisher_ids.push_back(Publisher(i));
  }
  const BenchPki::Client sub = pki.IssueClient(kSubscriber);
  const std::vector<Workload> workloads = Workloads();
  const std::vector<std::string> few_revoked = RevokedSerials(10);
  const std::string example = WritePolicyDir(pki, "example", ExamplePolicyText(), few_revoked);
  const std::string fleet = WritePolicyDir(
      pki, "fleet", WithDeviceRules(ExamplePolicyText(), kFleetDevices), few_revoked);
  const std::string big_crl =
      WritePolicyDir(pki, "big-crl", ExamplePolicyText(), RevokedSerials(kRevokedSerials));

  BrokerOptions no_auth = TlsBrokerOptions(pki);
  no_auth.use_identity_as_username = true;
  BrokerOptions acl_file = no_auth;
  acl_file.global_lines = {
      "acl_file " + pki.temp().Write("acl_file", AclFileEquivalent(publisher_ids, kSubscriber))};

  // --- messages ---------------------------------------------------------------------------
  std::vector<MessageConfig> message_configs;
  message_configs.push_back({"a no authorization", no_auth, {}});
  message_configs.push_back(
      {"b certguard, example policy", CertguardBrokerOptions(pki, example), {}});
  message_configs.push_back(
      {"c certguard, 100k-device policy", CertguardBrokerOptions(pki, fleet), {}});
  message_configs.push_back({"d acl_file, equivalent rules", acl_file, {}});
  message_configs.push_back({"a2 no authorization (control)", no_auth, {}});
  BrokerOptions null_plugin = no_auth;
  null_plugin.plugin_path = CERTGUARD_NULL_ACL_PLUGIN_PATH;
  message_configs.push_back({"n do-nothing ACL plugin", null_plugin, {}});
  BrokerOptions threaded_null_plugin = null_plugin;
  threaded_null_plugin.plugin_options = {{"idle_thread", "true"}};
  message_configs.push_back({"t do-nothing plugin + idle thread", threaded_null_plugin, {}});
  // Each round runs every configuration in turn, each on a broker started for that round. A
  // broker's count carries an offset for its whole life (where ASLR and its first allocations put
  // the heap: the control a2 differs from a by up to 0.7 %), so with one broker per
  // configuration every round repeated the same offset and the median could not remove it.
  for (MessageConfig& config : message_configs) {
    for (int qos = 0; qos <= 1; ++qos) config.per_message[qos].resize(workloads.size());
  }
  for (int round = 0; round < rounds; ++round) {
    for (size_t c = 0; c < message_configs.size(); ++c) {
      MessageConfig& config = message_configs[c];
      CountedBroker counted(config.options, Format("%s/callgrind-%zu", dumps.c_str(), c),
                            config.key);
      const int port = counted.broker().port();
      std::vector<std::unique_ptr<MqttClient>> publishers;
      for (const BenchPki::Client& pub : pubs) {
        publishers.push_back(std::make_unique<MqttClient>(ClientOptions(pub, port, pki)));
        if (publishers.back()->Connect() != 0)
          Fail(config.key + ": " + publishers.back()->LastError());
      }
      MqttClient subscriber(ClientOptions(sub, port, pki));
      if (subscriber.Connect() != 0) Fail(config.key + ": " + subscriber.LastError());
      for (const char* filter : {"sensors/+/telemetry", "devices/+/status"}) {
        if (subscriber.Subscribe(filter, 1) != 1) Fail(config.key + ": subscribe refused");
      }
      for (const Workload& workload : workloads) {  // warm-up, uncounted
        LockStep(publishers, workload, subscriber, 1, 50, config.key);
      }
      for (size_t w = 0; w < workloads.size(); ++w) {
        for (int qos = 0; qos <= 1; ++qos) {
          const double total = counted.Count(
              [&] { LockStep(publishers, workloads[w], subscriber, qos, messages, config.key); });
          config.per_message[qos][w].push_back(total / messages);
          std::printf("round %d  %-9s QoS %d  %-34s %10.0f instructions/msg\n", round + 1,
                      workloads[w].key.c_str(), qos, config.key.c_str(), total / messages);
        }
      }
      for (auto& publisher : publishers) publisher->Disconnect();
      subscriber.Disconnect();
      counted.broker().Stop();
    }
  }

  // --- connections ------------------------------------------------------------------------
  std::vector<ClientIdentity> devices;
  for (int i = 0; i < kDevices; ++i) {
    const BenchPki::Client client = pki.IssueClient("sensor-" + std::to_string(i));
    devices.emplace_back(client.id, client.issued.cert_pem, client.issued.key_pem);
  }
  // Every broker's warm-up and measured connections by devices never seen before, for B'.
  const int warm_up_connections = std::min(connections, kDevices);
  const std::vector<ClientIdentity> fresh =
      IssueIdentities(pki, "new-", rounds * (warm_up_connections + connections));
  size_t fresh_used = 0;
  TlsClientContext tls(pki.ca_path());
  std::vector<ConnectConfig> connect_configs;
  connect_configs.push_back({"A no plugin", no_auth, false, {}});
  connect_configs.push_back(
      {"B certguard, 100k-serial CRL", CertguardBrokerOptions(pki, big_crl), false, {}});
  connect_configs.push_back(
      {"B' certguard, every device new", CertguardBrokerOptions(pki, big_crl), true, {}});
  // Rounds and brokers as for messages: a fresh broker per configuration per round.
  for (int round = 0; round < rounds; ++round) {
    for (size_t c = 0; c < connect_configs.size(); ++c) {
      ConnectConfig& config = connect_configs[c];
      CountedBroker counted(config.options,
                            Format("%s/callgrind-%zu", dumps.c_str(), message_configs.size() + c),
                            config.key);
      const int port = counted.broker().port();
      const auto connect_many = [&](int count) {
        for (int i = 0; i < count; ++i) {
          const ClientIdentity& device = config.fresh_devices
                                             ? fresh.at(fresh_used++)
                                             : devices[static_cast<size_t>(i) % devices.size()];
          MqttTlsConnection connection;
          std::string why;
          const int rc = MqttTlsConnect(tls, device, port, &connection, &why,
                                        std::chrono::milliseconds(60'000));
          if (rc != 0) Fail(config.key + ": " + device.client_id() + ": " + why);
          MqttTlsDisconnect(&connection);
        }
        // The broker tears the last connection down after the client has gone.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      };
      connect_many(warm_up_connections);  // warm-up: every device seen once
      const double total = counted.Count([&] { connect_many(connections); });
      config.per_connection.push_back(total / connections);
      std::printf("round %d  connect  %-34s %10.0f instructions/connection\n", round + 1,
                  config.key.c_str(), total / connections);
      counted.broker().Stop();
    }
  }

  // --- report -----------------------------------------------------------------------------
  std::printf(
      "\nbroker instructions per message, median of %d rounds (spread = (max-min)/median)\n",
      rounds);
  for (size_t w = 0; w < workloads.size(); ++w) {
    const std::string& load = workloads[w].key;
    const auto series = [&](size_t config, int qos) -> const std::vector<double>& {
      return message_configs[config].per_message[qos][w];
    };
    for (int qos = 0; qos <= 1; ++qos) {
      std::printf("%s, QoS %d\n", load.c_str(), qos);
      for (size_t c = 0; c < message_configs.size(); ++c) {
        std::printf("  %-34s %10.0f  spread %.2f%%  x%.4f of (a)\n", message_configs[c].key.c_str(),
                    Median(series(c, qos)), Spread(series(c, qos)),
                    Median(Ratios(series(c, qos), series(0, qos))));
      }
      const auto ratio = [&](size_t num, size_t den) {
        return Median(Ratios(series(num, qos), series(den, qos)));
      };
      const std::string q = "QoS " + std::to_string(qos) + " " + load;
      const auto verdict = [](double value, double limit) {
        return value <= limit ? "pass" : "MISS";
      };
      Summary("1 " + q + " broker instructions/msg certguard example / no auth",
              Format("x%.4f (%.0f vs %.0f)", ratio(1, 0), Median(series(1, qos)),
                     Median(series(0, qos))),
              "<= 1.05", verdict(ratio(1, 0), 1.05));
      Summary("1 " + q + " broker instructions/msg certguard 100k / no auth",
              Format("x%.4f", ratio(2, 0)), "<= 1.05", verdict(ratio(2, 0), 1.05));
      Summary("1 " + q + " broker instructions/msg certguard example / acl_file",
              Format("x%.4f (acl_file %.0f)", ratio(1, 3), Median(series(3, qos))), "<= 1.00",
              verdict(ratio(1, 3), 1.0));
      Summary("1 " + q + " broker instructions/msg certguard 100k / example",
              Format("x%.4f", ratio(2, 1)), "<= 1.05", verdict(ratio(2, 1), 1.05));
      Summary("1 " + q + " broker instructions/msg control a2 / a (noise)",
              Format("x%.4f", ratio(4, 0)), "-", "info");
      Summary("1 " + q + " broker instructions/msg do-nothing ACL plugin / no auth (the floor)",
              Format("x%.4f (%.0f)", ratio(5, 0), Median(series(5, qos))), "-", "info");
      Summary("1 " + q + " broker instructions/msg do-nothing plugin + idle thread / no auth",
              Format("x%.4f (%.0f)", ratio(6, 0), Median(series(6, qos))), "-", "info");
      Summary("1 " + q + " broker instructions/msg certguard example / do-nothing + idle thread",
              Format("x%.4f", ratio(1, 6)), "-", "info");
    }
  }
  std::printf("\nbroker instructions per TLS connection, median of %d rounds\n", rounds);
  for (const ConnectConfig& config : connect_configs) {
    std::printf("  %-34s %10.0f  spread %.2f%%  x%.4f of A\n", config.key.c_str(),
                Median(config.per_connection), Spread(config.per_connection),
                Median(Ratios(config.per_connection, connect_configs[0].per_connection)));
  }
  const double b_a =
      Median(Ratios(connect_configs[1].per_connection, connect_configs[0].per_connection));
  Summary("2 broker instructions/TLS connection, certguard+100k CRL / no plugin",
          Format("x%.4f (%.0f vs %.0f)", b_a, Median(connect_configs[1].per_connection),
                 Median(connect_configs[0].per_connection)),
          "<= 1.05", b_a <= 1.05 ? "pass" : "MISS");
  Summary("2 broker instructions/TLS connection, certguard, every device new / no plugin",
          Format("x%.4f", Median(Ratios(connect_configs[2].per_connection,
                                        connect_configs[0].per_connection))),
          "-", "info");
  return 0;
}
