// Load and soak, certguard-exhook: 64 EMQX connections (half emqx.exhook.v2, half v3, each its
// own HTTP/2 connection as EMQX's pool gives it) authenticate devices and authorize their
// publishes and subscriptions as EMQX calls them, while the policy file is rewritten every
// 100 ms for the whole run, cycling through policies A, B and an invalid one (soak_policies.h;
// identity and CRL need the certificate, so EMQX runs in `peer_cert_as_username = pem` mode).
// What must hold:
//   - no RPC fails (a failure is EMQX's failed_action, a refused device);
//   - every device is admitted (A and B both admit it), nothing allowed by neither policy is
//     allowed, everything allowed by both is, and what only one allows goes both ways over the
//     run (or the rewrites did not take);
//   - the server's RSS is flat after warm-up (at most 20 % above its value at the end of the
//     first quarter of the run, at least 5 s; not asserted under AddressSanitizer, whose
//     quarantine grows RSS on its own), and it exits 0 when stopped.
// CERTGUARD_SOAK_SECONDS sets the duration (scripts/soak.sh: 60; ctest: 20).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/exhook/exhook_process.h"
#include "tests/exhook/fake_emqx.h"
#include "tests/soak/soak_policies.h"
#include "tests/soak/soak_support.h"
#include "tests/support/count_occurrences.h"
#include "tests/support/test_pki.h"

namespace certguard::soak {
namespace {

using certguard::testing::CountOccurrences;
using std::chrono::milliseconds;

constexpr int kClients = 64;
constexpr int kDevicesPerClient = 8;
constexpr milliseconds kRewriteInterval{100};
constexpr double kMaxRssGrowth = 1.20;

void WriteAtomically(const testing::TempDir& dir, const std::string& name,
                     const std::string& contents) {
  const std::string temp = dir.Write("." + name + ".tmp", contents);
  std::rename(temp.c_str(), (dir.path() + "/" + name).c_str());
}

struct Tally {
  std::atomic<uint64_t> rpcs{0};
  std::atomic<uint64_t> failed_rpcs{0};
  std::atomic<uint64_t> decisions{0};
  std::atomic<uint64_t> single_allowed[kKinds] = {};
  std::atomic<uint64_t> single_asked[kKinds] = {};
  std::mutex mutex;
  std::vector<std::string> violations;

