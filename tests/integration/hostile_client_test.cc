// Hostile clients: a device with a valid certificate that sends a client id or username built to
// confuse topic rules or log parsers (`+`, `#`, `/`, a NUL byte, 64 KB), a password, or an MQTT
// v5 authentication method. Each gets a defined answer, checked on the real broker with the
// plugin under `client_id: must_match` and `client_id: any`, with and without a rule that uses
// `{client_id}`. The README's "Hostile clients" table points here.
//
// libmosquitto cannot send a string with a NUL byte or an authentication method from the
// harness's client, so those CONNECTs are written byte by byte over TLS (RawConnect below).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/plugin_fixture.h"
#include "tests/support/mqtt_packets.h"

namespace certguard::testing {
namespace {

using Strings = std::vector<std::string>;

// RawConnect's answer: the CONNACK code, or kClosed when the broker closed the connection
// without one (MQTT's answer to a malformed packet), or kFailed when the exchange went wrong
// before the CONNECT was sent (`error` says why).
constexpr int kClosed = -1;
constexpr int kFailed = -2;

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    out += std::string(" ") + buffer;
  }
  return out;
}

// TLS with the device's certificate, one CONNECT, then the broker's first answer.
int RawConnect(int port, const std::string& ca_file, const Device& device,
               const ConnectFields& packet, std::string* error) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_file(ctx.get(), device.cert_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), device.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "TLS set-up:" + OpenSslErrors();
    return kFailed;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "socket";
    return kFailed;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{10, 0};  // a deadline for the wait, not a measurement
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect";
    return kFailed;
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_connect(ssl.get()) != 1) {
    *error = "TLS handshake:" + OpenSslErrors();
    return kFailed;
  }
  const std::string bytes = ConnectPacket(packet);
  size_t written = 0;
  while (written < bytes.size()) {
    const int n =
        SSL_write(ssl.get(), bytes.data() + written, static_cast<int>(bytes.size() - written));
    if (n <= 0) {
      *error = "write:" + OpenSslErrors();
      return kClosed;  // the broker may close while a 64 KB CONNECT is still being written
    }
    written += static_cast<size_t>(n);
  }
  unsigned char head[2];
  for (size_t got = 0; got < sizeof head;) {
    const int n = SSL_read(ssl.get(), head + got, static_cast<int>(sizeof head - got));
    if (n <= 0) return kClosed;
    got += static_cast<size_t>(n);
  }
  if (head[0] != 0x20) {
    *error = "first packet is not a CONNACK: type byte " + std::to_string(head[0]);
    return kFailed;
  }
  std::vector<unsigned char> body(head[1]);
  for (size_t got = 0; got < body.size();) {
    const int n = SSL_read(ssl.get(), body.data() + got, static_cast<int>(body.size() - got));
    if (n <= 0) return kClosed;
    got += static_cast<size_t>(n);
  }
  if (body.size() < 2) {
    *error = "short CONNACK";
    return kFailed;
  }
  return body[1];
}

// Every device may publish its telemetry and read its commands; an observer may read all.
// `client_id_rule` adds a rule that uses {client_id}, which makes the client id a topic level.
std::string HostilePolicy(const std::string& client_id_mode, bool client_id_rule) {
  std::string policy = FleetPolicy({.client_id = client_id_mode});
  if (client_id_rule) {
    const std::string at = "  - for: all\n";
    policy.insert(policy.find(at),
                  "  - for: sensors\n    allow:\n      publish: [\"clients/{client_id}/log\"]\n");
  }
  return policy;
}

struct HostileValue {
  std::string label;
  std::string value;
};

// Strings built to act as wildcards or extra levels in a topic, or to overflow something.
std::vector<HostileValue> HostileStrings() {
  return {
      {"plus", "+"},
      {"hash", "#"},
      {"slash", "sensor-1/x"},
      {"levels", "sensor-1/commands/#"},
      // The longest string MQTT can carry (a 2-byte length).
      {"64k", std::string(65535, 'x')},
  };
}

class HostileClientTest : public PluginProtocolTest {
 protected:
  // The broker's line about `client_id` connecting, e.g. "... as sensor-1 (p5, c1, k30,
  // u'sensor-1')." (ids are long: matched by a prefix).
  static std::string ConnectLine(const MosquittoBroker& broker, const std::string& client_id,
                                 size_t mark) {
    const std::string log = LogSince(broker, mark);
    const size_t at = log.find(" as " + client_id.substr(0, 40));
    return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
  }

