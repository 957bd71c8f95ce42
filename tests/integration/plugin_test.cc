// certguard_mosquitto.so in the real broker with real TLS clients: who may connect, what each
// device may publish, subscribe and receive, and what a policy edit does to connected clients.
// Every topic check asserts what a subscriber actually receives, not only the broker's return
// code (MQTT 3.1.1 acknowledges a refused publish like an accepted one). A marker message sent
// last lets each negative check wait deterministically: messages from one publisher arrive in
// order, so anything refused that slipped through would arrive before the marker.
#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"

namespace certguard::testing {
namespace {

using Strings = std::vector<std::string>;

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "policy text has no \"" << from << "\"";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// 1-based line of the first occurrence of `needle` in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// The audit line recording `action` on `topic` by `client_id`, or "" if none.
std::string AuditLineFor(const std::string& audit, const std::string& client_id,
                         const std::string& action, const std::string& topic) {
  std::istringstream lines(audit);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("\"client_id\":\"" + client_id + "\"") != std::string::npos &&
        line.find("\"action\":\"" + action + "\"") != std::string::npos &&
        line.find("\"topic\":\"" + topic + "\"") != std::string::npos) {
      return line;
    }
  }
  return "";
}

class PluginTest : public PluginProtocolTest {
 protected:
  void SetUp() override {
    PluginProtocolTest::SetUp();
    WritePolicy(FleetPolicy());
  }

  // A client that reads every non-$ topic, to see what the broker really delivers.
  std::unique_ptr<MqttClient> Observer(const MosquittoBroker& broker) {
    if (!observer_device_) observer_device_ = std::make_unique<Device>(MakeObserver());
    auto observer = Connect(broker, *observer_device_, protocol());
    if (observer) {
      EXPECT_EQ(observer->Subscribe("#", 1), 1);
    }
    return observer;
  }

  std::unique_ptr<Device> observer_device_;
};

INSTANTIATE_TEST_SUITE_P(Protocols, PluginTest, ::testing::Values(4, 5), ProtocolName);

// --- Connect: classic mTLS --------------------------------------------------------------------

TEST_P(PluginTest, ValidCertificateConnectsAndTheBrokerKnowsTheClientByItsDeviceId) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  auto client = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(client);
  EXPECT_TRUE(
      broker->WaitForLog("certguard: client \"sensor-1\" is device \"sensor-1\"", kReloadTimeout))
      << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("u'sensor-1'", kReloadTimeout)) << broker->Log();
}

TEST_P(PluginTest, ClientWithoutCertificateIsRefusedByTheTlsHandshake) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  MqttClientOptions options = ClientOptions(*broker, MakeDevice("sensor-1"), protocol());
  options.cert_file.clear();
  options.key_file.clear();
  MqttClient client(options);
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
}

// Defence in depth: a listener misconfigured without `require_certificate` still admits nobody.
TEST_P(PluginTest, ClientWithoutCertificateIsRefusedByCertguardWhenTheListenerAllowsIt) {
  BrokerOptions options = PluginBroker();
  options.require_certificate = false;
  auto broker = StartBroker(options);
  ASSERT_TRUE(broker);
  MqttClientOptions client_options = ClientOptions(*broker, MakeDevice("sensor-1"), protocol());
  client_options.cert_file.clear();
  client_options.key_file.clear();
  MqttClient client(client_options);
  EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << Describe(client);
  EXPECT_TRUE(broker->WaitForLog("no client certificate", kReloadTimeout)) << broker->Log();
}

TEST_P(PluginTest, CertificateFromAnotherCaIsRefusedByTheTlsHandshake) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device stranger = MakeDevice("sensor-1", WithCn("sensor-1"), &foreign_ca_);
  MqttClient client(ClientOptions(*broker, stranger, protocol()));
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_EQ(LogSince(*broker, 0).find("is device"), std::string::npos);
}

