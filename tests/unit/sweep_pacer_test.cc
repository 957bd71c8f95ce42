#include "mosquitto-plugin/sweep_pacer.h"

#include <gtest/gtest.h>

namespace certguard::mosquitto_plugin {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using TimePoint = SweepPacer::Clock::time_point;

const TimePoint kStart = TimePoint() + std::chrono::hours(1);

TEST(SweepPacer, RunsAtOnceBeforeAnySlice) {
  const SweepPacer pacer(milliseconds(1), 3);
  EXPECT_TRUE(pacer.MayRun(kStart));
}

TEST(SweepPacer, StopsASliceAfterItsBudget) {
  const SweepPacer pacer(milliseconds(1), 3);
  EXPECT_EQ(pacer.Deadline(kStart), kStart + milliseconds(1));
}

TEST(SweepPacer, RestsThreeTimesAsLongAsAnUnfinishedSliceTook) {
  SweepPacer pacer(milliseconds(1), 3);
  const TimePoint end = kStart + microseconds(1200);  // a slice overruns by the client it was on
  pacer.SliceEnded(kStart, end);
  EXPECT_FALSE(pacer.MayRun(end));
  EXPECT_FALSE(pacer.MayRun(end + microseconds(3599)));
  EXPECT_TRUE(pacer.MayRun(end + microseconds(3600)));
}

TEST(SweepPacer, AShortSliceRestsLittle) {
  SweepPacer pacer(milliseconds(1), 3);
  const TimePoint end = kStart + microseconds(100);
  pacer.SliceEnded(kStart, end);
  EXPECT_FALSE(pacer.MayRun(end + microseconds(299)));
  EXPECT_TRUE(pacer.MayRun(end + microseconds(300)));
}

TEST(SweepPacer, TheNextSweepNeedNotWaitOnceOneHasFinished) {
  SweepPacer pacer(milliseconds(1), 3);
  pacer.SliceEnded(kStart, kStart + milliseconds(1));
  const TimePoint last = kStart + milliseconds(4);
  pacer.SweepFinished();
  EXPECT_TRUE(pacer.MayRun(last + microseconds(500)));
}

TEST(SweepPacer, KeepsTheBrokersShareOfItsThreadOverManySlices) {
  // Ticks come as fast as the broker's loop turns (here every 10 us): the sweep gets at most a
  // quarter of the thread's time however often it is offered a slice.
  SweepPacer pacer(milliseconds(1), 3);
  SweepPacer::Clock::duration busy{};
  TimePoint now = kStart;
  const TimePoint until = kStart + milliseconds(400);
  while (now < until) {
    if (pacer.MayRun(now)) {
      const TimePoint end = pacer.Deadline(now);
      busy += end - now;
      pacer.SliceEnded(now, end);
      now = end;
    }
    now += microseconds(10);
  }
  EXPECT_LE(busy, milliseconds(101));
  EXPECT_GE(busy, milliseconds(95));
}

}  // namespace
}  // namespace certguard::mosquitto_plugin
