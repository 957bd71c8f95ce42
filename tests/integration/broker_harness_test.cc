// The harness itself, against the real broker without certguard: if these fail, plugin test
// failures mean nothing.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/test_pki.h"

namespace certguard::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class BrokerHarnessTest : public ::testing::Test {
 protected:
  BrokerHarnessTest() : foreign_ca_("unrelated test CA") {
    ca_file_ = files_.Write("ca.crt", ca_.cert_pem());
    IssuedCertificate server = ca_.IssueServer();
    server_cert_ = files_.Write("server.crt", server.cert_pem);
    server_key_ = files_.Write("server.key", server.key_pem);
    IssuedCertificate device = ca_.Issue(WithCn("sensor-1"));
    device_cert_ = files_.Write("sensor-1.crt", device.cert_pem);
    device_key_ = files_.Write("sensor-1.key", device.key_pem);
    IssuedCertificate stranger = foreign_ca_.Issue(WithCn("sensor-2"));
    foreign_cert_ = files_.Write("foreign.crt", stranger.cert_pem);
    foreign_key_ = files_.Write("foreign.key", stranger.key_pem);
  }

  // mTLS as certguard deploys it, but letting the broker itself accept everyone with a
  // CA-issued certificate (no plugin here).
  BrokerOptions TlsBrokerOptions() const {
    BrokerOptions options;
    options.ca_file = ca_file_;
    options.cert_file = server_cert_;
    options.key_file = server_key_;
    options.require_certificate = true;
    options.use_identity_as_username = true;
    options.allow_anonymous = true;
    return options;
  }

  MqttClientOptions DeviceClient(int port, int protocol_version = 5) const {
    MqttClientOptions options;
    options.port = port;
    options.protocol_version = protocol_version;
    options.ca_file = ca_file_;
    options.cert_file = device_cert_;
    options.key_file = device_key_;
    return options;
  }

  TempDir files_;
  TestCa ca_;
  TestCa foreign_ca_;
  std::string ca_file_, server_cert_, server_key_;
  std::string device_cert_, device_key_, foreign_cert_, foreign_key_;
};

std::string Describe(const MqttClient& client) {
  std::string text = "last error: " + client.LastError() + "\nlibmosquitto log:\n";
  for (const auto& line : client.LibraryLog()) text += "  " + line + "\n";
  return text;
}

TEST_F(BrokerHarnessTest, ClientWithCaIssuedCertificateReceivesItsOwnQos0AndQos1Messages) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClient client(DeviceClient(broker.port(), 5));
  ASSERT_EQ(client.Connect(), 0) << Describe(client) << broker.Log();
  EXPECT_TRUE(client.IsConnected());
  // use_identity_as_username: the broker logs the certificate's CN as the user name.
  EXPECT_TRUE(broker.WaitForLog("u'sensor-1'", milliseconds(2000))) << broker.Log();

  EXPECT_EQ(client.Subscribe("sensors/#", 1), 1);
  EXPECT_EQ(client.Publish("sensors/sensor-1/telemetry", "qos0", 0), 0);
  EXPECT_EQ(client.Publish("sensors/sensor-1/telemetry", "qos1", 1), 0);
  ASSERT_TRUE(client.WaitForMessages(2)) << Describe(client);
  auto messages = client.Received();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].topic, "sensors/sensor-1/telemetry");
  EXPECT_EQ(messages[0].payload, "qos0");
  EXPECT_EQ(messages[0].qos, 0);
  EXPECT_EQ(messages[1].payload, "qos1");
  EXPECT_EQ(messages[1].qos, 1);
  EXPECT_FALSE(messages[1].retain);

  EXPECT_EQ(client.Unsubscribe("sensors/#"), 0);
  client.ClearReceived();
  EXPECT_EQ(client.Publish("sensors/sensor-1/telemetry", "after unsubscribe", 1), 0x10)
      << "v5 PUBACK reason 'no matching subscribers' once nobody listens";
  EXPECT_FALSE(client.WaitForMessages(1, milliseconds(200)));
}

