// Fail closed, certguard-exhook: what EMQX gets when a file certguard depends on is bad at start
// or goes bad while the server runs, and when a certificate is not valid yet. A server that
// cannot load its policy does not start, so every call fails and EMQX applies its
// `failed_action` (deny by default); a file that goes bad later leaves the last good policy,
// CRL and denylist deciding. The README's "Fail-closed behaviour" table points here; the same
// situations on Mosquitto are in tests/integration/fail_closed_test.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/exhook/exhook_fixture.h"

namespace certguard::testing {
namespace {

std::string Policy(const std::string& stale_crl = "deny") {
  return R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
revocation:
  crl: [ca.crl]
  denylist: revoked.txt
  stale_crl: )" +
         stale_crl + R"(
  refresh: 50ms
)";
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in:\n" << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// A port nothing listens on right now.
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

class ExhookFailClosedTest : public ExhookFixture {
 protected:
  void SetUp() override {
    WriteAtomically("ca.crl", ca_.CrlPem({}));
    WriteAtomically("revoked.txt", "# nobody yet\n");
    WritePolicy(Policy());
  }

  // EMQX in pem mode: the certificate travels in the username, so certguard checks it fully.
  EmqxClientInfo Device(const std::string& id, LeafSpec spec) {
    return ClientInfoFor(ca_.Issue(spec), id, /*peer_cert_as_username_pem=*/true);
  }
  EmqxClientInfo Device(const std::string& id) { return Device(id, WithCn(id)); }

  std::unique_ptr<ExhookProcess> StartPemServer() { return StartServer({"--peer-cert", "pem"}); }

