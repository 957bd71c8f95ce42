// Load and soak, Mosquitto: 2,000 devices on their own TLS connections publish, subscribe and
// receive under their policy while the policy file is rewritten every 100 ms for the whole run,
// cycling through two valid policies, A and B, and an invalid one (policies in
// soak_policies.h). What must hold:
//   - no crash: the broker runs throughout and exits 0 when stopped;
//   - no decision contradicts the policy in force. Only A or B is ever in force, so, whatever
//     the race between a rewrite and a publish: a message allowed by neither is never
//     delivered, one allowed by both is always delivered (every connection stays up), one
//     allowed by exactly one may go either way (and over a run both ways must be seen, or the
//     rewrites did not take). A privileged observer records every device publish delivered;
//     each device records the commands delivered to it; SUBACKs are checked as they come;
//   - no connection lost: A and B both admit every device, so all stay connected;
//   - the broker's RSS is flat after warm-up: at most 20 % above its value at the end of the
//     first quarter of the run (at least 5 s). Not asserted under AddressSanitizer, whose
//     quarantine grows RSS on its own (kRssBoundApplies).
// CERTGUARD_SOAK_SECONDS sets the duration (scripts/soak.sh: 60; ctest: 20).
// CERTGUARD_SOAK_DEVICES and CERTGUARD_SOAK_ROUND_MS (each device's publish/subscribe period)
// tune the load for another machine.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/support/raw_mqtt.h"
#include "tests/soak/soak_mqtt.h"
#include "tests/soak/soak_policies.h"
#include "tests/soak/soak_support.h"
#include "tests/support/count_occurrences.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/test_pki.h"

namespace certguard::soak {
namespace {

using certguard::testing::CountOccurrences;
using std::chrono::milliseconds;

constexpr milliseconds kRewriteInterval{100};
constexpr double kMaxRssGrowth = 1.20;
constexpr milliseconds kReloadTimeout{30000};
constexpr milliseconds kDrainTimeout{60000};
// No new delivery for this long after every publish was acknowledged: everything has arrived.
constexpr milliseconds kQuiet{2000};
// Commands the commander may have unacknowledged at once.
constexpr int kCommanderWindow = 2000;

std::string DeviceId(int index) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "dev-%04d", index);
  return buffer;
}