TEST_F(BrokerHarnessTest, Mqtt311ClientPublishesSubscribesAndReceives) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClient client(DeviceClient(broker.port(), 4));
  ASSERT_EQ(client.Connect(), 0) << Describe(client) << broker.Log();
  // Mosquitto logs its internal protocol enum: p2 is MQTT 3.1.1, p5 is MQTT v5.
  EXPECT_TRUE(broker.WaitForLog("(p2,", milliseconds(2000))) << broker.Log();
  EXPECT_EQ(client.Subscribe("devices/+/status", 2), 2);
  EXPECT_EQ(client.Publish("devices/sensor-1/status", "up", 1), 0);
  EXPECT_EQ(client.Publish("devices/sensor-1/status", "still up", 2), 0);
  ASSERT_TRUE(client.WaitForMessages(2)) << Describe(client);
  EXPECT_EQ(client.Received()[1].payload, "still up");
  EXPECT_EQ(client.Received()[1].qos, 2);
}

TEST_F(BrokerHarnessTest, RetainedMessageReachesALaterSubscriberFlaggedAsRetained) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClient publisher(DeviceClient(broker.port()));
  ASSERT_EQ(publisher.Connect(), 0) << Describe(publisher);
  ASSERT_EQ(publisher.Publish("devices/sensor-1/status", "online", 1, /*retain=*/true), 0x10);
  MqttClient subscriber(DeviceClient(broker.port()));
  ASSERT_EQ(subscriber.Connect(), 0) << Describe(subscriber);
  EXPECT_EQ(subscriber.Subscribe("devices/#", 1), 1);
  ASSERT_TRUE(subscriber.WaitForMessages(1));
  EXPECT_TRUE(subscriber.Received()[0].retain);
  EXPECT_EQ(subscriber.Received()[0].payload, "online");
}

TEST_F(BrokerHarnessTest, ClientWithoutCertificateIsRefusedPromptlyOverTls13) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClientOptions options = DeviceClient(broker.port());
  options.cert_file.clear();
  options.key_file.clear();
  MqttClient client(options);
  const auto start = Clock::now();
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_FALSE(client.IsConnected());
  EXPECT_TRUE(client.WaitForDisconnect(milliseconds(0)));
  // TLS 1.3: the client's handshake completes; the broker's "certificate required" alert then
  // arrives as a dropped connection.
  EXPECT_EQ(client.disconnect_reason(), MOSQ_ERR_CONN_LOST) << Describe(client);
  EXPECT_TRUE(broker.WaitForLog("peer did not return a certificate", milliseconds(2000)))
      << broker.Log();
  EXPECT_TRUE(broker.IsRunning());
}

TEST_F(BrokerHarnessTest, ClientWithoutCertificateIsRefusedPromptlyOverTls12) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClientOptions options = DeviceClient(broker.port());
  options.cert_file.clear();
  options.key_file.clear();
  options.max_tls12 = true;
  MqttClient client(options);
  const auto start = Clock::now();
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  // TLS 1.2: the handshake itself fails (libmosquitto reports no callback for this).
  EXPECT_EQ(client.disconnect_reason(), MOSQ_ERR_TLS) << Describe(client);
}

TEST_F(BrokerHarnessTest, ClientWithCertificateFromUnrelatedCaIsRefused) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClientOptions options = DeviceClient(broker.port());
  options.cert_file = foreign_cert_;
  options.key_file = foreign_key_;
  MqttClient client(options);
  const auto start = Clock::now();
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_TRUE(broker.WaitForLog("certificate verify failed", milliseconds(2000))) << broker.Log();
}

TEST_F(BrokerHarnessTest, ClientThatDoesNotTrustTheServerFailsWithoutHanging) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  TempDir other;
  MqttClientOptions options = DeviceClient(broker.port());
  options.ca_file = other.Write("foreign-ca.crt", foreign_ca_.cert_pem());
  MqttClient client(options);
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
}

TEST_F(BrokerHarnessTest, BrokerWithoutAnonymousAccessRefusesWithNotAuthorizedConnack) {
  BrokerOptions broker_options = TlsBrokerOptions();
  broker_options.use_identity_as_username = false;
  broker_options.allow_anonymous = false;
  MosquittoBroker broker(broker_options);
  ASSERT_TRUE(broker.Start());
  MqttClient v5(DeviceClient(broker.port(), 5));
  EXPECT_EQ(v5.Connect(), 0x87) << Describe(v5);
  EXPECT_TRUE(v5.WaitForDisconnect());
  EXPECT_FALSE(v5.IsConnected());
  MqttClient v311(DeviceClient(broker.port(), 4));
  EXPECT_EQ(v311.Connect(), 5) << Describe(v311);  // 3.1.1 "not authorized"
  EXPECT_TRUE(v311.WaitForDisconnect());
}

