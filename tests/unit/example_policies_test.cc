// The example policies in policies/, run as a user would run them: copied next to the files they
// name, with real certificates, through the `certguard` binary. Each scenario's key decisions
// are pinned here, so an edit to an example that changes what it grants fails a test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using testing::CommandResult;
using testing::IssuedCertificate;
using testing::LeafSpec;
using testing::RunCommand;
using testing::TempDir;
using testing::TestCa;
using testing::WithCn;

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(CERTGUARD_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string FirstWord(const std::string& text) {
  return text.substr(0, text.find_first_of(":\n "));
}

// One example policy in a folder of its own, with the CA that issues its certificates.
class Example {
 public:
  explicit Example(const std::string& name)
      : ca_(std::make_unique<TestCa>("certguard fleet CA")),
        // The same subject as the fleet CA, its own key: refused only if signatures are checked.
        impostor_(std::make_unique<TestCa>("certguard fleet CA")),
        text_(ReadSourceFile("policies/" + name)),
        policy_(dir_.Write(name, text_)) {
    dir_.Write("ca.crt", ca_->cert_pem());
  }

  TestCa& ca() { return *ca_; }
  TestCa& impostor() { return *impostor_; }
  const TempDir& dir() const { return dir_; }
  const std::string& policy() const { return policy_; }

  // Issues a certificate and writes it beside the policy; returns its path.
  std::string Issue(const std::string& file, const LeafSpec& spec, TestCa* issuer = nullptr,
                    IssuedCertificate* issued = nullptr) {
    IssuedCertificate cert = (issuer != nullptr ? *issuer : *ca_).Issue(spec);
    const std::string path = dir_.Write(file, cert.cert_pem);
    if (issued != nullptr) *issued = std::move(cert);
    return path;
  }

  CommandResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), CERTGUARD_CLI_PATH);
    return RunCommand(args);
  }
  CommandResult Lint() const { return Run({"lint", policy_}); }
  CommandResult Identity(const std::string& cert) const {
    return Run({"identity", policy_, "--cert", cert});
  }
  // `action` is "connect", "publish", "subscribe" or "receive".
  CommandResult Check(const std::string& cert, const std::string& action,
                      const std::string& topic = "",
                      const std::optional<std::string>& client_id = std::nullopt) const {
    std::vector<std::string> args = {"check", policy_, "--cert", cert, "--" + action};
    if (action != "connect") args.push_back(topic);
    if (client_id) args.insert(args.end(), {"--client-id", *client_id});
    return Run(args);
  }

  // The check output names the rule that decided as `policy:line:col (effect action filter for
  // principals)`; the location must be that filter in the policy as written.
  void ExpectDecidedBy(const CommandResult& run, const std::string& description) const {
    const std::string marker = "rule " + policy_ + ":";
    const size_t at = run.output.find(marker);
    ASSERT_NE(at, std::string::npos) << run.output;
    EXPECT_NE(run.output.find("(" + description + ")"), std::string::npos) << run.output;
    size_t line = 0, column = 0;
    std::istringstream where(run.output.substr(at + marker.size()));
    char colon = 0;
    ASSERT_TRUE(where >> line >> colon >> column) << run.output;
    std::istringstream lines(text_);
    std::string text;
    for (size_t i = 0; i < line; ++i) std::getline(lines, text);
    ASSERT_GE(column, 1u) << run.output;
    // description: "<effect> <action> <filter> for <principals>"
    std::istringstream words(description);
    std::string effect, action, filter;
    words >> effect >> action >> filter;
    EXPECT_EQ(text.substr(column - 1, filter.size() + 2), "\"" + filter + "\"")
        << "line " << line << ": " << text;
  }

 private:
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> impostor_;
  TempDir dir_;
  std::string text_;
  std::string policy_;
};

#define EXPECT_ALLOW(run)                                    \
  do {                                                       \
    const CommandResult r_ = (run);                          \
    EXPECT_EQ(r_.exit_code, 0) << #run << "\n" << r_.output; \
    EXPECT_EQ(FirstWord(r_.output), "allow") << r_.output;   \
  } while (0)
#define EXPECT_DENY(run)                                     \
  do {                                                       \
    const CommandResult r_ = (run);                          \
    EXPECT_EQ(r_.exit_code, 1) << #run << "\n" << r_.output; \
    EXPECT_EQ(FirstWord(r_.output), "deny") << r_.output;    \
  } while (0)

