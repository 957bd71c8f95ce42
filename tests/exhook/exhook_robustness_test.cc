// certguard-exhook under hostile or broken input and under load: every malformed request is
// answered false, and the server keeps serving everyone else.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/exhook/exhook_fixture.h"

namespace certguard::testing {
namespace {

using std::chrono::milliseconds;

// CN identity, client id binding, and a URI SAN fallback so pem mode has more to parse.
constexpr char kPolicy[] = R"(version: 1
ca: ca.crt
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - cn: "{id}"
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
      subscribe: ["devices/{id}/commands/#"]
revocation:
  refresh: 50ms
)";

// The same policy without the SAN source, so none mode can serve it.
constexpr char kCnOnlyPolicy[] = R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
      subscribe: ["devices/{id}/commands/#"]
)";

std::string RandomBytes(size_t count, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(count, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xFF);
  return bytes;
}

struct MalformedCase {
  std::string name;
  EmqxClientInfo client;
};

class ExhookRobustnessTest : public ExhookFixture,
                             public ::testing::WithParamInterface<ExhookVersion> {
 protected:
  // Each case must be refused at authenticate and at authorize, and a well-formed client asked
  // right after must still be served: nothing a client sends may take the server down.
  void ExpectEachRefusedWhileServingOthers(const std::vector<MalformedCase>& cases, bool pem,
                                           ExhookProcess& server) {
    auto emqx = EmqxFor(server, GetParam());
    const EmqxClientInfo good = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", pem);
    for (const MalformedCase& c : cases) {
      SCOPED_TRACE(c.name);
      EXPECT_EQ(emqx->Authenticate(c.client), false) << emqx->last_error();
      EXPECT_EQ(emqx->Publish(c.client, "sensors/sensor-1/telemetry"), false);
      EXPECT_EQ(emqx->Subscribe(c.client, "devices/sensor-1/commands/#"), false);
      EXPECT_EQ(emqx->Authenticate(good), true) << emqx->last_error();
      EXPECT_EQ(emqx->Publish(good, "sensors/sensor-1/telemetry"), true);
    }
    EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
    EXPECT_TRUE(server.IsRunning());
  }
};

TEST_P(ExhookRobustnessTest, MalformedCredentialsInPemModeAreRefused) {
  WritePolicy(kPolicy);
  auto server = StartServer({"--peer-cert", "pem"});
  ASSERT_NE(server, nullptr);
  const IssuedCertificate sensor = ca_.Issue(WithCn("sensor-1"));
  const EmqxClientInfo genuine = ClientInfoFor(sensor, "sensor-1", true);
  const auto with_username = [&](const std::string& username) {
    EmqxClientInfo client = genuine;
    client.username = username;
    return client;
  };
  EmqxClientInfo missing_dn = genuine;
  missing_dn.dn.clear();
  EmqxClientInfo wrong_cn = genuine;
  wrong_cn.cn = "sensor-2";
  EmqxClientInfo garbage_dn = genuine;
  garbage_dn.dn = "CN=sensor-1,,=,\\";
  EmqxClientInfo nul_dn = genuine;
  nul_dn.dn = std::string("CN=sensor-1\0,O=x", 16);
  const std::string pem_text = Base64(sensor.cert_pem);

  ExpectEachRefusedWhileServingOthers(
      {
          {"empty ClientInfo", EmqxClientInfo{"", "", "", "", "", 0, 0, "", ""}},
          {"no username", with_username("")},
          {"invalid base64", with_username("this is not base64!")},
          {"base64 without padding",
           with_username(genuine.username.substr(0, genuine.username.find('=')) + "A")},
          {"base64 with a line break",
           with_username(genuine.username.substr(0, 64) + "\n" + genuine.username.substr(64))},
          {"garbage DER", with_username(Base64(RandomBytes(600, 1)))},
          {"truncated DER", with_username(Base64(sensor.cert_der.substr(0, 200)))},
          {"DER with trailing bytes", with_username(Base64(sensor.cert_der + "xx"))},
          {"PEM text instead of DER", with_username(pem_text)},
          {"cn/dn missing", missing_dn},
          {"cn disagreeing with dn", wrong_cn},
          {"unparsable dn", garbage_dn},
          {"dn with NUL", nul_dn},
      },
      true, *server);
}

