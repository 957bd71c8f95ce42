// Parity, certguard's central promise: one policy gives the same decisions on Mosquitto and on
// EMQX. One decision table (certificate, client id, action, topic -> expected) runs through
// (1) the real Mosquitto broker with certguard_mosquitto.so and real MQTT v5 clients over mTLS,
//     where a connect is judged by its CONNACK, a subscribe by its SUBACK, and a publish by what
//     a privileged subscriber actually receives; and
// (2) certguard-exhook in pem mode, called over gRPC as EMQX 5.8 (v2) and 5.9 (v3) call it.
// Every answer must equal the expected column, so the brokers agree with each other and with
// design.md's Semantics.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "shared/topic_filter.h"
#include "tests/exhook/exhook_process.h"
#include "tests/exhook/fake_emqx.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/test_pki.h"

namespace certguard::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kPolicy[] = R"(version: 1
ca: "ca.crt"
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - san_dns: "{id}.devices.example.com"
    - cn: "{id}"
  client_id: must_match
groups:
  sensors:    { id: "sensor-*" }
  dashboards: { id: ["dashboard-*", "ops-console"] }
  operators:  { subject: { OU: "operations" } }
  pumps:      { id: "pump-*" }
rules:
  - for: sensors
    allow:
      publish:   ["sensors/{id}/telemetry", "sensors/{id}/events/#", "devices/{id}/status",
                  "archive/{id}-raw"]
      subscribe: ["devices/{id}/commands/#", "sensors/{id}/+/ack"]
    deny:
      publish:   ["sensors/{id}/events/secret"]
  - for: dashboards
    allow:
      subscribe: ["sensors/+/telemetry", "devices/+/status", "fleet/#"]
    deny:
      subscribe: ["fleet/private/#"]
  - for: operators
    allow:
      publish:   ["devices/+/commands/#"]
      subscribe: ["devices/+/status"]
    deny:
      publish:   ["devices/+/commands/firmware"]
  - for: pumps
    allow:
      publish:   ["#", "$aws/things/{id}/shadow/update"]
      subscribe: ["+/status", "$aws/things/{id}/#", "pumps/{cn}/config/#",
                  "pumps/{client_id}/jobs/+"]
    deny:
      publish:   ["sensors/#"]
  # The table's witness on Mosquitto: receives everything a device manages to publish.
  - for: { id: "observer" }
    allow:
      subscribe: ["#", "$SYS/#", "$aws/#", "$custom"]
      publish:   ["parity/marker"]
  - for: all
    deny:
      publish:   ["$SYS/#"]
revocation:
  crl: ["fleet.crl"]
  denylist: "revoked.txt"
)";

// The observer's subscriptions: every publish row's topic must fall under one of them, or a
// wrongly allowed publish could go unseen.
const std::vector<std::string> kObserverFilters = {"#", "$SYS/#", "$aws/#", "$custom"};

enum class Kind { kConnect, kPublish, kSubscribe };

struct Check {
  Kind kind;
  std::string topic;
  bool expected;
};

// One client connection: a certificate, the client id it connects with, whether certguard
// admits it, and what it then tries (only when admitted).
struct Connection {
  std::string device;
  std::string client_id;
  bool admitted;
  std::string covers;  // the rule of design.md the rows exercise
  std::vector<Check> checks;
};

Check P(std::string topic, bool expected) { return {Kind::kPublish, std::move(topic), expected}; }
Check S(std::string filter, bool expected) {
  return {Kind::kSubscribe, std::move(filter), expected};
}
constexpr bool kAllow = true;
constexpr bool kDeny = false;

