// PolicyStore: hot reload of the policy and the files it names, rejection of bad edits with the
// last good snapshot kept in force, the watcher thread, and readers racing a reload.
#include "shared/policy_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/decision.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using testing::LeafSpec;
using testing::TempDir;
using testing::TestCa;
using testing::WithCn;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

TestCa& Ca() {
  static TestCa* ca = new TestCa("certguard store CA");
  return *ca;
}
TestCa& OtherCa() {
  static TestCa* ca = new TestCa("certguard other store CA");
  return *ca;
}

struct Leaf {
  std::string serial_hex;
  CertificateInfo info;
};
Leaf MakeLeaf(const std::string& cn, TestCa& ca = Ca()) {
  const auto issued = ca.Issue(WithCn(cn));
  auto info = CertificateInfo::FromPem(issued.cert_pem);
  EXPECT_TRUE(info.ok());
  return {issued.serial_hex, info.ok() ? std::move(info).value() : CertificateInfo{}};
}
const Leaf& Sensor1() {
  static Leaf* leaf = new Leaf(MakeLeaf("sensor-1"));
  return *leaf;
}

// A policy that lets every device publish under `topic_root/{id}/#`, so a reload is visible as a
// change of what sensor-1 may publish. `extra` goes at the end (revocation, ...).
std::string PolicyText(const std::string& topic_root, const std::string& revocation = "",
                       const std::string& identity_extra = "") {
  return "version: 1\n"
         "ca: ca.crt\n"
         "identity:\n"
         "  from:\n"
         "    - cn: \"{id}\"\n" +
         identity_extra +
         "rules:\n"
         "  - for: all\n"
         "    allow:\n"
         "      publish: [\"" +
         topic_root +
         "/{id}/#\"]\n"
         "revocation:\n"
         "  refresh: 20ms\n" +
         revocation;
}

// Writes `contents` next to `path` and renames it into place, as editors and config management
// do, so a reader never sees half a file.
void WriteAtomically(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string temp = dir.Write(name + ".tmp", contents);
  std::filesystem::rename(temp, dir.path() + "/" + name);
}

// The decision of `snapshot` on sensor-1 publishing `topic`, connecting it first.
Decision PublishAs(const std::shared_ptr<const PolicySnapshot>& snapshot, const Leaf& leaf,
                   const std::string& id, const std::string& topic) {
  DeviceSession session;
  const Decision connect = snapshot->AuthorizeConnect(&leaf.info, id, Now(), &session);
  if (!connect.allowed) return connect;
  return snapshot->Authorize(session, Action::kPublish, topic);
}

bool CanPublish(const PolicyStore& store, const std::string& topic) {
  return PublishAs(store.current(), Sensor1(), "sensor-1", topic).allowed;
}