TEST_P(ExhookRobustnessTest, MalformedSubjectsInNoneModeAreRefused) {
  WritePolicy(kCnOnlyPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const auto subject = [](const std::string& client_id, const std::string& cn,
                          const std::string& dn) {
    EmqxClientInfo client;
    client.client_id = client_id;
    client.cn = cn;
    client.dn = dn;
    return client;
  };
  ExpectEachRefusedWhileServingOthers(
      {
          {"empty ClientInfo", EmqxClientInfo{"", "", "", "", "", 0, 0, "", ""}},
          {"cn without dn", subject("sensor-1", "sensor-1", "")},
          {"dn without cn", subject("sensor-1", "", "CN=sensor-1")},
          {"cn not in dn", subject("sensor-1", "sensor-1", "CN=sensor-2")},
          {"garbage dn", subject("sensor-1", "sensor-1", "\x01\x02===,,,")},
          {"multi-level id", subject("sensor-1/#", "sensor-1/#", "CN=sensor-1/#")},
          {"wildcard id", subject("+", "+", "CN=+")},
          {"NUL in client id", subject(std::string("sensor-1\0x", 10), "sensor-1", "CN=sensor-1")},
          {"64 kB client id", subject(std::string(65535, 'a'), "sensor-1", "CN=sensor-1")},
      },
      false, *server);
}

TEST_P(ExhookRobustnessTest, OneMegabyteTopicIsDeniedAndServingContinues) {
  WritePolicy(kCnOnlyPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server, GetParam());
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  const std::string huge = "sensors/sensor-1/" + std::string(1 << 20, 'x');
  EXPECT_EQ(emqx->Publish(sensor, huge), false) << emqx->last_error();
  EXPECT_EQ(emqx->Subscribe(sensor, "devices/sensor-1/commands/" + std::string(1 << 20, 'y')),
            false);
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
}

TEST_P(ExhookRobustnessTest, UnknownAuthorizeTypesAreDeniedAndLoggedOnce) {
  WritePolicy(kCnOnlyPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server, GetParam());
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  // A topic both actions would allow, so only the type can refuse it.
  for (const int type : {2, 3, 7, 1000, -1}) {
    EXPECT_EQ(emqx->Authorize(sensor, type, "sensors/sensor-1/telemetry"), false) << type;
  }
  EXPECT_EQ(emqx->Publish(sensor, "sensors/sensor-1/telemetry"), true);
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
  ASSERT_TRUE(server->WaitForOutput("unknown type 2", milliseconds(2000))) << server->Output();
  const std::string log = server->Output();
  EXPECT_EQ(log.find("unknown type", log.find("unknown type") + 1), std::string::npos)
      << "logged once, not per request:\n"
      << log;
}

TEST_P(ExhookRobustnessTest, InvalidTopicsAreDenied) {
  WritePolicy(kCnOnlyPolicy);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server, GetParam());
  const EmqxClientInfo sensor = ClientInfoFor(ca_.Issue(WithCn("sensor-1")), "sensor-1", false);
  for (const std::string& topic :
       {std::string(""), std::string("sensors/+/telemetry"), std::string("sensors/sensor-1/#"),
        std::string("sensors/sensor-1/telemetry\0x", 28)}) {
    EXPECT_EQ(emqx->Publish(sensor, topic), false) << topic;
  }
  for (const std::string& filter : {std::string(""), std::string("devices/sensor-1/commands/#/x"),
                                    std::string("devices/sensor-1/commands/a+")}) {
    EXPECT_EQ(emqx->Subscribe(sensor, filter), false) << filter;
  }
  EXPECT_EQ(emqx->failures(), 0u) << emqx->last_error();
}

