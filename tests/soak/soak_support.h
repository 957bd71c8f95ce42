#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/file_limit.h"

// What both soak tests share: how long to run, file descriptor limits, a process's RSS, and the
// figures they print.
namespace certguard::soak {

// CERTGUARD_SOAK_SECONDS if set (scripts/soak.sh), else CERTGUARD_SOAK_DEFAULT_SECONDS (ctest
// sets 20 so that CI can afford it), else 60.
inline int SoakSeconds() {
  for (const char* name : {"CERTGUARD_SOAK_SECONDS", "CERTGUARD_SOAK_DEFAULT_SECONDS"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      const int seconds = std::atoi(value);
      if (seconds > 0) return seconds;
    }
  }
  return 60;
}

// An integer from the environment, for tuning a soak on a slower or faster machine.
inline int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value) : fallback;
}

using certguard::testing::RaiseFileLimit;

// VmRSS of /proc/PID/status, in KiB; 0 when the process is gone.
inline long RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// One line of figures: "[ SOAK ] name: value", also recorded in the test's XML output.
template <typename T>
void Figure(const std::string& name, const T& value) {
  std::ostringstream text;
  text << value;
  std::cout << "[ SOAK     ] " << name << ": " << text.str() << std::endl;
}

using Clock = std::chrono::steady_clock;
inline double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// A server's RSS over a soak run, in KiB. The first quarter of the run (at least 5 s) warms up:
// connections, caches and arenas reach their working size, and growth is measured after it.
struct RssWatch {
  bool ran = true;  // the server lived to the end of the run
  long after_warm_up = 0;
  long peak = 0;
  long at_end = 0;

  // RSS at the end over RSS after warm-up; 0 when there was no warm-up sample.
  double Growth() const {
    return after_warm_up > 0 ? static_cast<double>(at_end) / static_cast<double>(after_warm_up) : 0;
  }
};

// Whether RSS growth says anything about us. AddressSanitizer holds freed memory in quarantine
// (256 MB by default) before reusing it, so an instrumented server's RSS climbs through a whole
// run without a leak. The sanitizer build (stage 2 of scripts/test.sh) runs the soaks for memory
// errors and decisions and reports RSS; the plain build (stage 1) asserts the bound.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kRssBoundApplies = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kRssBoundApplies = false;
#else
inline constexpr bool kRssBoundApplies = true;
#endif
#else
inline constexpr bool kRssBoundApplies = true;
#endif

// Samples `server`'s RSS once a second until `seconds` after `start`; stops early if it dies.
// Server: MosquittoBroker or ExhookProcess (IsRunning, pid).
template <typename Server>
RssWatch WatchRss(Server& server, Clock::time_point start, int seconds) {
  RssWatch watch;
  const auto warm_up = std::chrono::seconds(std::max(5, seconds / 4));
  const auto end = start + std::chrono::seconds(seconds);
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    std::this_thread::sleep_until(std::min(end, now + std::chrono::seconds(1)));
    if (!server.IsRunning()) {
      watch.ran = false;
      break;
    }
    const long rss = RssKib(server.pid());
    watch.peak = std::max(watch.peak, rss);
    if (watch.after_warm_up == 0 && Clock::now() >= start + warm_up) watch.after_warm_up = rss;
  }
  watch.at_end = RssKib(server.pid());
  return watch;
}

}  // namespace certguard::soak
