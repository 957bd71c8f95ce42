#pragma once

// What every certguard_mosquitto.so integration test needs: a fleet CA and a foreign CA, a
// policy directory the test rewrites the way operators do (temp file + rename), a broker with
// the plugin, and device clients on MQTT 3.1.1 or 5.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/test_pki.h"

namespace certguard::testing {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Generous: these bound waits for things that normally take milliseconds, on a loaded CI box.
inline constexpr milliseconds kReloadTimeout{10000};
inline constexpr milliseconds kDisconnectTimeout{10000};
// How long a negative check waits for a message that must not come, when no later message can
// serve as a marker.
inline constexpr milliseconds kQuietPeriod{300};

// What the broker answers when certguard says no, by protocol (4 = MQTT 3.1.1, 5 = MQTT v5).
inline int NotAuthorizedConnack(int protocol) { return protocol == 5 ? 0x87 : 5; }
inline int RefusedSubscription(int protocol) { return protocol == 5 ? 0x87 : 0x80; }
// MQTT 3.1.1 has no way to say no to a publish: the broker acknowledges and drops it.
inline int RefusedQos1Publish(int protocol) { return protocol == 5 ? 0x87 : 0; }
// v5 PUBACK for an accepted message nobody is subscribed to; 3.1.1 always says 0.
inline int AcceptedWithoutSubscribers(int protocol) { return protocol == 5 ? 0x10 : 0; }

inline std::string ProtocolName(const ::testing::TestParamInfo<int>& info) {
  return info.param == 5 ? "Mqtt5" : "Mqtt311";
}

// A device certificate and its key on disk.
struct Device {
  std::string name;  // the CN it was issued for (printable only; hostile CNs get a label)
  IssuedCertificate issued;
  std::string cert_file;
  std::string key_file;
};

// The topics of the messages a client has received, in arrival order.
inline std::vector<std::string> Topics(const MqttClient& client) {
  std::vector<std::string> topics;
  for (const auto& message : client.Received()) topics.push_back(message.topic);
  return topics;
}
inline std::vector<std::string> Payloads(const MqttClient& client) {
  std::vector<std::string> payloads;
  for (const auto& message : client.Received()) payloads.push_back(message.payload);
  return payloads;
}

inline std::string Describe(const MqttClient& client) {
  std::string text = "client " + client.options().client_id +
                     ": last error: " + client.LastError() + "\nlibmosquitto log (last lines):\n";
  const auto log = client.LibraryLog();
  for (size_t i = log.size() > 20 ? log.size() - 20 : 0; i < log.size(); ++i) {
    text += "  " + log[i] + "\n";
  }
  return text;
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct FleetPolicyOptions {
  std::string client_id = "must_match";
  bool require_issuer = false;
  std::string refresh = "100ms";  // short, so that edits land fast
};

// The sensors/dashboards policy of design.md, plus an operator group (by certificate subject)
// that sends commands but never firmware, and an `observer` that may read every topic, so a test
// can see what the broker actually delivers. The observer may also publish under $SYS, which the
// `for: all` deny must still stop.
inline std::string FleetPolicy(const FleetPolicyOptions& options = {}) {
  return R"(version: 1
ca: "ca.crt"
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - cn: "{id}"
  client_id: )" +
         options.client_id + "\n  require_issuer: " + (options.require_issuer ? "true" : "false") +
         R"(
groups:
  sensors:    { id: "sensor-*" }
  dashboards: { id: ["dashboard-*", "ops-console"] }
  operators:  { subject: { OU: "operations" } }
rules:
  - for: sensors
    allow:
      publish:   ["sensors/{id}/telemetry", "devices/{id}/status"]
      subscribe: ["devices/{id}/commands/#"]
  - for: dashboards
    allow:
      subscribe: ["sensors/+/telemetry", "devices/+/status"]
  - for: operators
    allow:
      publish:   ["devices/+/commands/#"]
  - for: operators
    deny:
      publish:   ["devices/+/commands/firmware"]
  - for: { id: "observer" }
    allow:
      subscribe: ["#", "$SYS/#"]
      publish:   ["$SYS/#"]
  - for: all
    deny:
      publish: ["$SYS/#"]
revocation:
  crl: ["fleet.crl"]
  denylist: "revoked.txt"
  refresh: )" +
         options.refresh + "\n";
}

