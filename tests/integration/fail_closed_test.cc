// Fail closed: when a file certguard depends on goes bad while the broker runs (a CRL past its
// nextUpdate, a CRL, denylist, policy or CA bundle deleted, truncated or half-written) or a
// certificate is not valid yet, nobody gains access they would not have under the last good
// files, and revocations already in force stay in force. Each case runs against the real broker
// with the plugin and looks at what clients see: CONNACKs, PUBACKs, deliveries, disconnects, and
// the broker log an operator reads. The README's "Fail-closed behaviour" table points here.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"
#include "tests/support/count_occurrences.h"

namespace certguard::testing {
namespace {

using Strings = std::vector<std::string>;

// MQTT v5: a refused publish gets its own PUBACK code, so rights show without an observer.
constexpr int kProtocol = 5;
constexpr int kNotAuthorized = 0x87;
constexpr int kNoSubscribers = 0x10;
// Long enough for several once-a-second re-checks of connected clients to have run.
constexpr milliseconds kSeveralSweeps{3500};
// How far ahead a CRL's nextUpdate is put when a test wants it to pass while clients are on.
constexpr int64_t kSoonSeconds = 2;

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in:\n" << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string WithStaleCrl(const std::string& policy, const std::string& mode) {
  return Replaced(policy, "  refresh: ", "  stale_crl: " + mode + "\n  refresh: ");
}

class FailClosedTest : public PluginTestBase {
 protected:
  void SetUp() override {
    PluginTestBase::SetUp();
    WritePolicy(FleetPolicy());
  }