// The broker trusts both CAs (say, a second fleet shares the broker); the policy only the fleet
// CA, with `require_issuer: true`: certguard must refuse what TLS lets through.
TEST_P(PluginTest, CertificateFromAnotherCaTrustedByTheBrokerIsRefusedWithRequireIssuer) {
  WritePolicy(FleetPolicy({.require_issuer = true}));
  BrokerOptions options = PluginBroker();
  options.ca_file = both_cas_file_;
  auto broker = StartBroker(options);
  ASSERT_TRUE(broker);
  const Device stranger = MakeDevice("sensor-1", WithCn("sensor-1"), &foreign_ca_);
  MqttClient client(ClientOptions(*broker, stranger, protocol()));
  EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << Describe(client);
  EXPECT_TRUE(broker->WaitForLog("not signed by a CA in `ca`", kReloadTimeout)) << broker->Log();
  // The same device id with a fleet certificate is welcome.
  EXPECT_TRUE(Connect(*broker, MakeDevice("sensor-1"), protocol()));
}

TEST_P(PluginTest, ExpiredCertificateIsRefusedByTheTlsHandshake) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  LeafSpec spec = WithCn("sensor-1");
  spec.not_before_offset_seconds = -7200;
  spec.not_after_offset_seconds = -60;
  MqttClient client(ClientOptions(*broker, MakeDevice("sensor-1", spec), protocol()));
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_EQ(LogSince(*broker, 0).find("is device"), std::string::npos);
}

TEST_P(PluginTest, CertificateRevokedByTheCrlIsRefused) {
  const Device revoked = MakeDevice("sensor-1");
  WriteCrl({revoked.issued.serial_hex});
  // No `crlfile` on the listener: the refusal is certguard's.
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  MqttClient client(ClientOptions(*broker, revoked, protocol()));
  EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << Describe(client);
  EXPECT_TRUE(broker->WaitForLog("certificate revoked", kReloadTimeout)) << broker->Log();
  EXPECT_TRUE(Connect(*broker, MakeDevice("sensor-2"), protocol()));
}

TEST_P(PluginTest, CertificateOnTheDenylistBySerialFingerprintOrIdIsRefused) {
  const Device by_serial = MakeDevice("sensor-3");
  const Device by_fingerprint = MakeDevice("sensor-4");
  const Device by_id = MakeDevice("sensor-5");
  WriteDenylist("# revoked by hand\nserial:" + by_serial.issued.serial_hex +
                "\nsha256:" + by_fingerprint.issued.sha256_hex + "\nid:sensor-5\n");
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  for (const Device* device : {&by_serial, &by_fingerprint, &by_id}) {
    MqttClient client(ClientOptions(*broker, *device, protocol()));
    EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << device->name << "\n"
                                                                  << Describe(client);
  }
  // A new certificate for the id-revoked device is still refused; an unlisted device is not.
  MqttClient reissued(ClientOptions(*broker, MakeDevice("sensor-5"), protocol()));
  EXPECT_EQ(reissued.Connect(), NotAuthorizedConnack(protocol())) << Describe(reissued);
  EXPECT_TRUE(Connect(*broker, MakeDevice("sensor-6"), protocol()));
}

TEST_P(PluginTest, ClientIdThatDiffersFromTheDeviceIdIsRefused) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  MqttClient impostor(ClientOptions(*broker, MakeDevice("sensor-1"), protocol(), "sensor-2"));
  EXPECT_EQ(impostor.Connect(), NotAuthorizedConnack(protocol())) << Describe(impostor);
  EXPECT_TRUE(broker->WaitForLog("client id does not match the device id", kReloadTimeout))
      << broker->Log();
}