  void Violation(const std::string& what) {
    std::lock_guard lock(mutex);
    if (violations.size() < 50) violations.push_back(what);
  }
};

TEST(ExhookSoakTest, SixtyFourEmqxConnectionsUnderPolicyRewritesSeeNoErrorsNoWrongDecisions) {
  const int seconds = SoakSeconds();
  RaiseFileLimit();
  Figure("duration_s", seconds);
  Figure("grpc_clients", kClients);
  Figure("load_average_before", LoadAverage());

  testing::TempDir dir;
  testing::TestCa ca("certguard exhook soak CA");
  dir.Write("ca.crt", ca.cert_pem());
  std::vector<std::string> retired;
  for (int i = 0; i < 100; ++i) retired.push_back(std::to_string(0xDEAD0000 + i));
  WriteAtomically(dir, "fleet.crl", ca.CrlPem(retired));
  WriteAtomically(dir, "revoked.txt", "id:dev-retired-1\nid:dev-retired-2\n");
  WriteAtomically(dir, "policy.yaml", PolicyA());

  // Each EMQX connection serves its own devices, as EMQX pins a client id to one connection.
  std::vector<std::vector<testing::EmqxClientInfo>> devices(kClients);
  for (int c = 0; c < kClients; ++c) {
    for (int d = 0; d < kDevicesPerClient; ++d) {
      char id[16];
      std::snprintf(id, sizeof id, "dev-%04d", c * kDevicesPerClient + d);
      devices[c].push_back(testing::ClientInfoFor(ca.Issue(testing::WithCn(id)), id,
                                                  /*peer_cert_as_username_pem=*/true));
    }
  }

  testing::ExhookProcess server({"--policy", dir.path() + "/policy.yaml", "--peer-cert", "pem"});
  ASSERT_TRUE(server.Start());
  Figure("server_rss_kib_at_start", RssKib(server.pid()));

  Tally tally;
  std::atomic<bool> running{true};
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      grpc::ChannelArguments arguments;
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      testing::FakeEmqx emqx(c % 2 == 0 ? testing::ExhookVersion::kV2 : testing::ExhookVersion::kV3,
                             grpc::CreateCustomChannel(
                                 server.address(), grpc::InsecureChannelCredentials(), arguments));
      const auto check = [&](std::optional<bool> answer, int kind, const std::string& what) {
        if (!answer) return;  // counted by FakeEmqx as a failure
        tally.decisions.fetch_add(1, std::memory_order_relaxed);
        if (kind == kNever && *answer) {
          tally.Violation(what + " allowed; neither A nor B allows it");
        } else if (kind == kBoth && !*answer) {
          tally.Violation(what + " refused; A and B both allow it");
        } else if (kind == kA || kind == kB) {
          tally.single_asked[kind].fetch_add(1, std::memory_order_relaxed);
          if (*answer) tally.single_allowed[kind].fetch_add(1, std::memory_order_relaxed);
        }
      };
      for (size_t n = 0; running.load(); ++n) {
        const testing::EmqxClientInfo& device = devices[c][n % devices[c].size()];
        const std::optional<bool> admitted = emqx.Authenticate(device);
        if (admitted) {
          tally.decisions.fetch_add(1, std::memory_order_relaxed);
          if (!*admitted) tally.Violation(device.client_id + " refused; A and B both admit it");
        }
        for (int kind = 0; kind < kKinds; ++kind) {
          const std::string suffix = std::string("/") + kKindNames[kind];
          const std::string up = "up/" + device.client_id + suffix;
          check(emqx.Publish(device, up), kind, "publish " + up);
          const std::string sub = "sub/" + device.client_id + suffix;
          check(emqx.Authorize(device, testing::kAuthorizeSubscribe, sub), kind,
                "subscribe " + sub);
          const std::string cmd = "cmd/" + device.client_id + suffix;
          check(emqx.Authorize(device, testing::kAuthorizeSubscribe, cmd), kind,
                "subscribe " + cmd);
        }
      }
      tally.rpcs += emqx.calls();
      tally.failed_rpcs += emqx.failures();
      if (emqx.failures() > 0) tally.Violation("RPC failed: " + emqx.last_error());
    });
  }

  PolicyRewriter rewriter(kRewriteInterval, [&](const std::string& text) {
    WriteAtomically(dir, "policy.yaml", text);
  });
  const RssWatch rss = WatchRss(server, start, seconds);
  rewriter.Stop();
  running = false;
  for (std::thread& client : clients) client.join();
  const double run_seconds = SecondsBetween(start, Clock::now());

  EXPECT_TRUE(rss.ran) << server.Output();
  EXPECT_EQ(tally.failed_rpcs.load(), 0u);
  EXPECT_TRUE(tally.violations.empty())
      << tally.violations.size() << " violations, first: " << tally.violations.front();
  for (int kind : {kA, kB}) {
    EXPECT_GT(tally.single_allowed[kind].load(), 0u) << kKindNames[kind] << " never allowed";
    EXPECT_LT(tally.single_allowed[kind].load(), tally.single_asked[kind].load())
        << kKindNames[kind] << " always allowed";
  }
  const std::string output = server.Output();
  const size_t reloads = CountOccurrences(output, "policy reloaded");
  const size_t rejected = CountOccurrences(output, "policy change rejected");
  EXPECT_GT(reloads, 0u);
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(rss.after_warm_up, 0);
  if (kRssBoundApplies) {
    EXPECT_LE(rss.Growth(), kMaxRssGrowth) << "server RSS grew from " << rss.after_warm_up
                                           << " KiB to " << rss.at_end << " KiB after warm-up";
  }

  Figure("run_s", run_seconds);
  Figure("devices", kClients * kDevicesPerClient);
  Figure("policy_rewrites", rewriter.rewrites());
  Figure("policy_reloads_applied", reloads);
  Figure("policy_rewrites_rejected", rejected);
  Figure("rpcs", tally.rpcs.load());
  Figure("rpcs_per_second", static_cast<double>(tally.rpcs.load()) / run_seconds);
  Figure("rpcs_failed", tally.failed_rpcs.load());
  Figure("decisions_checked", tally.decisions.load());
  Figure("a_only_allowed", std::to_string(tally.single_allowed[kA].load()) + "/" +
                               std::to_string(tally.single_asked[kA].load()));
  Figure("b_only_allowed", std::to_string(tally.single_allowed[kB].load()) + "/" +
                               std::to_string(tally.single_asked[kB].load()));
  Figure("violations", tally.violations.size());
  Figure("server_rss_kib_after_warm_up", rss.after_warm_up);
  Figure("server_rss_kib_at_end", rss.at_end);
  Figure("server_rss_kib_peak", rss.peak);
  Figure("server_rss_growth_after_warm_up_pct", (rss.Growth() - 1) * 100);
  Figure("server_rss_bound", kRssBoundApplies ? "asserted" : "reported only (AddressSanitizer)");
  Figure("load_average_after", LoadAverage());
  EXPECT_EQ(server.Stop(), 0) << output.substr(0, 4000);
}

}  // namespace
}  // namespace certguard::soak
