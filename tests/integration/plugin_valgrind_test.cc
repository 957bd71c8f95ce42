// The broker under valgrind memcheck while the plugin does a bit of everything: connects and
// refusals (including hostile certificates), publish/subscribe allowed and denied, receive checks,
// a durable session, a Will, policy reloads (good and broken), SIGHUP, and a revocation that kicks
// a connected client. After a clean stop, valgrind must report no error and no leak.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"

namespace certguard::testing {
namespace {

using Strings = std::vector<std::string>;

constexpr char kValgrind[] = "/usr/bin/valgrind";

// One record of a valgrind log: the lines between two "==PID== " blank lines.
std::vector<std::string> Records(const std::string& log) {
  std::vector<std::string> records;
  std::istringstream lines(log);
  std::string line, record;
  const std::regex blank("^==[0-9]+== ?$");
  while (std::getline(lines, line)) {
    if (std::regex_match(line, blank)) {
      if (!record.empty()) records.push_back(std::move(record));
      record.clear();
    } else {
      record += line + "\n";
    }
  }
  if (!record.empty()) records.push_back(std::move(record));
  return records;
}

bool IsErrorOrLeak(const std::string& record) {
  static const std::regex kinds(
      "(definitely|indirectly|possibly) lost in|Invalid (read|write|free)|uninitialised|"
      "Mismatched free|overlap|Syscall param|Jump to the invalid|Process terminating");
  return std::regex_search(record, kinds);
}

bool MentionsCertguard(const std::string& record) {
  return record.find("certguard") != std::string::npos;
}

class PluginUnderValgrindTest : public PluginTestBase {
 protected:
  void SetUp() override {
    PluginTestBase::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(::access(kValgrind, X_OK), 0)
        << kValgrind << " is not installed (scripts/install-deps.sh installs it)";
    valgrind_log_ = files_.path() + "/valgrind.log";
    // exec: SIGTERM from the harness reaches valgrind, which passes it to the broker.
    // --keep-debuginfo: the broker unloads the plugin before the leak check, and records would
    // otherwise show its frames as "???".
    wrapper_ = files_.Write("mosquitto-under-valgrind.sh",
                            std::string("#!/bin/sh\nexec ") + kValgrind +
                                " --leak-check=full --show-leak-kinds=definite,indirect,possible"
                                " --keep-debuginfo=yes --num-callers=30 --log-file=" +
                                valgrind_log_ + " /usr/sbin/mosquitto \"$@\"\n");
    ::chmod(wrapper_.c_str(), 0755);
    WritePolicy(FleetPolicy());
    client_timeout_ = milliseconds(30000);  // everything is ~20x slower under valgrind
  }

  BrokerOptions ValgrindBroker() const {
    BrokerOptions options = PluginBroker();
    options.mosquitto_path = wrapper_;
    options.start_timeout = milliseconds(90000);
    options.stop_timeout = milliseconds(90000);
    return options;
  }

  std::string wrapper_, valgrind_log_;
};

TEST_F(PluginUnderValgrindTest, BrokerWithThePluginHasNoMemoryErrorOrLeak) {
  auto broker = StartBroker(ValgrindBroker());
  ASSERT_TRUE(broker);
  const milliseconds slow = client_timeout_;
  const auto refused = [&](const Device& device, int protocol, const std::string& client_id) {
    MqttClient client(ClientOptions(*broker, device, protocol, client_id));
    EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol)) << client_id << Describe(client);
  };

  auto observer = Connect(*broker, MakeObserver(), 5);
  ASSERT_TRUE(observer);
  ASSERT_EQ(observer->Subscribe("#", 1), 1);

  // A durable session that goes offline and has a message queued for it.
  const Device dashboard_device = MakeDevice("dashboard-1");
  MqttClientOptions durable = ClientOptions(*broker, dashboard_device, 4);
  durable.clean_session = false;
  MqttClient dashboard(durable);
  ASSERT_EQ(dashboard.Connect(), 0) << Describe(dashboard);
  ASSERT_EQ(dashboard.Subscribe("sensors/+/telemetry", 1), 1);
  dashboard.Disconnect();