// "dev-0042" -> 42; -1 if not a device id.
int DeviceIndex(std::string_view id) {
  if (id.substr(0, 4) != "dev-" || id.size() < 5) return -1;
  int value = 0;
  for (char c : id.substr(4)) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

int KindIndex(std::string_view name) {
  for (int k = 0; k < kKinds; ++k) {
    if (name == kKindNames[k]) return k;
  }
  return -1;
}

int ParseRound(std::string_view payload) {
  int value = 0;
  for (char c : payload) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return payload.empty() ? -1 : value;
}

// Splits "up/dev-0042/both" into its three levels.
bool SplitTopic(std::string_view topic, std::string_view* first, std::string_view* id,
                std::string_view* kind) {
  const size_t a = topic.find('/');
  const size_t b = a == std::string_view::npos ? a : topic.find('/', a + 1);
  if (b == std::string_view::npos || topic.find('/', b + 1) != std::string_view::npos) {
    return false;
  }
  *first = topic.substr(0, a);
  *id = topic.substr(a + 1, b - a - 1);
  *kind = topic.substr(b + 1);
  return true;
}

// Rounds per kind, as one side saw them.
struct Rounds {
  std::vector<int> of[kKinds];
};

// Everything the run records. Each vector element is written by one loop thread only and read
// by the test's thread once the loops have stopped.
struct Ledger {
  explicit Ledger(int devices)
      : published(devices),
        seen_by_observer(devices),
        commanded(devices),
        commands_received(devices) {}
  std::vector<Rounds> published;          // device publishes the broker acknowledged
  std::vector<Rounds> seen_by_observer;   // ... and those the observer received
  std::vector<Rounds> commanded;          // commander publishes the broker acknowledged
  std::vector<Rounds> commands_received;  // ... and those the device received
  std::atomic<uint64_t> deliveries{0};    // every PUBLISH any client received
  std::atomic<uint64_t> subscribe_checks{0};
  std::atomic<uint64_t> subscribe_granted_single{0};  // a/b subscriptions granted
  std::atomic<uint64_t> subscribe_refused_single{0};
  std::mutex violations_mutex;
  std::vector<std::string> violations;

  void Violation(const std::string& what) {
    std::lock_guard lock(violations_mutex);
    if (violations.size() < 50) violations.push_back(what);
  }
};

struct Control {
  std::atomic<bool> running{true};  // false: start no new rounds
};

class DeviceConnection : public Connection {
 public:
  DeviceConnection(bench::MqttTlsConnection connection, int index, Clock::duration period,
                   Clock::time_point first_round, Ledger* ledger, const Control* control)
      : Connection(connection, DeviceId(index)),
        index_(index),
        period_(period),
        next_round_(first_round),
        ledger_(ledger),
        control_(control) {}

  bool idle() const { return pending_.load() == 0; }
  int rounds() const { return round_; }

 protected:
  void OnPacket(const Packet& packet) override {
    switch (packet.type()) {
      case 3: {  // PUBLISH: a command
        Publish publish;
        std::string_view first, id, kind_name;
        if (!DecodePublish(packet, &publish) ||
            !SplitTopic(publish.topic, &first, &id, &kind_name) || first != "cmd" || id != name()) {
          ledger_->Violation(name() + " received " + std::string(publish.topic));
          return;
        }
        const int kind = KindIndex(kind_name);
        const int round = ParseRound(publish.payload);
        if (kind < 0 || round < 0) {
          ledger_->Violation(name() + " received " + std::string(publish.topic));
          return;
        }
        ledger_->commands_received[index_].of[kind].push_back(round);
        ledger_->deliveries.fetch_add(1, std::memory_order_relaxed);
        if (publish.qos == 1) Send(PubackPacket(publish.packet_id));
        return;
      }
      case 4: {  // PUBACK
        const uint16_t id = AckedId(packet);
        for (Pending& p : in_flight_) {
          if (p.packet_id == id && p.what == Pending::kPublish) {
            ledger_->published[index_].of[p.kind].push_back(round_);
            Settle(p);
            return;
          }
        }
        ledger_->Violation(name() + ": unexpected PUBACK");
        return;
      }
      case 9: {  // SUBACK
        const uint16_t id = AckedId(packet);
        for (Pending& p : in_flight_) {
          if (p.packet_id == id && p.what == Pending::kSubscribe) {
            const int code =
                packet.body.size() >= 3 ? static_cast<unsigned char>(packet.body[2]) : -1;
            CheckSuback(p.kind, code);
            Settle(p);
            return;
          }
        }
        ledger_->Violation(name() + ": unexpected SUBACK");
        return;
      }
      case 11: {  // UNSUBACK
        const uint16_t id = AckedId(packet);
        for (Pending& p : in_flight_) {
          if (p.packet_id == id && p.what == Pending::kUnsubscribe) {
            Settle(p);
            return;
          }
        }
        ledger_->Violation(name() + ": unexpected UNSUBACK");
        return;
      }
      default:
        ledger_->Violation(name() + ": unexpected packet type " + std::to_string(packet.type()));
    }
  }

  void OnTick(Clock::time_point now) override {
    if (!control_->running.load(std::memory_order_relaxed) || pending_.load() != 0 ||
        now < next_round_) {
      return;
    }
    // A late round does not make the next ones come in a burst.
    next_round_ = std::max(next_round_ + period_, now);
    ++round_;
    in_flight_.clear();
    const std::string round_text = std::to_string(round_);
    for (int kind = 0; kind < kKinds; ++kind) {
      const uint16_t id = NextPacketId();
      in_flight_.push_back({Pending::kPublish, id, kind, false});
      Send(PublishPacket("up/" + name() + "/" + kKindNames[kind], round_text, 1, id));
    }
    const int kind = round_ % kKinds;
    const std::string filter = "sub/" + name() + "/" + kKindNames[kind];
    const uint16_t subscribe_id = NextPacketId();
    in_flight_.push_back({Pending::kSubscribe, subscribe_id, kind, false});
    Send(SubscribePacket(subscribe_id, filter, 0));
    const uint16_t unsubscribe_id = NextPacketId();
    in_flight_.push_back({Pending::kUnsubscribe, unsubscribe_id, kind, false});
    Send(UnsubscribePacket(unsubscribe_id, filter));
    pending_.store(static_cast<int>(in_flight_.size()));
  }

 private:
  struct Pending {
    enum What { kPublish, kSubscribe, kUnsubscribe } what;
    uint16_t packet_id;
    int kind;
    bool settled;
  };

  void Settle(Pending& p) {
    if (p.settled) return;
    p.settled = true;
    p.packet_id = 0;
    pending_.fetch_sub(1);
  }

  void CheckSuback(int kind, int code) {
    ledger_->subscribe_checks.fetch_add(1, std::memory_order_relaxed);
    const bool granted = code >= 0 && code <= 2;
    if (code != 0 && code != 0x80) {
      ledger_->Violation(name() + ": SUBACK code " + std::to_string(code));
    } else if (kind == kNever && granted) {
      ledger_->Violation(name() + ": subscribe to sub/.../never granted (allowed by neither)");
    } else if (kind == kBoth && !granted) {
      ledger_->Violation(name() + ": subscribe to sub/.../both refused (allowed by both)");
    } else if (kind == kA || kind == kB) {
      (granted ? ledger_->subscribe_granted_single : ledger_->subscribe_refused_single)
          .fetch_add(1, std::memory_order_relaxed);
    }
  }

  const int index_;
  const Clock::duration period_;
  Clock::time_point next_round_;
  Ledger* ledger_;
  const Control* control_;
  int round_ = 0;
  std::vector<Pending> in_flight_;
  std::atomic<int> pending_{0};
};

class ObserverConnection : public Connection {
 public:
  ObserverConnection(bench::MqttTlsConnection connection, int devices, Ledger* ledger)
      : Connection(connection, "observer"), devices_(devices), ledger_(ledger) {}

 protected:
  void OnPacket(const Packet& packet) override {
    Publish publish;
    std::string_view first, id, kind_name;
    if (!DecodePublish(packet, &publish) || !SplitTopic(publish.topic, &first, &id, &kind_name) ||
        first != "up") {
      ledger_->Violation("observer received packet type " + std::to_string(packet.type()));
      return;
    }
    const int device = DeviceIndex(id);
    const int kind = KindIndex(kind_name);
    const int round = ParseRound(publish.payload);
    if (device < 0 || device >= devices_ || kind < 0 || round < 0) {
      ledger_->Violation("observer received " + std::string(publish.topic));
      return;
    }
    ledger_->seen_by_observer[device].of[kind].push_back(round);
    ledger_->deliveries.fetch_add(1, std::memory_order_relaxed);
    if (publish.qos == 1) Send(PubackPacket(publish.packet_id));
  }
  void OnTick(Clock::time_point) override {}

 private:
  const int devices_;
  Ledger* ledger_;
};

// Sends every device each kind of command once per period, a window of them unacknowledged.
class CommanderConnection : public Connection {
 public:
  CommanderConnection(bench::MqttTlsConnection connection, int devices, Clock::duration period,
                      Ledger* ledger, const Control* control)
      : Connection(connection, "commander"),
        devices_(devices),
        period_(period),
        ledger_(ledger),
        control_(control),
        in_flight_(65536) {}

  bool idle() const { return unacked_.load() == 0; }
  int rounds() const { return round_; }

 protected:
  void OnPacket(const Packet& packet) override {
    if (packet.type() != 4) {
      ledger_->Violation("commander received packet type " + std::to_string(packet.type()));
      return;
    }
    Sent& sent = in_flight_[AckedId(packet)];
    if (sent.device < 0) {
      ledger_->Violation("commander: unexpected PUBACK");
      return;
    }
    ledger_->commanded[sent.device].of[sent.kind].push_back(sent.round);
    sent.device = -1;
    unacked_.fetch_sub(1);
  }

  void OnTick(Clock::time_point now) override {
    while (control_->running.load(std::memory_order_relaxed) &&
           unacked_.load() < kCommanderWindow) {
      if (cursor_ == 0) {
        if (now < next_round_) return;
        next_round_ = std::max(next_round_ + period_, now);
        ++round_;
      }
      const int device = cursor_ / kKinds;
      const int kind = cursor_ % kKinds;
      uint16_t id = NextPacketId();
      while (in_flight_[id].device >= 0) id = NextPacketId();
      in_flight_[id] = {device, kind, round_};
      unacked_.fetch_add(1);
      Send(PublishPacket("cmd/" + DeviceId(device) + "/" + kKindNames[kind], std::to_string(round_),
                         1, id));
      cursor_ = (cursor_ + 1) % (devices_ * kKinds);
    }
  }

 private:
  struct Sent {
    int device = -1;
    int kind = 0;
    int round = 0;
  };
  const int devices_;
  const Clock::duration period_;
  Ledger* ledger_;
  const Control* control_;
  std::vector<Sent> in_flight_;  // by packet id
  std::atomic<int> unacked_{0};
  int cursor_ = 0;
  int round_ = 0;
  Clock::time_point next_round_{};
};

// Rounds in `sent` that are missing from `received`.
std::vector<int> Missing(std::vector<int> sent, std::vector<int> received) {
  std::sort(sent.begin(), sent.end());
  std::sort(received.begin(), received.end());
  std::vector<int> missing;
  std::set_difference(sent.begin(), sent.end(), received.begin(), received.end(),
                      std::back_inserter(missing));
  return missing;
}

// Writes `name` in `dir` by rename, as an operator's tooling does: the plugin never reads a
// half-written file (that case is fail_closed_test's).
void WriteAtomically(const testing::TempDir& dir, const std::string& name,
                     const std::string& contents) {
  const std::string temp = dir.Write("etc/." + name + ".tmp", contents);
  std::rename(temp.c_str(), (dir.path() + "/etc/" + name).c_str());
}

// The broker's log lines that mention `needle` (at most 20), for failure messages.
std::string LogExcerpt(const std::string& log, const std::string& needle, size_t max_lines = 20) {
  std::string out;
  size_t lines = 0;
  for (size_t at = log.find(needle); at != std::string::npos && lines < max_lines;
       at = log.find(needle, at + 1)) {
    const size_t begin = log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at) + 1;
    const size_t end = log.find('\n', at);
    out += log.substr(begin, end - begin) + "\n";
    at = end == std::string::npos ? log.size() : end;
    ++lines;
  }
  return out;
}