  // An observer that reads every topic, to see what the broker delivers.
  std::unique_ptr<MqttClient> Observer(const MosquittoBroker& broker) {
    auto observer = Connect(broker, MakeDevice("observer"), protocol());
    if (observer) {
      EXPECT_EQ(observer->Subscribe("#", 1), 1);
    }
    return observer;
  }

  // `client` (whatever its client id or username) has sensor-1's rights and no more: its own
  // telemetry reaches the observer, another device's topic and a wildcard subscription do not.
  void ExpectOnlySensor1Rights(MqttClient& client, MqttClient& observer, const std::string& label) {
    EXPECT_EQ(client.Subscribe("#", 1), RefusedSubscription(protocol())) << label;
    EXPECT_EQ(client.Subscribe("devices/+/commands/#", 1), RefusedSubscription(protocol()))
        << label;
    EXPECT_EQ(client.Publish("sensors/sensor-2/telemetry", "forged", 1),
              RefusedQos1Publish(protocol()))
        << label;
    const size_t before = observer.ReceivedCount();
    EXPECT_EQ(client.Publish("sensors/sensor-1/telemetry", label, 1), 0) << label;
    ASSERT_TRUE(observer.WaitForMessages(before + 1)) << label;
    EXPECT_EQ(Payloads(observer).back(), label);
    EXPECT_EQ(Topics(observer).back(), "sensors/sensor-1/telemetry") << label;
  }
};

INSTANTIATE_TEST_SUITE_P(Protocols, HostileClientTest, ::testing::Values(4, 5), ProtocolName);

// --- Client ids --------------------------------------------------------------------------------

TEST_P(HostileClientTest, HostileClientIdsAreRefusedUnderMustMatch) {
  WritePolicy(HostilePolicy("must_match", false));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  for (const HostileValue& h : HostileStrings()) {
    const size_t mark = broker->LogMark();
    MqttClient client(ClientOptions(*broker, sensor, protocol(), h.value));
    EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << h.label << Describe(client);
    // Mosquitto cuts log lines about 500 bytes past their format: a 64 KB id hides the reason.
    if (h.value.size() < 200) {
      EXPECT_TRUE(
          broker->WaitForLog("client id does not match the device id", kReloadTimeout, mark))
          << h.label << "\n"
          << LogSince(*broker, mark);
    }
  }
  EXPECT_TRUE(broker->IsRunning());
}

TEST_P(HostileClientTest, HostileClientIdsAreRefusedUnderAnyWhenARuleUsesClientId) {
  WritePolicy(HostilePolicy("any", true));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  for (const HostileValue& h : HostileStrings()) {
    const size_t mark = broker->LogMark();
    MqttClient client(ClientOptions(*broker, sensor, protocol(), h.value));
    EXPECT_EQ(client.Connect(), NotAuthorizedConnack(protocol())) << h.label << Describe(client);
    if (h.value.size() < 200) {
      EXPECT_TRUE(broker->WaitForLog("{client_id} value", kReloadTimeout, mark))
          << h.label << "\n"
          << LogSince(*broker, mark);
    }
  }
  // The rule itself works for a well-behaved client id.
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  auto good = Connect(*broker, sensor, protocol(), "fw-7f3a");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->Publish("clients/fw-7f3a/log", "ok", 1), 0);
  ASSERT_TRUE(observer->WaitForMessages(1)) << Describe(*observer);
  EXPECT_EQ(Topics(*observer), Strings{"clients/fw-7f3a/log"});
}

// With no rule that uses {client_id}, the client id never reaches a topic: any string is just
// a name, and the client gets its certificate's rights, no more.
TEST_P(HostileClientTest, HostileClientIdsAreHarmlessUnderAnyWhenNoRuleUsesClientId) {
  WritePolicy(HostilePolicy("any", false));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto observer = Observer(*broker);
  ASSERT_TRUE(observer);
  const Device sensor = MakeDevice("sensor-1");
  for (const HostileValue& h : HostileStrings()) {
    const size_t mark = broker->LogMark();
    auto client = Connect(*broker, sensor, protocol(), h.value);
    ASSERT_TRUE(client) << h.label;
    // Mosquitto cuts log lines about 500 bytes past their format: a 64 KB id hides the rest.
    if (h.value.size() < 200) {
      EXPECT_NE(ConnectLine(*broker, h.value, mark).find("u'sensor-1'"), std::string::npos)
          << h.label << "\n"
          << LogSince(*broker, mark).substr(0, 2000);
    }
    ExpectOnlySensor1Rights(*client, *observer, h.label);
  }
}