  const Device sensor1_device = MakeDevice("sensor-1");
  auto sensor1 = Connect(*broker, sensor1_device, 5);
  auto sensor2 = Connect(*broker, MakeDevice("sensor-2"), 4);
  ASSERT_TRUE(sensor1 && sensor2);
  EXPECT_EQ(sensor1->Subscribe("devices/sensor-1/commands/#", 1), 1);
  EXPECT_EQ(sensor1->Subscribe("#", 1), 0x87);
  EXPECT_EQ(sensor1->Subscribe("$share/g/devices/sensor-1/commands/#", 1), 1);
  EXPECT_EQ(sensor1->Unsubscribe("$share/g/devices/sensor-1/commands/#"), 0);
  EXPECT_EQ(sensor1->Publish("sensors/sensor-1/telemetry", "one", 1), 0);
  EXPECT_EQ(sensor1->Publish("sensors/sensor-2/telemetry", "forged", 1), 0x87);
  EXPECT_EQ(sensor2->Publish("sensors/sensor-2/telemetry", "two", 1), 0);
  EXPECT_EQ(sensor2->Subscribe("devices/+/commands/#", 1), 0x80);

  refused(sensor1_device, 5, "not-sensor-1");
  refused(MakeDevice("plus", WithCn("+")), 4, "hostile-plus");
  refused(MakeDevice("nul", WithCn(std::string("sensor\0-9", 9))), 5, "hostile-nul");
  {
    MqttClient stranger(
        ClientOptions(*broker, MakeDevice("sensor-3", WithCn("sensor-3"), &foreign_ca_), 5));
    EXPECT_EQ(stranger.Connect(), MqttClient::kConnectionLost) << Describe(stranger);
  }
  ASSERT_TRUE(ConnectWithWillAndDrop(ClientOptions(*broker, MakeDevice("sensor-4"), 5),
                                     "devices/sensor-4/status", "offline"));

  // Reloads: a good edit, a broken one, and a SIGHUP.
  size_t mark = broker->LogMark();
  WritePolicy(FleetPolicy() + "# edited\n");
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", slow, mark)) << broker->Log();
  mark = broker->LogMark();
  WritePolicy("version: 1\nrules: [\n");
  ASSERT_TRUE(broker->WaitForLog("policy change rejected", slow, mark)) << broker->Log();
  mark = broker->LogMark();
  WritePolicy(FleetPolicy());
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", slow, mark)) << broker->Log();
  mark = broker->LogMark();
  ASSERT_TRUE(broker->SendSighup());
  ASSERT_TRUE(broker->WaitForLog("certguard: policy reloaded", slow, mark)) << broker->Log();

  // Revocation of a connected client and of the offline durable session.
  WriteDenylist("id:sensor-1\nid:dashboard-1\n");
  ASSERT_TRUE(sensor1->WaitForDisconnect(slow)) << broker->Log();
  EXPECT_EQ(sensor2->Publish("sensors/sensor-2/telemetry", "while dashboard revoked", 1), 0);
  MqttClient revoked(durable);
  EXPECT_EQ(revoked.Connect(), NotAuthorizedConnack(4)) << Describe(revoked);
  EXPECT_EQ(sensor2->Publish("sensors/sensor-2/telemetry", "marker", 1), 0);
  // "one", "two", the Will, "while dashboard revoked", "marker".
  ASSERT_TRUE(observer->WaitForMessages(5, slow)) << Describe(*observer);
  EXPECT_EQ(Payloads(*observer).back(), "marker");

  observer->Disconnect();
  sensor2->Disconnect();
  const auto stopping = Clock::now();
  EXPECT_EQ(broker->Stop(), 0) << broker->Log();
  std::cout << "[ MEASURED ] valgrind stop and leak check: "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - stopping).count() << " ms"
            << std::endl;

  const std::string log = ReadWholeFile(valgrind_log_);
  ASSERT_NE(log.find("ERROR SUMMARY"), std::string::npos) << "valgrind did not finish its report:\n"
                                                          << log;
  // Every record fails the test, not only those with certguard frames: a reference the plugin
  // takes on a broker-owned object and never releases is reported at the object's allocation,
  // inside libssl (the plugin once leaked each refused client's certificate that way). The
  // broker is clean in this scenario; a genuine broker record would need a suppression here.
  size_t reported = 0, ours = 0;
  for (const std::string& record : Records(log)) {
    if (!IsErrorOrLeak(record)) continue;
    ++reported;
    ours += MentionsCertguard(record) ? 1 : 0;
    ADD_FAILURE() << "valgrind record" << (MentionsCertguard(record) ? " involving certguard" : "")
                  << ":\n"
                  << record;
  }
  std::smatch summary;
  std::regex_search(log, summary, std::regex("ERROR SUMMARY: [^\n]*"));
  std::cout << "[ MEASURED ] valgrind: " << summary.str() << "; " << reported
            << " error/leak records, " << ours << " with certguard frames" << std::endl;
  RecordProperty("valgrind_error_and_leak_records", static_cast<int>(reported));
}

}  // namespace
}  // namespace certguard::testing
