// design.md "Semantics", rule by rule, driven through the real API: a policy file and a CA on
// disk, PolicySnapshot::Load, real certificates from the test CA, AuthorizeConnect, Authorize.
#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/decision.h"
#include "shared/placeholder.h"
#include "shared/policy_snapshot.h"
#include "tests/support/test_pki.h"

namespace certguard {
namespace {

using testing::IssuedCertificate;
using testing::LeafSpec;
using testing::TempDir;
using testing::TestCa;
using testing::WithCn;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// Key generation dominates the cost of a test, so the CAs live for the whole binary.
TestCa& Ca() {
  static TestCa* ca = new TestCa("certguard semantics CA");
  return *ca;
}
TestCa& ForeignCa() {
  static TestCa* ca = new TestCa("certguard foreign CA");
  return *ca;
}

struct Leaf {
  IssuedCertificate issued;
  CertificateInfo info;
};

Leaf MakeLeaf(const LeafSpec& spec, TestCa& ca = Ca()) {
  Leaf leaf{ca.Issue(spec), {}};
  auto info = CertificateInfo::FromPem(leaf.issued.cert_pem);
  if (!info) {
    ADD_FAILURE() << "test certificate does not parse: " << info.error().message;
  } else {
    leaf.info = std::move(info).value();
  }
  return leaf;
}

LeafSpec WithSubject(std::vector<std::pair<std::string, std::string>> subject) {
  LeafSpec spec;
  spec.subject = std::move(subject);
  return spec;
}
// CN=x plus one SAN of the given kind.
LeafSpec WithSan(std::vector<std::string> LeafSpec::*kind, std::string value) {
  LeafSpec spec = WithCn("x");
  (spec.*kind).push_back(std::move(value));
  return spec;
}

// A certificate with just CN=cn, issued once per CN for the whole binary.
const CertificateInfo& CnCert(const std::string& cn) {
  static auto* cache = new std::map<std::string, CertificateInfo>();
  auto it = cache->find(cn);
  if (it == cache->end()) it = cache->emplace(cn, MakeLeaf(WithCn(cn)).info).first;
  return it->second;
}

std::string CnPolicy(const std::string& rest) {
  return "version: 1\n"
         "ca: ca.crt\n"
         "identity:\n"
         "  from:\n"
         "    - cn: \"{id}\"\n" +
         rest;
}

// A connected client: asks the snapshot that authorised it.
struct Device {
  DeviceSession session;

  ::testing::AssertionResult Can(Action action, std::string_view topic) const {
    if (!session.snapshot) return ::testing::AssertionFailure() << "device is not connected";
    const Decision d = session.snapshot->Authorize(session, action, topic);
    return (d.allowed ? ::testing::AssertionSuccess() : ::testing::AssertionFailure())
           << ActionName(action) << " '" << topic << "' -> " << d.Explain();
  }
  ::testing::AssertionResult Pub(std::string_view topic) const {
    return Can(Action::kPublish, topic);
  }
  ::testing::AssertionResult Sub(std::string_view filter) const {
    return Can(Action::kSubscribe, filter);
  }
  ::testing::AssertionResult Recv(std::string_view topic) const {
    return Can(Action::kReceive, topic);
  }
  Decision Decide(Action action, std::string_view topic) const {
    return session.snapshot->Authorize(session, action, topic);
  }
};

// A policy file (plus ca.crt and any other files) in its own directory, loaded.
class Loaded {
 public:
  explicit Loaded(const std::string& yaml,
                  const std::vector<std::pair<std::string, std::string>>& files = {}) {
    dir_.Write("ca.crt", Ca().cert_pem());
    for (const auto& [name, contents] : files) dir_.Write(name, contents);
    path_ = dir_.Write("policy.yaml", yaml);
    auto snapshot = PolicySnapshot::Load(path_);
    if (!snapshot) {
      ADD_FAILURE() << "policy does not load: " << snapshot.error().message;
      return;
    }
    snapshot_ = std::move(snapshot).value();
  }

  const PolicySnapshot& operator*() const { return *snapshot_; }
  const PolicySnapshot* operator->() const { return snapshot_.get(); }
  const std::shared_ptr<const PolicySnapshot>& snapshot() const { return snapshot_; }
  const std::string& path() const { return path_; }
  const TempDir& dir() const { return dir_; }

  Decision TryConnect(const CertificateInfo& cert, std::string_view client_id,
                      DeviceSession* session = nullptr, int64_t now = Now()) const {
    return snapshot_->AuthorizeConnect(&cert, client_id, now, session);
  }
  // Connects and expects the connection to be accepted.
  Device Connect(const CertificateInfo& cert, std::string_view client_id) const {
    Device device;
    const Decision d = TryConnect(cert, client_id, &device.session);
    EXPECT_TRUE(d.allowed) << d.Explain();
    EXPECT_EQ(d.reason, Reason::kConnectAllowed);
    return device;
  }
  // The common case: CN-derived device whose client id is its device id.
  Device Connect(const std::string& cn) const { return Connect(CnCert(cn), cn); }

 private:
  TempDir dir_;
  std::string path_;
  std::shared_ptr<const PolicySnapshot> snapshot_;
};

// "policy.yaml:LINE:COL" of the first occurrence of `needle` in `yaml` (1-based, like the
// loader's marks), so explanation tests do not hard-code positions.
std::string LocationAt(const std::string& path, const std::string& yaml, size_t at) {
  EXPECT_NE(at, std::string::npos);
  const size_t newline = yaml.rfind('\n', at);
  const size_t line_start = newline == std::string::npos ? 0 : newline + 1;
  int line = 1;
  for (size_t i = 0; i < at; ++i) line += yaml[i] == '\n';
  return path + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1);
}
std::string LocationOf(const std::string& path, const std::string& yaml,
                       const std::string& needle) {
  return LocationAt(path, yaml, yaml.find(needle));
}

// ---------------------------------------------------------------------------------------------
// Default deny

TEST(DefaultDeny, NothingIsAllowedWithoutAnAllowEntry) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    deny:
      publish: ["nothing/here"]
)"));
  const Device d = policy.Connect("sensor-1");
  for (const Action action : {Action::kPublish, Action::kSubscribe, Action::kReceive}) {
    const Decision decision = d.Decide(action, "sensors/sensor-1/telemetry");
    EXPECT_FALSE(decision.allowed);
    EXPECT_EQ(decision.reason, Reason::kNoAllowRule);
    EXPECT_EQ(decision.rule, nullptr);
  }
}

TEST(DefaultDeny, AnAllowForOneActionGrantsNoOther) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["up/{id}"]
  - for: all
    allow:
      subscribe: ["down/{id}"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("up/sensor-1"));
  EXPECT_FALSE(d.Sub("up/sensor-1"));
  EXPECT_FALSE(d.Recv("up/sensor-1"));
  EXPECT_TRUE(d.Sub("down/sensor-1"));
  EXPECT_TRUE(d.Recv("down/sensor-1"));
  EXPECT_FALSE(d.Pub("down/sensor-1"));
}

TEST(DefaultDeny, InvalidTopicsAreDeniedEvenUnderAllowEverything) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["#"]
      subscribe: ["#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_EQ(d.Decide(Action::kPublish, "a/+").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kPublish, "a/#").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kPublish, "").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kReceive, "a/+").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kSubscribe, "a/#/b").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kSubscribe, "a+").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kSubscribe, "").reason, Reason::kInvalidTopic);
  EXPECT_EQ(d.Decide(Action::kPublish, std::string_view("a\0b", 3)).reason, Reason::kInvalidTopic);
}

// ---------------------------------------------------------------------------------------------
// Rule order does not matter

TEST(RuleOrder, PermutedRulesGiveIdenticalDecisions) {
  const std::string allow_rule = R"(
  - for: all
    allow:
      publish: ["devices/{id}/#", "shared/#"]
      subscribe: ["devices/{id}/#", "shared/+/news"]
)";
  const std::string deny_rule = R"(
  - for: all
    deny:
      publish: ["devices/{id}/secret", "shared/locked/#"]
      subscribe: ["devices/{id}/secret", "shared/locked/news"]
)";
  const Loaded deny_last(CnPolicy("rules:" + allow_rule + deny_rule));
  const Loaded deny_first(CnPolicy("rules:" + deny_rule + allow_rule));
  const Device a = deny_last.Connect("sensor-1");
  const Device b = deny_first.Connect("sensor-1");
  const char* topics[] = {"devices/sensor-1/x",
                          "devices/sensor-1/secret",
                          "devices/sensor-1/#",
                          "devices/sensor-1/+",
                          "shared/locked/news",
                          "shared/open/news",
                          "shared/+/news",
                          "shared/locked",
                          "shared/locked/a/b",
                          "devices/sensor-2/x",
                          "#",
                          "shared/#"};
  for (const Action action : {Action::kPublish, Action::kSubscribe, Action::kReceive}) {
    for (const char* topic : topics) {
      const Decision da = a.Decide(action, topic);
      const Decision db = b.Decide(action, topic);
      EXPECT_EQ(da.allowed, db.allowed) << ActionName(action) << " " << topic;
      EXPECT_EQ(da.reason, db.reason) << ActionName(action) << " " << topic;
    }
  }
  // And the deny really is in force, whichever comes first.
  EXPECT_FALSE(b.Pub("devices/sensor-1/secret"));
  EXPECT_TRUE(b.Pub("devices/sensor-1/x"));
}