  // The server's answers for `device` under the policy in force: admitted, may publish its
  // telemetry, may not publish another device's.
  static void ExpectServed(FakeEmqx& emqx, const EmqxClientInfo& device) {
    EXPECT_EQ(emqx.Authenticate(device), true) << device.client_id << ": " << emqx.last_error();
    EXPECT_EQ(emqx.Publish(device, "sensors/" + device.client_id + "/telemetry"), true);
    EXPECT_EQ(emqx.Publish(device, "sensors/someone-else/telemetry"), false);
  }
};

// --- At start ----------------------------------------------------------------------------------

// EMQX keeps calling while the server tries to start on an invalid policy: it never answers a
// call, it exits non-zero (a supervisor sees the failure), and every call fails, which EMQX turns
// into its failed_action (deny by default): no device is let in unchecked.
TEST_F(ExhookFailClosedTest, InvalidPolicyAtStartExitsNonZeroAndEveryCallEmqxMakesFails) {
  WritePolicy(Replaced(Policy(), R"(["sensors/{id}/telemetry"])", R"(["sensors/{id}/telemetry")"));
  const std::string address = "127.0.0.1:" + std::to_string(UnusedPort());
  FakeEmqx emqx(ExhookVersion::kV2, FakeEmqx::PlainChannel(address));
  const EmqxClientInfo device = Device("sensor-1");
  std::atomic<bool> calling{true};
  std::atomic<int> answered{0};
  std::thread caller([&] {
    while (calling.load()) {
      if (emqx.Authenticate(device).has_value()) ++answered;
    }
  });
  ExhookProcess server({"--policy", policy_path(), "--listen", address, "--peer-cert", "pem"});
  const int exit_code = server.RunToExit();
  // A few more calls after the exit, as EMQX would keep making them.
  const uint64_t calls_at_exit = emqx.calls();
  while (emqx.calls() < calls_at_exit + 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  calling = false;
  caller.join();

  EXPECT_GT(exit_code, 0) << server.Output();
  EXPECT_TRUE(std::regex_search(server.Output(), std::regex("policy\\.yaml:[0-9]+:[0-9]+: ")))
      << server.Output();
  EXPECT_EQ(answered.load(), 0);
  EXPECT_GT(emqx.failures(), 0u);
  EXPECT_EQ(emqx.failures(), emqx.calls()) << emqx.last_error();
}

TEST_F(ExhookFailClosedTest, PolicyNamingAMissingCaBundleExitsNonZeroAtStart) {
  WritePolicy(Replaced(Policy(), "ca: ca.crt", "ca: no-such-ca.crt"));
  ExhookProcess server({"--policy", policy_path(), "--peer-cert", "pem"});
  EXPECT_GT(server.RunToExit(), 0) << server.Output();
  EXPECT_TRUE(std::regex_search(server.Output(), std::regex("`ca`[^\n]*no-such-ca")))
      << server.Output();
}

// --- While running -----------------------------------------------------------------------------

TEST_F(ExhookFailClosedTest, PolicyFileDeletedWhileRunningKeepsTheLastGoodPolicyUntilItReturns) {
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  const EmqxClientInfo device = Device("sensor-1");
  ExpectServed(*emqx, device);

  size_t mark = server->OutputMark();
  std::filesystem::remove(policy_path());
  ASSERT_TRUE(WaitForReload(*server, mark, "policy change rejected"));
  ExpectServed(*emqx, device);
  ExpectServed(*emqx, Device("sensor-2"));

  mark = server->OutputMark();
  WritePolicy(Replaced(Policy(), R"(["sensors/{id}/telemetry"])",
                       R"(["sensors/{id}/telemetry", "logs/{id}"])"));
  ASSERT_TRUE(WaitForReload(*server, mark));
  EXPECT_EQ(emqx->Publish(device, "logs/sensor-1"), true);
}

TEST_F(ExhookFailClosedTest, PolicyEditNamingAMissingCaBundleKeepsTheLastGoodPolicy) {
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  const EmqxClientInfo device = Device("sensor-1");

  const size_t mark = server->OutputMark();
  WritePolicy(Replaced(Replaced(Policy(), "ca: ca.crt", "ca: no-such-ca.crt"),
                       R"(["sensors/{id}/telemetry"])", R"(["sensors/{id}/telemetry", "#"])"));
  ASSERT_TRUE(WaitForReload(*server, mark, "policy change rejected"));
  EXPECT_NE(server->Output().substr(mark).find("no-such-ca.crt"), std::string::npos)
      << server->Output().substr(mark);
  ExpectServed(*emqx, device);
  EXPECT_EQ(emqx->Publish(device, "anything/at/all"), false);
}

TEST_F(ExhookFailClosedTest, CrlDeletedWhileRunningKeepsItsRevocations) {
  const EmqxClientInfo revoked = [&] {
    const IssuedCertificate issued = ca_.Issue(WithCn("sensor-2"));
    WriteAtomically("ca.crl", ca_.CrlPem({issued.serial_hex}));
    return ClientInfoFor(issued, "sensor-2", true);
  }();
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  EXPECT_EQ(emqx->Authenticate(revoked), false);

  const size_t mark = server->OutputMark();
  std::filesystem::remove(dir_.path() + "/ca.crl");
  ASSERT_TRUE(WaitForReload(*server, mark, "policy change rejected"));
  EXPECT_EQ(emqx->Authenticate(revoked), false);
  ExpectServed(*emqx, Device("sensor-1"));
}

TEST_F(ExhookFailClosedTest, DenylistReplacedByADirectoryKeepsItsRevocations) {
  WriteAtomically("revoked.txt", "id:sensor-2\n");
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  const EmqxClientInfo denied = Device("sensor-2");
  EXPECT_EQ(emqx->Authenticate(denied), false);

  const size_t mark = server->OutputMark();
  std::filesystem::remove(dir_.path() + "/revoked.txt");
  std::filesystem::create_directory(dir_.path() + "/revoked.txt");
  ASSERT_TRUE(WaitForReload(*server, mark, "policy change rejected"));
  EXPECT_EQ(emqx->Authenticate(denied), false);
  ExpectServed(*emqx, Device("sensor-1"));
}

// --- Dates -------------------------------------------------------------------------------------

// EMQX's TLS checks dates too, but pem mode hands certguard the certificate itself: certguard
// checks its validity period on its own, so a device whose clock (or CA) is ahead is refused.
TEST_F(ExhookFailClosedTest, CertificateNotYetValidIsRefused) {
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  LeafSpec spec = WithCn("sensor-1");
  spec.not_before_offset_seconds = 3600;
  EXPECT_EQ(emqx->Authenticate(Device("sensor-1", spec)), false) << emqx->last_error();
  ExpectServed(*emqx, Device("sensor-2"));
}

TEST_F(ExhookFailClosedTest, StaleCrlRefusesUnderDenyAndAdmitsUnderWarnWithOneWarning) {
  WriteAtomically("ca.crl", ca_.CrlPem({}, /*next_update_offset_seconds=*/-60,
                                       /*last_update_offset_seconds=*/-7200));
  {
    auto server = StartPemServer();
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(EmqxFor(*server)->Authenticate(Device("sensor-1")), false);
  }
  WritePolicy(Policy("warn"));
  auto server = StartPemServer();
  ASSERT_NE(server, nullptr);
  auto emqx = EmqxFor(*server);
  ExpectServed(*emqx, Device("sensor-1"));
  ExpectServed(*emqx, Device("sensor-2"));
  // The operator hears of the stale CRL once, not once per call or per client.
  ASSERT_TRUE(server->WaitForOutput("(stale_crl: warn); clients are still admitted",
                                    std::chrono::seconds(5)))
      << server->Output();
  const std::string output = server->Output();
  const size_t first = output.find("is stale: nextUpdate");
  ASSERT_NE(first, std::string::npos) << output;
  EXPECT_EQ(output.find("is stale: nextUpdate", first + 1), std::string::npos) << output;
}

}  // namespace
}  // namespace certguard::testing