TEST(MosquittoSoakTest, DevicesUnderPolicyRewritesGetOnlyAllowedMessagesStayConnectedAndRssIsFlat) {
#ifndef CERTGUARD_PLUGIN_PATH
  FAIL() << "certguard_mosquitto is not built (the build always makes it: check CMake)";
#else
  const int seconds = SoakSeconds();
  const int devices = EnvInt("CERTGUARD_SOAK_DEVICES", 2000);
  const milliseconds period{EnvInt("CERTGUARD_SOAK_ROUND_MS", 2000)};
  const rlim_t files = RaiseFileLimit();
  ASSERT_GE(files, static_cast<rlim_t>(devices + 200))
      << "the hard limit on open files (ulimit -Hn) is too low for " << devices << " connections";
  Figure("duration_s", seconds);
  Figure("devices", devices);
  Figure("round_period_ms", period.count());
  Figure("load_average_before", LoadAverage());

  // PKI and policy directory.
  testing::TempDir dir;
  testing::TestCa ca("certguard soak CA");
  const std::string ca_file = dir.Write("etc/ca.crt", ca.cert_pem());
  const testing::IssuedCertificate server = ca.IssueServer();
  const std::string server_cert = dir.Write("pki/server.crt", server.cert_pem);
  const std::string server_key = dir.Write("pki/server.key", server.key_pem);
  std::vector<std::string> retired;
  for (int i = 0; i < 100; ++i) retired.push_back(std::to_string(0xDEAD0000 + i));
  WriteAtomically(dir, "fleet.crl", ca.CrlPem(retired));
  WriteAtomically(dir, "revoked.txt", "id:dev-retired-1\nid:dev-retired-2\n");
  WriteAtomically(dir, "policy.yaml", SetupPolicy());

  const auto issuing = Clock::now();
  std::vector<bench::ClientIdentity> identities;
  identities.reserve(devices);
  for (int i = 0; i < devices; ++i) {
    const testing::IssuedCertificate issued = ca.Issue(testing::WithCn(DeviceId(i)));
    identities.emplace_back(DeviceId(i), issued.cert_pem, issued.key_pem);
  }
  const testing::IssuedCertificate observer_cert = ca.Issue(testing::WithCn("observer"));
  const testing::IssuedCertificate commander_cert = ca.Issue(testing::WithCn("commander"));
  const bench::ClientIdentity observer_identity("observer", observer_cert.cert_pem,
                                                observer_cert.key_pem);
  const bench::ClientIdentity commander_identity("commander", commander_cert.cert_pem,
                                                 commander_cert.key_pem);
  Figure("certificates_issued_s", SecondsBetween(issuing, Clock::now()));

  testing::BrokerOptions options;
  options.ca_file = ca_file;
  options.cert_file = server_cert;
  options.key_file = server_key;
  options.plugin_path = CERTGUARD_PLUGIN_PATH;
  options.plugin_options = {{"policy", dir.path() + "/etc/policy.yaml"}};
  // No debug lines: two per message would dominate the broker's work.
  options.log_types = {"error", "warning", "notice", "information"};
  if (EnvInt("CERTGUARD_SOAK_DEBUG_LOG", 0) != 0) options.log_types = {"all"};
  // QoS 0 deliveries to a client whose socket lags are dropped past max_queued_messages
  // (1000 by default, also for QoS 0 in 2.0): the observer must lose nothing. Not 0 ("no
  // limit"): 2.0.11 then disconnects every client whose publish is denied (its denial path
  // compares the client's queue with the limit and returns "quota exceeded" as an error).
  options.global_lines = {"max_queued_messages 1000000"};
  options.listener_lines = {"max_connections -1"};
  testing::MosquittoBroker broker(options);
  ASSERT_TRUE(broker.Start());
  Figure("broker_rss_kib_at_start", RssKib(broker.pid()));

  // Connections: TLS handshake and CONNECT by raw_mqtt, then the subscription each keeps
  // for the whole run, made under the setup policy.
  const bench::TlsClientContext tls(ca_file);
  std::string error;
  bench::MqttTlsConnection observer_tls, commander_tls;
  ASSERT_EQ(bench::MqttTlsConnect(tls, observer_identity, broker.port(), &observer_tls, &error), 0)
      << error;
  ASSERT_EQ(bench::MqttTlsConnect(tls, commander_identity, broker.port(), &commander_tls, &error),
            0)
      << error;
  Packet suback;
  ASSERT_TRUE(WriteBlocking(observer_tls, SubscribePacket(1, "up/#", 0)));
  ASSERT_TRUE(ReadPacketBlocking(observer_tls, &suback));
  ASSERT_EQ(suback.body.substr(2), std::string(1, '\0')) << "observer's SUBACK";

  const auto connecting = Clock::now();
  std::vector<bench::MqttTlsConnection> device_tls(devices);
  {
    std::atomic<int> next{0};
    std::mutex error_mutex;
    std::vector<std::string> errors;
    std::vector<std::thread> connectors;
    for (int t = 0; t < 4; ++t) {
      connectors.emplace_back([&] {
        for (int i = next.fetch_add(1); i < devices; i = next.fetch_add(1)) {
          std::string why;
          const int rc =
              bench::MqttTlsConnect(tls, identities[i], broker.port(), &device_tls[i], &why);
          Packet ack;
          if (rc == 0 &&
              (!WriteBlocking(device_tls[i], SubscribePacket(1, "cmd/" + DeviceId(i) + "/#", 0)) ||
               !ReadPacketBlocking(device_tls[i], &ack) || ack.type() != 9 ||
               ack.body.substr(2) != std::string(1, '\0'))) {
            why = DeviceId(i) + ": subscription to its commands refused";
          }
          if (rc != 0 || !why.empty()) {
            std::lock_guard lock(error_mutex);
            errors.push_back(rc > 0 ? DeviceId(i) + ": CONNACK " + std::to_string(rc) : why);
          }
        }
      });
    }
    for (auto& connector : connectors) connector.join();
    ASSERT_TRUE(errors.empty()) << errors.size()
                                << " devices failed to connect, first: " << errors.front() << "\n"
                                << broker.Log().substr(0, 4000);
  }
  Figure("connections", devices + 2);
  Figure("connect_phase_s", SecondsBetween(connecting, Clock::now()));
  Figure("broker_rss_kib_connected", RssKib(broker.pid()));

  // Policy A comes into force before the first message, so S's rights never decide one.
  size_t mark = broker.LogMark();
  WriteAtomically(dir, "policy.yaml", PolicyA());
  ASSERT_TRUE(broker.WaitForLog("certguard: policy reloaded", kReloadTimeout, mark))
      << broker.Log().substr(mark);
  mark = broker.LogMark();

  Ledger ledger(devices);
  Control control;
  EventLoop loops[2];
  auto observer = std::make_unique<ObserverConnection>(observer_tls, devices, &ledger);
  auto commander =
      std::make_unique<CommanderConnection>(commander_tls, devices, period, &ledger, &control);
  loops[0].Add(observer.get());
  loops[1].Add(commander.get());
  std::vector<std::unique_ptr<DeviceConnection> > device_connections;
  const auto start = Clock::now();
  for (int i = 0; i < devices; ++i) {
    // First rounds spread over one period, so the load is even from the start.
    const auto first_round = start + period * i / devices;
    device_connections.push_back(std::make_unique<DeviceConnection>(
        device_tls[i], i, period, first_round, &ledger, &control));
    loops[i % 2].Add(device_connections.back().get());
  }
  for (EventLoop& loop : loops) loop.Start();

  PolicyRewriter rewriter(kRewriteInterval, [&](const std::string& text) {
    WriteAtomically(dir, "policy.yaml", text);
  });
  const RssWatch rss = WatchRss(broker, start, seconds);
  rewriter.Stop();
  control.running = false;
  const auto stopped = Clock::now();

  // Drain: every publish acknowledged, then no delivery for a while.
  const auto drain_deadline = Clock::now() + kDrainTimeout;
  const auto all_idle = [&] {
    if (!commander->idle()) return false;
    for (const auto& device : device_connections) {
      if (!device->idle() && !device->failed()) return false;
    }
    return true;
  };
  while (!all_idle() && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  const bool drained = all_idle();
  uint64_t deliveries = ledger.deliveries.load();
  auto quiet_since = Clock::now();
  while (Clock::now() - quiet_since < kQuiet && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    if (const uint64_t now_seen = ledger.deliveries.load(); now_seen != deliveries) {
      deliveries = now_seen;
      quiet_since = Clock::now();
    }
  }
  for (EventLoop& loop : loops) loop.Stop();

  // --- Checks ----------------------------------------------------------------------------------
  EXPECT_TRUE(rss.ran) << "the broker died\n" << broker.Log().substr(mark);
  EXPECT_TRUE(drained) << "publishes still unacknowledged " << kDrainTimeout.count() << " ms after "
                       << "the run";
  std::vector<std::string> lost;
  for (const Connection* c :
       std::initializer_list<const Connection*>{observer.get(), commander.get()}) {
    if (c->failed()) lost.push_back(c->name() + ": " + c->failure());
  }
  for (const auto& device : device_connections) {
    if (device->failed()) lost.push_back(device->name() + ": " + device->failure());
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " connections lost, first: " << lost.front() << "\n"
                            << LogExcerpt(broker.Log().substr(mark), lost.front().substr(0, 8), 60);

  uint64_t publishes = 0, commands = 0;
  uint64_t single_sent[kKinds] = {}, single_delivered[kKinds] = {};
  uint64_t never_delivered = 0, both_missing = 0;
  for (int i = 0; i < devices; ++i) {
    for (int kind = 0; kind < kKinds; ++kind) {
      const auto& published = ledger.published[i].of[kind];
      const auto& seen = ledger.seen_by_observer[i].of[kind];
      const auto& commanded = ledger.commanded[i].of[kind];
      const auto& received = ledger.commands_received[i].of[kind];
      publishes += published.size();
      commands += commanded.size();
      if (kind == kNever) {
        never_delivered += seen.size() + received.size();
        if (!seen.empty()) {
          ledger.Violation("observer received up/" + DeviceId(i) + "/never, allowed by neither");
        }
        if (!received.empty()) {
          ledger.Violation(DeviceId(i) + " received cmd/.../never, allowed by neither");
        }
      } else if (kind == kBoth) {
        const auto missing_up = Missing(published, seen);
        const auto missing_cmd = Missing(commanded, received);
        both_missing += missing_up.size() + missing_cmd.size();
        if (!missing_up.empty()) {
          ledger.Violation("observer never received up/" + DeviceId(i) + "/both round " +
                           std::to_string(missing_up.front()) + ", allowed by A and B");
        }
        if (!missing_cmd.empty()) {
          ledger.Violation(DeviceId(i) + " never received cmd/.../both round " +
                           std::to_string(missing_cmd.front()) + ", allowed by A and B");
        }
      } else {
        single_sent[kind] += published.size() + commanded.size();
        single_delivered[kind] += seen.size() + received.size();
      }
      // Whatever arrived was sent (no duplicates, nothing invented).
      if (!Missing(seen, published).empty() || !Missing(received, commanded).empty()) {
        ledger.Violation(DeviceId(i) + ": a delivery that was never acknowledged as sent");
      }
    }
  }
  const uint64_t decisions = publishes + commands + ledger.subscribe_checks.load();
  EXPECT_TRUE(ledger.violations.empty())
      << ledger.violations.size() << " violations, first: " << ledger.violations.front();
  // Both A and B were in force some of the time, or the rewrites were not exercised.
  for (int kind : {kA, kB}) {
    EXPECT_GT(single_delivered[kind], 0u) << kKindNames[kind] << " messages never delivered";
    EXPECT_LT(single_delivered[kind], single_sent[kind])
        << kKindNames[kind] << " messages always delivered";
  }

  const std::string log = broker.Log().substr(mark);
  const size_t reloads = CountOccurrences(log, "certguard: policy reloaded");
  const size_t rejected = CountOccurrences(log, "certguard: policy change rejected");
  EXPECT_GT(reloads, 0u);
  EXPECT_GT(rejected, 0u);
  EXPECT_EQ(log.find("certguard: disconnecting"), std::string::npos) << log.substr(0, 4000);

  EXPECT_GT(rss.after_warm_up, 0);
  if (kRssBoundApplies) {
    EXPECT_LE(rss.Growth(), kMaxRssGrowth) << "broker RSS grew from " << rss.after_warm_up
                                           << " KiB to " << rss.at_end << " KiB after warm-up";
  }

  const double run_seconds = SecondsBetween(start, stopped);
  Figure("run_s", run_seconds);
  Figure("policy_rewrites", rewriter.rewrites());
  Figure("policy_reloads_applied", reloads);
  Figure("policy_rewrites_rejected", rejected);
  Figure("device_rounds_min",
         std::min_element(device_connections.begin(), device_connections.end(),
                          [](const auto& a, const auto& b) { return a->rounds() < b->rounds(); })
             ->get()
             ->rounds());
  Figure("commander_rounds", commander->rounds());
  Figure("device_publishes_acked", publishes);
  Figure("commands_acked", commands);
  Figure("messages_delivered", ledger.deliveries.load());
  Figure("messages_per_second_in",
         static_cast<double>(publishes + commands) / std::max(run_seconds, 1e-9));
  Figure("subscribe_decisions", ledger.subscribe_checks.load());
  Figure("decisions_checked", decisions);
  Figure("a_only_delivered",
         std::to_string(single_delivered[kA]) + "/" + std::to_string(single_sent[kA]));
  Figure("b_only_delivered",
         std::to_string(single_delivered[kB]) + "/" + std::to_string(single_sent[kB]));
  Figure("a_or_b_subscriptions_granted/refused",
         std::to_string(ledger.subscribe_granted_single.load()) + "/" +
             std::to_string(ledger.subscribe_refused_single.load()));
  Figure("never_delivered", never_delivered);
  Figure("both_missing", both_missing);
  Figure("connections_lost", lost.size());
  Figure("broker_rss_kib_after_warm_up", rss.after_warm_up);
  Figure("broker_rss_kib_at_end", rss.at_end);
  Figure("broker_rss_kib_peak", rss.peak);
  Figure("broker_rss_growth_after_warm_up_pct", (rss.Growth() - 1) * 100);
  Figure("broker_rss_bound", kRssBoundApplies ? "asserted" : "reported only (AddressSanitizer)");
  Figure("load_average_after", LoadAverage());

  observer.reset();
  commander.reset();
  device_connections.clear();
  EXPECT_EQ(broker.Stop(), 0) << "the broker did not exit cleanly";
#endif
}

}  // namespace
}  // namespace certguard::soak