// ---------------------------------------------------------------------------------------------
// Deny wins

TEST(Publish, DenyWinsOverAllow) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["devices/#"]
    deny:
      publish: ["devices/+/secret"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("devices/sensor-1/status"));
  const Decision denied = d.Decide(Action::kPublish, "devices/sensor-1/secret");
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.reason, Reason::kDeniedByRule);
  ASSERT_NE(denied.rule, nullptr);
  EXPECT_EQ(denied.rule->effect, Effect::kDeny);
  EXPECT_EQ(denied.rule->filter, "devices/+/secret");
}

TEST(Publish, ExactAllowDoesNotOverrideWildcardDeny) {
  // Specificity is irrelevant: a literal allow loses to a broad deny.
  const Loaded policy(CnPolicy(R"(
rules:
  - for: {id: sensor-1}
    allow:
      publish: ["alarms/fire"]
  - for: all
    deny:
      publish: ["alarms/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_FALSE(d.Pub("alarms/fire"));
  EXPECT_EQ(d.Decide(Action::kPublish, "alarms/fire").reason, Reason::kDeniedByRule);
}

TEST(Subscribe, DenyWinsOverAllow) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/#"]
    deny:
      subscribe: ["devices/+/secret"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Sub("devices/sensor-1/status"));
  EXPECT_TRUE(d.Sub("devices/+/status"));
  EXPECT_FALSE(d.Sub("devices/sensor-1/secret"));
  EXPECT_FALSE(d.Sub("devices/+/secret"));
  // These overlap the deny: they would deliver devices/x/secret.
  EXPECT_FALSE(d.Sub("devices/#"));
  EXPECT_FALSE(d.Sub("devices/sensor-1/+"));
  EXPECT_EQ(d.Decide(Action::kSubscribe, "devices/#").reason, Reason::kDeniedByRule);
}

TEST(Subscribe, DenyWithAPlaceholderOverlapsWildcardRequests) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/#"]
    deny:
      subscribe: ["devices/{id}/secret"]
)"));
  const Device d = policy.Connect("sensor-1");
  // `+` may stand for sensor-1, so these could deliver devices/sensor-1/secret.
  EXPECT_FALSE(d.Sub("devices/+/secret"));
  EXPECT_FALSE(d.Sub("devices/+/+"));
  EXPECT_FALSE(d.Sub("devices/#"));
  EXPECT_FALSE(d.Sub("devices/sensor-1/secret"));
  // The deny is about this device's own secret only.
  EXPECT_TRUE(d.Sub("devices/sensor-2/secret"));
  EXPECT_TRUE(d.Sub("devices/+/public"));
  EXPECT_FALSE(d.Recv("devices/sensor-1/secret"));
  EXPECT_TRUE(d.Recv("devices/sensor-2/secret"));
}

// ---------------------------------------------------------------------------------------------
// Placeholders

TEST(Placeholders, IdFillsAWholeLevel) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("sensors/sensor-1/telemetry"));
  EXPECT_FALSE(d.Pub("sensors/sensor-2/telemetry"));
  EXPECT_FALSE(d.Pub("sensors/sensor-10/telemetry"));
  EXPECT_FALSE(d.Pub("sensors/sensor-/telemetry"));
  EXPECT_FALSE(d.Pub("sensors/{id}/telemetry"));
  EXPECT_FALSE(d.Pub("sensors/sensor-1/telemetry/x"));
  EXPECT_FALSE(d.Pub("sensors/sensor-1"));
}

TEST(Placeholders, IdInsideALevelWithPrefixAndSuffix) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["dev-{id}-x/data", "pre{id}/a", "{id}post/b"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("dev-sensor-1-x/data"));
  EXPECT_FALSE(d.Pub("dev-sensor-1/data"));
  EXPECT_FALSE(d.Pub("dev-sensor-1-x-x/data"));
  EXPECT_FALSE(d.Pub("dev-sensor-2-x/data"));
  EXPECT_FALSE(d.Pub("dev--x/data"));
  EXPECT_TRUE(d.Pub("presensor-1/a"));
  EXPECT_FALSE(d.Pub("pre/a"));
  EXPECT_TRUE(d.Pub("sensor-1post/b"));
  EXPECT_FALSE(d.Pub("sensor-1pos/b"));
}

TEST(Placeholders, TwoPlaceholdersInOneLevel) {
  const Loaded policy(R"(version: 1
ca: ca.crt
identity:
  from:
    - san_dns: "{id}.devices.example.com"
  client_id: any
rules:
  - for: all
    allow:
      publish: ["{id}.{client_id}/up", "{cn}-{id}/x"]
)");
  LeafSpec spec = WithCn("gateway");
  spec.san_dns = {"sensor-1.devices.example.com"};
  const Leaf leaf = MakeLeaf(spec);
  const Device d = policy.Connect(leaf.info, "conn-7");
  EXPECT_TRUE(d.Pub("sensor-1.conn-7/up"));
  EXPECT_FALSE(d.Pub("sensor-1.conn-8/up"));
  EXPECT_FALSE(d.Pub("sensor-1.conn-7.x/up"));
  EXPECT_FALSE(d.Pub("sensor-1/up"));
  EXPECT_TRUE(d.Pub("gateway-sensor-1/x"));
  EXPECT_FALSE(d.Pub("sensor-1-gateway/x"));
}

TEST(Placeholders, NeverStandForMoreThanOneLevel) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["t/{id}", "u/{id}/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("t/sensor-1"));
  // A placeholder is not a wildcard: it never swallows extra levels...
  EXPECT_FALSE(d.Pub("t/sensor-1/extra"));
  EXPECT_FALSE(d.Pub("t/sensor/1"));
  // ...only an explicit '#' does.
  EXPECT_TRUE(d.Pub("u/sensor-1/a/b"));
  EXPECT_TRUE(d.Pub("u/sensor-1"));
}

TEST(Placeholders, APlaceholderSpanningLevelsIsALoadError) {
  TempDir dir;
  dir.Write("ca.crt", Ca().cert_pem());
  const auto loaded = PolicySnapshot::Load(dir.Write("policy.yaml", CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["devices/{id/x}/status"]
)")));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("policy.yaml:10:26:"), std::string::npos)
      << loaded.error().message;
}

TEST(Placeholders, ARuleForOneDeviceNeverMatchesAnothersTopics) {
  const Loaded policy(CnPolicy(R"(
groups:
  sensors: { id: "sensor-*" }
rules:
  - for: sensors
    allow:
      publish: ["sensors/{id}/telemetry", "sensors/{id}/#"]
      subscribe: ["devices/{id}/commands/#"]
)"));
  const Device one = policy.Connect("sensor-1");
  const Device ten = policy.Connect("sensor-10");
  EXPECT_TRUE(one.Pub("sensors/sensor-1/telemetry"));
  EXPECT_FALSE(one.Pub("sensors/sensor-10/telemetry"));
  EXPECT_FALSE(ten.Pub("sensors/sensor-1/telemetry"));
  EXPECT_FALSE(one.Pub("sensors/sensor-10/x/y"));
  EXPECT_TRUE(ten.Sub("devices/sensor-10/commands/#"));
  EXPECT_FALSE(ten.Sub("devices/sensor-1/commands/#"));
  EXPECT_FALSE(one.Recv("devices/sensor-10/commands/reboot"));
  EXPECT_TRUE(one.Recv("devices/sensor-1/commands/reboot"));
}

// ---------------------------------------------------------------------------------------------
// Subscribe: containment

TEST(Subscribe, NarrowerFiltersInsideAnAllowedFilterAreAllowed) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/{id}/commands/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands/#"));
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands"));
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands/reboot"));
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands/+"));
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands/+/x"));
  EXPECT_TRUE(d.Sub("devices/sensor-1/commands/+/+/#"));
}

TEST(Subscribe, BroaderOrForeignFiltersAreDenied) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/{id}/commands/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_FALSE(d.Sub("devices/+/commands/#"));
  EXPECT_FALSE(d.Sub("devices/+/commands/reboot"));
  EXPECT_FALSE(d.Sub("devices/sensor-1/#"));
  EXPECT_FALSE(d.Sub("devices/sensor-1/+"));
  EXPECT_FALSE(d.Sub("devices/#"));
  EXPECT_FALSE(d.Sub("#"));
  EXPECT_FALSE(d.Sub("+/sensor-1/commands/x"));
  EXPECT_FALSE(d.Sub("devices/sensor-2/commands/#"));
  EXPECT_EQ(d.Decide(Action::kSubscribe, "#").reason, Reason::kNoAllowRule);
}