  // Writes etc/<name> in place, the way a crashed or slow writer leaves a file: whoever reads it
  // meanwhile sees exactly `contents`.
  void WriteInPlace(const std::string& name, const std::string& contents) const {
    std::ofstream out(etc_ + "/" + name, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  void WriteCrlExpiringIn(const std::vector<std::string>& revoked, int64_t seconds) const {
    WriteAtomically("fleet.crl", fleet_ca_.CrlPem(revoked, seconds));
  }

  // sensor-1 connected and subscribed to its commands; the operator sends them.
  struct Scene {
    Device sensor, operator_device;
    std::unique_ptr<MqttClient> client, operator_client;
    int commands_sent = 0;
  };
  bool SetUpScene(const MosquittoBroker& broker, Scene* scene) {
    scene->sensor = MakeDevice("sensor-1");
    scene->operator_device = MakeOperator("operator-1");
    scene->client = Connect(broker, scene->sensor, kProtocol);
    scene->operator_client = Connect(broker, scene->operator_device, kProtocol);
    if (!scene->client || !scene->operator_client) return false;
    EXPECT_EQ(scene->client->Subscribe("devices/sensor-1/commands/#", 1), 1);
    return StillServed(*scene);
  }
  // True when sensor-1 still gets a fresh command: its session is alive and the policy in force
  // still lets it read its commands.
  ::testing::AssertionResult StillServed(Scene& scene) {
    const std::string payload = "command-" + std::to_string(++scene.commands_sent);
    const int rc = scene.operator_client->Publish("devices/sensor-1/commands/ping", payload, 1);
    if (rc != 0) return ::testing::AssertionFailure() << "operator's command got PUBACK " << rc;
    if (!scene.client->WaitForMessages(static_cast<size_t>(scene.commands_sent))) {
      return ::testing::AssertionFailure() << "sensor-1 did not get " << payload << "\n"
                                           << Describe(*scene.client);
    }
    const Strings payloads = Payloads(*scene.client);
    if (payloads.back() != payload) {
      return ::testing::AssertionFailure() << "sensor-1 got " << payloads.back();
    }
    return ::testing::AssertionSuccess();
  }

  // The CONNACK code a fresh connection of `device` gets.
  int ConnectCode(const MosquittoBroker& broker, const Device& device) {
    MqttClientOptions options = ClientOptions(broker, device, kProtocol);
    // Not etc/ca.crt, which a test may delete: the client only needs to trust the server.
    options.ca_file = both_cas_file_;
    MqttClient client(options);
    const int rc = client.Connect();
    client.Disconnect();
    return rc;
  }

  // The broker's line about refusing `client_id` logged since `mark`, or "".
  static std::string RefusalLine(const MosquittoBroker& broker, const std::string& client_id,
                                 size_t mark) {
    const std::string log = LogSince(broker, mark);
    const size_t at = log.find("certguard: refused client \"" + client_id + "\"");
    return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
  }

  ::testing::AssertionResult WaitForRejection(const MosquittoBroker& broker, size_t mark,
                                              const std::string& naming) {
    if (!broker.WaitForLog("certguard: policy change rejected", kReloadTimeout, mark)) {
      return ::testing::AssertionFailure() << "no rejection logged:\n" << LogSince(broker, mark);
    }
    const std::string log = LogSince(broker, mark);
    const size_t at = log.find("certguard: policy change rejected");
    const std::string line = log.substr(at, log.find('\n', at) - at);
    if (line.find(naming) == std::string::npos) {
      return ::testing::AssertionFailure() << "rejection does not name " << naming << ": " << line;
    }
    return ::testing::AssertionSuccess();
  }
};

// --- Stale CRLs --------------------------------------------------------------------------------

TEST_F(FailClosedTest, StaleCrlUnderDenyRefusesEveryCertificateOfItsIssuer) {
  WritePolicy(WithStaleCrl(FleetPolicy(), "deny"));
  WriteCrlExpiringIn({}, -60);
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const size_t mark = broker->LogMark();
  EXPECT_EQ(ConnectCode(*broker, MakeDevice("sensor-1")), kNotAuthorized);
  const std::string line = RefusalLine(*broker, "sensor-1", mark);
  EXPECT_NE(line.find("is stale: nextUpdate"), std::string::npos) << LogSince(*broker, mark);
}

TEST_F(FailClosedTest, StaleCrlUnderWarnAdmitsClientsAndLogsOneWarning) {
  WritePolicy(WithStaleCrl(FleetPolicy(), "warn"));
  WriteCrlExpiringIn({}, -60);
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();
  ASSERT_TRUE(broker->WaitForLog("(stale_crl: warn)", kReloadTimeout)) << broker->Log();
  // Two clients rely on the stale CRL and are re-checked every second: still one line.
  std::this_thread::sleep_for(kSeveralSweeps);
  EXPECT_EQ(CountOccurrences(broker->Log(), "(stale_crl: warn)"), 1u) << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("certguard: warning: CRL ", kReloadTimeout)) << broker->Log();
  EXPECT_TRUE(StillServed(scene));
}

TEST_F(FailClosedTest, CrlThatGoesStaleWhileAClientIsConnectedDisconnectsItUnderDeny) {
  WritePolicy(WithStaleCrl(FleetPolicy(), "deny"));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  const size_t mark = broker->LogMark();
  WriteCrlExpiringIn({}, kSoonSeconds);
  ASSERT_TRUE(scene.client->WaitForDisconnect(kDisconnectTimeout)) << broker->Log();
  EXPECT_TRUE(
      broker->WaitForLog("certguard: disconnecting client \"sensor-1\"", kReloadTimeout, mark))
      << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("is stale: nextUpdate", kReloadTimeout, mark)) << broker->Log();
  EXPECT_EQ(ConnectCode(*broker, scene.sensor), kNotAuthorized);
}

TEST_F(FailClosedTest, CrlThatGoesStaleWhileAClientIsConnectedKeepsItUnderWarnAndWarnsOncePerCrl) {
  WritePolicy(WithStaleCrl(FleetPolicy(), "warn"));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  size_t mark = broker->LogMark();
  WriteCrlExpiringIn({}, kSoonSeconds);
  ASSERT_TRUE(broker->WaitForLog("(stale_crl: warn)", kDisconnectTimeout, mark)) << broker->Log();
  std::this_thread::sleep_for(kSeveralSweeps);
  EXPECT_EQ(CountOccurrences(LogSince(*broker, mark), "(stale_crl: warn)"), 1u)
      << LogSince(*broker, mark);
  EXPECT_TRUE(scene.client->IsConnected());
  EXPECT_TRUE(StillServed(scene));
  EXPECT_EQ(ConnectCode(*broker, MakeDevice("sensor-2")), 0);
  EXPECT_EQ(LogSince(*broker, mark).find("certguard: disconnecting"), std::string::npos)
      << LogSince(*broker, mark);

  // A new CRL that goes stale in turn is a new state: one more line.
  mark = broker->LogMark();
  WriteCrlExpiringIn({}, kSoonSeconds);
  ASSERT_TRUE(broker->WaitForLog("(stale_crl: warn)", kDisconnectTimeout, mark)) << broker->Log();
  EXPECT_TRUE(scene.client->IsConnected());
}

TEST_F(FailClosedTest, CrlReplacedByOneAlreadyStaleUnderWarnIsWarnedOnceForConnectedClients) {
  // Connected clients meet the new CRL when they are rebound to the new snapshot, not at a
  // connect, and nothing re-checks them after that before their notAfter: the rebind warns.
  WritePolicy(WithStaleCrl(FleetPolicy(), "warn"));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  const size_t mark = broker->LogMark();
  WriteCrlExpiringIn({}, -60);
  ASSERT_TRUE(broker->WaitForLog("(stale_crl: warn)", kDisconnectTimeout, mark)) << broker->Log();
  std::this_thread::sleep_for(kSeveralSweeps);
  EXPECT_EQ(CountOccurrences(LogSince(*broker, mark), "(stale_crl: warn)"), 1u)
      << LogSince(*broker, mark);
  EXPECT_TRUE(scene.client->IsConnected());
  EXPECT_TRUE(StillServed(scene));
}

// --- CRL, denylist, policy or CA that cannot be read -------------------------------------------

enum class Breakage { kDeleted, kTruncated, kDirectory };
std::string BreakageName(const ::testing::TestParamInfo<Breakage>& info) {
  switch (info.param) {
    case Breakage::kDeleted:
      return "Deleted";
    case Breakage::kTruncated:
      return "Truncated";
    case Breakage::kDirectory:
      return "ReplacedByADirectory";
  }
  return "?";
}

class BrokenFileTest : public FailClosedTest, public ::testing::WithParamInterface<Breakage> {
 protected:
  // Leaves etc/<name> unreadable or half there. Root reads any file whatever its mode, so
  // "unreadable" is a file that is gone or is not a file.
  void Break(const std::string& name) const {
    const std::string path = etc_ + "/" + name;
    switch (GetParam()) {
      case Breakage::kDeleted:
        std::filesystem::remove(path);
        break;
      case Breakage::kTruncated: {
        const std::string contents = ReadWholeFile(path);
        size_t cut = contents.size() / 2;
        // A policy is cut inside a quoted value: cut between two rules it would parse as a
        // shorter policy, which nothing can tell from a deliberate edit (README: write files
        // by rename).
        if (const size_t quote = contents.find('"', cut); quote != std::string::npos) {
          cut = quote + 2;
        }
        WriteInPlace(name, contents.substr(0, cut));
        break;
      }
      case Breakage::kDirectory:
        std::filesystem::remove(path);
        std::filesystem::create_directory(path);
        break;
    }
  }
  void Repair(const std::string& name) const {
    const std::string path = etc_ + "/" + name;
    if (std::filesystem::is_directory(path)) std::filesystem::remove(path);
  }
};

class BrokenCrlTest : public BrokenFileTest {};
INSTANTIATE_TEST_SUITE_P(Breakages, BrokenCrlTest,
                         ::testing::Values(Breakage::kDeleted, Breakage::kTruncated), BreakageName);

TEST_P(BrokenCrlTest, LastGoodCrlStaysInForceWithItsRevocationsAndItsStaleness) {
  const Device revoked = MakeDevice("sensor-2");
  WritePolicy(WithStaleCrl(FleetPolicy(), "deny"));
  WriteCrl({revoked.issued.serial_hex});
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  // The CRL goes bad: the reload is refused, and what the last good CRL revoked stays revoked.
  size_t mark = broker->LogMark();
  Break("fleet.crl");
  ASSERT_TRUE(WaitForRejection(*broker, mark, "fleet.crl"));
  EXPECT_EQ(ConnectCode(*broker, revoked), kNotAuthorized);
  EXPECT_NE(RefusalLine(*broker, "sensor-2", mark).find(revoked.issued.serial_hex + " listed in"),
            std::string::npos)
      << LogSince(*broker, mark);
  EXPECT_TRUE(StillServed(scene));

  // A good CRL that expires soon is picked up, then goes bad too: the kept CRL still goes stale,
  // and under `stale_crl: deny` that disconnects the client.
  mark = broker->LogMark();
  Repair("fleet.crl");
  WriteCrlExpiringIn({revoked.issued.serial_hex}, kSoonSeconds);
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", kReloadTimeout, mark))
      << broker->Log();
  mark = broker->LogMark();
  Break("fleet.crl");
  ASSERT_TRUE(WaitForRejection(*broker, mark, "fleet.crl"));
  ASSERT_TRUE(scene.client->WaitForDisconnect(kDisconnectTimeout)) << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("is stale: nextUpdate", kReloadTimeout, mark)) << broker->Log();
  EXPECT_EQ(ConnectCode(*broker, scene.sensor), kNotAuthorized);
  EXPECT_EQ(ConnectCode(*broker, revoked), kNotAuthorized);
}