LeafSpec Spec(std::vector<std::pair<std::string, std::string>> subject,
              std::vector<std::string> san_uri = {}, std::vector<std::string> san_dns = {}) {
  LeafSpec spec;
  spec.subject = std::move(subject);
  spec.san_uri = std::move(san_uri);
  spec.san_dns = std::move(san_dns);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// sensors-dashboards.yaml: URI SAN with CN fallback, require_issuer, CRL and denylist.

class SensorsDashboardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ex_ = new Example("sensors-dashboards.yaml");
    const auto device = [](const std::string& id) {
      return Spec({{"O", "Example IoT"}, {"CN", "Sensor " + id}},
                  {"spiffe://iot.example.com/device/" + id});
    };
    sensor1_ = ex_->Issue("sensor-1.pem", device("sensor-1"));
    legacy_sensor_ = ex_->Issue("sensor-legacy.pem", WithCn("sensor-legacy"));
    dashboard_ = ex_->Issue("dashboard-7.pem", WithCn("dashboard-7"));
    console_ = ex_->Issue("ops-console.pem", device("ops-console"));
    operator_ = ex_->Issue("alice.pem", Spec({{"OU", "operations"}, {"CN", "alice"}}));
    IssuedCertificate revoked, by_serial;
    revoked_ = ex_->Issue("sensor-3.pem", device("sensor-3"), nullptr, &revoked);
    denylisted_id_ = ex_->Issue("sensor-4.pem", device("sensor-4"));
    denylisted_serial_ = ex_->Issue("sensor-5.pem", device("sensor-5"), nullptr, &by_serial);
    foreign_ = ex_->Issue("foreign-sensor-1.pem", device("sensor-1"), &ex_->impostor());
    LeafSpec expired = device("sensor-6");
    expired.not_before_offset_seconds = -10 * 86400;
    expired.not_after_offset_seconds = -86400;
    expired_ = ex_->Issue("sensor-6.pem", expired);
    ex_->dir().Write("fleet-ca.crl", ex_->ca().CrlPem({revoked.serial_hex}));
    ex_->dir().Write("revoked.txt", "# lost in transit\nid: sensor-4\nserial:" +
                                        by_serial.serial_hex + "  # returned, key not wiped\n");
  }
  static void TearDownTestSuite() {
    delete ex_;
    ex_ = nullptr;
  }

  static Example* ex_;
  static std::string sensor1_, legacy_sensor_, dashboard_, console_, operator_, revoked_,
      denylisted_id_, denylisted_serial_, foreign_, expired_;
};

Example* SensorsDashboardsTest::ex_ = nullptr;
std::string SensorsDashboardsTest::sensor1_, SensorsDashboardsTest::legacy_sensor_,
    SensorsDashboardsTest::dashboard_, SensorsDashboardsTest::console_,
    SensorsDashboardsTest::operator_, SensorsDashboardsTest::revoked_,
    SensorsDashboardsTest::denylisted_id_, SensorsDashboardsTest::denylisted_serial_,
    SensorsDashboardsTest::foreign_, SensorsDashboardsTest::expired_;

TEST_F(SensorsDashboardsTest, LintsWithItsCaCrlAndDenylist) {
  const CommandResult run = ex_->Lint();
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.rfind(ex_->policy() + ": ok (", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("3 groups, 1 CA certificates, 2 denylist entries"), std::string::npos)
      << run.output;
}

TEST_F(SensorsDashboardsTest, UriSanGivesTheIdAndCnIsTheFallback) {
  CommandResult run = ex_->Identity(sensor1_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("id: sensor-1\ngroups: sensors\n"), std::string::npos) << run.output;
  run = ex_->Identity(legacy_sensor_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("id: sensor-legacy\ngroups: sensors\n"), std::string::npos)
      << run.output;
  run = ex_->Identity(operator_);
  EXPECT_NE(run.output.find("id: alice\ngroups: operators\n"), std::string::npos) << run.output;
  run = ex_->Identity(console_);
  EXPECT_NE(run.output.find("id: ops-console\ngroups: dashboards\n"), std::string::npos)
      << run.output;
}

