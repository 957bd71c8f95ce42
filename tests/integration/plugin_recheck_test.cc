// Time alone changes an answer: the plugin re-checks a connected client when its certificate's
// notAfter or its issuer's CRL nextUpdate passes (and not every second: it keeps the
// certificate, not what it read from it). Expiry is covered in plugin_revocation_test.cc; this
// is the CRL that goes stale under a connected client.
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"

namespace certguard::testing {
namespace {

class PluginRecheckTest : public PluginProtocolTest {};

INSTANTIATE_TEST_SUITE_P(Protocols, PluginRecheckTest, ::testing::Values(4, 5), ProtocolName);

TEST_P(PluginRecheckTest, CrlThatGoesStaleWhileConnectedDisconnectsUnderDeny) {
  WritePolicy(FleetPolicy());  // stale_crl: deny (the default)
  WriteAtomically("fleet.crl", fleet_ca_.CrlPem({}, /*next_update_offset_seconds=*/4));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  auto client = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(client);
  ASSERT_EQ(client->Subscribe("devices/sensor-1/commands/#", 1), 1);
  ASSERT_TRUE(client->WaitForDisconnect(milliseconds(15000))) << broker->Log();
  EXPECT_TRUE(broker->WaitForLog("is stale: nextUpdate", kReloadTimeout)) << broker->Log();
  // And it stays out while the CRL is stale.
  MqttClient again(ClientOptions(*broker, sensor, protocol()));
  EXPECT_EQ(again.Connect(), NotAuthorizedConnack(protocol())) << Describe(again);
}

TEST_P(PluginRecheckTest, FreshCrlAndValidCertificateKeepAClientConnected) {
  WritePolicy(FleetPolicy());
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  auto client = Connect(*broker, sensor, protocol());
  ASSERT_TRUE(client);
  // Several one-second sweeps pass over it without changing anything.
  EXPECT_FALSE(client->WaitForDisconnect(milliseconds(3000))) << broker->Log();
  // 0, or on MQTT v5 0x10 "no matching subscribers": accepted either way.
  const int rc = client->Publish("sensors/sensor-1/telemetry", "still here", 1);
  EXPECT_TRUE(rc == 0 || rc == 0x10) << rc << " " << Describe(*client);
}

}  // namespace
}  // namespace certguard::testing