class BrokenDenylistTest : public BrokenFileTest {};
INSTANTIATE_TEST_SUITE_P(Breakages, BrokenDenylistTest,
                         ::testing::Values(Breakage::kDeleted, Breakage::kDirectory), BreakageName);

TEST_P(BrokenDenylistTest, LastGoodDenylistStaysInForceUntilAReadableOneReturns) {
  const Device denied = MakeDevice("sensor-2");
  WriteDenylist("# lost in the field\nid:sensor-2\n");
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  size_t mark = broker->LogMark();
  Break("revoked.txt");
  ASSERT_TRUE(WaitForRejection(*broker, mark, "revoked.txt: cannot read"));
  EXPECT_EQ(ConnectCode(*broker, denied), kNotAuthorized);
  EXPECT_NE(RefusalLine(*broker, "sensor-2", mark).find("revoked.txt:2"), std::string::npos)
      << LogSince(*broker, mark);
  EXPECT_TRUE(StillServed(scene));
  EXPECT_EQ(ConnectCode(*broker, MakeDevice("sensor-3")), 0);

  mark = broker->LogMark();
  Repair("revoked.txt");
  WriteDenylist("# sensor-2 found again\n");
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", kReloadTimeout, mark))
      << broker->Log();
  EXPECT_EQ(ConnectCode(*broker, denied), 0);
  EXPECT_TRUE(StillServed(scene));
}

