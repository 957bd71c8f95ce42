// After a reload the plugin re-checks every connected client on the broker's thread, a slice at a
// time, resting between slices (mosquitto-plugin/sweep_pacer.h) so that delivery keeps moving. A
// fleet that needs many slices must still be re-checked to its last client: idle devices are
// disconnected by nothing else.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/support/raw_mqtt.h"
#include "tests/integration/plugin_fixture.h"
#include "tests/support/count_occurrences.h"

namespace certguard::testing {
namespace {

using bench::ClientIdentity;
using bench::IdleConnections;
using bench::TlsClientContext;

// Each re-check reads the device's certificate again (15-25 us here), so 400 of them take several
// of the sweep's 1 ms slices.
constexpr int kFleet = 400;

class PluginSweepTest : public PluginTestBase {};

TEST_F(PluginSweepTest, RevokingAFleetTooLargeForOneSliceDisconnectsEveryIdleDevice) {
  WritePolicy(FleetPolicy());
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  std::vector<ClientIdentity> fleet;
  std::string denylist = "# the whole fleet, lost\n";
  for (int i = 0; i < kFleet; ++i) {
    const std::string id = "sensor-" + std::to_string(i);
    const IssuedCertificate issued = fleet_ca_.Issue(WithCn(id));
    fleet.emplace_back(id, issued.cert_pem, issued.key_pem);
    denylist += "id:" + id + "\n";
  }
  const TlsClientContext tls(fleet_ca_file_);
  IdleConnections connections;
  std::string error;
  ASSERT_TRUE(connections.Open(tls, fleet, broker->port(), 4, &error)) << error;

  const size_t mark = broker->LogMark();
  WriteDenylist(denylist);
  // The sweep logs what it cost once it has walked the whole registry, which may be a slice
  // after its last disconnect: wait for both.
  const std::string busy = " clients in ";  // "... re-checked N clients in X ms of the broker..."
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  size_t disconnected = 0;
  std::string log;
  while (((disconnected = CountOccurrences(log = LogSince(*broker, mark),
                                           "certguard: disconnecting client")) < kFleet ||
          log.find(busy) == std::string::npos) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(disconnected, static_cast<size_t>(kFleet)) << log;

  // The sweep must have needed more than one slice, or this test covers nothing the others do.
  const size_t line = log.find(busy);
  ASSERT_NE(line, std::string::npos) << log;
  EXPECT_GT(std::atof(log.c_str() + line + busy.size()), 2.0)
      << "the re-check took under two slices: raise kFleet\n"
      << log.substr(line, 200);
}

}  // namespace
}  // namespace certguard::testing