TEST_F(SensorsDashboardsTest, SensorPublishesOnlyItsOwnReadings) {
  EXPECT_ALLOW(ex_->Check(sensor1_, "connect"));
  const CommandResult own = ex_->Check(sensor1_, "publish", "sensors/sensor-1/telemetry");
  EXPECT_EQ(own.exit_code, 0) << own.output;
  ex_->ExpectDecidedBy(own, "allow publish sensors/{id}/telemetry for sensors");
  EXPECT_ALLOW(ex_->Check(sensor1_, "publish", "devices/sensor-1/status"));
  EXPECT_DENY(ex_->Check(sensor1_, "publish", "sensors/sensor-2/telemetry"));
  EXPECT_DENY(ex_->Check(sensor1_, "publish", "devices/sensor-1/commands/reboot"));
  EXPECT_ALLOW(ex_->Check(legacy_sensor_, "publish", "sensors/sensor-legacy/telemetry"));
}

TEST_F(SensorsDashboardsTest, SensorSubscribesOnlyToItsOwnCommands) {
  EXPECT_ALLOW(ex_->Check(sensor1_, "subscribe", "devices/sensor-1/commands/#"));
  EXPECT_ALLOW(ex_->Check(sensor1_, "subscribe", "devices/sensor-1/commands/reboot"));
  EXPECT_DENY(ex_->Check(sensor1_, "subscribe", "devices/+/commands/#"));
  EXPECT_DENY(ex_->Check(sensor1_, "subscribe", "devices/sensor-2/commands/#"));
  EXPECT_DENY(ex_->Check(sensor1_, "subscribe", "#"));
  EXPECT_DENY(ex_->Check(sensor1_, "subscribe", "sensors/+/telemetry"));
}

TEST_F(SensorsDashboardsTest, DashboardsReadEverySensorButCommandNothing) {
  const CommandResult run = ex_->Check(dashboard_, "subscribe", "sensors/+/telemetry");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow subscribe sensors/+/telemetry for dashboards");
  EXPECT_ALLOW(ex_->Check(dashboard_, "receive", "sensors/sensor-1/telemetry"));
  EXPECT_ALLOW(ex_->Check(console_, "subscribe", "devices/+/status"));
  EXPECT_DENY(ex_->Check(dashboard_, "subscribe", "sensors/#"));
  EXPECT_DENY(ex_->Check(dashboard_, "subscribe", "devices/+/commands/#"));
  EXPECT_DENY(ex_->Check(dashboard_, "publish", "devices/sensor-1/commands/reboot"));
}

TEST_F(SensorsDashboardsTest, OperatorsByCertificateSubjectSendCommands) {
  const CommandResult run = ex_->Check(operator_, "publish", "devices/sensor-1/commands/reboot");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow publish devices/+/commands/# for operators");
  EXPECT_ALLOW(ex_->Check(operator_, "subscribe", "devices/+/status"));
  EXPECT_DENY(ex_->Check(operator_, "subscribe", "sensors/+/telemetry"));
  EXPECT_DENY(ex_->Check(operator_, "publish", "sensors/sensor-1/telemetry"));
}

TEST_F(SensorsDashboardsTest, NobodyTouchesSys) {
  const CommandResult run = ex_->Check(sensor1_, "publish", "$SYS/x");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  ex_->ExpectDecidedBy(run, "deny publish $SYS/# for all");
  EXPECT_DENY(ex_->Check(operator_, "publish", "$SYS/broker/uptime"));
  EXPECT_DENY(ex_->Check(dashboard_, "subscribe", "$SYS/#"));
  EXPECT_DENY(ex_->Check(console_, "subscribe", "$SYS/broker/clients"));
}

TEST_F(SensorsDashboardsTest, RevokedCertificatesAreRefused) {
  CommandResult run = ex_->Check(revoked_, "connect");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(FirstWord(run.output), "deny");
  EXPECT_NE(run.output.find("revoked"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("fleet-ca.crl"), std::string::npos) << run.output;
  // A refused connection decides every later action too.
  EXPECT_DENY(ex_->Check(revoked_, "publish", "sensors/sensor-3/telemetry"));

  run = ex_->Check(denylisted_id_, "connect");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("revoked.txt:2"), std::string::npos) << run.output;
  run = ex_->Check(denylisted_serial_, "publish", "sensors/sensor-5/telemetry");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("revoked.txt:3"), std::string::npos) << run.output;
}

