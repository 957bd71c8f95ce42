// certguard-exhook as EMQX sees it: the real binary, called over gRPC in EMQX 5.8's order with
// real certificates, for both package versions; modes, reloads, revocation, TLS and the process
// life cycle.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/exhook/exhook_fixture.h"

namespace certguard::testing {
namespace {

using std::chrono::milliseconds;

// Identity from the CN; what none mode can serve. Devices publish their telemetry and read their
// commands; dashboards read every sensor's telemetry; nobody publishes under $SYS.
constexpr char kCnPolicy[] = R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
groups:
  dashboards: { id: "dashboard-*" }
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
      subscribe: ["devices/{id}/commands/#"]
  - for: dashboards
    allow:
      subscribe: ["sensors/+/telemetry"]
  - for: all
    deny:
      publish: ["$SYS/#"]
revocation:
  denylist: revoked.txt
  refresh: 50ms
)";

// Identity from a URI SAN and revocation by CRL: only pem mode has what this needs.
constexpr char kSanPolicy[] = R"(version: 1
ca: ca.crt
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
      subscribe: ["devices/{id}/commands/#"]
revocation:
  crl: [ca.crl]
  refresh: 50ms
)";

LeafSpec SpiffeDevice(const std::string& id) {
  LeafSpec spec = WithCn("device " + id);
  spec.subject.insert(spec.subject.begin(), {"O", "Example IoT"});
  spec.san_uri = {"spiffe://iot.example.com/device/" + id};
  return spec;
}

std::vector<std::string> Sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

class ExhookServerTest : public ExhookFixture, public ::testing::WithParamInterface<ExhookVersion> {
 protected:
  void SetUp() override {
    dir_.Write("revoked.txt", "# nothing revoked yet\n");
    WriteAtomically("ca.crl", ca_.CrlPem({}));
  }
  std::unique_ptr<FakeEmqx> Emqx(const ExhookProcess& server) const {
    return EmqxFor(server, GetParam());
  }
};

TEST_P(ExhookServerTest, HooksArriveBeforeProviderLoadedAndAreAnsweredStatelessly) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);

  // EMQX may call hooks before (or without a new) OnProviderLoaded, e.g. after a reconnect.
  EXPECT_EQ(emqx->Authenticate(sensor), true) << emqx->last_error();
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-2/telemetry"), false);

  const auto hooks = emqx->LoadProvider();
  ASSERT_TRUE(hooks.has_value()) << emqx->last_error();
  EXPECT_EQ(Sorted(*hooks), (std::vector<std::string>{"client.authenticate", "client.authorize"}));
  // Loaded twice (a second node, a reconnect): the same answer, decisions unchanged.
  EXPECT_EQ(Sorted(*emqx->LoadProvider()), Sorted(*hooks));
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  EXPECT_TRUE(server->WaitForOutput("loaded emqx.exhook." + VersionName(GetParam()) +
                                        ".HookProvider; hooks: client.authenticate, "
                                        "client.authorize",
                                    milliseconds(2000)))
      << server->Output();
  EXPECT_TRUE(emqx->UnloadProvider());
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
}

TEST_P(ExhookServerTest, ClientLifecycleInEmqxOrderGetsPolicyDecisions) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  ASSERT_TRUE(emqx->LoadProvider().has_value()) << emqx->last_error();

  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Connect(sensor), true) << server->Output();
  EXPECT_EQ(emqx->Subscribe(sensor, "devices/sensor-1/commands/#"), true);
  EXPECT_EQ(emqx->Subscribe(sensor, "devices/sensor-1/commands/+/reboot"), true);
  EXPECT_EQ(emqx->Subscribe(sensor, "devices/+/commands/#"), false) << "wider than allowed";
  EXPECT_EQ(emqx->Subscribe(sensor, "devices/sensor-2/commands/#"), false);
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-2/telemetry"), false);
  EXPECT_EQ(emqx->Publish(sensor, "$SYS/broker/uptime"), false);
  EXPECT_TRUE(emqx->Disconnect(sensor));

  const EmqxClientInfo dashboard =
      ClientInfoFor(ca_.Issue(WithCn("dashboard-7")), "dashboard-7", false);
  ASSERT_EQ(emqx->Connect(dashboard), true);
  EXPECT_EQ(emqx->Subscribe(dashboard, "sensors/+/telemetry"), true);
  EXPECT_EQ(emqx->Subscribe(dashboard, "sensors/#"), false);
  EXPECT_EQ(emqx->Subscribe(dashboard, "#"), false);
  EXPECT_TRUE(emqx->Disconnect(dashboard));

  // Client id binding (client_id: must_match by default).
  const EmqxClientInfo borrowed = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-2", false);
  EXPECT_EQ(emqx->Connect(borrowed), false);
  EXPECT_EQ(emqx->Publish(borrowed, "sensors/sensor-1/telemetry"), false);
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
  EXPECT_TRUE(server->WaitForOutput("refused client \"sensor-2\"", milliseconds(2000)))
      << server->Output();
}