TEST(Subscribe, ContainmentTableThroughThePolicy) {
  struct Case {
    const char* allowed;
    const char* requested;
    bool contained;
  };
  const Case cases[] = {
      {"a/+", "a/#", false},
      {"a/+/b", "a/#", false},
      {"a/#", "a/+/b", true},
      {"a/#", "a", true},
      {"a/#", "a/#", true},
      {"a", "a/#", false},
      {"a/+", "a/b", true},
      {"a/b", "a/+", false},
      {"+/+", "a/+", true},
      {"+/+", "+/#", false},
      {"#", "#", true},
      {"#", "+/b", true},
      {"a/+/#", "a", false},
      {"a/+/#", "a/b", true},
      {"a/+/#", "a/+/c/#", true},
      {"+", "a/b", false},
      {"a/b", "a/b/c", false},
      {"a//b", "a/+/b", false},
      {"a/+/b", "a//b", true},
      // Every topic has a first level (a topic name is never empty) and `#` also matches its
      // parent, so `+/#` matches every topic `#` does: both leave out only `$` topics.
      {"+/#", "#", true},
  };
  for (const Case& c : cases) {
    const Loaded policy(CnPolicy(std::string(R"(
rules:
  - for: all
    allow:
      subscribe: [")") + c.allowed +
                                 "\"]\n"));
    const Device d = policy.Connect("sensor-1");
    EXPECT_EQ(static_cast<bool>(d.Sub(c.requested)), c.contained)
        << "allowed " << c.allowed << ", requested " << c.requested;
  }
}

TEST(Subscribe, AFilterCoveredOnlyByTwoAllowedFiltersTogetherIsDenied) {
  // "contained in AN allowed subscribe filter": the union of `a` and `a/+/#` covers `a/#`, but
  // no single allowed filter does. A careful reader takes the design literally here: each
  // subscription must be granted by one rule, so an explanation can name it.
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["a", "a/+/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_FALSE(d.Sub("a/#"));
  EXPECT_TRUE(d.Sub("a"));
  EXPECT_TRUE(d.Sub("a/+/#"));
}

TEST(Subscribe, DeniedFilterBlocksEveryOverlappingFilter) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["#"]
    deny:
      subscribe: ["a/b"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_FALSE(d.Sub("a/b"));
  EXPECT_FALSE(d.Sub("a/+"));
  EXPECT_FALSE(d.Sub("+/b"));
  EXPECT_FALSE(d.Sub("+/+"));
  EXPECT_FALSE(d.Sub("a/#"));
  EXPECT_FALSE(d.Sub("#"));
  EXPECT_FALSE(d.Sub("+/#"));
  // No overlap: none of these can deliver a message on a/b.
  EXPECT_TRUE(d.Sub("a/c"));
  EXPECT_TRUE(d.Sub("+/c"));
  EXPECT_TRUE(d.Sub("a"));
  EXPECT_TRUE(d.Sub("a/b/c"));
  EXPECT_TRUE(d.Sub("a/b/+"));
  EXPECT_TRUE(d.Sub("+"));
  EXPECT_TRUE(d.Sub("b/#"));
}

TEST(Subscribe, DenyWithWildcardsOverlapsLiteralRequests) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["#"]
    deny:
      subscribe: ["a/+/c", "x/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_FALSE(d.Sub("a/b/c"));
  EXPECT_FALSE(d.Sub("a/b/#"));
  EXPECT_TRUE(d.Sub("a/b/d"));
  EXPECT_TRUE(d.Sub("a/b"));
  EXPECT_FALSE(d.Sub("x"));  // x/# matches x itself
  EXPECT_FALSE(d.Sub("x/y/z"));
  EXPECT_TRUE(d.Sub("xy/z"));
}

// ---------------------------------------------------------------------------------------------
// Receive

TEST(Receive, NeedsAnAllowedSubscribeFilterAndNoDeniedOne) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/{id}/commands/#"]
      publish: ["devices/{id}/status"]
    deny:
      subscribe: ["devices/{id}/commands/secret"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Recv("devices/sensor-1/commands/reboot"));
  EXPECT_TRUE(d.Recv("devices/sensor-1/commands"));
  EXPECT_FALSE(d.Recv("devices/sensor-1/commands/secret"));
  EXPECT_EQ(d.Decide(Action::kReceive, "devices/sensor-1/commands/secret").reason,
            Reason::kDeniedByRule);
  EXPECT_FALSE(d.Recv("devices/sensor-2/commands/reboot"));
  // A publish grant is not a receive grant.
  EXPECT_FALSE(d.Recv("devices/sensor-1/status"));
}

TEST(Receive, PublishDenyDoesNotBlockReceive) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["news/#"]
    deny:
      publish: ["news/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Recv("news/today"));
  EXPECT_FALSE(d.Pub("news/today"));
}

// ---------------------------------------------------------------------------------------------
// `$` topics

TEST(DollarTopics, HashAllowNeverReachesDollarTopics) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["#", "+/x"]
      subscribe: ["#", "+/x"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("a/b"));
  EXPECT_FALSE(d.Pub("$SYS/x"));
  EXPECT_FALSE(d.Pub("$SYS"));
  EXPECT_FALSE(d.Pub("$anything/y"));
  EXPECT_FALSE(d.Recv("$SYS/x"));
  EXPECT_FALSE(d.Recv("$SYS/broker/uptime"));
  EXPECT_FALSE(d.Sub("$SYS/#"));
  EXPECT_FALSE(d.Sub("$SYS/x"));
  EXPECT_FALSE(d.Sub("$SYS/+"));
  // `$` only matters at the first level.
  EXPECT_TRUE(d.Pub("a/$SYS"));
  EXPECT_TRUE(d.Sub("a/$SYS/#"));
  EXPECT_TRUE(d.Sub("#"));
  EXPECT_TRUE(d.Sub("+/x"));
}

TEST(DollarTopics, ExplicitDollarAllowWorks) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["$devices/{id}/#"]
      subscribe: ["$SYS/broker/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("$devices/sensor-1/x"));
  EXPECT_TRUE(d.Sub("$SYS/broker/load/#"));
  EXPECT_TRUE(d.Recv("$SYS/broker/uptime"));
  EXPECT_FALSE(d.Sub("$SYS/#"));
}

TEST(DollarTopics, DollarDenyDoesNotBlockHashSubscription) {
  // `#` never matches a `$` topic, so subscribing to `#` cannot deliver `$SYS/...`: it does not
  // overlap `$SYS/#` and stays allowed, while `$SYS` itself stays out of reach.
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["#", "$SYS/#"]
    deny:
      subscribe: ["$SYS/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Sub("#"));
  EXPECT_TRUE(d.Sub("+/#"));
  EXPECT_TRUE(d.Sub("+"));
  EXPECT_FALSE(d.Sub("$SYS/#"));
  EXPECT_FALSE(d.Sub("$SYS/uptime"));
  EXPECT_FALSE(d.Recv("$SYS/uptime"));
  EXPECT_TRUE(d.Recv("a/b"));
}

TEST(DollarTopics, WildcardDenyDoesNotReachDollarTopics) {
  // Ambiguity resolved: the `$` rule is about matching, so it applies to deny filters as well.
  // `deny: #` does not cover `$SYS/x`; a policy that means to shut `$` topics must say `$SYS/#`
  // (as design.md's example does). An explicit `$` allow therefore still works under `deny: #`.
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["$app/{id}"]
      subscribe: ["$app/#"]
    deny:
      publish: ["#"]
      subscribe: ["#", "+/+"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Pub("$app/sensor-1"));
  EXPECT_TRUE(d.Sub("$app/#"));
  EXPECT_TRUE(d.Recv("$app/x"));
}

// ---------------------------------------------------------------------------------------------
// Shared subscriptions

TEST(SharedSubscription, IsCheckedAsTheInnerFilter) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["devices/{id}/commands/#", "jobs/#"]
    deny:
      subscribe: ["jobs/secret"]
)"));
  const Device d = policy.Connect("sensor-1");
  EXPECT_TRUE(d.Sub("$share/g/devices/sensor-1/commands/#"));
  EXPECT_TRUE(d.Sub("$share/workers/jobs/public/+"));
  EXPECT_FALSE(d.Sub("$share/workers/jobs/+"));  // would deliver jobs/secret
  EXPECT_FALSE(d.Sub("$share/g/devices/+/commands/#"));
  EXPECT_FALSE(d.Sub("$share/g/#"));
  EXPECT_FALSE(d.Sub("$share/g/jobs/#"));  // overlaps jobs/secret
  EXPECT_FALSE(d.Sub("$share/g/jobs/secret"));
  EXPECT_EQ(d.Decide(Action::kSubscribe, "$share/g/jobs/#").reason, Reason::kDeniedByRule);
}