TEST_P(PluginTest, AnyClientIdIsAcceptedWithClientIdAnyAndTheUsernameIsStillTheDeviceId) {
  WritePolicy(FleetPolicy({.client_id = "any"}));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  auto client = Connect(*broker, sensor, protocol(), "firmware-7f3a");
  ASSERT_TRUE(client);
  // Mosquitto's connect line: "... as firmware-7f3a (p2|p5, c1, k30, u'sensor-1')."
  const std::string protocol_tag = protocol() == 5 ? "p5" : "p2";
  EXPECT_TRUE(broker->WaitForLog("as firmware-7f3a (" + protocol_tag, kReloadTimeout))
      << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("u'sensor-1'", kReloadTimeout)) << broker->Log();
  // The rights are the device's, whatever the client id.
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  EXPECT_EQ(client->Publish("sensors/firmware-7f3a/telemetry", "x", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(client->Publish("sensors/sensor-1/telemetry", "marker", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Topics(*observer), Strings{"sensors/sensor-1/telemetry"});
}

// --- Hostile subjects --------------------------------------------------------------------------

TEST_P(PluginTest, HostileSubjectsAreRefusedEvenUnderAPermissiveTemplate) {
  // Every device may use `{id}/#`: an id of `#` or `+` would otherwise be a wildcard grant, and
  // `a/b` a grant on another device's subtree.
  WritePolicy(R"(version: 1
ca: "ca.crt"
identity:
  from:
    - cn: "{id}"
  client_id: any
rules:
  - for: all
    allow:
      publish:   ["{id}/#"]
      subscribe: ["{id}/#"]
  - for: { id: "observer" }
    allow:
      subscribe: ["#"]
revocation:
  refresh: 100ms
)");
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  struct Hostile {
    std::string label;
    std::string cn;
    std::string why;  // in the broker's refusal line
  };
  const std::vector<Hostile> hostile = {
      {"plus", "+", "it contains '+'"},
      {"hash", "#", "it contains '#'"},
      {"slash", "a/b", "it contains '/'"},
      // A C string comparison would see "observer" here.
      {"nul", std::string("observer\0evil", 13), "embedded NUL character"},
      // Longer than any id certguard substitutes.
      {"10k", std::string(10 * 1024, 'x'), ""},
  };
  for (const Hostile& h : hostile) {
    const Device device = MakeDevice(h.label, WithCn(h.cn));
    const std::string client_id = "hostile-" + h.label;
    MqttClient client(ClientOptions(*broker, device, protocol(), client_id));
    const int rc = client.Connect();
    if (h.label == "10k" && rc == MqttClient::kConnectionLost) {
      // TLS may refuse a certificate this large before certguard sees it; that is a refusal too.
      continue;
    }
    EXPECT_EQ(rc, NotAuthorizedConnack(protocol())) << h.label << "\n" << Describe(client);
    EXPECT_TRUE(
        broker->WaitForLog("certguard: refused client \"" + client_id + "\"", kReloadTimeout))
        << h.label << "\n"
        << broker->Log();
    const std::string log = LogSince(*broker, 0);
    const size_t line = log.find("certguard: refused client \"" + client_id + "\"");
    EXPECT_NE(log.substr(line, log.find('\n', line) - line).find(h.why), std::string::npos)
        << h.label << "\n"
        << log;
    EXPECT_EQ(client.Publish("x/y", "after refusal", 1), MqttClient::kConnectionLost);
  }
  const std::string log = LogSince(*broker, 0);
  EXPECT_EQ(std::regex_search(log, std::regex("client \"hostile-[a-z0-9]+\" is device")), false)
      << log;
  // The template itself works: a well-behaved device gets its subtree.
  auto good = Connect(*broker, MakeDevice("device-7"), protocol());
  ASSERT_TRUE(good);
  EXPECT_EQ(good->Publish("device-7/reading", "ok", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Topics(*observer), Strings{"device-7/reading"});
}

// --- Topics ------------------------------------------------------------------------------------

TEST_P(PluginTest, DevicePublishesOnlyOnItsOwnTopicsAndOnlyAllowedMessagesAreDelivered) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  auto dashboard = Connect(*broker, MakeDevice("dashboard-1"), protocol());
  ASSERT_TRUE(dashboard);
  ASSERT_EQ(dashboard->Subscribe("sensors/+/telemetry", 1), 1);
  ASSERT_EQ(dashboard->Subscribe("devices/+/status", 1), 1);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);

  const int refused = RefusedQos1Publish(protocol());
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "21.5C", 1), 0);
  EXPECT_EQ(sensor->Publish("sensors/sensor-2/telemetry", "forged", 1), refused);
  EXPECT_EQ(sensor->Publish("devices/sensor-2/status", "forged", 1), refused);
  EXPECT_EQ(sensor->Publish("devices/sensor-1/commands/reboot", "self-command", 1), refused);
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry/extra", "deeper", 1), refused);
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "qos0", 0), 0);
  EXPECT_EQ(sensor->Publish("sensors/sensor-2/telemetry", "forged qos0", 0), 0);
  EXPECT_EQ(sensor->Publish("devices/sensor-1/status", "marker", 1), 0);

  ASSERT_TRUE(observer->WaitForMessages(3)) << Describe(*observer);
  ASSERT_TRUE(dashboard->WaitForMessages(3)) << Describe(*dashboard);
  EXPECT_EQ(Payloads(*observer), (Strings{"21.5C", "qos0", "marker"}));
  EXPECT_EQ(Topics(*dashboard), (Strings{"sensors/sensor-1/telemetry", "sensors/sensor-1/telemetry",
                                         "devices/sensor-1/status"}));
}