TEST_P(ExhookServerTest, SharedSubscriptionIsCheckedAsItsFilter) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Connect(sensor), true);
  // EMQX strips `$share/g/` before it asks...
  EXPECT_EQ(emqx->Subscribe(sensor, "$share/g/devices/sensor-1/commands/#"), true);
  EXPECT_EQ(emqx->Subscribe(sensor, "$share/g/devices/sensor-2/commands/#"), false);
  // ...and a prefix that still arrives is checked the same way.
  EXPECT_EQ(emqx->Authorize(sensor, kAuthorizeSubscribe, "$share/g/devices/sensor-1/commands/#"),
            true);
  EXPECT_EQ(emqx->Authorize(sensor, kAuthorizeSubscribe, "$share/g/devices/sensor-2/commands/#"),
            false);
  EXPECT_EQ(emqx->Authorize(sensor, kAuthorizeSubscribe, "$share/g"), false);
  EXPECT_EQ(emqx->Authorize(sensor, kAuthorizeSubscribe, "$share/+/devices/sensor-1/commands/#"),
            false);
}

TEST_P(ExhookServerTest, PemModeReadsSansFromTheCertificateInTheUsername) {
  WritePolicy(kSanPolicy);
  auto server = StartServer({"--peer-cert", "pem"});
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo device = ClientInfoFor(ca_.Issue(SpiffeDevice("pump-3")), "pump-3", true);
  ASSERT_EQ(emqx->Connect(device), true) << server->Output();
  EXPECT_EQ(emqx->Publish(device, "sensors/pump-3/telemetry"), true);
  EXPECT_EQ(emqx->Publish(device, "sensors/pump-4/telemetry"), false);
  EXPECT_EQ(emqx->Subscribe(device, "devices/pump-3/commands/#"), true);
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
}