TEST(SharedSubscription, MalformedShareIsDenied) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    allow:
      subscribe: ["#"]
)"));
  const Device d = policy.Connect("sensor-1");
  for (const char* filter : {"$share/g", "$share/g/", "$share//a", "$share/+/a", "$share/#/a"}) {
    const Decision decision = d.Decide(Action::kSubscribe, filter);
    EXPECT_FALSE(decision.allowed) << filter;
    EXPECT_EQ(decision.reason, Reason::kInvalidTopic) << filter;
  }
}

// ---------------------------------------------------------------------------------------------
// Unsubscribe

TEST(Unsubscribe, IsAlwaysAllowed) {
  const Loaded policy(CnPolicy(R"(
rules:
  - for: all
    deny:
      subscribe: ["#", "$SYS/#"]
)"));
  const Device d = policy.Connect("sensor-1");
  for (const char* filter : {"#", "$SYS/#", "devices/sensor-2/x", "$share/g/a", "a/b"}) {
    const Decision decision = d.Decide(Action::kUnsubscribe, filter);
    EXPECT_TRUE(decision.allowed) << filter;
    EXPECT_EQ(decision.reason, Reason::kUnsubscribeAlwaysAllowed);
  }
}

// ---------------------------------------------------------------------------------------------
// Groups and `for`

TEST(Groups, IdGlobMatchesAnyRunOfCharacters) {
  const Loaded policy(CnPolicy(R"(
groups:
  sensors: { id: "sensor-*" }
  middle:  { id: "a*z" }
rules:
  - for: sensors
    allow:
      publish: ["s/{id}"]
  - for: middle
    allow:
      publish: ["m/{id}"]
)"));
  EXPECT_TRUE(policy.Connect("sensor-1").Pub("s/sensor-1"));
  EXPECT_TRUE(policy.Connect("sensor-").Pub("s/sensor-"));  // `*` may match nothing
  EXPECT_FALSE(policy.Connect("xsensor-1").Pub("s/xsensor-1"));
  EXPECT_FALSE(policy.Connect("Sensor-1").Pub("s/Sensor-1"));
  EXPECT_TRUE(policy.Connect("az").Pub("m/az"));
  EXPECT_TRUE(policy.Connect("a-b-z").Pub("m/a-b-z"));
  EXPECT_FALSE(policy.Connect("a-b-zz-").Pub("m/a-b-zz-"));
}

TEST(Groups, IdListMixesGlobsAndExactIds) {
  const Loaded policy(CnPolicy(R"(
groups:
  dashboards: { id: ["dashboard-*", "ops-console"] }
rules:
  - for: dashboards
    allow:
      subscribe: ["sensors/+/telemetry"]
)"));
  EXPECT_TRUE(policy.Connect("dashboard-7").Sub("sensors/+/telemetry"));
  EXPECT_TRUE(policy.Connect("ops-console").Sub("sensors/+/telemetry"));
  EXPECT_FALSE(policy.Connect("ops-console-2").Sub("sensors/+/telemetry"));
  EXPECT_FALSE(policy.Connect("sensor-1").Sub("sensors/+/telemetry"));
}

TEST(Groups, SubjectAttributeSelectsDevices) {
  const Loaded policy(CnPolicy(R"(
groups:
  platform: { subject: { OU: "platform" } }
  acme_platform: { subject: { OU: "platform", O: "Acme" } }
  acme_sensors: { id: "sensor-*", subject: { O: "Acme" } }
rules:
  - for: platform
    allow:
      subscribe: ["#"]
  - for: acme_platform
    allow:
      publish: ["acme/#"]
  - for: acme_sensors
    allow:
      publish: ["acme-sensors/#"]
)"));
  const Leaf platform = MakeLeaf(WithSubject({{"O", "Acme"}, {"OU", "platform"}, {"CN", "svc-1"}}));
  const Leaf other = MakeLeaf(WithSubject({{"O", "Other"}, {"OU", "platform"}, {"CN", "svc-2"}}));
  const Leaf no_ou = MakeLeaf(WithSubject({{"O", "Acme"}, {"CN", "svc-3"}}));
  const Leaf ou_case = MakeLeaf(WithSubject({{"OU", "Platform"}, {"CN", "svc-4"}}));
  const Leaf acme_sensor = MakeLeaf(WithSubject({{"O", "Acme"}, {"CN", "sensor-9"}}));

  const Device p = policy.Connect(platform.info, "svc-1");
  EXPECT_TRUE(p.Sub("#"));
  EXPECT_TRUE(p.Pub("acme/x"));
  const Device o = policy.Connect(other.info, "svc-2");
  EXPECT_TRUE(o.Sub("#"));
  EXPECT_FALSE(o.Pub("acme/x"));  // every attribute must be present
  EXPECT_FALSE(policy.Connect(no_ou.info, "svc-3").Sub("#"));
  EXPECT_FALSE(policy.Connect(ou_case.info, "svc-4").Sub("#"));  // values compare exactly
  // id and subject together: both must hold.
  EXPECT_TRUE(policy.Connect(acme_sensor.info, "sensor-9").Pub("acme-sensors/x"));
  EXPECT_FALSE(policy.Connect(no_ou.info, "svc-3").Pub("acme-sensors/x"));
}

TEST(Groups, ForAllExactIdAndListOfGroups) {
  const Loaded policy(CnPolicy(R"(
groups:
  sensors:    { id: "sensor-*" }
  dashboards: { id: "dashboard-*" }
rules:
  - for: all
    allow:
      publish: ["hello/{id}"]
  - for: {id: sensor-1}
    allow:
      publish: ["only/sensor-1"]
  - for: {id: [sensor-2, dashboard-1]}
    allow:
      publish: ["two/{id}"]
  - for: [sensors, dashboards]
    allow:
      subscribe: ["both/#"]
)"));
  const Device s1 = policy.Connect("sensor-1");
  const Device s2 = policy.Connect("sensor-2");
  const Device d1 = policy.Connect("dashboard-1");
  const Device x = policy.Connect("printer-1");
  EXPECT_TRUE(x.Pub("hello/printer-1"));
  EXPECT_TRUE(s1.Pub("only/sensor-1"));
  EXPECT_FALSE(s2.Pub("only/sensor-1"));
  EXPECT_FALSE(policy.Connect("sensor-10").Pub("only/sensor-1"));
  EXPECT_TRUE(s2.Pub("two/sensor-2"));
  EXPECT_TRUE(d1.Pub("two/dashboard-1"));
  EXPECT_FALSE(s1.Pub("two/sensor-1"));
  EXPECT_TRUE(s1.Sub("both/x"));
  EXPECT_TRUE(d1.Sub("both/x"));
  EXPECT_FALSE(x.Sub("both/x"));
  const Decision d = s1.Decide(Action::kSubscribe, "both/x");
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->applies_to, "[sensors, dashboards]");
}

TEST(Groups, DenyForAGroupBeatsAllowForTheExactId) {
  const Loaded policy(CnPolicy(R"(
groups:
  quarantined: { id: ["sensor-1"] }
rules:
  - for: {id: sensor-1}
    allow:
      publish: ["sensors/{id}/#"]
  - for: quarantined
    deny:
      publish: ["#"]
)"));
  EXPECT_FALSE(policy.Connect("sensor-1").Pub("sensors/sensor-1/x"));
}

// ---------------------------------------------------------------------------------------------
// Connect

const std::string kOpenRules = R"(
rules:
  - for: all
    allow:
      publish: ["{id}/#"]
)";

TEST(Connect, NoCertificateIsRefused) {
  const Loaded policy(CnPolicy(kOpenRules));
  DeviceSession session;
  const Decision d = policy->AuthorizeConnect(nullptr, "sensor-1", Now(), &session);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kNoCertificate);
  EXPECT_EQ(session.snapshot, nullptr);
}

TEST(Connect, ExpiredCertificateIsRefused) {
  const Loaded policy(CnPolicy(kOpenRules));
  LeafSpec spec = WithCn("sensor-1");
  spec.not_before_offset_seconds = -7200;
  spec.not_after_offset_seconds = -60;
  const Leaf leaf = MakeLeaf(spec);
  EXPECT_EQ(policy.TryConnect(leaf.info, "sensor-1").reason, Reason::kCertificateExpired);
  // The same certificate was good an hour ago.
  EXPECT_TRUE(policy.TryConnect(leaf.info, "sensor-1", nullptr, Now() - 3600).allowed);
}

TEST(Connect, NotYetValidCertificateIsRefused) {
  const Loaded policy(CnPolicy(kOpenRules));
  LeafSpec spec = WithCn("sensor-1");
  spec.not_before_offset_seconds = 3600;
  const Leaf leaf = MakeLeaf(spec);
  const Decision d = policy.TryConnect(leaf.info, "sensor-1");
  EXPECT_EQ(d.reason, Reason::kCertificateNotYetValid);
  EXPECT_NE(d.Explain().find("not yet valid"), std::string::npos) << d.Explain();
  EXPECT_TRUE(policy.TryConnect(leaf.info, "sensor-1", nullptr, Now() + 7200).allowed);
}

TEST(Connect, NoMatchingIdentitySourceIsRefused) {
  const Loaded policy(R"(version: 1
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - cn: "device-{id}"
)" + kOpenRules);
  DeviceSession session;
  const Decision d = policy.TryConnect(CnCert("sensor-1"), "sensor-1", &session);
  EXPECT_EQ(d.reason, Reason::kNoIdentity);
  EXPECT_EQ(session.snapshot, nullptr);
  EXPECT_NE(d.Explain().find("san_uri"), std::string::npos) << d.Explain();
  // A URI of another trust domain does not fit either.
  LeafSpec spec = WithCn("x");
  spec.san_uri = {"spiffe://evil.example.com/device/sensor-1"};
  EXPECT_EQ(policy.TryConnect(MakeLeaf(spec).info, "sensor-1").reason, Reason::kNoIdentity);
}

TEST(Connect, EachSanSourceGivesTheId) {
  struct Case {
    const char* source;
    LeafSpec spec;
    const char* id;
  };
  const Case cases[] = {
      {R"(san_uri: "spiffe://iot.example.com/device/{id}")",
       WithSan(&LeafSpec::san_uri, "spiffe://iot.example.com/device/uri-1"), "uri-1"},
      {R"(san_dns: "{id}.devices.example.com")",
       WithSan(&LeafSpec::san_dns, "dns-1.devices.example.com"), "dns-1"},
      {R"(san_email: "{id}@devices.example.com")",
       WithSan(&LeafSpec::san_email, "mail-1@devices.example.com"), "mail-1"},
      {R"(san_ip: "{id}")", WithSan(&LeafSpec::san_ip, "192.0.2.7"), "192.0.2.7"},
      {R"(subject: "CN={id},O=Acme")", WithSubject({{"O", "Acme"}, {"CN", "dn-1"}}), "dn-1"},
  };
  for (const Case& c : cases) {
    const Loaded policy(std::string("version: 1\nidentity:\n  from:\n    - ") + c.source + "\n" +
                        kOpenRules);
    const Leaf leaf = MakeLeaf(c.spec);
    const Device d = policy.Connect(leaf.info, c.id);
    EXPECT_EQ(d.session.device_id, c.id) << c.source;
    EXPECT_TRUE(d.Pub(std::string(c.id) + "/x")) << c.source;
  }
}

TEST(Connect, FingerprintSourceGivesTheId) {
  const Loaded policy("version: 1\nidentity:\n  from:\n    - fingerprint: \"{id}\"\n" + kOpenRules);
  const Leaf leaf = MakeLeaf(WithCn("whatever"));
  const Device d = policy.Connect(leaf.info, leaf.issued.sha256_hex);
  EXPECT_EQ(d.session.device_id, leaf.issued.sha256_hex);
}

TEST(Connect, SourcesAreTriedInOrder) {
  const Loaded policy(R"(version: 1
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
    - san_dns: "{id}.devices.example.com"
    - cn: "{id}"
  client_id: any
)" + kOpenRules);
  LeafSpec all = WithCn("from-cn");
  all.san_dns = {"from-dns.devices.example.com"};
  all.san_uri = {"spiffe://iot.example.com/device/from-uri"};
  LeafSpec dns_and_cn = WithCn("from-cn");
  dns_and_cn.san_dns = {"other.example.org", "from-dns.devices.example.com"};
  EXPECT_EQ(policy.Connect(MakeLeaf(all).info, "c").session.device_id, "from-uri");
  // The first DNS SAN does not fit the template: the next one that does gives the id.
  EXPECT_EQ(policy.Connect(MakeLeaf(dns_and_cn).info, "c").session.device_id, "from-dns");
  EXPECT_EQ(policy.Connect(CnCert("from-cn"), "c").session.device_id, "from-cn");
}

TEST(Connect, ClientIdMustMatchByDefault) {
  const Loaded policy(CnPolicy(kOpenRules));
  EXPECT_TRUE(policy.TryConnect(CnCert("sensor-1"), "sensor-1").allowed);
  EXPECT_EQ(policy.TryConnect(CnCert("sensor-1"), "sensor-2").reason, Reason::kClientIdMismatch);
  EXPECT_EQ(policy.TryConnect(CnCert("sensor-1"), "").reason, Reason::kClientIdMismatch);
  EXPECT_EQ(policy.TryConnect(CnCert("sensor-1"), "Sensor-1").reason, Reason::kClientIdMismatch);
}

TEST(Connect, ClientIdAnyAcceptsAnyClientId) {
  const Loaded policy(R"(version: 1
identity:
  from:
    - cn: "{id}"
  client_id: any
)" + kOpenRules);
  const Device d = policy.Connect(CnCert("sensor-1"), "some-other-id");
  EXPECT_EQ(d.session.device_id, "sensor-1");
  EXPECT_EQ(d.session.client_id, "some-other-id");
  // The id, not the client id, is what `{id}` means.
  EXPECT_TRUE(d.Pub("sensor-1/x"));
  EXPECT_FALSE(d.Pub("some-other-id/x"));
}

TEST(Connect, RequireIssuerRefusesAForeignCa) {
  const Loaded policy(R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
  require_issuer: true
)" + kOpenRules);
  const Leaf foreign = MakeLeaf(WithCn("sensor-1"), ForeignCa());
  EXPECT_EQ(policy.TryConnect(foreign.info, "sensor-1").reason, Reason::kIssuerNotTrusted);
  EXPECT_TRUE(policy.TryConnect(CnCert("sensor-1"), "sensor-1").allowed);

  // Without require_issuer the broker's TLS layer is trusted to have checked the chain.
  const Loaded lax(CnPolicy(kOpenRules));
  EXPECT_TRUE(lax.TryConnect(foreign.info, "sensor-1").allowed);
}

TEST(Connect, RequireIssuerChecksTheSignatureNotJustTheIssuerName) {
  // A CA with the same name but another key: the issuer DN matches, the signature does not.
  TestCa impostor("certguard semantics CA");
  const Loaded policy(R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
  require_issuer: true
)" + kOpenRules);
  const Leaf forged = MakeLeaf(WithCn("sensor-1"), impostor);
  ASSERT_EQ(forged.info.issuer_dn, CnCert("sensor-1").issuer_dn);
  EXPECT_EQ(policy.TryConnect(forged.info, "sensor-1").reason, Reason::kIssuerNotTrusted);
}

std::string CrlPolicy(const std::string& stale = "deny") {
  return R"(version: 1
ca: ca.crt
identity:
  from:
    - cn: "{id}"
revocation:
  crl: ["crl/fleet.crl"]
  stale_crl: )" +
         stale + "\n" + kOpenRules;
}

TEST(Connect, CrlRevokesListedSerial) {
  const Leaf revoked = MakeLeaf(WithCn("sensor-1"));
  const Leaf good = MakeLeaf(WithCn("sensor-2"));
  const Loaded policy(CrlPolicy(), {{"crl/fleet.crl", Ca().CrlPem({revoked.issued.serial_hex})}});
  const Decision d = policy.TryConnect(revoked.info, "sensor-1");
  EXPECT_EQ(d.reason, Reason::kRevoked);
  EXPECT_NE(d.Explain().find(revoked.issued.serial_hex), std::string::npos) << d.Explain();
  EXPECT_TRUE(policy.TryConnect(good.info, "sensor-2").allowed);

  const Loaded der(CrlPolicy(), {{"crl/fleet.crl", Ca().CrlDer({revoked.issued.serial_hex})}});
  EXPECT_EQ(der.TryConnect(revoked.info, "sensor-1").reason, Reason::kRevoked);
  EXPECT_TRUE(der.TryConnect(good.info, "sensor-2").allowed);
}

TEST(Connect, CrlsConfiguredButNoneForTheIssuerFailsClosed) {
  const Loaded policy(CrlPolicy(), {{"crl/fleet.crl", Ca().CrlPem({})}});
  const Leaf foreign = MakeLeaf(WithCn("sensor-1"), ForeignCa());
  EXPECT_EQ(policy.TryConnect(foreign.info, "sensor-1").reason, Reason::kRevoked);
}

TEST(Connect, StaleCrlDeniesByDefaultAndWarnsWhenAsked) {
  const std::string stale_crl = Ca().CrlPem({}, /*next_update=*/-60, /*last_update=*/-7200);
  const Loaded deny(CrlPolicy("deny"), {{"crl/fleet.crl", stale_crl}});
  const Decision refused = deny.TryConnect(CnCert("sensor-1"), "sensor-1");
  EXPECT_EQ(refused.reason, Reason::kRevoked);
  EXPECT_NE(refused.Explain().find("stale"), std::string::npos) << refused.Explain();

  const Loaded warn(CrlPolicy("warn"), {{"crl/fleet.crl", stale_crl}});
  const Decision accepted = warn.TryConnect(CnCert("sensor-1"), "sensor-1");
  EXPECT_TRUE(accepted.allowed);
  // `warn` must actually warn: the operator sees the staleness in the connect explanation.
  EXPECT_NE(accepted.Explain().find("stale"), std::string::npos) << accepted.Explain();
  // A stale CRL is still consulted under warn.
  const Leaf revoked = MakeLeaf(WithCn("sensor-3"));
  const Loaded warn_revoked(
      CrlPolicy("warn"), {{"crl/fleet.crl", Ca().CrlPem({revoked.issued.serial_hex}, -60, -7200)}});
  EXPECT_EQ(warn_revoked.TryConnect(revoked.info, "sensor-3").reason, Reason::kRevoked);
}

TEST(Connect, CrlGoesStaleWhileConnected) {
  const Loaded policy(CrlPolicy(), {{"crl/fleet.crl", Ca().CrlPem({}, /*next_update=*/600)}});
  const CertificateInfo& cert = CnCert("sensor-1");
  EXPECT_TRUE(policy->CheckStillValid(cert, "sensor-1", Now()).allowed);
  EXPECT_EQ(policy->CheckStillValid(cert, "sensor-1", Now() + 3600).reason, Reason::kRevoked);
}

// StillValidUntil tells the Mosquitto plugin how long a connected client may go without a
// re-check, so CheckStillValid must give the same answer (and the same warning, or none) at every
// second up to it.
void ExpectSameAnswerUntil(const PolicySnapshot& snapshot, const CertificateInfo& cert, int64_t now,
                           int64_t until) {
  const Decision at_now = snapshot.CheckStillValid(cert, "sensor-1", now);
  for (const int64_t t : {now, now + 1, now + (until - now) / 2, until - 1, until}) {
    if (t < now) continue;
    const Decision later = snapshot.CheckStillValid(cert, "sensor-1", t);
    EXPECT_EQ(later.allowed, at_now.allowed) << "now + " << t - now;
    EXPECT_EQ(later.reason, at_now.reason) << "now + " << t - now;
    EXPECT_EQ(later.detail, at_now.detail) << "now + " << t - now;
  }
}

TEST(Connect, StillValidUntilIsTheIssuerCrlsNextUpdateWhileItIsFresh) {
  for (const char* mode : {"deny", "warn"}) {
    const Loaded policy(CrlPolicy(mode), {{"crl/fleet.crl", Ca().CrlPem({}, 600)}});
    const CertificateInfo& cert = CnCert("sensor-1");
    const int64_t now = Now();
    const int64_t next_update = policy->crls().FindIssuer(cert.issuer_dn)->next_update;
    ASSERT_LT(next_update, cert.not_after);
    EXPECT_EQ(policy->StillValidUntil(cert, now), next_update) << mode;
    ExpectSameAnswerUntil(*policy, cert, now, next_update);
    // The next second the answer changes: refused (deny), or admitted with a warning (warn).
    const Decision after = policy->CheckStillValid(cert, "sensor-1", next_update + 1);
    if (std::string(mode) == "deny") {
      EXPECT_EQ(after.reason, Reason::kRevoked);
    } else {
      EXPECT_TRUE(after.allowed);
      EXPECT_NE(after.detail.find("stale"), std::string::npos) << after.detail;
    }
  }
}

TEST(Connect, StillValidUntilIgnoresACrlAlreadyStaleUnderWarn) {
  // Nothing changes until notAfter: re-checking every second, as the plugin once did, parsed
  // every connected client's certificate again every second while a CRL was stale.
  const Loaded warn(CrlPolicy("warn"), {{"crl/fleet.crl", Ca().CrlPem({}, -60, -7200)}});
  const CertificateInfo& cert = CnCert("sensor-1");
  const int64_t now = Now();
  EXPECT_EQ(warn->StillValidUntil(cert, now), cert.not_after);
  ExpectSameAnswerUntil(*warn, cert, now, cert.not_after);
  EXPECT_EQ(warn->CheckStillValid(cert, "sensor-1", cert.not_after + 1).reason,
            Reason::kCertificateExpired);
}

TEST(Connect, StillValidUntilIsNowForACrlAlreadyStaleUnderDeny) {
  const Loaded deny(CrlPolicy("deny"), {{"crl/fleet.crl", Ca().CrlPem({}, -60, -7200)}});
  const CertificateInfo& cert = CnCert("sensor-1");
  const int64_t now = Now();
  EXPECT_EQ(deny->StillValidUntil(cert, now), now);
  EXPECT_EQ(deny->CheckStillValid(cert, "sensor-1", now).reason, Reason::kRevoked);
}

TEST(Connect, StillValidUntilIsNotAfterWithoutCrls) {
  const Loaded policy(CnPolicy(kOpenRules));
  const CertificateInfo& cert = CnCert("sensor-1");
  const int64_t now = Now();
  EXPECT_EQ(policy->StillValidUntil(cert, now), cert.not_after);
  ExpectSameAnswerUntil(*policy, cert, now, cert.not_after);
}

TEST(Connect, DenylistBySerialFingerprintAndId) {
  const Leaf by_serial = MakeLeaf(WithCn("sensor-1"));
  const Leaf by_sha = MakeLeaf(WithCn("sensor-2"));
  const Leaf by_id = MakeLeaf(WithCn("sensor-3"));
  const Leaf good = MakeLeaf(WithCn("sensor-4"));
  const std::string denylist = "# revoked devices\n\nserial:" + by_serial.issued.serial_hex +
                               "\n  sha256:" + by_sha.issued.sha256_hex +
                               "  # lost in transit\nid:sensor-3\n";
  const Loaded policy(R"(version: 1
identity:
  from:
    - cn: "{id}"
revocation:
  denylist: "revoked.txt"
)" + kOpenRules,
                      {{"revoked.txt", denylist}});
  for (const Leaf* leaf : {&by_serial, &by_sha, &by_id}) {
    const std::string id = leaf->info.common_names.at(0);
    const Decision d = policy.TryConnect(leaf->info, id);
    EXPECT_EQ(d.reason, Reason::kRevoked) << id;
    EXPECT_NE(d.Explain().find("revoked.txt"), std::string::npos) << d.Explain();
  }
  EXPECT_TRUE(policy.TryConnect(good.info, "sensor-4").allowed);
}

TEST(Connect, RevocationReachesLiveSessionsThroughANewSnapshot) {
  const Leaf leaf = MakeLeaf(WithCn("sensor-1"));
  TempDir dir;
  dir.Write("ca.crt", Ca().cert_pem());
  dir.Write("crl/fleet.crl", Ca().CrlPem({}));
  const std::string path = dir.Write("policy.yaml", CrlPolicy());
  auto before = PolicySnapshot::Load(path);
  ASSERT_TRUE(before.ok()) << before.error().message;
  DeviceSession session;
  ASSERT_TRUE((*before)->AuthorizeConnect(&leaf.info, "sensor-1", Now(), &session).allowed);

  dir.Write("crl/fleet.crl", Ca().CrlPem({leaf.issued.serial_hex}));
  auto after = PolicySnapshot::Load(path);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ((*after)->CheckStillValid(leaf.info, session.device_id, Now()).reason,
            Reason::kRevoked);
  EXPECT_EQ((*after)->Authorize(session, Action::kPublish, "sensor-1/x").reason,
            Reason::kStaleSession);
  EXPECT_EQ((*after)->AuthorizeConnect(&leaf.info, "sensor-1", Now(), nullptr).reason,
            Reason::kRevoked);
}

TEST(Connect, APolicyChangeThatRemovesTheIdentityRefusesTheDevice) {
  const Loaded before(CnPolicy(kOpenRules));
  const Loaded after(R"(version: 1
identity:
  from:
    - cn: "device-{id}"
)" + kOpenRules);
  EXPECT_TRUE(before.TryConnect(CnCert("sensor-1"), "sensor-1").allowed);
  EXPECT_EQ(after.TryConnect(CnCert("sensor-1"), "sensor-1").reason, Reason::kNoIdentity);
}

// ---------------------------------------------------------------------------------------------
// Hostile identities: refused at connect even under a policy that would grant them everything

const std::string kPermissiveHostile = R"(version: 1
identity:
  from:
    - cn: "{id}"
  client_id: any
rules:
  - for: all
    allow:
      publish: ["{id}/#", "dev/{id}"]
      subscribe: ["{id}/#", "dev/{id}"]
)";

