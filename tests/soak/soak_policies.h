#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

// The policies both soak tests rewrite while devices keep working. Devices (`dev-*`) publish
// on up/{id}/KIND, read their commands on cmd/{id}/KIND and try to subscribe to sub/{id}/KIND,
// for four kinds of topic:
//   a      allowed by policy A only       b      allowed by policy B only
//   both   allowed by A and by B          never  allowed by neither
// A and B say it differently (A: a wildcard allow with denies; B: explicit allows and a deny
// for all), so the rewrite also swaps the shape of the rule tries. The observer reads up/# and
// the commander publishes cmd/# under every policy. The setup policy S lets devices subscribe to
// cmd/{id}/# once, before A first comes into force: a subscription A or B alone would refuse,
// so that receive checks decide every command.
namespace certguard::soak {

enum Kind { kA = 0, kB = 1, kBoth = 2, kNever = 3 };
inline constexpr int kKinds = 4;
inline constexpr const char* kKindNames[kKinds] = {"a", "b", "both", "never"};
inline bool AllowedByA(int kind) { return kind == kA || kind == kBoth; }
inline bool AllowedByB(int kind) { return kind == kB || kind == kBoth; }

inline std::string PolicyHead() {
  return R"(version: 1
ca: "ca.crt"
identity:
  from:
    - cn: "{id}"
  client_id: must_match
groups:
  devices: { id: "dev-*" }
rules:
  - for: { id: "observer" }
    allow:
      subscribe: ["up/#"]
  - for: { id: "commander" }
    allow:
      publish: ["cmd/#"]
)";
}

// CRLs and denylist are re-read with every policy, as in production.
inline std::string PolicyTail() {
  return R"(revocation:
  crl: ["fleet.crl"]
  denylist: "revoked.txt"
  refresh: 50ms
)";
}

inline std::string SetupPolicy() {
  return PolicyHead() + R"(  - for: devices
    allow:
      subscribe: ["cmd/{id}/#"]
)" + PolicyTail();
}

inline std::string PolicyA() {
  return PolicyHead() + R"(  - for: devices
    allow:
      publish: ["up/{id}/+"]
      subscribe: ["cmd/{id}/a", "cmd/{id}/both", "sub/{id}/a", "sub/{id}/both"]
  - for: devices
    deny:
      publish: ["up/{id}/b", "up/+/never"]
)" + PolicyTail();
}

inline std::string PolicyB() {
  return PolicyHead() + R"(  - for: devices
    allow:
      publish: ["up/{id}/b", "up/{id}/both"]
      subscribe: ["cmd/{id}/+", "sub/{id}/+"]
  - for: all
    deny:
      subscribe: ["cmd/+/a", "cmd/+/never", "sub/+/a", "sub/+/never"]
)" + PolicyTail();
}

// Two ways to get a policy wrong: a YAML error half-way through A, and a rule for a group that
// does not exist. Either must leave the policy in force (A or B) deciding.
inline std::string InvalidPolicy(int which) {
  std::string text = PolicyA();
  if (which % 2 == 0) {
    text.replace(text.find("\"up/{id}/+\"]"), 12, "\"up/{id}/+\"");
  } else {
    text.replace(text.find("  - for: devices\n    deny:"), 16, "  - for: sensors");
  }
  return text;
}

// Rewrites the policy every `interval` from construction to Stop: B, an invalid edit, A, B, ...
// `write` puts a policy text in place (by rename, so that no reader sees half a file).
class PolicyRewriter {
 public:
  PolicyRewriter(std::chrono::milliseconds interval, std::function<void(const std::string&)> write)
      : thread_([this, interval, write = std::move(write)] {
          int step = 0;
          auto next = std::chrono::steady_clock::now();
          while (running_.load()) {
            next += interval;
            std::this_thread::sleep_until(next);
            const int phase = step % 3;
            write(phase == 0 ? PolicyB() : phase == 1 ? InvalidPolicy(step / 3) : PolicyA());
            ++step;
            rewrites_.fetch_add(1);
          }
        }) {}
  ~PolicyRewriter() { Stop(); }
  PolicyRewriter(const PolicyRewriter&) = delete;
  PolicyRewriter& operator=(const PolicyRewriter&) = delete;

  void Stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  int rewrites() const { return rewrites_.load(); }

 private:
  std::atomic<bool> running_{true};
  std::atomic<int> rewrites_{0};
  std::thread thread_;  // last: it starts once the counters exist
};

}  // namespace certguard::soak