TEST_P(ExhookServerTest, NoneModeRefusesAPolicyThatNeedsTheCertificateAndNamesTheSetting) {
  WritePolicy(kSanPolicy);
  auto server = StartServer();  // --peer-cert none is the default
  ASSERT_NE(server, nullptr);
  // Said once at start-up, before any client tries.
  EXPECT_TRUE(server->WaitForOutput("every client will be refused", milliseconds(2000)))
      << server->Output();
  auto emqx = Emqx(*server);
  // Even with the certificate in the username: without --peer-cert pem it is not read.
  const EmqxClientInfo device = ClientInfoFor(ca_.Issue(SpiffeDevice("pump-3")), "pump-3", true);
  const size_t mark = server->OutputMark();
  EXPECT_EQ(emqx->Connect(device), false);
  EXPECT_EQ(emqx->Publish(device, "sensors/pump-3/telemetry"), false);
  ASSERT_TRUE(server->WaitForOutput("refused client", milliseconds(2000), mark));
  const std::string refusal = server->Output().substr(mark);
  EXPECT_NE(refusal.find("mqtt.peer_cert_as_username = pem"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("--peer-cert pem"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("san_uri"), std::string::npos) << refusal;
}

TEST_P(ExhookServerTest, PemModeRefusesAnotherDevicesCertificateInTheUsername) {
  WritePolicy(kSanPolicy);
  auto server = StartServer({"--peer-cert", "pem"});
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const IssuedCertificate mine = ca_.Issue(SpiffeDevice("pump-3"));
  const IssuedCertificate victims = ca_.Issue(SpiffeDevice("pump-4"));
  // TLS handshake with pump-3's certificate (cn/dn), username pasted from pump-4's.
  EmqxClientInfo forged = ClientInfoFor(mine, "pump-4", true);
  forged.username = Base64(victims.cert_der);
  const size_t mark = server->OutputMark();
  EXPECT_EQ(emqx->Connect(forged), false);
  EXPECT_EQ(emqx->Publish(forged, "sensors/pump-4/telemetry"), false);
  EXPECT_TRUE(server->WaitForOutput("is not the TLS peer's", milliseconds(2000), mark))
      << server->Output();

  // No TLS client certificate at all: EMQX leaves the client's own username (and empty cn/dn).
  EmqxClientInfo no_tls = ClientInfoFor(victims, "pump-4", true);
  no_tls.cn.clear();
  no_tls.dn.clear();
  EXPECT_EQ(emqx->Connect(no_tls), false);
  EXPECT_EQ(emqx->Publish(no_tls, "sensors/pump-4/telemetry"), false);
  // The genuine client is still served.
  EXPECT_EQ(emqx->Connect(ClientInfoFor(victims, "pump-4", true)), true);
}

TEST_P(ExhookServerTest, NoneModeIgnoresTheUsername) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  // cn/dn say sensor-1; the username carries sensor-2's certificate: the identity is sensor-1.
  EmqxClientInfo client = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  client.username = Base64(ca_.Issue(WithCn("sensor-2")).cert_der);
  EXPECT_EQ(emqx->Connect(client), true);
  EXPECT_EQ(emqx->Publish(client, "sensors/sensor-1/telemetry"), true);
  EXPECT_EQ(emqx->Publish(client, "sensors/sensor-2/telemetry"), false);
}

TEST_P(ExhookServerTest, CrlRewriteRevokesOnTheNextCallWithoutRestart) {
  WritePolicy(kSanPolicy);
  auto server = StartServer({"--peer-cert", "pem"});
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const IssuedCertificate pump = ca_.Issue(SpiffeDevice("pump-3"));
  const EmqxClientInfo device = ClientInfoFor(pump, "pump-3", true);
  ASSERT_EQ(emqx->Connect(device), true) << server->Output();
  ASSERT_EQ(emqx->Publish(device, "sensors/pump-3/telemetry"), true);

  const size_t mark = server->OutputMark();
  WriteAtomically("ca.crl", ca_.CrlPem({pump.serial_hex}));
  ASSERT_TRUE(WaitForReload(*server, mark));
  // The connected client's next request is denied, and so is its next login.
  EXPECT_EQ(emqx->Publish(device, "sensors/pump-3/telemetry"), false);
  EXPECT_EQ(emqx->Subscribe(device, "devices/pump-3/commands/#"), false);
  EXPECT_TRUE(server->WaitForOutput("is no longer admitted", milliseconds(2000), mark))
      << server->Output();
  EXPECT_EQ(emqx->Connect(device), false);
  // Other devices are unaffected.
  EXPECT_EQ(emqx->Connect(ClientInfoFor(ca_.Issue(SpiffeDevice("pump-5")), "pump-5", true)), true);
}

TEST_P(ExhookServerTest, DenylistRewriteRevokesOnTheNextCallWithoutRestart) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Connect(sensor), true);
  ASSERT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);

  const size_t mark = server->OutputMark();
  WriteAtomically("revoked.txt", "id:sensor-1\n");
  ASSERT_TRUE(WaitForReload(*server, mark));
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), false);
  EXPECT_EQ(emqx->Authenticate(sensor), false);

  // Lifting the revocation lets the device back in, again without a restart.
  const size_t lifted = server->OutputMark();
  WriteAtomically("revoked.txt", "# sensor-1 reinstated\n");
  ASSERT_TRUE(WaitForReload(*server, lifted));
  EXPECT_EQ(emqx->Authenticate(sensor), true);
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
}

TEST_P(ExhookServerTest, BrokenPolicyEditIsRejectedAndTheOldPolicyStays) {
  WritePolicy(kCnPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Connect(sensor), true);

  const size_t mark = server->OutputMark();
  std::string broken = kCnPolicy;
  broken.replace(broken.find("publish: [\"sensors/{id}/telemetry\"]"), 9, "publsh:  ");
  WritePolicy(broken);
  ASSERT_TRUE(WaitForReload(*server, mark, "policy change rejected"));
  const std::string log = server->Output().substr(mark);
  EXPECT_TRUE(std::regex_search(log, std::regex("policy\\.yaml:[0-9]+:[0-9]+: ")))
      << "rejections name file:line:col:\n"
      << log;
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true) << "old policy in force";
  EXPECT_EQ(emqx->Authenticate(sensor), true);
  EXPECT_TRUE(server->IsRunning());
}