TEST_F(SensorsDashboardsTest, CertificateFromAnotherCaIsRefusedEvenWithTheSameIssuerName) {
  const CommandResult run = ex_->Check(foreign_, "connect");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(FirstWord(run.output), "deny");
  EXPECT_NE(run.output.find("not signed by a CA in `ca`"), std::string::npos) << run.output;
  EXPECT_DENY(ex_->Check(foreign_, "publish", "sensors/sensor-1/telemetry"));
}

TEST_F(SensorsDashboardsTest, ExpiredCertificateIsRefused) {
  const CommandResult run = ex_->Check(expired_, "connect");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("expired"), std::string::npos) << run.output;
}

TEST_F(SensorsDashboardsTest, ClientIdMustBeTheDeviceId) {
  EXPECT_ALLOW(ex_->Check(sensor1_, "connect", "", "sensor-1"));
  const CommandResult run = ex_->Check(sensor1_, "connect", "", "sensor-2");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("client id does not match"), std::string::npos) << run.output;
  EXPECT_DENY(ex_->Check(sensor1_, "publish", "sensors/sensor-1/telemetry", "sensor-2"));
}

// ---------------------------------------------------------------------------------------------
// ota-updates.yaml: DNS SAN identity, one service by exact id, a guarding deny.

class OtaUpdatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ex_ = new Example("ota-updates.yaml");
    device_ = ex_->Issue("dev-42.pem", Spec({{"O", "Example IoT"}, {"CN", "Thermostat 42"}}, {},
                                            {"dev-42.devices.example.com"}));
    legacy_device_ = ex_->Issue("dev-7.pem", WithCn("dev-7"));
    service_ = ex_->Issue("ota-service.pem", Spec({{"O", "Example IoT"}, {"CN", "ota-service"}}, {},
                                                  {"ota.example.com"}));
    foreign_ = ex_->Issue("foreign-ota-service.pem", WithCn("ota-service"), &ex_->impostor());
  }
  static void TearDownTestSuite() {
    delete ex_;
    ex_ = nullptr;
  }
  static Example* ex_;
  static std::string device_, legacy_device_, service_, foreign_;
};

Example* OtaUpdatesTest::ex_ = nullptr;
std::string OtaUpdatesTest::device_, OtaUpdatesTest::legacy_device_, OtaUpdatesTest::service_,
    OtaUpdatesTest::foreign_;

TEST_F(OtaUpdatesTest, Lints) {
  const CommandResult run = ex_->Lint();
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(": ok ("), std::string::npos) << run.output;
}

TEST_F(OtaUpdatesTest, DnsSanGivesTheIdAndCnIsTheFallback) {
  CommandResult run = ex_->Identity(device_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("id: dev-42\ngroups: devices\n"), std::string::npos) << run.output;
  // The service's DNS SAN does not fit the device template, so its CN names it.
  run = ex_->Identity(service_);
  EXPECT_NE(run.output.find("id: ota-service\ngroups: (none)\n"), std::string::npos) << run.output;
  run = ex_->Identity(legacy_device_);
  EXPECT_NE(run.output.find("id: dev-7\n"), std::string::npos) << run.output;
}

TEST_F(OtaUpdatesTest, DeviceRequestsAndReceivesOnlyItsOwnUpdates) {
  EXPECT_ALLOW(ex_->Check(device_, "publish", "ota/dev-42/request"));
  EXPECT_ALLOW(ex_->Check(device_, "publish", "ota/dev-42/progress"));
  EXPECT_ALLOW(ex_->Check(device_, "subscribe", "ota/dev-42/update"));
  EXPECT_ALLOW(ex_->Check(device_, "subscribe", "ota/dev-42/update/#"));
  EXPECT_DENY(ex_->Check(device_, "publish", "ota/dev-43/request"));
  EXPECT_DENY(ex_->Check(device_, "subscribe", "ota/dev-43/update"));
  EXPECT_DENY(ex_->Check(device_, "subscribe", "ota/+/update"));
  EXPECT_DENY(ex_->Check(device_, "subscribe", "ota/#"));
  EXPECT_ALLOW(ex_->Check(legacy_device_, "publish", "ota/dev-7/request"));
}

TEST_F(OtaUpdatesTest, DeviceNeverPublishesFirmware) {
  const CommandResult run = ex_->Check(device_, "publish", "ota/dev-42/update");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  ex_->ExpectDecidedBy(run, "deny publish ota/+/update for devices");
  EXPECT_DENY(ex_->Check(device_, "publish", "ota/dev-43/update/chunk/1"));
}