TEST_F(BrokerHarnessTest, ConnectToAClosedPortFailsWithoutHanging) {
  int port;
  {
    MosquittoBroker broker(TlsBrokerOptions());
    ASSERT_TRUE(broker.Start());
    port = broker.port();
  }
  MqttClientOptions options = DeviceClient(port);
  MqttClient client(options);
  EXPECT_EQ(client.Connect(), MqttClient::kConnectionLost) << Describe(client);
}

TEST_F(BrokerHarnessTest, SessionTakenOverClientIsToldWhyAndStaysDisconnected) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClientOptions options = DeviceClient(broker.port());
  options.client_id = "sensor-1";
  MqttClient first(options);
  ASSERT_EQ(first.Connect(), 0) << Describe(first);
  MqttClient second(options);
  ASSERT_EQ(second.Connect(), 0) << Describe(second);
  ASSERT_TRUE(first.WaitForDisconnect());
  // 2.0.11 queues DISCONNECT 0x8E (session taken over) but closes the TLS socket before
  // flushing it, so the old client normally just sees the connection drop.
  EXPECT_TRUE(first.disconnect_reason() == MOSQ_ERR_CONN_LOST || first.disconnect_reason() == 0x8E)
      << first.disconnect_reason() << "\n"
      << Describe(first) << broker.Log();
  // Had `first` reconnected on its own, it would now have taken the session back.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_FALSE(first.IsConnected());
  EXPECT_TRUE(second.IsConnected());
  EXPECT_EQ(first.Publish("a/b", "x", 1), MqttClient::kConnectionLost);
  // A new session on the same object works.
  EXPECT_EQ(first.Connect(), 0) << Describe(first);
  EXPECT_TRUE(second.WaitForDisconnect());
}

TEST_F(BrokerHarnessTest, ClientNoticesWhenTheBrokerGoesAway) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClient client(DeviceClient(broker.port()));
  ASSERT_EQ(client.Connect(), 0) << Describe(client);
  EXPECT_EQ(broker.Stop(), 0);
  ASSERT_TRUE(client.WaitForDisconnect());
  EXPECT_FALSE(client.IsConnected());
  EXPECT_EQ(client.Subscribe("x", 0), MqttClient::kConnectionLost);

  // Restarting keeps the port, so the same client options reach it again.
  ASSERT_TRUE(broker.Start());
  EXPECT_EQ(client.Connect(), 0) << Describe(client) << broker.Log();
}

TEST_F(BrokerHarnessTest, SighupReloadsWithoutStoppingTheBrokerOrItsClients) {
  MosquittoBroker broker(TlsBrokerOptions());
  ASSERT_TRUE(broker.Start());
  MqttClient client(DeviceClient(broker.port()));
  ASSERT_EQ(client.Connect(), 0) << Describe(client);
  ASSERT_EQ(client.Subscribe("t", 1), 1);

  const size_t mark = broker.LogMark();
  ASSERT_TRUE(broker.SendSighup());
  EXPECT_TRUE(broker.WaitForLog("Reloading config", milliseconds(5000), mark)) << broker.Log();
  EXPECT_TRUE(broker.IsRunning());
  EXPECT_TRUE(client.IsConnected());
  EXPECT_EQ(client.Publish("t", "after reload", 1), 0);
  EXPECT_TRUE(client.WaitForMessages(1));
  MqttClient newcomer(DeviceClient(broker.port()));
  EXPECT_EQ(newcomer.Connect(), 0) << Describe(newcomer);
}

TEST_F(BrokerHarnessTest, BrokerProcessIsGoneOnceTheObjectIsDestroyed) {
  pid_t pid;
  {
    MosquittoBroker broker(TlsBrokerOptions());
    ASSERT_TRUE(broker.Start());
    pid = broker.pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(BrokerHarnessTest, StartFailsPromptlyWithTheBrokerLogWhenTheConfigIsBad) {
  BrokerOptions options = TlsBrokerOptions();
  options.plugin_path = files_.path() + "/no-such-plugin.so";
  MosquittoBroker broker(options);
  const auto start = Clock::now();
  ::testing::AssertionResult result = broker.Start();
  EXPECT_FALSE(result);
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_NE(std::string(result.message()).find("no-such-plugin.so"), std::string::npos)
      << result.message();
  EXPECT_FALSE(broker.IsRunning());
}

TEST_F(BrokerHarnessTest, TwoBrokersGetDifferentPorts) {
  MosquittoBroker a(TlsBrokerOptions());
  MosquittoBroker b(TlsBrokerOptions());
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.port(), 1883);
}

}  // namespace
}  // namespace certguard::testing