// "file:line:col: message", with the file being the policy given to the store.
::testing::AssertionResult IsLocatedError(const std::string& message, const std::string& file) {
  const std::regex located(
      "^" + std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
      R"(:[0-9]+:[0-9]+: .+)");
  if (std::regex_match(message, located)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << message << "' is not " << file << ":line:col: message";
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("ca.crt", Ca().cert_pem());
    path_ = dir_.path() + "/policy.yaml";
  }

  std::unique_ptr<PolicyStore> Open(const std::string& text) {
    WriteAtomically(dir_, "policy.yaml", text);
    auto store = PolicyStore::Open(path_);
    if (!store) {
      ADD_FAILURE() << store.error().message;
      return nullptr;
    }
    return std::move(store).value();
  }

  void Write(const std::string& name, const std::string& contents) {
    WriteAtomically(dir_, name, contents);
  }

  // Polls `done` until it holds or 10 s pass: reload timing is not what these tests check.
  template <typename Predicate>
  static bool Eventually(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(PolicyStoreTest, OpenRefusesABadPolicyWithItsLocation) {
  Write("policy.yaml", "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrulez: []\n");
  const auto store = PolicyStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(IsLocatedError(store.error().message, path_));
  EXPECT_NE(store.error().message.find(":5:1:"), std::string::npos) << store.error().message;
}

TEST_F(PolicyStoreTest, UnchangedFilesAreNotReloaded) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  const auto before = store->current();
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  EXPECT_EQ(store->current(), before);
  EXPECT_EQ(store->generation(), 1u);
}

TEST_F(PolicyStoreTest, ChangedPolicyIsPickedUp) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));

  Write("policy.yaml", PolicyText("v2"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(store->generation(), 2u);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
  EXPECT_FALSE(CanPublish(*store, "v1/sensor-1/x"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  EXPECT_EQ(store->generation(), 2u);
}

TEST_F(PolicyStoreTest, InPlaceRewriteIsPickedUp) {
  // Not every tool renames: `>` in a shell truncates and rewrites the same inode.
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  dir_.Write("policy.yaml", PolicyText("v2"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
}

TEST_F(PolicyStoreTest, ChangedCrlIsPickedUp) {
  const Leaf leaf = MakeLeaf("sensor-7");
  Write("crl/fleet.crl", Ca().CrlPem({}));
  auto store = Open(PolicyText("v1", "  crl: [\"crl/fleet.crl\"]\n"));
  ASSERT_TRUE(store);
  EXPECT_TRUE(PublishAs(store->current(), leaf, "sensor-7", "v1/sensor-7/x").allowed);

  Write("crl/fleet.crl", Ca().CrlPem({leaf.serial_hex}));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(PublishAs(store->current(), leaf, "sensor-7", "v1/sensor-7/x").reason,
            Reason::kRevoked);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));
}

TEST_F(PolicyStoreTest, ChangedDenylistIsPickedUp) {
  Write("revoked.txt", "# nobody yet\n");
  auto store = Open(PolicyText("v1", "  denylist: revoked.txt\n"));
  ASSERT_TRUE(store);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));

  Write("revoked.txt", "id:sensor-1\n");
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(PublishAs(store->current(), Sensor1(), "sensor-1", "v1/sensor-1/x").reason,
            Reason::kRevoked);

  Write("revoked.txt", "\n");
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));
}

TEST_F(PolicyStoreTest, ChangedCaIsPickedUp) {
  auto store = Open(PolicyText("v1", "", "  require_issuer: true\n"));
  ASSERT_TRUE(store);
  const Leaf other = MakeLeaf("sensor-2", OtherCa());
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));
  EXPECT_EQ(PublishAs(store->current(), other, "sensor-2", "v1/sensor-2/x").reason,
            Reason::kIssuerNotTrusted);

  Write("ca.crt", OtherCa().cert_pem());
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(PublishAs(store->current(), other, "sensor-2", "v1/sensor-2/x").allowed);
  EXPECT_EQ(PublishAs(store->current(), Sensor1(), "sensor-1", "v1/sensor-1/x").reason,
            Reason::kIssuerNotTrusted);
}

TEST_F(PolicyStoreTest, InvalidEditIsRejectedOnceAndTheLastGoodPolicyStays) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  const auto good = store->current();

  // Line 6 gets a filter that is not a valid MQTT filter.
  Write("policy.yaml",
        "version: 1\nca: ca.crt\nidentity:\n  from:\n    - cn: \"{id}\"\n"
        "rules: [{for: all, allow: {publish: [\"a/#/b\"]}}]\n");
  const ReloadEvent rejected = store->ReloadIfChanged();
  EXPECT_EQ(rejected.kind, ReloadEvent::Kind::kRejected);
  EXPECT_TRUE(IsLocatedError(rejected.message, path_));
  EXPECT_NE(rejected.message.find(":6:"), std::string::npos) << rejected.message;
  EXPECT_EQ(store->current(), good);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));

  // Reported once, not on every check.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  }
  EXPECT_EQ(store->current(), good);

  // A second, different mistake is news and is reported.
  Write("policy.yaml", "version: 2\n");
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kRejected);
  EXPECT_EQ(store->generation(), 1u);

  Write("policy.yaml", PolicyText("v3"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(store->generation(), 2u);
  EXPECT_TRUE(CanPublish(*store, "v3/sensor-1/x"));
  EXPECT_FALSE(CanPublish(*store, "v1/sensor-1/x"));
}

TEST_F(PolicyStoreTest, SyntaxErrorIsRejectedWithItsLocation) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  Write("policy.yaml", "version: 1\nidentity: [unclosed\n");
  const ReloadEvent rejected = store->ReloadIfChanged();
  EXPECT_EQ(rejected.kind, ReloadEvent::Kind::kRejected);
  EXPECT_TRUE(IsLocatedError(rejected.message, path_));
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));
}