TEST_F(OtaUpdatesTest, ServiceServesEveryDevice) {
  const CommandResult run = ex_->Check(service_, "publish", "ota/dev-42/update");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow publish ota/+/update for id:ota-service");
  EXPECT_ALLOW(ex_->Check(service_, "publish", "ota/dev-42/update/chunk/1"));
  EXPECT_ALLOW(ex_->Check(service_, "subscribe", "ota/+/request"));
  EXPECT_ALLOW(ex_->Check(service_, "subscribe", "ota/+/progress"));
  EXPECT_DENY(ex_->Check(service_, "publish", "ota/dev-42/request"));
  EXPECT_DENY(ex_->Check(service_, "subscribe", "ota/#"));
}

TEST_F(OtaUpdatesTest, ServiceCertificateFromAnotherCaIsRefused) {
  const CommandResult run = ex_->Check(foreign_, "publish", "ota/dev-42/update");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("not signed by a CA in `ca`"), std::string::npos) << run.output;
}

TEST_F(OtaUpdatesTest, ClientIdMustBeTheDeviceId) {
  EXPECT_ALLOW(ex_->Check(device_, "publish", "ota/dev-42/request", "dev-42"));
  const CommandResult run = ex_->Check(device_, "publish", "ota/dev-42/request", "ota-service");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("client id does not match"), std::string::npos) << run.output;
}

// ---------------------------------------------------------------------------------------------
// device-family.yaml: CN identity, {id} topics, and a hub by exact id.

class DeviceFamilyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ex_ = new Example("device-family.yaml");
    button_ = ex_->Issue("button-1.pem", Spec({{"O", "Example Home"}, {"CN", "button-1"}}));
    hub_ = ex_->Issue("hub-controller.pem", WithCn("hub-controller"));
    stranger_ = ex_->Issue("thermostat-1.pem", WithCn("thermostat-1"));
    other_ca_button_ = ex_->Issue("other-ca-button-2.pem", WithCn("button-2"), &ex_->impostor());
  }
  static void TearDownTestSuite() {
    delete ex_;
    ex_ = nullptr;
  }
  static Example* ex_;
  static std::string button_, hub_, stranger_, other_ca_button_;
};

Example* DeviceFamilyTest::ex_ = nullptr;
std::string DeviceFamilyTest::button_, DeviceFamilyTest::hub_, DeviceFamilyTest::stranger_,
    DeviceFamilyTest::other_ca_button_;

TEST_F(DeviceFamilyTest, LintsWithoutAnyOtherFile) {
  const CommandResult run = ex_->Lint();
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("1 groups, 0 CA certificates, 0 denylist entries"), std::string::npos)
      << run.output;
}

TEST_F(DeviceFamilyTest, ButtonUsesOnlyItsOwnTopics) {
  const CommandResult run = ex_->Check(button_, "publish", "button-press/button-1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow publish button-press/{id} for buttons");
  EXPECT_ALLOW(ex_->Check(button_, "publish", "status/button-1"));
  EXPECT_ALLOW(ex_->Check(button_, "subscribe", "settings/button-1"));
  EXPECT_ALLOW(ex_->Check(button_, "subscribe", "commands/button-1"));
  EXPECT_DENY(ex_->Check(button_, "publish", "button-press/button-2"));
  EXPECT_DENY(ex_->Check(button_, "publish", "button-press/button-1/extra"));
  EXPECT_DENY(ex_->Check(button_, "publish", "commands/button-1"));
  EXPECT_DENY(ex_->Check(button_, "subscribe", "settings/+"));
  EXPECT_DENY(ex_->Check(button_, "subscribe", "button-press/+"));
}

TEST_F(DeviceFamilyTest, HubSeesEveryButtonAndConfiguresThem) {
  const CommandResult run = ex_->Check(hub_, "subscribe", "button-press/+");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow subscribe button-press/+ for id:hub-controller");
  EXPECT_ALLOW(ex_->Check(hub_, "subscribe", "status/button-1"));
  EXPECT_ALLOW(ex_->Check(hub_, "publish", "settings/button-1"));
  EXPECT_ALLOW(ex_->Check(hub_, "publish", "commands/button-9"));
  EXPECT_DENY(ex_->Check(hub_, "publish", "button-press/button-1"));
  EXPECT_DENY(ex_->Check(hub_, "subscribe", "#"));
}

