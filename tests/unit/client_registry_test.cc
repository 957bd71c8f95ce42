// The Mosquitto plugin's client registry: found by connection on the hot path, but never lending
// one client's state to another that happens to get the same connection address.
#include "mosquitto-plugin/client_registry.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace certguard::mosquitto_plugin {
namespace {

// Connections are only compared by address: any distinct addresses will do.
struct Connections {
  char bytes[3] = {};
  const struct mosquitto* operator[](int i) const {
    return reinterpret_cast<const struct mosquitto*>(&bytes[i]);
  }
};

ClientState Connected(const struct mosquitto* connection, std::string device_id) {
  ClientState state;
  state.connection = connection;
  state.session.device_id = std::move(device_id);
  return state;
}

TEST(ClientRegistry, FindsAConnectedClientByConnectionAndById) {
  Connections c;
  ClientRegistry registry;
  registry.Put("dev-1", Connected(c[0], "dev-1"));
  registry.Put("dev-2", Connected(c[1], "dev-2"));
  ASSERT_NE(registry.Find(c[0], "dev-1"), nullptr);
  EXPECT_EQ(registry.Find(c[0], "dev-1")->session.device_id, "dev-1");
  EXPECT_EQ(registry.Find(c[1], "dev-2")->session.device_id, "dev-2");
  EXPECT_EQ(registry.Find(c[0], "dev-1"), registry.Find("dev-1"));
}

TEST(ClientRegistry, AReusedConnectionAddressDoesNotLendAnotherClientsState) {
  Connections c;
  ClientRegistry registry;
  registry.Put("dev-1", Connected(c[0], "dev-1"));
  // A client certguard never admitted arrives on the same address: it is not dev-1.
  EXPECT_EQ(registry.Find(c[0], "intruder"), nullptr);
  // A known client checked through another connection's address is still itself.
  registry.Put("dev-2", Connected(c[1], "dev-2"));
  EXPECT_EQ(registry.Find(c[0], "dev-2")->session.device_id, "dev-2");
}

TEST(ClientRegistry, ADetachedDurableSessionIsFoundByIdOnly) {
  Connections c;
  ClientRegistry registry;
  ClientState& state = registry.Put("dev-1", Connected(c[0], "dev-1"));
  registry.Detach(state);
  EXPECT_EQ(state.connection, nullptr);
  // Deliveries to the offline session come with the old connection: still found, by id.
  ASSERT_NE(registry.Find(c[0], "dev-1"), nullptr);
  EXPECT_EQ(registry.Find(c[0], "dev-1")->connection, nullptr);
  // The freed address goes to another client, which must not be taken for dev-1.
  registry.Put("dev-2", Connected(c[0], "dev-2"));
  EXPECT_EQ(registry.Find(c[0], "dev-2")->session.device_id, "dev-2");
  EXPECT_EQ(registry.Find(c[0], "dev-1")->session.device_id, "dev-1");
}

TEST(ClientRegistry, ATakeoverReplacesTheStateAndItsConnection) {
  Connections c;
  ClientRegistry registry;
  registry.Put("dev-1", Connected(c[0], "old"));
  registry.Put("dev-1", Connected(c[1], "new"));
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.Find(c[1], "dev-1")->session.device_id, "new");
  // The old connection's address now means nothing; by id it is the new state.
  EXPECT_EQ(registry.Find(c[0], "dev-1")->session.device_id, "new");
  registry.Put("dev-3", Connected(c[0], "dev-3"));
  EXPECT_EQ(registry.Find(c[0], "dev-3")->session.device_id, "dev-3");
}

TEST(ClientRegistry, ErasingAStaleStateKeepsTheAddressOfItsSuccessor) {
  Connections c;
  ClientRegistry registry;
  // dev-1's state still names c[0] (its end was never seen) when dev-2 is admitted on c[0].
  registry.Put("dev-1", Connected(c[0], "dev-1"));
  registry.Put("dev-2", Connected(c[0], "dev-2"));
  registry.Erase("dev-1");
  EXPECT_EQ(registry.Find("dev-1"), nullptr);
  EXPECT_EQ(registry.Find(c[0], "dev-1"), nullptr);
  ASSERT_NE(registry.Find(c[0], "dev-2"), nullptr);
  EXPECT_EQ(registry.Find(c[0], "dev-2")->session.device_id, "dev-2");
  registry.Erase("dev-2");
  EXPECT_EQ(registry.Find(c[0], "dev-2"), nullptr);
  EXPECT_EQ(registry.size(), 0u);
}