// MQTT forbids U+0000 in every string. Were it passed on, a C-string comparison would read
// "sensor-1\0..." as "sensor-1".
TEST_P(HostileClientTest, ClientIdWithANulByteIsRefusedByTheBrokerBeforeCertguard) {
  for (const std::string mode : {"must_match", "any"}) {
    WritePolicy(HostilePolicy(mode, mode == "any"));
    auto broker = StartBroker();
    ASSERT_TRUE(broker);
    const size_t mark = broker->LogMark();
    ConnectFields packet;
    packet.protocol = protocol();
    packet.client_id = std::string("sensor-1\0evil", 13);
    std::string error;
    EXPECT_EQ(RawConnect(broker->port(), fleet_ca_file_, MakeDevice("sensor-1"), packet, &error),
              kClosed)
        << mode << ": " << error;
    EXPECT_EQ(LogSince(*broker, mark).find("is device"), std::string::npos)
        << mode << "\n"
        << LogSince(*broker, mark);
    EXPECT_TRUE(broker->IsRunning());
  }
}

// A newline in a client id would let a device write lines of its own into the broker log, where
// operators and log scanners read who was admitted.
TEST_P(HostileClientTest, ClientIdWithControlCharactersCannotForgeLogLines) {
  const std::string forged = "1999-01-01T00:00:00: certguard: client \"observer\" is device";
  for (const std::string mode : {"must_match", "any"}) {
    WritePolicy(HostilePolicy(mode, false));
    auto broker = StartBroker();
    ASSERT_TRUE(broker);
    for (const std::string separator : {"\n", "\r", "\x1b[2K\r"}) {
      ConnectFields packet;
      packet.protocol = protocol();
      packet.client_id = "sensor-1" + separator + forged;
      std::string error;
      const int rc =
          RawConnect(broker->port(), fleet_ca_file_, MakeDevice("sensor-1"), packet, &error);
      // Mosquitto refuses control characters in strings: "disconnected due to protocol error".
      EXPECT_EQ(rc, kClosed) << mode << ": " << error;
    }
    const std::string log = LogSince(*broker, 0);
    EXPECT_EQ(log.find("\n" + forged), std::string::npos) << mode << "\n" << log;
    EXPECT_EQ(log.find("\r" + forged), std::string::npos) << mode << "\n" << log;
    EXPECT_EQ(log.find("\x1b"), std::string::npos) << mode << "\n" << log;
  }
}

// --- Usernames and passwords -------------------------------------------------------------------

// certguard authenticates by certificate alone: whatever username and password come along, the
// client is admitted as its device, and the broker (its logs, `%u` patterns, kicks by username)
// knows it by the device id. A username that names a more privileged device gains nothing.
TEST_P(HostileClientTest, UsernameAndPasswordAreIgnoredAndTheUsernameBecomesTheDeviceId) {
  for (const std::string mode : {"must_match", "any"}) {
    WritePolicy(HostilePolicy(mode, false));
    auto broker = StartBroker();
    ASSERT_TRUE(broker);
    auto observer = Observer(*broker);
    ASSERT_TRUE(observer);
    const Device sensor = MakeDevice("sensor-1");
    std::vector<HostileValue> usernames = HostileStrings();
    usernames.push_back({"privileged", "observer"});
    usernames.push_back({"empty", ""});
    for (const HostileValue& h : usernames) {
      const std::string label = mode + "/" + h.label;
      const size_t mark = broker->LogMark();
      MqttClientOptions options = ClientOptions(*broker, sensor, protocol());
      options.username = h.value;
      options.password = "not-checked-" + h.label;
      auto client = std::make_unique<MqttClient>(options);
      ASSERT_EQ(client->Connect(), 0) << label << Describe(*client);
      EXPECT_NE(ConnectLine(*broker, "sensor-1", mark).find("u'sensor-1'"), std::string::npos)
          << label << "\n"
          << LogSince(*broker, mark).substr(0, 2000);
      ExpectOnlySensor1Rights(*client, *observer, label);
    }
  }
}