// Connects with a Will, then shuts the TCP connection down without sending DISCONNECT, as a
// device does when it loses power: the broker then publishes the Will. The harness's MqttClient
// always disconnects cleanly, which discards the Will.
inline ::testing::AssertionResult ConnectWithWillAndDrop(const MqttClientOptions& options,
                                                         const std::string& will_topic,
                                                         const std::string& will_payload) {
  mosquitto* mosq = mosquitto_new(options.client_id.c_str(), true, nullptr);
  if (mosq == nullptr) return ::testing::AssertionFailure() << "mosquitto_new";
  std::atomic<int> connack{-1};
  mosquitto_user_data_set(mosq, &connack);
  mosquitto_connect_callback_set(mosq, [](mosquitto*, void* self, int rc) {
    static_cast<std::atomic<int>*>(self)->store(rc);
  });
  int rc =
      mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                           options.protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_will_set(mosq, will_topic.c_str(), static_cast<int>(will_payload.size()),
                            will_payload.data(), 1, false);
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_tls_set(mosq, options.ca_file.c_str(), nullptr, options.cert_file.c_str(),
                           options.key_file.c_str(), nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_connect(mosq, options.host.c_str(), options.port, 30);
  const auto deadline = Clock::now() + kDisconnectTimeout;
  while (rc == MOSQ_ERR_SUCCESS && connack.load() < 0 && Clock::now() < deadline) {
    rc = mosquitto_loop(mosq, 50, 1);
  }
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  if (rc != MOSQ_ERR_SUCCESS || connack.load() != 0) {
    result = ::testing::AssertionFailure()
             << "connect: " << mosquitto_strerror(rc) << ", CONNACK " << connack.load();
  } else {
    ::shutdown(mosquitto_socket(mosq), SHUT_RDWR);
  }
  mosquitto_destroy(mosq);
  return result;
}

class PluginTestBase : public ::testing::Test {
 protected:
  PluginTestBase() : fleet_ca_("certguard fleet CA"), foreign_ca_("certguard foreign CA") {
    etc_ = files_.path() + "/etc";
    policy_path_ = etc_ + "/policy.yaml";
    audit_path_ = files_.path() + "/audit.jsonl";
    fleet_ca_file_ = files_.Write("etc/ca.crt", fleet_ca_.cert_pem());
    both_cas_file_ =
        files_.Write("pki/both-cas.crt", fleet_ca_.cert_pem() + foreign_ca_.cert_pem());
    IssuedCertificate server = fleet_ca_.IssueServer();
    server_cert_ = files_.Write("pki/server.crt", server.cert_pem);
    server_key_ = files_.Write("pki/server.key", server.key_pem);
    WriteCrl({});
    WriteDenylist("# nobody is revoked yet\n");
  }

  void SetUp() override {
#ifndef CERTGUARD_PLUGIN_PATH
    FAIL() << "certguard_mosquitto is not built (the build always makes it: check CMake)";
#endif
  }

  // Writes etc/<name> as editors and config management do: a temp file renamed into place, so
  // the plugin never reads half a file.
  void WriteAtomically(const std::string& name, const std::string& contents) const {
    const std::string temp = files_.Write("etc/." + name + ".tmp", contents);
    std::filesystem::rename(temp, etc_ + "/" + name);
  }
  void WritePolicy(const std::string& text) const { WriteAtomically("policy.yaml", text); }
  void WriteCrl(const std::vector<std::string>& revoked_serials) const {
    WriteAtomically("fleet.crl", fleet_ca_.CrlPem(revoked_serials));
  }
  void WriteDenylist(const std::string& text) const { WriteAtomically("revoked.txt", text); }

  Device MakeDevice(const std::string& name, LeafSpec spec, TestCa* ca = nullptr) {
    Device device;
    device.name = name;
    device.issued = (ca != nullptr ? ca : &fleet_ca_)->Issue(spec);
    const std::string base = "pki/device-" + std::to_string(++device_count_);
    device.cert_file = files_.Write(base + ".crt", device.issued.cert_pem);
    device.key_file = files_.Write(base + ".key", device.issued.key_pem);
    return device;
  }
  Device MakeDevice(const std::string& cn) { return MakeDevice(cn, WithCn(cn)); }
  // The observer's id is in its SAN and its CN, so that identity edits aimed at others spare it.
  Device MakeObserver() {
    LeafSpec spec = WithCn("observer");
    spec.san_uri = {"spiffe://iot.example.com/device/observer"};
    return MakeDevice("observer", spec);
  }
  Device MakeOperator(const std::string& cn) {
    LeafSpec spec;
    spec.subject = {{"O", "Example"}, {"OU", "operations"}, {"CN", cn}};
    return MakeDevice(cn, spec);
  }

  // The deployment of design.md: mTLS listener trusting the fleet CA, no
  // use_identity_as_username, the plugin with a policy and an audit log.
  BrokerOptions PluginBroker() const {
    BrokerOptions options;
    options.ca_file = fleet_ca_file_;
    options.cert_file = server_cert_;
    options.key_file = server_key_;
    options.require_certificate = true;
#ifdef CERTGUARD_PLUGIN_PATH
    options.plugin_path = CERTGUARD_PLUGIN_PATH;
#endif
    options.plugin_options = {{"policy", policy_path_}, {"audit", audit_path_}};
    return options;
  }

  // A broker started with the plugin, or nullptr (with a failure recorded).
  std::unique_ptr<MosquittoBroker> StartBroker(BrokerOptions options) {
    auto broker = std::make_unique<MosquittoBroker>(std::move(options));
    ::testing::AssertionResult started = broker->Start();
    EXPECT_TRUE(started);
    if (!started) return nullptr;
    return broker;
  }
  std::unique_ptr<MosquittoBroker> StartBroker() { return StartBroker(PluginBroker()); }

  // Options for `device` on `broker`; the client id defaults to the device's name, which is its
  // device id under the fleet policy.
  MqttClientOptions ClientOptions(const MosquittoBroker& broker, const Device& device, int protocol,
                                  std::string client_id = "") const {
    MqttClientOptions options;
    options.port = broker.port();
    options.protocol_version = protocol;
    options.client_id = client_id.empty() ? device.name : std::move(client_id);
    options.ca_file = fleet_ca_file_;
    options.cert_file = device.cert_file;
    options.key_file = device.key_file;
    options.timeout = client_timeout_;
    return options;
  }

  // A connected client, or nullptr (with a failure recorded).
  std::unique_ptr<MqttClient> Connect(const MosquittoBroker& broker, const Device& device,
                                      int protocol, std::string client_id = "") {
    auto client =
        std::make_unique<MqttClient>(ClientOptions(broker, device, protocol, std::move(client_id)));
    const int rc = client->Connect();
    EXPECT_EQ(rc, 0) << Describe(*client) << broker.Log();
    if (rc != 0) return nullptr;
    return client;
  }

  // Rewrites the policy and waits until the plugin decides with it. False if it never did.
  bool ApplyPolicy(const MosquittoBroker& broker, const std::string& text) const {
    const size_t mark = broker.LogMark();
    WritePolicy(text);
    return broker.WaitForLog("certguard: policy reloaded", kReloadTimeout, mark);
  }

  // The lines the broker logged since `mark`.
  static std::string LogSince(const MosquittoBroker& broker, size_t mark) {
    const std::string log = ReadWholeFile(broker.log_path());
    return mark < log.size() ? log.substr(mark) : "";
  }

  std::string AuditLines() const { return ReadWholeFile(audit_path_); }
  // True once the audit log holds `needle` (denials are written inside the broker's check).
  bool WaitForAudit(const std::string& needle, milliseconds timeout = kReloadTimeout) const {
    const auto deadline = Clock::now() + timeout;
    while (AuditLines().find(needle) == std::string::npos) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  TempDir files_;
  TestCa fleet_ca_;
  TestCa foreign_ca_;
  std::string etc_, policy_path_, audit_path_;
  std::string fleet_ca_file_, both_cas_file_, server_cert_, server_key_;
  int device_count_ = 0;
  milliseconds client_timeout_ = MqttClientOptions().timeout;  // for each synchronous client call
};

// Most behaviours are checked on both protocols: the broker words its answers differently.
class PluginProtocolTest : public PluginTestBase, public ::testing::WithParamInterface<int> {
 protected:
  int protocol() const { return GetParam(); }
};

}  // namespace certguard::testing
