// Will messages: Mosquitto checks a Will's topic (WRITE) when it publishes it after an
// ungraceful disconnect, which happens after certguard has heard of the disconnect.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"

namespace certguard::testing {
namespace {

using Strings = std::vector<std::string>;

class PluginWillTest : public PluginProtocolTest {
 protected:
  void SetUp() override {
    PluginProtocolTest::SetUp();
    WritePolicy(FleetPolicy());
  }
};

INSTANTIATE_TEST_SUITE_P(Protocols, PluginWillTest, ::testing::Values(4, 5), ProtocolName);

TEST_P(PluginWillTest, WillOnAnAllowedTopicIsDeliveredWhenTheDeviceDrops) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto dashboard = Connect(*broker, MakeDevice("dashboard-1"), protocol());
  ASSERT_TRUE(dashboard);
  ASSERT_EQ(dashboard->Subscribe("devices/+/status", 1), 1);
  const Device sensor = MakeDevice("sensor-1");
  ASSERT_TRUE(ConnectWithWillAndDrop(ClientOptions(*broker, sensor, protocol()),
                                     "devices/sensor-1/status", "offline"));
  ASSERT_TRUE(dashboard->WaitForMessages(1, kDisconnectTimeout))
      << Describe(*dashboard) << broker->Log() << AuditLines();
  EXPECT_EQ(Payloads(*dashboard), Strings{"offline"});
}

TEST_P(PluginWillTest, WillOnAForbiddenTopicIsNeverDelivered) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Connect(*broker, MakeDevice("dashboard-1"), protocol());
  ASSERT_TRUE(observer);
  ASSERT_EQ(observer->Subscribe("sensors/+/telemetry", 1), 1);
  // Mosquitto 2.0 checks a Will's topic only when it publishes it, so the device connects fine.
  ASSERT_TRUE(ConnectWithWillAndDrop(ClientOptions(*broker, MakeDevice("sensor-1"), protocol()),
                                     "sensors/sensor-2/telemetry", "forged will"));
  // The denial is recorded inside the check, before the Will could have been queued.
  ASSERT_TRUE(WaitForAudit("\"topic\":\"sensors/sensor-2/telemetry\"")) << broker->Log();
  auto sensor2 = Connect(*broker, MakeDevice("sensor-2"), protocol());
  ASSERT_TRUE(sensor2);
  EXPECT_EQ(sensor2->Publish("sensors/sensor-2/telemetry", "marker", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer), Strings{"marker"});
}

// A revoked device is kicked without its Will: a lost device must not announce anything.
TEST_P(PluginWillTest, RevokedDeviceIsDisconnectedWithoutItsWill) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto dashboard = Connect(*broker, MakeDevice("dashboard-1"), protocol());
  ASSERT_TRUE(dashboard);
  ASSERT_EQ(dashboard->Subscribe("devices/+/status", 1), 1);
  const Device sensor = MakeDevice("sensor-1");
  MqttClientOptions options = ClientOptions(*broker, sensor, protocol());
  options.will = MqttWill{"devices/sensor-1/status", "offline", 1, false};
  MqttClient client(options);
  ASSERT_EQ(client.Connect(), 0) << Describe(client);
  WriteDenylist("id:sensor-1\n");
  ASSERT_TRUE(client.WaitForDisconnect(kDisconnectTimeout)) << broker->Log();
  auto sensor2 = Connect(*broker, MakeDevice("sensor-2"), protocol());
  ASSERT_TRUE(sensor2);
  EXPECT_EQ(sensor2->Publish("devices/sensor-2/status", "marker", 1), 0);
  ASSERT_TRUE(dashboard->WaitForMessages(1)) << Describe(*dashboard);
  EXPECT_EQ(Payloads(*dashboard), Strings{"marker"});
}

}  // namespace
}  // namespace certguard::testing