TEST(HostileIdentity, WildcardOrSlashInTheCnIsRefused) {
  const Loaded policy(kPermissiveHostile);
  const std::string values[] = {"+",
                                "#",
                                "a/b",
                                "sensor/#",
                                "+/+",
                                "a+b",
                                "x#",
                                "/",
                                "\x01"
                                "x",
                                "tab\tx",
                                "\x7f"};
  for (const std::string& cn : values) {
    const Leaf leaf = MakeLeaf(WithCn(cn));
    DeviceSession session;
    const Decision d = policy.TryConnect(leaf.info, "c", &session);
    EXPECT_FALSE(d.allowed) << cn;
    EXPECT_EQ(d.reason, Reason::kIdentityNotSubstitutable) << cn;
    EXPECT_EQ(session.snapshot, nullptr) << cn;
  }
}

TEST(HostileIdentity, SlashOrWildcardCapturedFromASanIsRefused) {
  const Loaded policy(R"(version: 1
identity:
  from:
    - san_uri: "spiffe://iot.example.com/device/{id}"
  client_id: any
rules:
  - for: all
    allow:
      publish: ["{id}/#"]
)");
  for (const char* uri :
       {"spiffe://iot.example.com/device/a/b", "spiffe://iot.example.com/device/+",
        "spiffe://iot.example.com/device/%23"}) {
    const Leaf leaf = MakeLeaf(WithSan(&LeafSpec::san_uri, uri));
    const Decision d = policy.TryConnect(leaf.info, "c");
    if (std::string(uri).ends_with("%23")) {
      // Percent-encoding is not decoded: the id is the literal "%23", which is harmless.
      EXPECT_TRUE(d.allowed) << d.Explain();
      continue;
    }
    EXPECT_EQ(d.reason, Reason::kIdentityNotSubstitutable) << uri << ": " << d.Explain();
  }
}