TEST_F(PolicyStoreTest, BrokenCrlIsRejectedAndTheLastGoodCrlStays) {
  const Leaf leaf = MakeLeaf("sensor-8");
  Write("crl/fleet.crl", Ca().CrlPem({leaf.serial_hex}));
  auto store = Open(PolicyText("v1", "  crl: [\"crl/fleet.crl\"]\n"));
  ASSERT_TRUE(store);

  Write("crl/fleet.crl", "-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n");
  const ReloadEvent rejected = store->ReloadIfChanged();
  EXPECT_EQ(rejected.kind, ReloadEvent::Kind::kRejected);
  EXPECT_NE(rejected.message.find("fleet.crl"), std::string::npos) << rejected.message;
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  // Still revoked: a broken CRL must not un-revoke anyone.
  EXPECT_EQ(PublishAs(store->current(), leaf, "sensor-8", "v1/sensor-8/x").reason,
            Reason::kRevoked);

  // A CRL signed by a CA that is not in `ca` is rejected too.
  Write("crl/fleet.crl", OtherCa().CrlPem({}));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kRejected);
  EXPECT_EQ(PublishAs(store->current(), leaf, "sensor-8", "v1/sensor-8/x").reason,
            Reason::kRevoked);

  Write("crl/fleet.crl", Ca().CrlPem({}));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(PublishAs(store->current(), leaf, "sensor-8", "v1/sensor-8/x").allowed);
}