// The sweep's walk, a bucket at a time between the broker's ticks.

ClientState Offline(std::string device_id) { return Connected(nullptr, std::move(device_id)); }

std::string Id(int i) { return "dev-" + std::to_string(i); }

// Steps `walk` `steps` times (or to its end), counting visits by id.
void Step(ClientRegistry& registry, ClientRegistry::Walk& walk, int steps,
          std::map<std::string, int>& visits) {
  for (int i = 0; i < steps; ++i) {
    if (!registry.VisitNextBucket(walk,
                                  [&](const std::string& id, ClientState&) { ++visits[id]; })) {
      return;
    }
  }
}

TEST(ClientRegistryWalk, VisitsEveryClientOnceAndThenEnds) {
  ClientRegistry registry;
  for (int i = 0; i < 1000; ++i) registry.Put(Id(i), Offline(Id(i)));
  ClientRegistry::Walk walk = registry.BeginWalk();
  std::map<std::string, int> visits;
  Step(registry, walk, 1 << 30, visits);
  EXPECT_FALSE(walk.under_way);
  ASSERT_EQ(visits.size(), 1000u);
  for (const auto& [id, count] : visits) EXPECT_EQ(count, 1) << id;
  EXPECT_FALSE(registry.VisitNextBucket(walk, [](const std::string&, ClientState&) {}));
}

TEST(ClientRegistryWalk, AnEmptyRegistryEndsTheWalkAtOnce) {
  ClientRegistry registry;
  ClientRegistry::Walk walk = registry.BeginWalk();
  std::map<std::string, int> visits;
  Step(registry, walk, 1 << 30, visits);
  EXPECT_FALSE(walk.under_way);
  EXPECT_TRUE(visits.empty());
  EXPECT_FALSE(ClientRegistry::Walk().under_way);
}

// Clients connecting between steps grow the map past its buckets: the walk must still reach
// every client that was there all along (a missed one would keep a revoked device connected).
TEST(ClientRegistryWalk, ReachesEveryOriginalClientWhenTheMapRehashesMidWalk) {
  ClientRegistry registry;
  for (int i = 0; i < 100; ++i) registry.Put(Id(i), Offline(Id(i)));
  ClientRegistry::Walk walk = registry.BeginWalk();
  const size_t buckets_before = walk.bucket_count;
  std::map<std::string, int> visits;
  Step(registry, walk, static_cast<int>(buckets_before / 2), visits);
  ASSERT_TRUE(walk.under_way);
  for (int i = 100; i < 5000; ++i) registry.Put(Id(i), Offline(Id(i)));
  Step(registry, walk, 1 << 30, visits);
  EXPECT_FALSE(walk.under_way);
  EXPECT_GT(walk.bucket_count, buckets_before);  // the map did rehash
  for (int i = 0; i < 100; ++i) EXPECT_GE(visits[Id(i)], 1) << Id(i);
}

TEST(ClientRegistryWalk, ClientsErasedBetweenStepsAreNotVisitedAndTheRestAre) {
  ClientRegistry registry;
  for (int i = 0; i < 1000; ++i) registry.Put(Id(i), Offline(Id(i)));
  ClientRegistry::Walk walk = registry.BeginWalk();
  std::map<std::string, int> visits;
  Step(registry, walk, 10, visits);
  for (int i = 0; i < 1000; i += 2) {
    if (!visits.contains(Id(i))) registry.Erase(Id(i));
  }
  std::map<std::string, int> later;
  Step(registry, walk, 1 << 30, later);
  for (int i = 0; i < 1000; ++i) {
    const bool erased = i % 2 == 0 && !visits.contains(Id(i));
    EXPECT_EQ(later.contains(Id(i)), !erased && !visits.contains(Id(i))) << Id(i);
  }
}

}  // namespace
}  // namespace certguard::mosquitto_plugin
