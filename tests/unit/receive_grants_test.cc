// The Mosquitto plugin allows a delivery when a subscription its snapshot allowed matches the
// topic (mosquitto-plugin/receive_grants.h). That is only sound if an allowed subscription
// proves every receive it can carry: checked here on generated policies, against the full
// decision, before the bookkeeping itself.
#include "mosquitto-plugin/receive_grants.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "shared/certificate_info.h"
#include "shared/policy.h"
#include "shared/topic_filter.h"
#include "tests/support/joined_levels.h"

namespace certguard::mosquitto_plugin {
namespace {

using certguard::testing::JoinedLevels;

constexpr uint64_t kSerial = 7;

// --- Soundness: an allowed subscription proves its receives -------------------------------------

// A policy of random subscribe rules for `all` and for the device `dev` itself, with
// placeholders ({id}, {cn}, {client_id} all "dev" here) beside the literal "dev" they equal.
std::string RandomPolicy(std::mt19937_64& rng) {
  static const std::vector<std::string> kRuleLevels = {"a",    "b",     "$s", "",  "dev",
                                                       "{id}", "x{cn}", "+",  "#", "{client_id}"};
  const auto filter = [&] {
    std::string out;
    while (out.empty()) {  // one empty level is no filter
      const size_t depth = 1 + rng() % 3;
      for (size_t i = 0; i < depth; ++i) {
        std::string level = kRuleLevels[rng() % kRuleLevels.size()];
        if (level == "#" && i + 1 != depth) level = "+";
        out += (i > 0 ? "/" : "") + level;
      }
    }
    return out;
  };
  const auto list = [&](size_t count) {
    std::string out = "[";
    for (size_t i = 0; i < count; ++i) out += (i > 0 ? ", \"" : "\"") + filter() + "\"";
    return out + "]";
  };
  std::string yaml = "version: 1\nidentity:\n  from:\n    - cn: \"{id}\"\nrules:\n";
  yaml += "  - for: all\n    allow:\n      subscribe: " + list(1 + rng() % 3) + "\n";
  if (rng() % 4 != 0) yaml += "    deny:\n      subscribe: " + list(1 + rng() % 2) + "\n";
  if (rng() % 2 == 0) {
    yaml += "  - for: { id: dev }\n    allow:\n      subscribe: " + list(1 + rng() % 2) + "\n";
  }
  if (rng() % 3 == 0) yaml += "  - for: { id: dev }\n    deny:\n      subscribe: " + list(1) + "\n";
  return yaml;
}

TEST(ReceiveGrants, AnAllowedSubscriptionProvesEveryReceiveItCanCarryOnGeneratedPolicies) {
  std::mt19937_64 rng(0x6ea7'5eed);
  const std::vector<std::string> levels = {"a", "b", "$s", "", "dev", "xdev", "c"};
  std::vector<std::string> subscriptions;
  for (std::string& filter : JoinedLevels({"a", "b", "$s", "", "dev", "xdev", "+", "#"}, 3)) {
    if (!IsValidTopicFilter(filter)) continue;
    subscriptions.push_back("$share/g/" + filter);
    subscriptions.push_back(std::move(filter));
  }
  const std::vector<std::string> topics = JoinedLevels(levels, 4);
  const PlaceholderValues values{"dev", "dev", "dev"};
  const CertificateInfo certificate;

  size_t allowed_subscriptions = 0;
  size_t proved_receives = 0;
  size_t policies_with_a_denial_in_play = 0;
  size_t failures = 0;
  for (int p = 0; p < 150; ++p) {
    const std::string yaml = RandomPolicy(rng);
    auto parsed = Policy::Parse(yaml, "policy.yaml");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << yaml;
    const Policy& policy = *parsed.value();
    const auto permissions = policy.PermissionsFor("dev", certificate);
    const auto allowed = [&](Action action, std::string_view topic) {
      return policy.Authorize(action, permissions, values, topic).allowed;
    };
    for (const std::string& subscription : subscriptions) {
      if (!allowed(Action::kSubscribe, subscription)) continue;
      ++allowed_subscriptions;
      ReceiveGrants grants;
      grants.Grant(kSerial, subscription);
      ASSERT_EQ(grants.size(), 1u) << subscription;
      for (const std::string& topic : topics) {
        const bool covered = grants.Cover(kSerial, topic);
        EXPECT_EQ(covered, TopicMatchesFilter(topic, StripSharedSubscription(subscription)))
            << subscription << " " << topic;
        if (!covered) continue;
        ++proved_receives;
        const Decision receive = policy.Authorize(Action::kReceive, permissions, values, topic);
        if (!receive.allowed && ++failures <= 20) {
          ADD_FAILURE() << "subscribing to '" << subscription << "' is allowed, receiving '"
                        << topic << "' is not (" << receive.Explain() << ")\n"
                        << yaml;
        }
      }
    }
    // Some topic of this policy that an allow rule matches but a deny rule takes back.
    for (const std::string& topic : topics) {
      if (policy.Authorize(Action::kReceive, permissions, values, topic).reason ==
          Reason::kDeniedByRule) {
        ++policies_with_a_denial_in_play;
        break;
      }
    }
  }
  std::cout << "[ receive grants ] " << allowed_subscriptions << " allowed subscriptions, "
            << proved_receives << " receives they prove, " << policies_with_a_denial_in_play
            << " of 150 policies with a receive denied by rule\n";
  EXPECT_EQ(failures, 0u);
  // Guard against generated policies that test nothing interesting.
  EXPECT_GT(allowed_subscriptions, 1000u);
  EXPECT_GT(proved_receives, 10'000u);
  EXPECT_GT(policies_with_a_denial_in_play, 30u);
}

// --- The bookkeeping ----------------------------------------------------------------------------

TEST(ReceiveGrants, CoversTopicsTheGrantedFiltersMatch) {
  ReceiveGrants grants;
  EXPECT_FALSE(grants.Cover(kSerial, "sensors/s-1/telemetry"));
  grants.Grant(kSerial, "sensors/+/telemetry");
  grants.Grant(kSerial, "$share/workers/devices/+/status");
  EXPECT_TRUE(grants.Cover(kSerial, "sensors/s-1/telemetry"));
  EXPECT_TRUE(grants.Cover(kSerial, "devices/s-2/status"));
  EXPECT_FALSE(grants.Cover(kSerial, "sensors/s-1/status"));
  EXPECT_FALSE(grants.Cover(kSerial, "$share/workers/devices/s-2/status"));
}

TEST(ReceiveGrants, AnotherSnapshotCoversNothing) {
  ReceiveGrants grants;
  grants.Grant(kSerial, "sensors/#");
  EXPECT_FALSE(grants.Cover(kSerial + 1, "sensors/s-1/telemetry"));
  EXPECT_FALSE(grants.Cover(0, "sensors/s-1/telemetry"));
  // A grant under a newer snapshot drops what the older one proved.
  grants.Grant(kSerial + 1, "devices/#");
  EXPECT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants.Cover(kSerial + 1, "sensors/s-1/telemetry"));
  EXPECT_TRUE(grants.Cover(kSerial + 1, "devices/s-1/status"));
}

TEST(ReceiveGrants, NothingIsGrantedUnderSerialZero) {
  ReceiveGrants grants;
  grants.Grant(0, "sensors/#");
  EXPECT_TRUE(grants.empty());
  EXPECT_FALSE(grants.Cover(0, "sensors/s-1"));
}

TEST(ReceiveGrants, ReproveKeepsOnlyWhatIsStillAllowedUnderTheNewSerial) {
  ReceiveGrants grants;
  grants.Grant(kSerial, "sensors/+/telemetry");
  grants.Grant(kSerial, "devices/+/status");
  grants.Reprove(kSerial + 1,
                 [](std::string_view subscription) { return subscription == "devices/+/status"; });
  EXPECT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants.Cover(kSerial, "devices/s-1/status"));
  EXPECT_FALSE(grants.Cover(kSerial + 1, "sensors/s-1/telemetry"));
  EXPECT_TRUE(grants.Cover(kSerial + 1, "devices/s-1/status"));
}

TEST(ReceiveGrants, UnsubscribingForgetsExactlyThatSubscription) {
  ReceiveGrants grants;
  grants.Grant(kSerial, "sensors/#");
  grants.Grant(kSerial, "$share/g/sensors/#");
  grants.Forget("sensors/#");
  EXPECT_EQ(grants.size(), 1u);
  EXPECT_TRUE(grants.Cover(kSerial, "sensors/s-1"));  // through the shared subscription
  grants.Forget("$share/g/sensors/#");
  EXPECT_FALSE(grants.Cover(kSerial, "sensors/s-1"));
  grants.Forget("never/subscribed");
  EXPECT_TRUE(grants.empty());
}

TEST(ReceiveGrants, KeepsTheNewestFiltersAndEachOnce) {
  ReceiveGrants grants;
  grants.Grant(kSerial, "f/0");
  grants.Grant(kSerial, "f/0");
  EXPECT_EQ(grants.size(), 1u);
  for (size_t i = 1; i <= ReceiveGrants::kMaxFilters; ++i) {
    grants.Grant(kSerial, "f/" + std::to_string(i));
  }
  EXPECT_EQ(grants.size(), ReceiveGrants::kMaxFilters);
  EXPECT_FALSE(grants.Cover(kSerial, "f/0"));
  EXPECT_TRUE(grants.Cover(kSerial, "f/1"));
  EXPECT_TRUE(grants.Cover(kSerial, "f/" + std::to_string(ReceiveGrants::kMaxFilters)));
}

TEST(ReceiveGrants, LongSubscriptionsAreLeftToTheFullDecision) {
  ReceiveGrants grants;
  const std::string long_filter = "sensors/" + std::string(60, 'x') + "/#";
  grants.Grant(kSerial, long_filter);
  grants.Grant(kSerial, "$share/" + std::string(250, 'g') + "/sensors/#");
  EXPECT_TRUE(grants.empty());
  grants.Grant(kSerial, "$share/" + std::string(200, 'g') + "/sensors/#");
  EXPECT_TRUE(grants.Cover(kSerial, "sensors/s-1"));
  grants.Forget("$share/" + std::string(200, 'g') + "/sensors/#");
  EXPECT_TRUE(grants.empty());
}

TEST(ReceiveGrants, InvalidSubscriptionsAndTopicsGrantNothing) {
  ReceiveGrants grants;
  grants.Grant(kSerial, "a/#/b");
  grants.Grant(kSerial, "$share/g");
  EXPECT_TRUE(grants.empty());
  grants.Grant(kSerial, "#");
  EXPECT_FALSE(grants.Cover(kSerial, ""));
  EXPECT_FALSE(grants.Cover(kSerial, "a/+"));
  EXPECT_FALSE(grants.Cover(kSerial, std::string_view("a\0b", 3)));
  EXPECT_FALSE(grants.Cover(kSerial, "$SYS/broker/uptime"));
  EXPECT_TRUE(grants.Cover(kSerial, "a/b"));
}

}  // namespace
}  // namespace certguard::mosquitto_plugin