TEST(HostileIdentity, EmptyCnGivesNoIdentity) {
  const Loaded policy(kPermissiveHostile);
  const Leaf leaf = MakeLeaf(WithCn(""));
  const Decision d = policy.TryConnect(leaf.info, "c");
  EXPECT_FALSE(d.allowed);
}

TEST(HostileIdentity, EmbeddedNulIsRefusedWhenTheCertificateIsRead) {
  const IssuedCertificate issued = Ca().Issue(WithCn(std::string("sensor-1\0/#", 11)));
  EXPECT_FALSE(CertificateInfo::FromPem(issued.cert_pem).ok());
  EXPECT_FALSE(CertificateInfo::FromSubjectStrings(std::string("sensor-1\0/#", 11),
                                                   std::string("CN=sensor-1\0/#", 14))
                   .ok());
}

TEST(HostileIdentity, HugeCnIsRefused) {
  const Loaded policy(kPermissiveHostile);
  DeviceSession session;
  // 10 KB: the identity template does not even try to match it (bounded matching cost), so the
  // refusal reads "no identity"; either way the device is out.
  const Leaf huge = MakeLeaf(WithCn(std::string(10 * 1024, 'a')));
  const Decision d = policy.TryConnect(huge.info, "c", &session);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.reason == Reason::kNoIdentity || d.reason == Reason::kIdentityNotSubstitutable)
      << d.Explain();
  EXPECT_EQ(session.snapshot, nullptr);
  // The explanation stays one short line, whatever the device sent.
  EXPECT_LT(d.Explain().size(), 400u) << d.Explain();

  // Just over the substitution limit: matched, then refused as an id.
  const Leaf long_cn = MakeLeaf(WithCn(std::string(kMaxPlaceholderValueBytes + 1, 'a')));
  const Decision too_long = policy.TryConnect(long_cn.info, "c");
  EXPECT_EQ(too_long.reason, Reason::kIdentityNotSubstitutable);
  EXPECT_LT(too_long.Explain().size(), 400u) << too_long.Explain();
  EXPECT_TRUE(
      policy.TryConnect(MakeLeaf(WithCn(std::string(kMaxPlaceholderValueBytes, 'a'))).info, "c")
          .allowed);
}