TEST_P(ExhookServerTest, SighupReloadsAtOnce) {
  // A long refresh: only the signal can explain a reload within the test.
  std::string slow = kCnPolicy;
  slow.replace(slow.find("refresh: 50ms"), 13, "refresh: 1h");
  WritePolicy(slow);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);

  std::string moved = slow;
  moved.replace(moved.find("sensors/{id}/telemetry"), 7, "metrics");
  WritePolicy(moved);
  const size_t mark = server->OutputMark();
  ASSERT_TRUE(server->SendSignal(SIGHUP));
  ASSERT_TRUE(WaitForReload(*server, mark));
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), false);
  EXPECT_EQ(emqx->Publish(sensor, "metrics/sensor-1/telemetry"), true);
}

TEST_P(ExhookServerTest, AuditLogRecordsEachDenialAsJson) {
  WritePolicy(kCnPolicy);
  const std::string audit = dir_.path() + "/audit.jsonl";
  auto server = StartServer({"--audit", audit});
  ASSERT_NE(server, nullptr);
  auto emqx = Emqx(*server);
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  ASSERT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  ASSERT_EQ(emqx->Publish(sensor, "sensors/sensor-2/telemetry"), false);
  ASSERT_EQ(emqx->Authenticate(ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "x", false)), false);
  std::ifstream in(audit);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << "one line per denial, none for the allowed publish";
  EXPECT_NE(lines[0].find("\"action\":\"publish\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\"topic\":\"sensors/sensor-2/telemetry\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"device_id\":\"sensor-1\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"action\":\"connect\""), std::string::npos) << lines[1];
}

INSTANTIATE_TEST_SUITE_P(BothPackages, ExhookServerTest,
                         ::testing::Values(ExhookVersion::kV2, ExhookVersion::kV3),
                         [](const auto& info) { return VersionName(info.param); });

// ---- TLS on the gRPC listener ----

class ExhookTlsTest : public ExhookFixture {
 protected:
  void SetUp() override {
    WritePolicy(kCnPolicy);
    dir_.Write("revoked.txt", "");
    const IssuedCertificate server = ca_.IssueServer();
    server_cert_ = dir_.Write("server.crt", server.cert_pem);
    server_key_ = dir_.Write("server.key", server.key_pem);
  }

  // EMQX's exhook `ssl` options: the CA that signed the server, and optionally its own pair.
  std::unique_ptr<FakeEmqx> TlsEmqx(const ExhookProcess& server, const IssuedCertificate* own,
                                    const TestCa& trusted) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = trusted.cert_pem();
    if (own != nullptr) {
      ssl.pem_cert_chain = own->cert_pem;
      ssl.pem_private_key = own->key_pem;
    }
    return std::make_unique<FakeEmqx>(
        ExhookVersion::kV2, grpc::CreateChannel(server.address(), grpc::SslCredentials(ssl)));
  }

  EmqxClientInfo Sensor() {
    return ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  }

  std::string server_cert_, server_key_;
};

TEST_F(ExhookTlsTest, TlsListenerServesTlsClientsAndRefusesPlainOnes) {
  auto server = StartServer({"--tls-cert", server_cert_, "--tls-key", server_key_});
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->Output().find("(TLS,"), std::string::npos) << server->Output();
  auto tls = TlsEmqx(*server, nullptr, ca_);
  EXPECT_EQ(tls->Authenticate(Sensor()), true) << tls->last_error();
  auto plain = EmqxFor(*server);
  EXPECT_EQ(plain->Authenticate(Sensor()), std::nullopt);
  TestCa stranger("some other CA");
  auto untrusting = TlsEmqx(*server, nullptr, stranger);
  EXPECT_EQ(untrusting->Authenticate(Sensor()), std::nullopt) << "server not verified";
}

TEST_F(ExhookTlsTest, MutualTlsListenerServesOnlyClientsWithCertificatesFromItsCa) {
  const std::string ca_file = dir_.path() + "/ca.crt";
  auto server =
      StartServer({"--tls-cert", server_cert_, "--tls-key", server_key_, "--tls-ca", ca_file});
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->Output().find("(mutual TLS,"), std::string::npos) << server->Output();

  const IssuedCertificate emqx_node = ca_.Issue(WithCn("emqx@127.0.0.1"));
  auto trusted = TlsEmqx(*server, &emqx_node, ca_);
  EXPECT_EQ(trusted->Authenticate(Sensor()), true) << trusted->last_error();

  auto anonymous = TlsEmqx(*server, nullptr, ca_);
  EXPECT_EQ(anonymous->Authenticate(Sensor()), std::nullopt);
  TestCa stranger("some other CA");
  const IssuedCertificate impostor = stranger.Issue(WithCn("emqx@127.0.0.1"));
  auto untrusted = TlsEmqx(*server, &impostor, ca_);
  EXPECT_EQ(untrusted->Authenticate(Sensor()), std::nullopt);
  EXPECT_TRUE(server->IsRunning());
}