TEST_F(PolicyStoreTest, DeletedPolicyKeepsTheLastGoodSnapshot) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  const auto good = store->current();
  std::filesystem::remove(path_);
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kRejected);
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  EXPECT_EQ(store->current(), good);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));

  Write("policy.yaml", PolicyText("v2"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
}

TEST_F(PolicyStoreTest, RejectedEditIsRetriedWhenAFileItNamesAppears) {
  // The operator adds a CRL to the policy before copying the CRL file in place. The edit is
  // rejected (the file is missing); once the file arrives, the same policy must load, even though
  // the policy file itself did not change again.
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  Write("policy.yaml", PolicyText("v2", "  crl: [\"crl/new.crl\"]\n"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kRejected);
  EXPECT_TRUE(CanPublish(*store, "v1/sensor-1/x"));

  Write("crl/new.crl", Ca().CrlPem({}));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
}

TEST_F(PolicyStoreTest, RejectedEditIsRetriedWhenAFileItNamesIsFixed) {
  // Same as above with a new denylist that is broken, then fixed.
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  Write("new-revoked.txt", "bogus:entry\n");
  Write("policy.yaml", PolicyText("v2", "  denylist: new-revoked.txt\n"));
  const ReloadEvent rejected = store->ReloadIfChanged();
  EXPECT_EQ(rejected.kind, ReloadEvent::Kind::kRejected);
  EXPECT_NE(rejected.message.find("new-revoked.txt:1:"), std::string::npos) << rejected.message;
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);

  Write("new-revoked.txt", "id:sensor-9\n");
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
}

TEST_F(PolicyStoreTest, ReloadReadsEvenWhenNothingChanged) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  const auto before = store->current();
  EXPECT_EQ(store->Reload().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(store->generation(), 2u);
  EXPECT_NE(store->current(), before);
  // The old snapshot still answers for the sessions it authorised.
  DeviceSession session;
  ASSERT_TRUE(before->AuthorizeConnect(&Sensor1().info, "sensor-1", Now(), &session).allowed);
  EXPECT_TRUE(before->Authorize(session, Action::kPublish, "v1/sensor-1/x").allowed);
  EXPECT_EQ(store->current()->Authorize(session, Action::kPublish, "v1/sensor-1/x").reason,
            Reason::kStaleSession);

  Write("policy.yaml", "version: 1\n");
  const ReloadEvent rejected = store->Reload();
  EXPECT_EQ(rejected.kind, ReloadEvent::Kind::kRejected);
  EXPECT_EQ(store->generation(), 2u);
}

TEST_F(PolicyStoreTest, WatcherPicksUpChangesAndReportsEvents) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  store->StartWatching();
  store->StartWatching();  // idempotent

  Write("policy.yaml", PolicyText("v2"));
  ASSERT_TRUE(Eventually([&] { return store->generation() == 2; }));
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));
  std::vector<ReloadEvent> events;
  ASSERT_TRUE(Eventually([&] {
    for (auto& e : store->TakeEvents()) events.push_back(std::move(e));
    return !events.empty();
  }));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, ReloadEvent::Kind::kReloaded);

  Write("policy.yaml", "version: 1\nidentity:\n  from: []\nrules: []\n");
  events.clear();
  ASSERT_TRUE(Eventually([&] {
    for (auto& e : store->TakeEvents()) events.push_back(std::move(e));
    return !events.empty();
  }));
  ASSERT_EQ(events[0].kind, ReloadEvent::Kind::kRejected);
  EXPECT_TRUE(IsLocatedError(events[0].message, path_));
  // Give the watcher several more refresh periods: the rejection must not be repeated.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& e : store->TakeEvents()) events.push_back(std::move(e));
  EXPECT_EQ(events.size(), 1u);
  EXPECT_EQ(store->generation(), 2u);
  EXPECT_TRUE(CanPublish(*store, "v2/sensor-1/x"));

  Write("policy.yaml", PolicyText("v3"));
  ASSERT_TRUE(Eventually([&] { return store->generation() == 3; }));
  EXPECT_TRUE(CanPublish(*store, "v3/sensor-1/x"));

  store->StopWatching();
  store->StopWatching();  // idempotent
  Write("policy.yaml", PolicyText("v4"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(store->generation(), 3u);  // nobody is watching
  store->StartWatching();              // and watching can resume
  EXPECT_TRUE(Eventually([&] { return store->generation() == 4; }));
}

// How many threads of this process have `name` (as `top -H` shows them).
int ThreadsNamed(const std::string& name) {
  int count = 0;
  std::error_code ignored;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ignored)) {
    std::string comm;
    std::ifstream(task.path() / "comm") >> comm;
    if (comm == name) ++count;
  }
  return count;
}

TEST_F(PolicyStoreTest, WatcherThreadCarriesItsNameForOperators) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  EXPECT_EQ(ThreadsNamed("certguard-watch"), 0);
  store->StartWatching();
  EXPECT_TRUE(Eventually([] { return ThreadsNamed("certguard-watch") == 1; }));
  store->StopWatching();
  EXPECT_EQ(ThreadsNamed("certguard-watch"), 0);
}