// What any sensor may and may not do, by hand from the policy: own topics only, `deny` beats
// `allow`, `#` includes its parent level, placeholders inside a level, containment for
// subscriptions, `$share` checked as its filter.
std::vector<Check> SensorChecks(const std::string& id, const std::string& other) {
  return {
      P("sensors/" + id + "/telemetry", kAllow),
      P("sensors/" + other + "/telemetry", kDeny),
      P("sensors/" + id + "/events/boot", kAllow),
      P("sensors/" + id + "/events/a/b", kAllow),
      P("sensors/" + id + "/events/secret", kDeny),  // deny wins
      P("sensors/" + id + "/events/secret/x", kAllow),
      P("sensors/" + id + "/events", kAllow),  // `#` matches the parent level
      P("sensors/" + id, kDeny),
      P("devices/" + id + "/status", kAllow),
      P("devices/" + other + "/status", kDeny),
      P("archive/" + id + "-raw", kAllow),  // placeholder inside a level
      P("archive/" + id, kDeny),
      P("archive/" + id + "-raw/x", kDeny),
      P("$SYS/broker/" + id, kDeny),
      S("devices/" + id + "/commands/#", kAllow),
      S("devices/" + id + "/commands/reboot", kAllow),
      S("devices/" + id + "/commands/+", kAllow),
      S("devices/" + id + "/#", kDeny),  // wider than allowed
      S("devices/+/commands/#", kDeny),
      S("devices/" + other + "/commands/#", kDeny),
      S("sensors/" + id + "/+/ack", kAllow),
      S("sensors/" + id + "/x/ack", kAllow),
      S("sensors/" + id + "/#", kDeny),
      S("$share/g/devices/" + id + "/commands/#", kAllow),
      S("$share/g/devices/" + other + "/commands/#", kDeny),
      S("#", kDeny),
  };
}

// Dashboards read, never write: containment, and overlap with a denied filter.
std::vector<Check> DashboardChecks(const std::string& id) {
  return {
      S("sensors/+/telemetry", kAllow),
      S("sensors/sensor-1/telemetry", kAllow),
      S("sensors/#", kDeny),
      S("sensors/+/+", kDeny),
      S("+/+/telemetry", kDeny),
      S("devices/+/status", kAllow),
      S("devices/sensor-1/status", kAllow),
      S("fleet/#", kDeny),  // overlaps fleet/private/#
      S("fleet/public/#", kAllow),
      S("fleet/+/x", kDeny),  // overlaps: fleet/private/x
      S("fleet/public/+", kAllow),
      S("fleet/private", kDeny),  // fleet/private/# matches its parent level
      S("fleet/private/#", kDeny),
      S("fleet/privateer/#", kAllow),
      S("#", kDeny),
      S("$SYS/#", kDeny),
      S("$share/g/sensors/+/telemetry", kAllow),
      P("sensors/" + id + "/telemetry", kDeny),
      P("fleet/public/x", kDeny),
  };
}

// A pump may publish anywhere but sensors/#, and not to `$` topics (the `$` rule) except its
// own named one; {cn} and {client_id} placeholders in its subscriptions.
std::vector<Check> PumpChecks() {
  return {
      P("anything/at/all", kAllow),
      P("pumps/pump-3/flow", kAllow),
      P("sensors/pump-3/telemetry", kDeny),
      P("sensors", kDeny),  // sensors/# matches its parent level
      P("$aws/things/pump-3/shadow/update", kAllow),
      P("$aws/things/pump-4/shadow/update", kDeny),  // `#` never matches a `$` topic
      P("$SYS/broker/load", kDeny),
      P("$custom", kDeny),
      S("+/status", kAllow),
      S("sensors/status", kAllow),
      S("#", kDeny),
      S("+/+", kDeny),
      S("$aws/things/pump-3/#", kAllow),
      S("$aws/things/pump-3/shadow/+", kAllow),
      S("$aws/things/pump-4/#", kDeny),
      S("+/things/pump-3/shadow", kDeny),
      S("pumps/pump-unit-3/config/#", kAllow),  // {cn}
      S("pumps/pump-3/config/#", kDeny),
      S("pumps/pump-3/jobs/+", kAllow),  // {client_id}
      S("pumps/pump-unit-3/jobs/+", kDeny),
      S("$share/g/+/status", kAllow),
  };
}

struct Device {
  IssuedCertificate issued;
  std::string cert_file;
  std::string key_file;
};

// The answers one broker gave, row by row (a connect row, then its checks).
using Answers = std::vector<bool>;

class ParityTest : public ::testing::Test {
 protected:
  ParityTest() : ca_("certguard parity CA") {
    etc_ = files_.path() + "/etc";
    ca_file_ = files_.Write("etc/ca.crt", ca_.cert_pem());
    const IssuedCertificate server = ca_.IssueServer();
    server_cert_ = files_.Write("pki/server.crt", server.cert_pem);
    server_key_ = files_.Write("pki/server.key", server.key_pem);
  }