TEST_P(HostileClientTest, UsernameWithANulByteIsRefusedByTheBroker) {
  WritePolicy(HostilePolicy("must_match", false));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const size_t mark = broker->LogMark();
  ConnectFields packet;
  packet.protocol = protocol();
  packet.client_id = "sensor-1";
  packet.username = std::string("observer\0sensor-1", 17);
  packet.password = "x";
  std::string error;
  EXPECT_EQ(RawConnect(broker->port(), fleet_ca_file_, MakeDevice("sensor-1"), packet, &error),
            kClosed)
      << error;
  EXPECT_EQ(LogSince(*broker, mark).find("is device"), std::string::npos)
      << LogSince(*broker, mark);
}

// --- MQTT v5 enhanced authentication -----------------------------------------------------------

// A CONNECT with an Authentication Method skips BASIC_AUTH and goes to the plugins' extended
// authentication, which certguard does not offer: nobody completes it, so the client is refused.
// Enhanced authentication exists only in MQTT v5, so this fixture runs for v5 alone.
class HostileMqtt5ClientTest : public HostileClientTest {};
INSTANTIATE_TEST_SUITE_P(Protocols, HostileMqtt5ClientTest, ::testing::Values(5), ProtocolName);

TEST_P(HostileMqtt5ClientTest, AuthenticationMethodIsRefused) {
  WritePolicy(HostilePolicy("must_match", false));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  const Device sensor = MakeDevice("sensor-1");
  for (const std::string method : {"SCRAM-SHA-256", "certguard", ""}) {
    const size_t mark = broker->LogMark();
    ConnectFields packet;
    packet.protocol = 5;
    packet.client_id = "sensor-1";
    packet.auth_method = method;
    std::string error;
    const int rc = RawConnect(broker->port(), fleet_ca_file_, sensor, packet, &error);
    // 0x8C Bad authentication method.
    EXPECT_EQ(rc, 0x8C) << "method \"" << method << "\": " << error << "\n"
                        << LogSince(*broker, mark);
    EXPECT_EQ(LogSince(*broker, mark).find("is device"), std::string::npos)
        << LogSince(*broker, mark);
  }
  // The same device without a method is fine.
  ConnectFields plain;
  plain.protocol = 5;
  plain.client_id = "sensor-1";
  std::string error;
  EXPECT_EQ(RawConnect(broker->port(), fleet_ca_file_, sensor, plain, &error), 0) << error;
}

// --- Another device's client id ---------------------------------------------------------------

// Under `any`, a device can connect with the client id another device uses: the broker then
// hands it that client's session (the other device is disconnected; MQTT's takeover). What the
// session was subscribed to is still checked against the newcomer's own rights on every
// delivery, so the victim's commands never reach it.
TEST_P(HostileClientTest, TakingOverAnotherDevicesSessionUnderAnyYieldsNoneOfItsMessages) {
  WritePolicy(HostilePolicy("any", false));
  auto broker = StartBroker();
  ASSERT_TRUE(broker);
  auto operator_client = Connect(*broker, MakeOperator("operator-1"), protocol());
  ASSERT_TRUE(operator_client);
  MqttClientOptions victim_options = ClientOptions(*broker, MakeDevice("sensor-2"), protocol());
  victim_options.clean_session = false;
  victim_options.session_expiry_seconds = 3600;
  MqttClient victim(victim_options);
  ASSERT_EQ(victim.Connect(), 0) << Describe(victim);
  ASSERT_EQ(victim.Subscribe("devices/sensor-2/commands/#", 1), 1);

  MqttClientOptions thief_options =
      ClientOptions(*broker, MakeDevice("sensor-1"), protocol(), "sensor-2");
  thief_options.clean_session = false;
  thief_options.session_expiry_seconds = 3600;
  MqttClient thief(thief_options);
  ASSERT_EQ(thief.Connect(), 0) << Describe(thief);
  EXPECT_TRUE(victim.WaitForDisconnect(kDisconnectTimeout));

  EXPECT_EQ(operator_client->Publish("devices/sensor-2/commands/unlock", "secret", 1), 0);
  // A marker the thief may read, sent after: if the secret were delivered it would come first.
  EXPECT_EQ(thief.Subscribe("devices/sensor-1/commands/#", 1), 1);
  EXPECT_EQ(operator_client->Publish("devices/sensor-1/commands/ping", "marker", 1), 0);
  ASSERT_TRUE(thief.WaitForMessages(1)) << Describe(thief);
  EXPECT_EQ(Payloads(thief), Strings{"marker"});
  EXPECT_TRUE(WaitForAudit("\"action\":\"receive\""));
  thief.Disconnect();
}

}  // namespace
}  // namespace certguard::testing