TEST(HostileIdentity, ThousandSansAreRefusedWhenTheCertificateIsRead) {
  LeafSpec spec = WithCn("sensor-1");
  for (int i = 0; i < 1000; ++i) spec.san_dns.push_back("d" + std::to_string(i) + ".example.com");
  const IssuedCertificate issued = Ca().Issue(spec);
  EXPECT_FALSE(CertificateInfo::FromPem(issued.cert_pem).ok());
}

TEST(HostileIdentity, HostileCnIsRefusedWhenARuleUsesItEvenIfTheIdComesFromASan) {
  const std::string rules_using_cn = R"(version: 1
identity:
  from:
    - san_dns: "{id}.devices.example.com"
rules:
  - for: all
    allow:
      publish: ["devices/{id}/#"]
  - for: all
    deny:
      publish: ["devices/{id}/{cn}"]
)";
  const Loaded uses_cn(rules_using_cn);
  LeafSpec spec = WithCn("#");
  spec.san_dns = {"sensor-1.devices.example.com"};
  const Leaf leaf = MakeLeaf(spec);
  // Skipping the deny rule would widen the grant; refusing the client is the only safe answer.
  EXPECT_EQ(uses_cn.TryConnect(leaf.info, "sensor-1").reason, Reason::kIdentityNotSubstitutable);

  // Without a CN at all `{cn}` has no value either.
  LeafSpec no_cn;
  no_cn.subject = {{"O", "Acme"}};
  no_cn.san_dns = {"sensor-1.devices.example.com"};
  EXPECT_EQ(uses_cn.TryConnect(MakeLeaf(no_cn).info, "sensor-1").reason,
            Reason::kIdentityNotSubstitutable);

  // A policy that never substitutes {cn} does not care what the CN holds.
  const Loaded ignores_cn(R"(version: 1
identity:
  from:
    - san_dns: "{id}.devices.example.com"
rules:
  - for: all
    allow:
      publish: ["devices/{id}/#"]
)");
  const Device d = ignores_cn.Connect(leaf.info, "sensor-1");
  EXPECT_TRUE(d.Pub("devices/sensor-1/x"));
  EXPECT_FALSE(d.Pub("devices/sensor-2/x"));
}

TEST(HostileIdentity, HostileClientIdIsRefusedWhenARuleUsesIt) {
  const Loaded policy(R"(version: 1
identity:
  from:
    - cn: "{id}"
  client_id: any
rules:
  - for: all
    allow:
      publish: ["clients/{client_id}/#"]
)");
  for (const std::string& client_id :
       {std::string("#"), std::string("+"), std::string("a/b"), std::string(""),
        std::string("x\0y", 3), std::string(300, 'c')}) {
    DeviceSession session;
    const Decision d = policy.TryConnect(CnCert("sensor-1"), client_id, &session);
    EXPECT_EQ(d.reason, Reason::kIdentityNotSubstitutable) << client_id;
    EXPECT_EQ(session.snapshot, nullptr);
  }
  const Device d = policy.Connect(CnCert("sensor-1"), "conn-1");
  EXPECT_TRUE(d.Pub("clients/conn-1/x"));
  EXPECT_FALSE(d.Pub("clients/conn-2/x"));
}

// ---------------------------------------------------------------------------------------------
// CN/DN-only identities (EMQX without peer_cert_as_username = pem)

CertificateInfo SubjectOnly(std::string_view cn, std::string_view dn) {
  auto info = CertificateInfo::FromSubjectStrings(cn, dn);
  EXPECT_TRUE(info.ok()) << (info.ok() ? "" : info.error().message);
  return info.ok() ? std::move(info).value() : CertificateInfo{};
}