  void SetUp() override {
#ifndef CERTGUARD_PLUGIN_PATH
    FAIL() << "certguard_mosquitto is not built: parity needs both adapters";
#endif
  }

  void AddDevice(const std::string& name, const LeafSpec& spec) {
    Device device;
    device.issued = ca_.Issue(spec);
    const std::string base = "pki/device-" + std::to_string(devices_.size());
    device.cert_file = files_.Write(base + ".crt", device.issued.cert_pem);
    device.key_file = files_.Write(base + ".key", device.issued.key_pem);
    devices_.emplace(name, std::move(device));
  }

  // The fleet: every identity source, odd but legal ids, hostile subjects, revoked and expired
  // certificates. Revocation goes into the CRL and the denylist the policy names.
  void MakeFleet() {
    const auto with_cn = [](const std::string& cn) { return WithCn(cn); };
    AddDevice("sensor-1", with_cn("sensor-1"));
    LeafSpec uri = WithCn("Sensor Twenty");
    uri.san_uri = {"spiffe://iot.example.com/device/sensor-20"};
    AddDevice("sensor-20", uri);
    LeafSpec dns = WithCn("unit 21");
    dns.san_dns = {"sensor-21.devices.example.com"};
    AddDevice("sensor-21", dns);
    LeafSpec uri_and_cn = WithCn("sensor-31");  // the URI comes first in `identity.from`
    uri_and_cn.san_uri = {"spiffe://iot.example.com/device/sensor-30"};
    AddDevice("sensor-30", uri_and_cn);
    LeafSpec foreign_uri = WithCn("sensor-40");  // a URI the template does not fit: CN decides
    foreign_uri.san_uri = {"spiffe://evil.example.com/device/sensor-41"};
    AddDevice("sensor-40", foreign_uri);
    AddDevice("sensor-62,admin", with_cn("sensor-62,admin"));
    LeafSpec two_cns;
    two_cns.subject = {{"CN", "sensor-63"}, {"CN", "sensor-64"}};
    AddDevice("sensor-63", two_cns);
    AddDevice("sensor-ü", with_cn("sensor-ü"));
    AddDevice("dashboard-7", with_cn("dashboard-7"));
    AddDevice("ops-console", with_cn("ops-console"));
    LeafSpec operator_spec;
    operator_spec.subject = {{"O", "Example"}, {"OU", "operations"}, {"CN", "ops-1"}};
    AddDevice("ops-1", operator_spec);
    LeafSpec engineer = operator_spec;
    engineer.subject = {{"O", "Example"}, {"OU", "engineering"}, {"CN", "ops-2"}};
    AddDevice("ops-2", engineer);
    LeafSpec pump = WithCn("pump-unit-3");
    pump.subject.insert(pump.subject.begin(), {"O", "Example Pumps, Inc."});
    pump.san_uri = {"spiffe://iot.example.com/device/pump-3"};
    AddDevice("pump-3", pump);
    LeafSpec nameless;
    nameless.subject = {{"O", "Example"}};
    AddDevice("nameless", nameless);
    AddDevice("multi-level", with_cn("sensor-60/#"));
    AddDevice("wildcard", with_cn("+"));
    AddDevice("hash", with_cn("#"));
    AddDevice("dollar", with_cn("$SYS"));
    AddDevice("nul", with_cn(std::string("sensor-61\0evil", 14)));
    AddDevice("crl-revoked", with_cn("sensor-50"));
    AddDevice("renewed", with_cn("sensor-50"));
    AddDevice("id-denied", with_cn("sensor-51"));
    AddDevice("serial-denied", with_cn("sensor-52"));
    AddDevice("sha256-denied", with_cn("sensor-53"));
    LeafSpec expired = WithCn("sensor-54");
    expired.not_before_offset_seconds = -2 * 86400;
    expired.not_after_offset_seconds = -86400;
    AddDevice("expired", expired);
    AddDevice("observer", with_cn("observer"));

    files_.Write("etc/fleet.crl", ca_.CrlPem({devices_.at("crl-revoked").issued.serial_hex}));
    files_.Write("etc/revoked.txt",
                 "# parity: one entry of each kind\n"
                 "id:sensor-51\n"
                 "serial:" +
                     devices_.at("serial-denied").issued.serial_hex + "\n" +
                     "sha256:" + devices_.at("sha256-denied").issued.sha256_hex + "\n");
    files_.Write("etc/policy.yaml", kPolicy);
  }