// A device that reconnects while its old connection is still open takes the session over: the
// broker drops the old connection after certguard admitted the new one. The new connection keeps
// exactly the device's rights, and the old one's end does not take them away.
TEST_P(PluginTest, ReconnectWithTheSameClientIdTakesOverWithTheSameRights) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  const Device sensor = MakeDevice("sensor-1");
  auto first = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->Publish("sensors/sensor-1/telemetry", "first", 1), 0);

  auto second = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(second);
  EXPECT_TRUE(first->WaitForDisconnect()) << broker->Log();
  const int refused = RefusedQos1Publish(protocol());
  EXPECT_EQ(second->Publish("sensors/sensor-1/telemetry", "second", 1), 0);
  EXPECT_EQ(second->Publish("sensors/sensor-2/telemetry", "forged", 1), refused);
  EXPECT_EQ(second->Publish("devices/sensor-1/status", "marker", 1), 0);

  ASSERT_TRUE(observer->WaitForMessages(3)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), (Strings{"first", "second", "marker"}));
  EXPECT_TRUE(second->IsConnected());
}

TEST_P(PluginTest, DeviceSubscribesOnlyToItsOwnCommandsAndReceivesOnlyThem) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  const int refused = RefusedSubscription(protocol());
  EXPECT_EQ(sensor->Subscribe("devices/sensor-1/commands/#", 1), 1);
  EXPECT_EQ(sensor->Subscribe("devices/+/commands/#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("devices/sensor-2/commands/#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("devices/#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("sensors/+/telemetry", 1), refused);
  EXPECT_TRUE(sensor->IsConnected());

  auto operator_client = Connect(*broker, MakeOperator("operator-1"), protocol());
  ASSERT_TRUE(operator_client);
  EXPECT_EQ(operator_client->Publish("devices/sensor-2/commands/reboot", "not yours", 1),
            AcceptedWithoutSubscribers(protocol()));
  // Deny wins: operators may send any command except firmware.
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/firmware", "blob", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/reboot", "yours", 1), 0);
  ASSERT_TRUE(sensor->WaitForMessages(1)) << Describe(*sensor);
  EXPECT_EQ(Payloads(*sensor), Strings{"yours"});
}