TEST_F(PolicyStoreTest, WatcherFollowsTheRefreshOfThePolicyInForce) {
  // Start slow (1h): the first change is only seen by an explicit check, whose policy then says
  // 20ms; from then on the watcher must notice changes on its own.
  std::string slow = PolicyText("v1");
  slow.replace(slow.find("20ms"), 4, "1h");
  auto store = Open(slow);
  ASSERT_TRUE(store);
  store->StartWatching();
  // Let the watcher settle into its hour-long wait before the period changes under it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Write("policy.yaml", PolicyText("v2"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  Write("policy.yaml", PolicyText("v3"));
  EXPECT_TRUE(Eventually([&] { return store->generation() == 3; }))
      << "the watcher is still sleeping for the old refresh period";
  store->StopWatching();
}

TEST_F(PolicyStoreTest, ReadersKeepDecidingCorrectlyWhileTheFileIsRewritten) {
  // Two policies that disagree completely: under A sensor-1 may publish a/... and not b/...,
  // under B the reverse. Every decision taken with one snapshot must be entirely A or entirely B,
  // never a mix, whatever reload happens meanwhile.
  auto text = [](const std::string& allow, const std::string& deny) {
    return "version: 1\nca: ca.crt\nidentity:\n  from:\n    - cn: \"{id}\"\nrules:\n"
           "  - for: all\n    allow:\n      publish: [\"" +
           allow + "/{id}/#\"]\n    deny:\n      publish: [\"" + deny +
           "/#\"]\nrevocation:\n  refresh: 10ms\n";
  };
  const std::string policy_a = text("a", "b");
  const std::string policy_b = text("b", "a");
  auto store = Open(policy_a);
  ASSERT_TRUE(store);
  const auto first = store->current();
  DeviceSession first_session;
  ASSERT_TRUE(first->AuthorizeConnect(&Sensor1().info, "sensor-1", Now(), &first_session).allowed);

  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::atomic<int> decided{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const auto snapshot = store->current();
        DeviceSession session;
        if (!snapshot->AuthorizeConnect(&Sensor1().info, "sensor-1", Now(), &session).allowed) {
          mixed.fetch_add(1);
          continue;
        }
        const Decision a = snapshot->Authorize(session, Action::kPublish, "a/sensor-1/x");
        const Decision b = snapshot->Authorize(session, Action::kPublish, "b/sensor-1/x");
        const bool consistent = a.allowed != b.allowed && a.rule != nullptr && b.rule != nullptr &&
                                a.rule->filter == (a.allowed ? "a/{id}/#" : "a/#") &&
                                b.rule->filter == (b.allowed ? "b/{id}/#" : "b/#");
        if (!consistent) mixed.fetch_add(1);
        decided.fetch_add(1);
      }
    });
  }
  // One thread rewrites the file; the store's own watcher and this thread's explicit checks
  // race to reload it. Some writes are broken and must be rejected without effect.
  store->StartWatching();
  for (int i = 0; i < 60; ++i) {
    if (i % 10 == 9) {
      Write("policy.yaml", "version: 1\nrules: [\n");
    } else {
      Write("policy.yaml", i % 2 == 0 ? policy_b : policy_a);
    }
    store->ReloadIfChanged();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Write("policy.yaml", policy_b);
  EXPECT_TRUE(Eventually(
      [&] { return PublishAs(store->current(), Sensor1(), "sensor-1", "b/sensor-1/x").allowed; }));
  EXPECT_TRUE(Eventually([&] { return decided.load() > 100; }));
  stop.store(true);
  for (auto& t : readers) t.join();
  store->StopWatching();

  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(store->generation(), 1u);
  // The snapshot taken before all of this still decides as policy A did.
  EXPECT_TRUE(first->Authorize(first_session, Action::kPublish, "a/sensor-1/x").allowed);
  EXPECT_FALSE(first->Authorize(first_session, Action::kPublish, "b/sensor-1/x").allowed);
  (void)store->TakeEvents();
}

TEST_F(PolicyStoreTest, DestroyingAWatchingStoreStopsItsThread) {
  auto store = Open(PolicyText("v1"));
  ASSERT_TRUE(store);
  store->StartWatching();
  const auto held = store->current();
  store.reset();  // must join the watcher, not hang or crash
  DeviceSession session;
  EXPECT_TRUE(held->AuthorizeConnect(&Sensor1().info, "sensor-1", Now(), &session).allowed);
}