class BrokenPolicyTest : public BrokenFileTest {};
INSTANTIATE_TEST_SUITE_P(Breakages, BrokenPolicyTest,
                         ::testing::Values(Breakage::kDeleted, Breakage::kTruncated,
                                           Breakage::kDirectory),
                         BreakageName);

TEST_P(BrokenPolicyTest, LastGoodPolicyKeepsDecidingUntilAReadableOneReturns) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  size_t mark = broker->LogMark();
  Break("policy.yaml");
  ASSERT_TRUE(WaitForRejection(*broker, mark, "policy.yaml"));
  // The rights of the last good policy, no more and no less, for old and new clients.
  EXPECT_TRUE(StillServed(scene));
  EXPECT_EQ(scene.client->Publish("sensors/sensor-1/telemetry", "own", 1), kNoSubscribers);
  EXPECT_EQ(scene.client->Publish("sensors/sensor-9/telemetry", "forged", 1), kNotAuthorized);
  auto newcomer = Connect(*broker, MakeDevice("sensor-2"), kProtocol);
  ASSERT_TRUE(newcomer);
  EXPECT_EQ(newcomer->Subscribe("devices/sensor-2/commands/#", 1), 1);
  EXPECT_EQ(newcomer->Subscribe("devices/+/commands/#", 1), kNotAuthorized);

  // A readable policy is picked up: here one that also lets sensors publish their logs.
  mark = broker->LogMark();
  Repair("policy.yaml");
  WritePolicy(Replaced(FleetPolicy(), R"("devices/{id}/status"])",
                       R"("devices/{id}/status", "logs/{id}"])"));
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", kReloadTimeout, mark))
      << broker->Log();
  EXPECT_EQ(scene.client->Publish("logs/sensor-1", "new right", 1), kNoSubscribers);
  EXPECT_TRUE(StillServed(scene));
}