TEST_P(PluginTest, SharedSubscriptionIsCheckedAsItsFilter) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  const int refused = RefusedSubscription(protocol());
  EXPECT_EQ(sensor->Subscribe("$share/g/devices/sensor-1/commands/#", 1), 1);
  EXPECT_EQ(sensor->Subscribe("$share/g/devices/+/commands/#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("$share/g/#", 1), refused);
  EXPECT_EQ(sensor->Subscribe("$share/sensor-1/devices/sensor-2/commands/#", 1), refused);

  auto operator_client = Connect(*broker, MakeOperator("operator-1"), protocol());
  ASSERT_TRUE(operator_client);
  EXPECT_EQ(operator_client->Publish("devices/sensor-2/commands/reboot", "not yours", 1),
            AcceptedWithoutSubscribers(protocol()));
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/reboot", "yours", 1), 0);
  ASSERT_TRUE(sensor->WaitForMessages(1)) << Describe(*sensor);
  EXPECT_EQ(Payloads(*sensor), Strings{"yours"});
}

TEST_P(PluginTest, UnsubscribeIsAlwaysAllowed) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  ASSERT_EQ(sensor->Subscribe("devices/sensor-1/commands/a", 1), 1);
  ASSERT_EQ(sensor->Subscribe("devices/sensor-1/commands/b", 1), 1);
  EXPECT_EQ(sensor->Unsubscribe("devices/sensor-1/commands/a"), 0);
  // Filters it could never subscribe to: unsubscribing is still fine.
  EXPECT_EQ(sensor->Unsubscribe("#"), 0);
  EXPECT_EQ(sensor->Unsubscribe("$share/g/devices/+/commands/#"), 0);
  EXPECT_TRUE(sensor->IsConnected());

  auto operator_client = Connect(*broker, MakeOperator("operator-1"), protocol());
  ASSERT_TRUE(operator_client);
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/a", "unsubscribed", 1),
            AcceptedWithoutSubscribers(protocol()));
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/b", "marker", 1), 0);
  ASSERT_TRUE(sensor->WaitForMessages(1)) << Describe(*sensor);
  EXPECT_EQ(Payloads(*sensor), Strings{"marker"});
  EXPECT_EQ(AuditLines().find("\"action\":\"unsubscribe\""), std::string::npos) << AuditLines();
}

TEST_P(PluginTest, NobodyPublishesToSysTopics) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  // The observer's own rules allow $SYS/certguard-test/#; `deny publish $SYS/#` for all wins.
  ASSERT_EQ(observer->Subscribe("$SYS/certguard-test/#", 1), 1);
  // The broker itself lets writes to $SYS/broker/connection/... through to plugins (bridge
  // status): there only certguard's deny rule stands between a device and the $SYS tree.
  ASSERT_EQ(observer->Subscribe("$SYS/broker/connection/#", 1), 1);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  const int refused = RefusedQos1Publish(protocol());
  EXPECT_EQ(observer->Publish("$SYS/certguard-test/x", "observer", 1), refused);
  EXPECT_EQ(observer->Publish("$SYS/broker/connection/fake/state", "0", 1), refused);
  EXPECT_EQ(sensor->Publish("$SYS/certguard-test/x", "sensor", 1), refused);
  EXPECT_EQ(sensor->Publish("$SYS/broker/connection/sensor-1/state", "0", 1), refused);
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "marker", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), Strings{"marker"});
  // The bridge-status topic reached certguard, which denied it by rule.
  const std::string line =
      AuditLineFor(AuditLines(), "observer", "publish", "$SYS/broker/connection/fake/state");
  EXPECT_NE(line.find("denied by rule"), std::string::npos) << AuditLines();
}

// Receive checks make a policy change bite on subscriptions that already exist.
TEST_P(PluginTest, DashboardStopsReceivingWhenAPolicyEditRemovesItsSubscribeRight) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  auto dashboard = Connect(*broker, MakeDevice("dashboard-1"), protocol());
  ASSERT_TRUE(dashboard);
  ASSERT_EQ(dashboard->Subscribe("sensors/+/telemetry", 1), 1);
  ASSERT_EQ(dashboard->Subscribe("devices/+/status", 1), 1);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "before", 1), 0);
  ASSERT_TRUE(dashboard->WaitForMessages(1)) << Describe(*dashboard);

  ASSERT_TRUE(ApplyPolicy(
      *broker, Replaced(FleetPolicy(), R"(subscribe: ["sensors/+/telemetry", "devices/+/status"])",
                        R"(subscribe: ["devices/+/status"])")))
      << broker->Log();
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "after", 1), 0);
  EXPECT_EQ(sensor->Publish("devices/sensor-1/status", "marker", 1), 0);
  ASSERT_TRUE(dashboard->WaitForMessages(2)) << Describe(*dashboard);
  EXPECT_EQ(Payloads(*dashboard), (Strings{"before", "marker"}));
  // The message was published and delivered to others: only the dashboard's delivery was cut.
  ASSERT_TRUE(observer->WaitForMessages(3)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), (Strings{"before", "after", "marker"}));
  EXPECT_TRUE(dashboard->IsConnected());
  const std::string line =
      AuditLineFor(AuditLines(), "dashboard-1", "receive", "sensors/sensor-1/telemetry");
  EXPECT_NE(line, "") << AuditLines();
}