// A CRL is republished far more often than a policy is edited: a new CRL alone is read around
// the policy in force, which is not parsed again, and an edit of the policy still is.
TEST_F(PolicyStoreTest, NewCrlAloneIsReadAroundThePolicyInForceWithoutParsingItAgain) {
  Write("fleet.crl", Ca().CrlPem({}));
  auto store = Open(PolicyText("telemetry", "  crl: [\"fleet.crl\"]\n"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(CanPublish(*store, "telemetry/sensor-1/x"));
  const Policy* parsed = &store->current()->policy();

  Write("fleet.crl", Ca().CrlPem({Sensor1().serial_hex}));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_EQ(PublishAs(store->current(), Sensor1(), "sensor-1", "telemetry/sensor-1/x").reason,
            Reason::kRevoked);
  EXPECT_EQ(&store->current()->policy(), parsed);
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);

  Write("fleet.crl", Ca().CrlPem({}));
  EXPECT_EQ(store->Reload().kind, ReloadEvent::Kind::kReloaded);  // SIGHUP: the same
  EXPECT_TRUE(CanPublish(*store, "telemetry/sensor-1/x"));
  EXPECT_EQ(&store->current()->policy(), parsed);

  Write("policy.yaml", PolicyText("metrics", "  crl: [\"fleet.crl\"]\n"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_NE(&store->current()->policy(), parsed);
  EXPECT_TRUE(CanPublish(*store, "metrics/sensor-1/x"));
  EXPECT_FALSE(CanPublish(*store, "telemetry/sensor-1/x"));
}

// An unrelated typo in the policy file must not delay a revocation: the CRL of the policy in
// force is re-read around that policy, and the broken edit is still reported.
TEST_F(PolicyStoreTest, BrokenPolicyEditDoesNotHoldUpACrlRevocation) {
  Write("fleet.crl", Ca().CrlPem({}));
  auto store = Open(PolicyText("telemetry", "  crl: [\"fleet.crl\"]\n"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(CanPublish(*store, "telemetry/sensor-1/x"));

  Write("policy.yaml", "version: 1\nidentity: [unclosed\n");
  ReloadEvent broken = store->ReloadIfChanged();
  ASSERT_EQ(broken.kind, ReloadEvent::Kind::kRejected);
  ASSERT_TRUE(CanPublish(*store, "telemetry/sensor-1/x"));

  Write("fleet.crl", Ca().CrlPem({Sensor1().serial_hex}));
  ReloadEvent revoked = store->ReloadIfChanged();
  EXPECT_EQ(revoked.kind, ReloadEvent::Kind::kRejected) << "the policy file is still broken";
  EXPECT_TRUE(IsLocatedError(revoked.message.substr(0, revoked.message.find(" (")), path_))
      << revoked.message;
  EXPECT_NE(revoked.message.find("CRLs and denylist were re-read"), std::string::npos);
  const Decision decision =
      PublishAs(store->current(), Sensor1(), "sensor-1", "telemetry/sensor-1/x");
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason, Reason::kRevoked);

  // Nothing changed since: no second report, no new snapshot.
  const uint64_t generation = store->generation();
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kUnchanged);
  EXPECT_EQ(store->generation(), generation);

  // Fixing the policy brings it in, with the CRL as it is now.
  Write("policy.yaml", PolicyText("metrics", "  crl: [\"fleet.crl\"]\n"));
  EXPECT_EQ(store->ReloadIfChanged().kind, ReloadEvent::Kind::kReloaded);
  EXPECT_FALSE(PublishAs(store->current(), Sensor1(), "sensor-1", "metrics/sensor-1/x").allowed);
}

}  // namespace
}  // namespace certguard