  static std::vector<Connection> Table() {
    std::vector<Connection> table = {
        {"sensor-1", "sensor-1", kAllow, "identity from CN; own topics", {}},
        {"sensor-20", "sensor-20", kAllow, "identity from a URI SAN", {}},
        {"sensor-21", "sensor-21", kAllow, "identity from a DNS SAN", {}},
        {"sensor-30", "sensor-30", kAllow, "the first identity source that fits wins", {}},
        {"sensor-62,admin", "sensor-62,admin", kAllow, "a comma in the CN", {}},
        {"sensor-63", "sensor-63", kAllow, "several CNs: the first fits", {}},
        {"sensor-ü", "sensor-ü", kAllow, "a non-ASCII id", {}},
        {"dashboard-7", "dashboard-7", kAllow, "group by id glob; containment, overlap", {}},
        {"ops-console", "ops-console", kAllow, "group by exact id", {}},
        {"ops-1",
         "ops-1",
         kAllow,
         "group by subject attribute; deny wins",
         {
             P("devices/sensor-1/commands/reboot", kAllow),
             P("devices/sensor-1/commands/a/b", kAllow),
             P("devices/sensor-1/commands/firmware", kDeny),
             P("devices/sensor-1/commands/firmware/v2", kAllow),
             P("devices/sensor-1/commands", kAllow),
             P("devices/sensor-1/status", kDeny),
             S("devices/+/status", kAllow),
             S("devices/sensor-1/commands/#", kDeny),
         }},
        {"ops-2",
         "ops-2",
         kAllow,
         "a subject attribute that differs: not in the group",
         {P("devices/sensor-1/commands/reboot", kDeny), S("devices/+/status", kDeny)}},
        {"pump-3", "pump-3", kAllow, "the $ rule; {cn} and {client_id}", PumpChecks()},
        {"sensor-40",
         "sensor-40",
         kAllow,
         "a URI SAN the template does not fit falls through to the CN",
         {P("sensors/sensor-40/telemetry", kAllow), P("sensors/sensor-41/telemetry", kDeny)}},
        {"renewed",
         "sensor-50",
         kAllow,
         "revocation is per certificate: the renewed one is good",
         {P("sensors/sensor-50/telemetry", kAllow)}},
        // Refused at connect.
        {"sensor-1", "sensor-2", kDeny, "client id must match the device id", {}},
        {"sensor-1", "sensor-1x", kDeny, "client id must match exactly", {}},
        {"sensor-30", "sensor-31", kDeny, "the id comes from the first source that fits", {}},
        {"sensor-63", "sensor-64", kDeny, "several CNs: only the first is the id", {}},
        {"sensor-20", "Sensor Twenty", kDeny, "a URI SAN id beats the CN", {}},
        {"nameless", "nameless", kDeny, "no identity source fits", {}},
        {"multi-level", "sensor-60/#", kDeny, "hostile CN with '/' and '#'", {}},
        {"wildcard", "+", kDeny, "hostile CN '+'", {}},
        {"hash", "#", kDeny, "hostile CN '#'", {}},
        {"dollar", "$SYS", kDeny, "hostile CN starting with '$'", {}},
        {"nul", "sensor-61", kDeny, "hostile CN with a NUL byte", {}},
        {"crl-revoked", "sensor-50", kDeny, "revoked by the CRL", {}},
        {"id-denied", "sensor-51", kDeny, "denylist by id", {}},
        {"serial-denied", "sensor-52", kDeny, "denylist by serial", {}},
        {"sha256-denied", "sensor-53", kDeny, "denylist by SHA-256", {}},
        {"expired", "sensor-54", kDeny, "expired certificate", {}},
    };
    for (Connection& c : table) {
      if (c.device.rfind("sensor-", 0) == 0 && c.admitted && c.checks.empty()) {
        c.checks = SensorChecks(c.client_id, c.client_id == "sensor-1" ? "sensor-2" : "sensor-1");
      } else if ((c.device == "dashboard-7" || c.device == "ops-console") && c.checks.empty()) {
        c.checks = DashboardChecks(c.client_id);
      }
    }
    return table;
  }