// --- Policy edits while running --------------------------------------------------------------

TEST_P(PluginTest, PolicyEditChangesPublishRightsOfConnectedClients) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "allowed", 1), 0);

  const std::string without_telemetry =
      Replaced(FleetPolicy(), R"(publish:   ["sensors/{id}/telemetry", "devices/{id}/status"])",
               R"(publish:   ["devices/{id}/status"])");
  ASSERT_TRUE(ApplyPolicy(*broker, without_telemetry)) << broker->Log();
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "right removed", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(sensor->Publish("devices/sensor-1/status", "marker-1", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(2)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), (Strings{"allowed", "marker-1"}));

  ASSERT_TRUE(ApplyPolicy(*broker, FleetPolicy())) << broker->Log();
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "right restored", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(3)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), (Strings{"allowed", "marker-1", "right restored"}));
  EXPECT_TRUE(sensor->IsConnected());
}

TEST_P(PluginTest, BrokenPolicyEditIsRejectedWithItsLocationAndTheOldPolicyKeepsWorking) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);

  size_t mark = broker->LogMark();
  // An unclosed flow sequence: a YAML error, not just a policy error.
  WritePolicy(Replaced(FleetPolicy(), R"(subscribe: ["devices/{id}/commands/#"])",
                       R"(subscribe: ["devices/{id}/commands/#")"));
  ASSERT_TRUE(broker->WaitForLog("policy change rejected", kReloadTimeout, mark)) << broker->Log();
  const std::string rejected = LogSince(*broker, mark);
  EXPECT_TRUE(std::regex_search(
      rejected, std::regex("certguard: policy change rejected, the previous policy stays in "
                           "force: [^\n]*policy\\.yaml:[0-9]+:[0-9]+: ")))
      << rejected;
  EXPECT_EQ(rejected.find("certguard: policy reloaded"), std::string::npos) << rejected;

  // The old policy still decides, for connected clients and newcomers alike.
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "still allowed", 1), 0);
  auto newcomer = Connect(*broker, MakeDevice("sensor-2"), protocol());
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->Publish("sensors/sensor-2/telemetry", "newcomer", 1), 0);
  EXPECT_EQ(newcomer->Publish("sensors/sensor-1/telemetry", "forged", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(sensor->Publish("devices/sensor-1/status", "marker-1", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(3)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), (Strings{"still allowed", "newcomer", "marker-1"}));

  // A later good edit is picked up.
  ASSERT_TRUE(ApplyPolicy(
      *broker,
      Replaced(FleetPolicy(), R"(publish:   ["sensors/{id}/telemetry", "devices/{id}/status"])",
               R"(publish:   ["devices/{id}/status"])")))
      << broker->Log();
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "right removed", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(sensor->Publish("devices/sensor-1/status", "marker-2", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(4)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer).back(), "marker-2");
  EXPECT_EQ(observer->ReceivedCount(), 4u);
}

TEST_P(PluginTest, PolicyEditUnderWhichAConnectedDeviceNoLongerResolvesDisconnectsIt) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  const Device legacy = MakeDevice("sensor-1");  // its id is only in the CN
  LeafSpec spiffe_spec = WithCn("sensor-2");
  spiffe_spec.san_uri = {"spiffe://iot.example.com/device/sensor-2"};
  const Device modern = MakeDevice("sensor-2", spiffe_spec);
  auto legacy_client = Connect(*broker, legacy, protocol());
  ASSERT_TRUE(legacy_client);
  ASSERT_EQ(legacy_client->Subscribe("devices/sensor-1/commands/#", 1), 1);
  auto modern_client = Connect(*broker, modern, protocol());
  ASSERT_TRUE(modern_client);

  const size_t mark = broker->LogMark();
  WritePolicy(Replaced(FleetPolicy(), "    - cn: \"{id}\"\n", ""));
  ASSERT_TRUE(legacy_client->WaitForDisconnect(kDisconnectTimeout)) << broker->Log();
  EXPECT_TRUE(
      broker->WaitForLog("certguard: disconnecting client \"sensor-1\"", kReloadTimeout, mark))
      << broker->Log();
  MqttClient again(ClientOptions(*broker, legacy, protocol()));
  EXPECT_EQ(again.Connect(), NotAuthorizedConnack(protocol())) << Describe(again);

  // The device whose SAN still resolves is untouched.
  EXPECT_TRUE(modern_client->IsConnected());
  EXPECT_EQ(modern_client->Publish("sensors/sensor-2/telemetry", "still here", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), Strings{"still here"});
}

