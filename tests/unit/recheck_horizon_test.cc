#include "mosquitto-plugin/recheck_horizon.h"

#include <gtest/gtest.h>

namespace certguard::mosquitto_plugin {
namespace {

TEST(RecheckHorizon, HoldsAtAnyTimeWithNoClient) {
  const RecheckHorizon horizon;
  EXPECT_TRUE(horizon.Holds(0));
  EXPECT_TRUE(horizon.Holds(4'000'000'000));
}

TEST(RecheckHorizon, HoldsFromTheLatestNotBeforeToTheEarliestValidUntil) {
  RecheckHorizon horizon;
  horizon.Narrow(100, 1000);
  horizon.Narrow(200, 800);
  horizon.Narrow(150, 900);
  EXPECT_FALSE(horizon.Holds(199));  // the clock went back before a client's notBefore
  EXPECT_TRUE(horizon.Holds(200));
  EXPECT_TRUE(horizon.Holds(800));
  EXPECT_FALSE(horizon.Holds(801));  // the earliest client is due
}

TEST(RecheckHorizon, KeepsItsNarrowestSpanUntilAPassFinishes) {
  RecheckHorizon horizon;
  horizon.Narrow(100, 500);   // a client that will leave
  horizon.Narrow(100, 1000);  // one that stays
  EXPECT_FALSE(horizon.Holds(600));
  horizon.BeginPass();
  EXPECT_FALSE(horizon.Holds(600)) << "a pass under way must not widen the span";
  horizon.Narrow(100, 1000);  // the pass visits the client that stayed
  horizon.FinishPass();
  EXPECT_TRUE(horizon.Holds(600));
  EXPECT_FALSE(horizon.Holds(1001));
}

TEST(RecheckHorizon, CountsClientsAdmittedDuringAPass) {
  RecheckHorizon horizon;
  horizon.Narrow(100, 1000);
  horizon.BeginPass();
  horizon.Narrow(100, 700);  // admitted while the pass runs, not in its copy of the clients
  horizon.Narrow(100, 1000);
  horizon.FinishPass();
  EXPECT_FALSE(horizon.Holds(701));
}

TEST(RecheckHorizon, RestartedPassForgetsWhatTheAbandonedOneSaw) {
  RecheckHorizon horizon;
  horizon.Narrow(100, 1000);
  horizon.BeginPass();
  horizon.Narrow(100, 300);  // seen by a pass that a snapshot swap restarts
  horizon.BeginPass();
  horizon.Narrow(100, 1000);  // the client, rebound by the new pass
  horizon.FinishPass();
  EXPECT_TRUE(horizon.Holds(301));
}

TEST(RecheckHorizon, EmptyPassHoldsForever) {
  RecheckHorizon horizon;
  horizon.Narrow(100, 300);
  horizon.BeginPass();  // every client has left
  horizon.FinishPass();
  EXPECT_TRUE(horizon.Holds(10'000));
}

}  // namespace
}  // namespace certguard::mosquitto_plugin