INSTANTIATE_TEST_SUITE_P(BothPackages, ExhookRobustnessTest,
                         ::testing::Values(ExhookVersion::kV2, ExhookVersion::kV3),
                         [](const auto& info) { return VersionName(info.param); });

// ---- load ----

class ExhookLoadTest : public ExhookFixture {};

// 64 EMQX connections (half v2, half v3), each one device's whole life in a loop, for 30 s:
// every RPC must succeed and every decision be right. The rate is printed, never asserted.
// Like EMQX, which loads the provider over its pool before any hook call, each connection is
// established before its calls start: a call on a channel still connecting fails at once (no
// wait-for-ready), and 64 connections opened at the same moment to a server under ASan are not
// what this test is about.
TEST_F(ExhookLoadTest, SixtyFourConcurrentClientsFor30SecondsSeeNoErrors) {
  constexpr int kClients = 64;
  constexpr auto kDuration = std::chrono::seconds(30);
  constexpr auto kConnectTimeout = std::chrono::seconds(20);
  WritePolicy(kPolicy);
  auto server = StartServer({"--peer-cert", "pem"});
  ASSERT_NE(server, nullptr);

  std::vector<EmqxClientInfo> devices;
  for (int i = 0; i < kClients; ++i) {
    const std::string id = "sensor-" + std::to_string(i);
    LeafSpec spec = WithCn("unit " + std::to_string(i));
    spec.san_uri = {"spiffe://iot.example.com/device/" + id};
    devices.push_back(ClientInfoFor(ca_.Issue(spec), id, true));
  }
  std::atomic<uint64_t> wrong_decisions{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> failures{0};
  std::vector<std::string> first_errors(kClients);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < kClients; ++i) {
    // A connection of its own, as EMQX's pool gives each client id one connection.
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(server->address(),
                                                 grpc::InsecureChannelCredentials(), arguments));
  }
  for (const auto& channel : channels) {
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout))
        << server->Output();
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + kDuration;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      FakeEmqx emqx(i % 2 == 0 ? ExhookVersion::kV2 : ExhookVersion::kV3,
                    channels[static_cast<size_t>(i)]);
      const EmqxClientInfo& device = devices[static_cast<size_t>(i)];
      const std::string own = "sensors/" + device.client_id + "/telemetry";
      const std::string other =
          "sensors/sensor-" + std::to_string((i + 1) % kClients) + "/telemetry";
      const auto expect = [&](std::optional<bool> answer, bool expected) {
        if (answer.has_value() && *answer != expected) ++wrong_decisions;
      };
      while (std::chrono::steady_clock::now() < deadline) {
        expect(emqx.Connect(device), true);
        for (int n = 0; n < 8; ++n) expect(emqx.Publish(device, own), true);
        expect(emqx.Publish(device, other), false);
        expect(emqx.Subscribe(device, "devices/" + device.client_id + "/commands/#"), true);
        expect(emqx.Subscribe(device, "devices/+/commands/#"), false);
        emqx.Disconnect(device);
      }
      calls += emqx.calls();
      failures += emqx.failures();
      if (emqx.failures() > 0) {
        first_errors[static_cast<size_t>(i)] = "client " + std::to_string(i) + ", " +
                                               std::to_string(emqx.failures()) +
                                               " failed calls, the last: " + emqx.last_error();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ exhook load ] %d clients, %llu RPCs in %.1f s: %.0f RPCs/s, %llu failed\n",
              kClients, static_cast<unsigned long long>(calls.load()), seconds,
              static_cast<double>(calls.load()) / seconds,
              static_cast<unsigned long long>(failures.load()));
  std::string errors;
  for (const std::string& error : first_errors) {
    if (!error.empty()) errors += error + "\n";
  }
  EXPECT_EQ(failures.load(), 0u) << errors << "server output:\n" << server->Output();
  EXPECT_EQ(wrong_decisions.load(), 0u);
  EXPECT_GT(calls.load(), 0u);
  EXPECT_TRUE(server->IsRunning()) << server->Output();
  EXPECT_EQ(server->Stop(), 0) << server->Output();
}

}  // namespace
}  // namespace certguard::testing