// ---- the process life cycle ----

class ExhookProcessTest : public ExhookFixture {
 protected:
  void SetUp() override {
    WritePolicy(kCnPolicy);
    dir_.Write("revoked.txt", "");
  }
};

TEST_F(ExhookProcessTest, SigtermStopsGracefullyWithExitCodeZero) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  ASSERT_EQ(emqx->Authenticate(ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false)),
            true);
  // EMQX's connections stay open: the server must not wait for them to go.
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();
  EXPECT_NE(server->Output().find("SIGTERM: shutting down"), std::string::npos);
  EXPECT_NE(server->Output().find("stopped"), std::string::npos);
}

TEST_F(ExhookProcessTest, SigintStopsGracefullyWithExitCodeZero) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->Stop(SIGINT), 0) << server->Output();
}

TEST_F(ExhookProcessTest, BadPolicyAtStartExitsNonZeroNamingFileLineAndColumn) {
  WritePolicy(
      "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrules:\n  - for: all\n"
      "    allow:\n      publish: [\"a/#/b\"]\n");
  ExhookProcess server({"--policy", policy_path()});
  const int exit_code = server.RunToExit();
  EXPECT_NE(exit_code, 0);
  EXPECT_GT(exit_code, 0) << "exits, not killed:\n" << server.Output();
  EXPECT_TRUE(std::regex_search(server.Output(), std::regex("policy\\.yaml:8:[0-9]+: ")))
      << server.Output();
}

TEST_F(ExhookProcessTest, MissingPolicyFileExitsNonZero) {
  ExhookProcess server({"--policy", dir_.path() + "/absent.yaml"});
  EXPECT_GT(server.RunToExit(), 0);
  EXPECT_NE(server.Output().find("absent.yaml"), std::string::npos) << server.Output();
}

TEST_F(ExhookProcessTest, PortInUseExitsNonZeroWithAClearMessage) {
  // A plain listening socket holds the port (no SO_REUSEPORT, as most servers).
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string listen = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  ExhookProcess server({"--policy", policy_path(), "--listen", listen});
  const int exit_code = server.RunToExit();
  ::close(holder);
  EXPECT_GT(exit_code, 0) << server.Output();
  EXPECT_NE(server.Output().find("cannot listen on " + listen + ": Address already in use"),
            std::string::npos)
      << server.Output();
}

TEST_F(ExhookProcessTest, AnotherExhookOnTheSamePortDoesNotShareIt) {
  auto first = StartServer();
  ASSERT_NE(first, nullptr);
  ExhookProcess second({"--policy", policy_path(), "--listen", first->address()});
  EXPECT_GT(second.RunToExit(), 0) << second.Output();
  EXPECT_NE(second.Output().find("Address already in use"), std::string::npos) << second.Output();
}

TEST_F(ExhookProcessTest, UnusableListenAddressesExitNonZeroSayingWhy) {
  struct Case {
    std::string listen;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"no-such-host.invalid:9000", "cannot resolve \"no-such-host.invalid\""},
           {"127.0.0.1:99999", "\"99999\" is not a port number"},
           {"127.0.0.1", "expected HOST:PORT"},
           {"192.0.2.1:9000", "Cannot assign requested address"},
       }) {
    ExhookProcess server({"--policy", policy_path(), "--listen", c.listen});
    EXPECT_GT(server.RunToExit(), 0) << c.listen << "\n" << server.Output();
    EXPECT_NE(server.Output().find("cannot listen on " + c.listen + ": " + c.says),
              std::string::npos)
        << server.Output();
  }
}

TEST_F(ExhookProcessTest, UsageErrorsExitNonZero) {
  EXPECT_GT(ExhookProcess({"--policy", policy_path(), "--peer-cert", "crt"}).RunToExit(), 0);
  EXPECT_GT(ExhookProcess({"--listen", "127.0.0.1:0"}).RunToExit(), 0);
  ExhookProcess half_tls({"--policy", policy_path(), "--tls-cert", dir_.path() + "/ca.crt"});
  EXPECT_GT(half_tls.RunToExit(), 0);
  EXPECT_NE(half_tls.Output().find("--tls-cert needs --tls-key"), std::string::npos)
      << half_tls.Output();
}

}  // namespace
}  // namespace certguard::testing