  static size_t RowCount(const std::vector<Connection>& table) {
    size_t rows = 0;
    for (const Connection& c : table) rows += 1 + c.checks.size();
    return rows;
  }

  // (1) Mosquitto with the plugin, real clients.
  Answers RunOnMosquitto(const std::vector<Connection>& table) {
    Answers answers;
    BrokerOptions options;
    options.ca_file = ca_file_;
    options.cert_file = server_cert_;
    options.key_file = server_key_;
    options.require_certificate = true;
#ifdef CERTGUARD_PLUGIN_PATH
    options.plugin_path = CERTGUARD_PLUGIN_PATH;
#endif
    options.plugin_options = {{"policy", etc_ + "/policy.yaml"}};
    MosquittoBroker broker(options);
    const auto started = broker.Start();
    EXPECT_TRUE(started);
    if (!started) return answers;

    MqttClient observer(ClientOptions(broker, "observer", "observer"));
    EXPECT_EQ(observer.Connect(), 0) << observer.LastError() << broker.Log();
    for (const std::string& filter : kObserverFilters) {
      EXPECT_EQ(observer.Subscribe(filter, 1), 1) << filter << "\n" << broker.Log();
    }

    for (size_t n = 0; n < table.size(); ++n) {
      const Connection& c = table[n];
      MqttClient client(ClientOptions(broker, c.device, c.client_id));
      const int connack = client.Connect();
      const bool connected = connack == 0;
      answers.push_back(connected);
      std::vector<std::pair<size_t, std::string>> published;  // answer index, payload
      for (const Check& check : c.checks) {
        const size_t row = answers.size();
        answers.push_back(false);
        if (!connected) continue;
        if (check.kind == Kind::kSubscribe) {
          const int suback = client.Subscribe(check.topic, 1);
          EXPECT_GE(suback, 0) << "no SUBACK for " << check.topic << ": " << client.LastError();
          answers[row] = suback >= 0 && suback <= 2;
        } else {
          const std::string payload = "parity:" + std::to_string(row);
          const int puback = client.Publish(check.topic, payload, 1);
          EXPECT_GE(puback, 0) << "no PUBACK for " << check.topic << ": " << client.LastError();
          published.emplace_back(row, payload);
        }
      }
      if (!published.empty()) {
        // Everything the client published was acknowledged, so it is queued for the observer
        // ahead of the marker: once the marker arrives, what did not arrive was not delivered.
        const std::string marker = "marker:" + std::to_string(n);
        EXPECT_EQ(observer.Publish("parity/marker", marker, 1), 0) << observer.LastError();
        EXPECT_TRUE(WaitForPayload(observer, marker)) << "marker " << marker << " lost";
        std::set<std::string> received;
        for (const MqttMessage& message : observer.Received()) received.insert(message.payload);
        for (const auto& [row, payload] : published) answers[row] = received.count(payload) > 0;
        observer.ClearReceived();
      }
      client.Disconnect();
    }
    observer.Disconnect();
    EXPECT_EQ(broker.Stop(), 0) << broker.Log();
    return answers;
  }

  // (2) certguard-exhook over gRPC, as EMQX calls it with peer_cert_as_username = pem.
  Answers RunOnExhook(const std::vector<Connection>& table, ExhookProcess& server,
                      ExhookVersion version) {
    Answers answers;
    FakeEmqx emqx(version, FakeEmqx::PlainChannel(server.address()));
    EXPECT_TRUE(emqx.LoadProvider().has_value()) << emqx.last_error();
    for (const Connection& c : table) {
      const EmqxClientInfo client = ClientInfoFor(devices_.at(c.device).issued, c.client_id, true);
      const bool admitted = emqx.Connect(client).value_or(false);
      answers.push_back(admitted);
      for (const Check& check : c.checks) {
        std::optional<bool> allowed = false;
        if (admitted) {
          allowed = check.kind == Kind::kSubscribe ? emqx.Subscribe(client, check.topic)
                                                   : emqx.Publish(client, check.topic);
        }
        answers.push_back(allowed.value_or(false));
      }
      if (admitted) emqx.Disconnect(client);
    }
    EXPECT_EQ(emqx.failures(), 0u) << emqx.last_error();
    return answers;
  }