// A writer that is interrupted half-way, then finishes: the half is refused, the whole is taken.
TEST_F(FailClosedTest, HalfWrittenPolicyIsRejectedAndTheCompletedFileIsPickedUp) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  const std::string edited = Replaced(FleetPolicy(), R"("devices/{id}/status"])",
                                      R"("devices/{id}/status", "logs/{id}"])");
  // Cut inside a quoted filter, so that the half cannot parse as a smaller policy.
  const size_t cut = edited.find("logs/{id}") + 3;
  size_t mark = broker->LogMark();
  WriteInPlace("policy.yaml", edited.substr(0, cut));
  ASSERT_TRUE(WaitForRejection(*broker, mark, "policy.yaml:"));
  EXPECT_EQ(scene.client->Publish("logs/sensor-1", "not yet", 1), kNotAuthorized);
  EXPECT_EQ(scene.client->Publish("sensors/sensor-1/telemetry", "own", 1), kNoSubscribers);
  EXPECT_TRUE(StillServed(scene));

  mark = broker->LogMark();
  {
    std::ofstream rest(policy_path_, std::ios::binary | std::ios::app);
    rest << edited.substr(cut);
  }
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", kReloadTimeout, mark))
      << broker->Log();
  EXPECT_EQ(scene.client->Publish("logs/sensor-1", "now", 1), kNoSubscribers);
  EXPECT_TRUE(StillServed(scene));
}

// --- A policy that names a CA bundle that is not there -----------------------------------------

TEST_F(FailClosedTest, PolicyNamingAMissingCaBundleStopsTheBrokerAtStart) {
  WritePolicy(Replaced(FleetPolicy(), R"(ca: "ca.crt")", R"(ca: "no-such-ca.crt")"));
  MosquittoBroker broker(PluginBroker());
  EXPECT_FALSE(broker.Start());
  EXPECT_FALSE(broker.IsRunning());
  EXPECT_GT(broker.Stop(), 0) << broker.Log();
  EXPECT_TRUE(std::regex_search(broker.Log(),
                                std::regex("certguard: cannot start: [^\n]*`ca`[^\n]*no-such-ca")))
      << broker.Log();
}

TEST_F(FailClosedTest, PolicyEditNamingAMissingCaBundleKeepsTheLastGoodPolicy) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  Scene scene;
  ASSERT_TRUE(SetUpScene(*broker, &scene)) << broker->Log();

  size_t mark = broker->LogMark();
  WritePolicy(Replaced(Replaced(FleetPolicy(), R"(ca: "ca.crt")", R"(ca: "no-such-ca.crt")"),
                       R"("devices/{id}/status"])", R"("devices/{id}/status", "logs/{id}"])"));
  ASSERT_TRUE(WaitForRejection(*broker, mark, "no-such-ca.crt"));
  EXPECT_EQ(scene.client->Publish("logs/sensor-1", "not granted", 1), kNotAuthorized);
  EXPECT_TRUE(StillServed(scene));
  EXPECT_EQ(ConnectCode(*broker, MakeDevice("sensor-2")), 0);

  // The CA bundle of the policy in force disappears: same answer.
  WritePolicy(FleetPolicy());
  mark = broker->LogMark();
  std::filesystem::remove(etc_ + "/ca.crt");
  ASSERT_TRUE(WaitForRejection(*broker, mark, "ca.crt"));
  EXPECT_TRUE(StillServed(scene));
  EXPECT_EQ(ConnectCode(*broker, MakeDevice("sensor-3")), 0);
}

// --- Certificates whose validity has not begun -------------------------------------------------

TEST_F(FailClosedTest, CertificateNotYetValidIsRefused) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  LeafSpec spec = WithCn("sensor-1");
  spec.not_before_offset_seconds = 3600;  // the device's clock (or its CA's) runs an hour ahead
  const Device early = MakeDevice("sensor-1", spec);
  MqttClient client(ClientOptions(*broker, early, kProtocol));
  // The broker's own TLS verification refuses it before certguard sees it (certguard checks
  // the dates again; certguard-exhook's tests show that check on its own).
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_FALSE(client.IsConnected());
  EXPECT_EQ(broker->Log().find("is device \"sensor-1\""), std::string::npos) << broker->Log();
}

}  // namespace
}  // namespace certguard::testing