TEST(SubjectOnly, WorksForCnAndSubjectPolicies) {
  const CertificateInfo info = SubjectOnly("sensor-1", "CN=sensor-1,OU=platform,O=Acme");
  ASSERT_FALSE(info.has_full_certificate);

  const Loaded by_cn(CnPolicy(R"(
groups:
  platform: { subject: { OU: "platform" } }
rules:
  - for: platform
    allow:
      publish: ["{id}/#"]
)"));
  const Device d = by_cn.Connect(info, "sensor-1");
  EXPECT_TRUE(d.Pub("sensor-1/x"));
  EXPECT_FALSE(d.Pub("sensor-2/x"));

  const Loaded by_dn(R"(version: 1
identity:
  from:
    - subject: "CN={id},OU=platform,O=Acme"
)" + kOpenRules);
  EXPECT_EQ(by_dn.Connect(info, "sensor-1").session.device_id, "sensor-1");

  // An id-only denylist needs nothing more than the id.
  const Loaded id_denylist(R"(version: 1
identity:
  from:
    - cn: "{id}"
revocation:
  denylist: revoked.txt
)" + kOpenRules,
                           {{"revoked.txt", "id:sensor-1\n"}});
  EXPECT_EQ(id_denylist.TryConnect(info, "sensor-1").reason, Reason::kRevoked);
  EXPECT_TRUE(id_denylist.TryConnect(SubjectOnly("sensor-2", "CN=sensor-2"), "sensor-2").allowed);
}

TEST(SubjectOnly, RefusedWhenThePolicyNeedsTheFullCertificate) {
  const CertificateInfo info = SubjectOnly("sensor-1", "CN=sensor-1,O=Acme");
  const Leaf any = MakeLeaf(WithCn("sensor-9"));
  struct Case {
    const char* what;
    std::string yaml;
    std::vector<std::pair<std::string, std::string>> files;
  };
  const Case cases[] = {
      {"san source",
       "version: 1\nidentity:\n  from:\n    - san_dns: \"{id}.example.com\"\n    - cn: "
       "\"{id}\"\n" +
           kOpenRules,
       {}},
      {"fingerprint source",
       "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\n    - fingerprint: \"{id}\"\n" +
           kOpenRules,
       {}},
      {"crl", CrlPolicy(), {{"crl/fleet.crl", Ca().CrlPem({})}}},
      {"require_issuer",
       "version: 1\nca: ca.crt\nidentity:\n  from:\n    - cn: \"{id}\"\n  require_issuer: "
       "true\n" +
           kOpenRules,
       {}},
      {"serial denylist",
       "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrevocation:\n  denylist: r.txt\n" +
           kOpenRules,
       {{"r.txt", "serial:" + any.issued.serial_hex + "\n"}}},
      {"sha256 denylist",
       "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrevocation:\n  denylist: r.txt\n" +
           kOpenRules,
       {{"r.txt", "sha256:" + any.issued.sha256_hex + "\n"}}},
  };
  for (const Case& c : cases) {
    const Loaded policy(c.yaml, c.files);
    DeviceSession session;
    const Decision d = policy.TryConnect(info, "sensor-1", &session);
    EXPECT_FALSE(d.allowed) << c.what;
    EXPECT_EQ(d.reason, Reason::kNeedsFullCertificate) << c.what << ": " << d.Explain();
    EXPECT_EQ(session.snapshot, nullptr) << c.what;
    // The same policy accepts a full certificate: the refusal is about what EMQX sent.
    EXPECT_TRUE(policy.TryConnect(CnCert("sensor-1"), "sensor-1").allowed) << c.what;
  }
}

TEST(SubjectOnly, HostileCnIsRefused) {
  const Loaded policy(kPermissiveHostile);
  for (const char* cn : {"#", "+", "a/b"}) {
    auto info = CertificateInfo::FromSubjectStrings(cn, std::string("CN=") + cn);
    if (!info.ok()) continue;  // refused while reading: just as safe
    EXPECT_EQ(policy.TryConnect(*info, "c").reason, Reason::kIdentityNotSubstitutable) << cn;
  }
}

// ---------------------------------------------------------------------------------------------
// Every decision explains itself

TEST(Explain, RuleDecisionsNameTheFilterLocation) {
  const std::string yaml = CnPolicy(R"(
rules:
  - for: all
    allow:
      publish: ["sensors/{id}/telemetry", "sensors/{id}/status"]
    deny:
      publish: ["sensors/{id}/status"]
)");
  const Loaded policy(yaml);
  const Device d = policy.Connect("sensor-1");

  const Decision allowed = d.Decide(Action::kPublish, "sensors/sensor-1/telemetry");
  ASSERT_TRUE(allowed.allowed);
  EXPECT_EQ(allowed.reason, Reason::kAllowedByRule);
  ASSERT_NE(allowed.rule, nullptr);
  const std::string allow_at = LocationOf(policy.path(), yaml, "\"sensors/{id}/telemetry\"");
  EXPECT_EQ(allowed.Explain(),
            "allow: rule " + allow_at + " (allow publish sensors/{id}/telemetry for all)");

  const Decision denied = d.Decide(Action::kPublish, "sensors/sensor-1/status");
  ASSERT_FALSE(denied.allowed);
  ASSERT_NE(denied.rule, nullptr);
  // The deny entry repeats the allow's filter text: locate the occurrence after `deny:`.
  const std::string expected_deny =
      LocationAt(policy.path(), yaml, yaml.find("\"sensors/{id}/status\"", yaml.find("deny:")));
  EXPECT_EQ(denied.Explain(),
            "deny: rule " + expected_deny + " (deny publish sensors/{id}/status for all)");
}

TEST(Explain, NonRuleDecisionsNameTheReason) {
  const Loaded policy(CnPolicy(kOpenRules));
  const Device d = policy.Connect("sensor-1");
  EXPECT_EQ(d.Decide(Action::kPublish, "elsewhere").Explain(),
            "deny: no allow rule matches (default deny)");
  EXPECT_EQ(d.Decide(Action::kUnsubscribe, "#").Explain(), "allow: unsubscribe is always allowed");
  EXPECT_EQ(d.Decide(Action::kPublish, "a/+").Explain(), "deny: invalid topic or filter");

  const Decision mismatch = policy.TryConnect(CnCert("sensor-1"), "sensor-2");
  EXPECT_NE(mismatch.Explain().find("client id does not match"), std::string::npos)
      << mismatch.Explain();
  EXPECT_NE(mismatch.Explain().find("sensor-2"), std::string::npos) << mismatch.Explain();
  const Decision ok = policy.TryConnect(CnCert("sensor-1"), "sensor-1");
  EXPECT_NE(ok.Explain().find("sensor-1"), std::string::npos) << ok.Explain();
  EXPECT_EQ(policy->AuthorizeConnect(nullptr, "x", Now(), nullptr).Explain(),
            "deny: no client certificate");
}

// ---------------------------------------------------------------------------------------------
// Sessions belong to the snapshot that authorised them

TEST(Session, ASessionFromAnOldSnapshotIsDeniedByANewOne) {
  TempDir dir;
  dir.Write("ca.crt", Ca().cert_pem());
  const std::string path = dir.Write("policy.yaml", CnPolicy(kOpenRules));
  auto old_snapshot = PolicySnapshot::Load(path);
  auto new_snapshot = PolicySnapshot::Load(path);
  ASSERT_TRUE(old_snapshot.ok() && new_snapshot.ok());
  DeviceSession session;
  ASSERT_TRUE(
      (*old_snapshot)->AuthorizeConnect(&CnCert("sensor-1"), "sensor-1", Now(), &session).allowed);
  EXPECT_TRUE((*old_snapshot)->Authorize(session, Action::kPublish, "sensor-1/x").allowed);
  const Decision stale = (*new_snapshot)->Authorize(session, Action::kPublish, "sensor-1/x");
  EXPECT_FALSE(stale.allowed);
  EXPECT_EQ(stale.reason, Reason::kStaleSession);
  // Re-authorising against the new snapshot gives a session it honours.
  DeviceSession fresh;
  ASSERT_TRUE(
      (*new_snapshot)->AuthorizeConnect(&CnCert("sensor-1"), "sensor-1", Now(), &fresh).allowed);
  EXPECT_TRUE((*new_snapshot)->Authorize(fresh, Action::kPublish, "sensor-1/x").allowed);
  // A default-constructed session belongs to no snapshot.
  EXPECT_EQ((*new_snapshot)->Authorize(DeviceSession{}, Action::kPublish, "x").reason,
            Reason::kStaleSession);
}

TEST(Session, TheSessionKeepsItsSnapshotAlive) {
  Device d;
  {
    const Loaded policy(CnPolicy(kOpenRules));
    d = policy.Connect("sensor-1");
  }  // the policy's directory and the Loaded holder are gone
  EXPECT_TRUE(d.Pub("sensor-1/x"));
  const Decision decided = d.Decide(Action::kPublish, "sensor-1/x");
  ASSERT_NE(decided.rule, nullptr);
  EXPECT_EQ(decided.rule->filter, "{id}/#");
}

}  // namespace
}  // namespace certguard
