// The Mosquitto plugin's client registry: found by connection on the hot path, but never lending
// one client's state to another that happens to get the same connection address.
#include "mosquitto-plugin/client_registry.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace certguard::mosquitto_plugin