  MqttClientOptions ClientOptions(const MosquittoBroker& broker, const std::string& device,
                                  const std::string& client_id) const {
    MqttClientOptions options;
    options.port = broker.port();
    options.protocol_version = 5;
    options.client_id = client_id;
    options.ca_file = ca_file_;
    options.cert_file = devices_.at(device).cert_file;
    options.key_file = devices_.at(device).key_file;
    return options;
  }

  static bool WaitForPayload(const MqttClient& client, const std::string& payload) {
    const auto deadline = Clock::now() + milliseconds(10000);
    while (Clock::now() < deadline) {
      for (const MqttMessage& message : client.Received()) {
        if (message.payload == payload) return true;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  TempDir files_;
  TestCa ca_;
  std::string etc_, ca_file_, server_cert_, server_key_;
  std::map<std::string, Device> devices_;
};

std::string Describe(const Connection& c, const Check* check) {
  std::string text = "[" + c.covers + "] " + c.device + " as \"" + c.client_id + "\": ";
  if (check == nullptr) return text + "connect";
  return text + (check->kind == Kind::kPublish ? "publish " : "subscribe ") + check->topic;
}

TEST_F(ParityTest, MosquittoAndEmqxGiveTheExpectedDecisionOnEveryRow) {
  MakeFleet();
  const std::vector<Connection> table = Table();
  const size_t rows = RowCount(table);
  ASSERT_GE(rows, 200u);
  for (const Connection& c : table) {
    EXPECT_TRUE(c.admitted || c.checks.empty()) << Describe(c, nullptr);
    for (const Check& check : c.checks) {
      if (check.kind != Kind::kPublish) continue;
      const bool observed = std::any_of(
          kObserverFilters.begin(), kObserverFilters.end(),
          [&](const std::string& filter) { return TopicMatchesFilter(check.topic, filter); });
      EXPECT_TRUE(observed) << "the observer would not see " << check.topic;
    }
  }

  const auto start = Clock::now();
  const Answers mosquitto = RunOnMosquitto(table);
  ExhookProcess server({"--policy", etc_ + "/policy.yaml", "--peer-cert", "pem"});
  ASSERT_TRUE(server.Start());
  const Answers exhook_v2 = RunOnExhook(table, server, ExhookVersion::kV2);
  const Answers exhook_v3 = RunOnExhook(table, server, ExhookVersion::kV3);
  EXPECT_EQ(server.Stop(), 0) << server.Output();
  ASSERT_EQ(mosquitto.size(), rows);
  ASSERT_EQ(exhook_v2.size(), rows);
  ASSERT_EQ(exhook_v3.size(), rows);

  const auto word = [](bool allowed) { return allowed ? "allow" : "deny"; };
  size_t row = 0;
  size_t disagreements = 0;
  size_t allowed_rows = 0;
  for (const Connection& c : table) {
    for (size_t k = 0; k <= c.checks.size(); ++k, ++row) {
      const Check* check = k == 0 ? nullptr : &c.checks[k - 1];
      const bool expected = check == nullptr ? c.admitted : check->expected;
      allowed_rows += expected;
      if (mosquitto[row] == expected && exhook_v2[row] == expected && exhook_v3[row] == expected) {
        continue;
      }
      ++disagreements;
      ADD_FAILURE() << "row " << row << " " << Describe(c, check) << ": expected " << word(expected)
                    << ", Mosquitto " << word(mosquitto[row]) << ", exhook v2 "
                    << word(exhook_v2[row]) << ", exhook v3 " << word(exhook_v3[row]);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "[ parity ] %zu rows (%zu connections, %zu allow / %zu deny): %zu disagreements between "
      "the expected column, Mosquitto + plugin, exhook v2 and exhook v3 (%.1f s)\n",
      rows, table.size(), allowed_rows, rows - allowed_rows, disagreements, seconds);
}

}  // namespace
}  // namespace certguard::testing
