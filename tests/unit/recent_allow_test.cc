// The Mosquitto plugin's memo of a client's last allowed publish or receive: it may only ever
// repeat an answer for exactly the same bytes, action and snapshot.
#include "mosquitto-plugin/recent_allow.h"

#include <string>

#include <gtest/gtest.h>

namespace certguard::mosquitto_plugin {
namespace {

constexpr uint64_t kSerial = 7;

TEST(RecentAllow, RemembersNothingAtFirst) {
  const RecentAllow memo;
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, "a"));
  EXPECT_FALSE(memo.Holds(0, Action::kPublish, ""));
}

TEST(RecentAllow, HoldsTheSameTopicActionAndSerial) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "sensors/s-1/telemetry");
  EXPECT_TRUE(memo.Holds(kSerial, Action::kPublish, "sensors/s-1/telemetry"));
}

TEST(RecentAllow, AnotherSnapshotVoidsIt) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "sensors/s-1/telemetry");
  EXPECT_FALSE(memo.Holds(kSerial + 1, Action::kPublish, "sensors/s-1/telemetry"));
}

TEST(RecentAllow, AnotherActionIsNotHeld) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kReceive, "sensors/s-1/telemetry");
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, "sensors/s-1/telemetry"));
  EXPECT_FALSE(memo.Holds(kSerial, Action::kSubscribe, "sensors/s-1/telemetry"));
}

TEST(RecentAllow, OnlyTheExactBytesAreHeld) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "sensors/s-1/telemetry");
  for (const char* other : {"sensors/s-1/telemetr", "sensors/s-1/telemetryx",
                            "sensors/s-2/telemetry", "Sensors/s-1/telemetry",
                            "sensors/s-1/telemetry/", "sensors/+/telemetry", "sensors/#", ""}) {
    EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, other)) << other;
  }
  // A NUL inside the bytes compared is a difference too, not the end of the topic.
  EXPECT_FALSE(
      memo.Holds(kSerial, Action::kPublish, std::string_view("sensors/s-1/telemetry\0", 22)));
}

TEST(RecentAllow, ForgetVoidsIt) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "a/b");
  memo.Forget();
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, "a/b"));
}

TEST(RecentAllow, ANewEntryReplacesTheLastOne) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "a/b");
  memo.Remember(kSerial, Action::kReceive, "c/d");
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, "a/b"));
  EXPECT_TRUE(memo.Holds(kSerial, Action::kReceive, "c/d"));
}

TEST(RecentAllow, TopicsLongerThanAnEntryAreNotRememberedAndLeaveTheLastOne) {
  RecentAllow memo;
  memo.Remember(kSerial, Action::kPublish, "a/b");
  const std::string fits(RecentAllow::kMaxTopicBytes, 'x');
  const std::string too_long(RecentAllow::kMaxTopicBytes + 1, 'x');
  memo.Remember(kSerial, Action::kPublish, too_long);
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, too_long));
  EXPECT_TRUE(memo.Holds(kSerial, Action::kPublish, "a/b"));
  // Not even its prefix that would have fitted.
  EXPECT_FALSE(memo.Holds(kSerial, Action::kPublish, fits));
  memo.Remember(kSerial, Action::kPublish, fits);
  EXPECT_TRUE(memo.Holds(kSerial, Action::kPublish, fits));
}

}  // namespace
}  // namespace certguard::mosquitto_plugin