TEST_F(DeviceFamilyTest, DeviceOutsideTheFamilyConnectsButMayDoNothing) {
  EXPECT_ALLOW(ex_->Check(stranger_, "connect"));
  const CommandResult run = ex_->Check(stranger_, "publish", "status/thermostat-1");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("no allow rule"), std::string::npos) << run.output;
}

TEST_F(DeviceFamilyTest, ClientIdMustBeTheDeviceId) {
  const CommandResult run = ex_->Check(button_, "publish", "status/button-1", "hub-controller");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("client id does not match"), std::string::npos) << run.output;
}

// Without `ca` the issuer is the broker's TLS layer's business (policies/README.md): certguard
// alone does not refuse it. The sibling examples that pin the issuer refuse it above.
TEST_F(DeviceFamilyTest, IssuerIsLeftToTheBrokersTlsLayer) {
  EXPECT_ALLOW(ex_->Check(other_ca_button_, "publish", "status/button-2"));
}

// ---------------------------------------------------------------------------------------------
// site-bridge.yaml: client_id any, subject groups, `#` under the site with a carve-out.

class SiteBridgeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ex_ = new Example("site-bridge.yaml");
    const auto bridge = [](const std::string& site) {
      return Spec({{"O", "Example IoT"}, {"OU", "site-bridges"}, {"CN", site + " gateway"}},
                  {"spiffe://iot.example.com/site/" + site + "/bridge"});
    };
    bridge_a_ = ex_->Issue("bridge-a.pem", bridge("site-a"));
    denylisted_ = ex_->Issue("bridge-z.pem", bridge("site-z"));
    // A site that happens to be called "platform": still only a bridge.
    platform_site_ = ex_->Issue("bridge-platform.pem", bridge("platform"));
    no_ou_ = ex_->Issue(
        "bridge-b-no-ou.pem",
        Spec({{"CN", "site-b gateway"}}, {"spiffe://iot.example.com/site/site-b/bridge"}));
    platform_ = ex_->Issue("platform.pem",
                           Spec({{"O", "Example IoT"}, {"OU", "platform"}, {"CN", "platform"}},
                                {"spiffe://iot.example.com/service/platform"}));
    foreign_ = ex_->Issue("foreign-bridge-a.pem", bridge("site-a"), &ex_->impostor());
    cn_only_ = ex_->Issue("cn-only.pem", WithCn("site-a"));
    ex_->dir().Write("revoked.txt", "# decommissioned\nid:site-z\n");
  }
  static void TearDownTestSuite() {
    delete ex_;
    ex_ = nullptr;
  }
  static Example* ex_;
  static std::string bridge_a_, denylisted_, platform_site_, no_ou_, platform_, foreign_, cn_only_;
};

Example* SiteBridgeTest::ex_ = nullptr;
std::string SiteBridgeTest::bridge_a_, SiteBridgeTest::denylisted_, SiteBridgeTest::platform_site_,
    SiteBridgeTest::no_ou_, SiteBridgeTest::platform_, SiteBridgeTest::foreign_,
    SiteBridgeTest::cn_only_;

TEST_F(SiteBridgeTest, Lints) {
  const CommandResult run = ex_->Lint();
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("2 groups, 1 CA certificates, 1 denylist entries"), std::string::npos)
      << run.output;
}

TEST_F(SiteBridgeTest, SiteComesFromTheUriSanAndGroupsFromTheSubject) {
  CommandResult run = ex_->Identity(bridge_a_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("id: site-a\ngroups: bridges\n"), std::string::npos) << run.output;
  run = ex_->Identity(platform_);
  EXPECT_NE(run.output.find("id: platform\ngroups: platform\n"), std::string::npos) << run.output;
  run = ex_->Identity(platform_site_);
  EXPECT_NE(run.output.find("id: platform\ngroups: bridges\n"), std::string::npos) << run.output;
  run = ex_->Identity(cn_only_);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(run.output.rfind("no identity", 0), 0u) << run.output;
}

TEST_F(SiteBridgeTest, BridgeChoosesItsOwnClientId) {
  EXPECT_ALLOW(ex_->Check(bridge_a_, "connect", "", "gw-01-mosquitto"));
  EXPECT_ALLOW(ex_->Check(bridge_a_, "publish", "sites/site-a/x", "gw-01-mosquitto"));
}