// The broker knows a client by the username certguard gave it: a policy edit that maps the same
// certificate to another device id must not leave it running under the old one.
TEST_P(PluginTest, PolicyEditThatChangesAConnectedDevicesIdDisconnectsIt) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  auto client = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(client);
  const size_t mark = broker->LogMark();
  WritePolicy(Replaced(FleetPolicy({.client_id = "any"}), "    - cn: \"{id}\"\n",
                       "    - cn: \"sensor-{id}\"\n"));
  ASSERT_TRUE(client->WaitForDisconnect(kDisconnectTimeout)) << broker->Log();
  EXPECT_TRUE(
      broker->WaitForLog("device id changed from \"sensor-1\" to \"1\"", kReloadTimeout, mark))
      << broker->Log();
  // Reconnecting gives it the new identity.
  auto again = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(again);
  EXPECT_TRUE(
      broker->WaitForLog("certguard: client \"sensor-1\" is device \"1\"", kReloadTimeout, mark))
      << broker->Log();
}

// --- Audit log ---------------------------------------------------------------------------------

TEST_P(PluginTest, DenialsAreAuditedAsJsonLinesWithWhoWhatAndWhy) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  MqttClient impostor(ClientOptions(*broker, MakeDevice("sensor-1"), protocol(), "sensor-9"));
  EXPECT_EQ(impostor.Connect(), NotAuthorizedConnack(protocol()));
  auto sensor = Connect(*broker, MakeDevice("sensor-1"), protocol());
  ASSERT_TRUE(sensor);
  EXPECT_EQ(sensor->Publish("sensors/sensor-2/telemetry", "forged", 1),
            RefusedQos1Publish(protocol()));
  EXPECT_EQ(sensor->Subscribe("devices/+/commands/#", 1), RefusedSubscription(protocol()));
  auto operator_client = Connect(*broker, MakeOperator("operator-1"), protocol());
  ASSERT_TRUE(operator_client);
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/firmware", "blob", 1),
            RefusedQos1Publish(protocol()));
  // Allowed actions leave no trace.
  EXPECT_EQ(sensor->Publish("sensors/sensor-1/telemetry", "fine", 1),
            AcceptedWithoutSubscribers(protocol()));

  // Each denial is written before the broker answers the client, so the file is complete now.
  const std::string audit = AuditLines();
  std::istringstream lines(audit);
  std::string line;
  size_t count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find("\"time\":\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"decision\":\"deny\""), std::string::npos) << line;
  }
  EXPECT_EQ(count, 4u) << audit;

  const std::string connect = AuditLineFor(audit, "sensor-9", "connect", "");
  EXPECT_NE(connect.find("\"device_id\":\"\""), std::string::npos) << audit;
  EXPECT_NE(connect.find("\"reason\":\"client id does not match the device id"), std::string::npos)
      << audit;

  const std::string publish =
      AuditLineFor(audit, "sensor-1", "publish", "sensors/sensor-2/telemetry");
  EXPECT_NE(publish.find("\"device_id\":\"sensor-1\""), std::string::npos) << audit;
  EXPECT_NE(publish.find("\"reason\":\"no allow rule matches (default deny)\""), std::string::npos)
      << audit;
  EXPECT_EQ(publish.find("\"rule\""), std::string::npos) << audit;

  const std::string subscribe =
      AuditLineFor(audit, "sensor-1", "subscribe", "devices/+/commands/#");
  EXPECT_NE(subscribe.find("\"device_id\":\"sensor-1\""), std::string::npos) << audit;

  const std::string by_rule =
      AuditLineFor(audit, "operator-1", "publish", "devices/sensor-1/commands/firmware");
  EXPECT_NE(by_rule.find("\"reason\":\"denied by rule\""), std::string::npos) << audit;
  const int rule_line = LineOf(FleetPolicy(), "\"devices/+/commands/firmware\"");
  EXPECT_TRUE(std::regex_search(by_rule, std::regex("\"rule\":\"[^\"]*policy\\.yaml:" +
                                                    std::to_string(rule_line) + ":[0-9]+\"")))
      << "expected line " << rule_line << "\n"
      << audit;
}