TEST_F(SiteBridgeTest, BridgePublishesUnderItsSiteExceptDownlink) {
  const CommandResult up = ex_->Check(bridge_a_, "publish", "sites/site-a/x", "gw-01");
  EXPECT_EQ(up.exit_code, 0) << up.output;
  ex_->ExpectDecidedBy(up, "allow publish sites/{id}/# for bridges");
  EXPECT_ALLOW(ex_->Check(bridge_a_, "publish", "sites/site-a/meters/3/kwh", "gw-01"));
  const CommandResult down = ex_->Check(bridge_a_, "publish", "sites/site-a/downlink/x", "gw-01");
  EXPECT_EQ(down.exit_code, 1) << down.output;
  ex_->ExpectDecidedBy(down, "deny publish sites/{id}/downlink/# for bridges");
  EXPECT_DENY(ex_->Check(bridge_a_, "publish", "sites/site-b/x", "gw-01"));
  EXPECT_DENY(ex_->Check(bridge_a_, "publish", "sites/site-b/downlink/x", "gw-01"));
}

TEST_F(SiteBridgeTest, BridgeReadsOnlyItsSitesDownlink) {
  EXPECT_ALLOW(ex_->Check(bridge_a_, "subscribe", "sites/site-a/downlink/#", "gw-01"));
  EXPECT_ALLOW(ex_->Check(bridge_a_, "receive", "sites/site-a/downlink/valve/open", "gw-01"));
  EXPECT_DENY(ex_->Check(bridge_a_, "subscribe", "sites/site-a/#", "gw-01"));
  EXPECT_DENY(ex_->Check(bridge_a_, "subscribe", "sites/site-b/downlink/#", "gw-01"));
  EXPECT_DENY(ex_->Check(bridge_a_, "subscribe", "sites/+/downlink/#", "gw-01"));
}

TEST_F(SiteBridgeTest, PlatformReadsEverySiteAndSendsDownlink) {
  const CommandResult run = ex_->Check(platform_, "subscribe", "sites/+/#", "platform-1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ex_->ExpectDecidedBy(run, "allow subscribe sites/+/# for platform");
  EXPECT_ALLOW(ex_->Check(platform_, "publish", "sites/site-a/downlink/valve", "platform-1"));
  EXPECT_DENY(ex_->Check(platform_, "publish", "sites/site-a/meters/3/kwh", "platform-1"));
}

TEST_F(SiteBridgeTest, SiteNamedPlatformGetsNoPlatformRights) {
  EXPECT_DENY(ex_->Check(platform_site_, "subscribe", "sites/+/#", "gw-p"));
  EXPECT_DENY(ex_->Check(platform_site_, "publish", "sites/site-a/downlink/valve", "gw-p"));
  EXPECT_ALLOW(ex_->Check(platform_site_, "publish", "sites/platform/x", "gw-p"));
}

TEST_F(SiteBridgeTest, BridgeUriWithoutTheBridgeSubjectGetsNothing) {
  EXPECT_ALLOW(ex_->Check(no_ou_, "connect", "", "gw-b"));
  EXPECT_DENY(ex_->Check(no_ou_, "publish", "sites/site-b/x", "gw-b"));
}

TEST_F(SiteBridgeTest, DenylistedAndForeignBridgesAreRefused) {
  CommandResult run = ex_->Check(denylisted_, "publish", "sites/site-z/x", "gw-z");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("revoked.txt:2"), std::string::npos) << run.output;
  run = ex_->Check(foreign_, "publish", "sites/site-a/x", "gw-01");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("not signed by a CA in `ca`"), std::string::npos) << run.output;
}

// ---------------------------------------------------------------------------------------------

TEST(ExamplePoliciesTest, EveryExampleHasATestSuiteHere) {
  // A policy added to policies/ without its decisions pinned here should fail loudly.
  std::set<std::string> found;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(CERTGUARD_SOURCE_DIR) + "/policies")) {
    if (entry.path().extension() == ".yaml") found.insert(entry.path().filename().string());
  }
  EXPECT_EQ(found, (std::set<std::string>{"device-family.yaml", "ota-updates.yaml",
                                          "sensors-dashboards.yaml", "site-bridge.yaml"}));
}

}  // namespace
}  // namespace certguard