// --- Start-up ----------------------------------------------------------------------------------

class PluginStartupTest : public PluginTestBase {
 protected:
  // Starts a broker expected to fail; returns its log.
  std::string StartExpectingFailure(const BrokerOptions& options) {
    MosquittoBroker broker(options);
    const ::testing::AssertionResult started = broker.Start();
    EXPECT_FALSE(started) << broker.Log();
    EXPECT_FALSE(broker.IsRunning());
    // Stop() reports an exit that happened on its own: the broker gave up, it was not stopped.
    const int exit_code = broker.Stop();
    EXPECT_NE(exit_code, 0) << broker.Log();
    EXPECT_NE(exit_code, -1) << "the broker did not run at all\n" << broker.Log();
    return broker.Log();
  }
};

TEST_F(PluginStartupTest, MissingPolicyFileStopsTheBroker) {
  BrokerOptions options = PluginBroker();
  options.plugin_options = {{"policy", etc_ + "/no-such-policy.yaml"}};
  const std::string log = StartExpectingFailure(options);
  EXPECT_TRUE(std::regex_search(log, std::regex("certguard: cannot start: [^\n]*no-such-policy")))
      << log;
}

TEST_F(PluginStartupTest, InvalidPolicyStopsTheBrokerAndSaysWhere) {
  WritePolicy(
      "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrules:\n  - for: all\n"
      "    allow:\n      publish: [\"a/#/b\"]\n");
  const std::string log = StartExpectingFailure(PluginBroker());
  EXPECT_TRUE(
      std::regex_search(log, std::regex("certguard: cannot start: [^\n]*policy\\.yaml:8:[0-9]+: ")))
      << log;
}

TEST_F(PluginStartupTest, UnknownPluginOptionStopsTheBroker) {
  WritePolicy(FleetPolicy());
  BrokerOptions options = PluginBroker();
  options.plugin_options.emplace_back("polcy", policy_path_);
  const std::string log = StartExpectingFailure(options);
  EXPECT_NE(log.find("certguard: unknown option plugin_opt_polcy"), std::string::npos) << log;
}

TEST_F(PluginStartupTest, MissingPolicyOptionStopsTheBroker) {
  BrokerOptions options = PluginBroker();
  options.plugin_options.clear();
  const std::string log = StartExpectingFailure(options);
  EXPECT_NE(log.find("certguard: cannot start: plugin_opt_policy is required"), std::string::npos)
      << log;
}

TEST_F(PluginStartupTest, AuditLogThatCannotBeOpenedStopsTheBroker) {
  WritePolicy(FleetPolicy());
  BrokerOptions options = PluginBroker();
  options.plugin_options = {{"policy", policy_path_},
                            {"audit", files_.path() + "/no-such-dir/audit.jsonl"}};
  const std::string log = StartExpectingFailure(options);
  EXPECT_TRUE(std::regex_search(log, std::regex("certguard: cannot start: [^\n]*audit"))) << log;
}

TEST_F(PluginStartupTest, GoodPolicyStartsAndSaysWhatItLoaded) {
  WritePolicy(FleetPolicy());
  MosquittoBroker broker(PluginBroker());
  ASSERT_TRUE(broker.Start());
  EXPECT_TRUE(broker.WaitForLog("certguard: policy " + policy_path_ + " loaded", kReloadTimeout))
      << broker.Log();
  EXPECT_EQ(broker.Stop(), 0) << broker.Log();
}

}  // namespace
}  // namespace certguard::testing
