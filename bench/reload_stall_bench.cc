// Reload under load: while a publisher sends one timestamped message per millisecond through
// Mosquitto + certguard to a subscriber (and 2,000 more clients sit connected, to be re-checked),
// the policy (100,000 devices) and its CRL (1,000,000 serials) are replaced on disk and the
// plugin's watcher reloads them. Reported, per reload window (from the file change until 2 s
// after the plugin logged the swap) and for as long a window before any reload: the longest
// delivery latency (arrival - send time in the payload: the longest a message was held up) and
// the longest gap between consecutive arrivals. Also reported: the broker thread's CPU time in
// the longest certguard tick of each reload, as the plugin logs it (free of scheduling noise),
// and, per window, how late this machine woke a real-time thread that does nothing else, one on
// each CPU (WakeupProbe): the floor under any delivery latency measured here. A delivery over
// 5 ms is counted as the machine's when a probe saw its CPU away, in all inside that message's
// flight, for at least the delivery's excess over 5 ms. (Every message crosses four threads,
// publisher, its network thread, broker and subscriber, on two CPUs: a CPU away for that long
// holds it up.)
//
// Usage: reload_stall_bench [--reloads N] [--idle-clients N] [--crl-only 1]
//   --crl-only 1  each reload replaces the CRL alone (the common case: a CRL is republished every
//                 few hours), which certguard reads around the policy in force without parsing it
//                 again; by default both files change and the policy is parsed again too
// With CERTGUARD_BENCH_VERBOSE set it also lists each delivery held up over 5 ms, each time the
// machine was away over 3 ms, and when certguard's own threads in the broker were busy, with their
// times from the start of their window.
#include <mosquitto.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/support/bench_support.h"
#include "bench/support/raw_mqtt.h"
#include "bench/support/wakeup_probe.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_client.h"

namespace {

using namespace certguard::bench;
using certguard::testing::MosquittoBroker;
using certguard::testing::MqttClient;

constexpr int kFleetDevices = 100'000;
constexpr int kCrlSerials = 1'000'000;
constexpr double kTargetStallMs = 5.0;
constexpr auto kPublishInterval = std::chrono::microseconds(1000);
constexpr auto kSettle = std::chrono::milliseconds(2000);
const char* const kPublisher = "sensor-50000";
const char* const kSubscriber = "dashboard-1";
const char* const kTopic = "sensors/sensor-50000/telemetry";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Arrival {
  int64_t arrived_ns;
  int64_t sent_ns;
  uint64_t seq;
};

// A libmosquitto subscriber that stamps each message with its arrival time on the network thread.
class TimedSubscriber {
 public:
  TimedSubscriber(const BenchPki& pki, const BenchPki::Client& client, int port) {
    mosq_ = mosquitto_new(client.id.c_str(), true, this);
    if (mosq_ == nullptr) Fail("mosquitto_new");
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_message_callback_set(mosq_, &TimedSubscriber::OnMessage);
    mosquitto_subscribe_callback_set(mosq_, &TimedSubscriber::OnSubscribe);
    if (mosquitto_tls_set(mosq_, pki.ca_path().c_str(), nullptr, client.cert_path.c_str(),
                          client.key_path.c_str(), nullptr) != MOSQ_ERR_SUCCESS ||
        mosquitto_connect(mosq_, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq_) != MOSQ_ERR_SUCCESS) {
      Fail("subscriber could not connect");
    }
    arrivals_.reserve(200'000);
  }
  ~TimedSubscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }

  // Empty on success, else what went wrong.
  std::string Subscribe(const std::string& filter) {
    // Retried until the CONNACK has come (the TLS handshake runs on the loop thread).
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 0) != MOSQ_ERR_SUCCESS) {
      if (Clock::now() > deadline) return "subscriber: no connection after 10 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return subscribed_; })) {
      return "subscriber: no SUBACK after 10 s";
    }
    return {};
  }
  size_t count() const {
    std::lock_guard lock(mutex_);
    return arrivals_.size();
  }
  std::vector<Arrival> Take() {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }

 private:
  static void OnMessage(mosquitto*, void* self, const mosquitto_message* message) {
    const int64_t now = NowNs();
    auto* subscriber = static_cast<TimedSubscriber*>(self);
    Arrival arrival{now, 0, 0};
    if (message->payloadlen >= 16) {
      std::memcpy(&arrival.sent_ns, message->payload, 8);
      std::memcpy(&arrival.seq, static_cast<const char*>(message->payload) + 8, 8);
    }
    std::lock_guard lock(subscriber->mutex_);
    subscriber->arrivals_.push_back(arrival);
  }
  static void OnSubscribe(mosquitto*, void* self, int, int, const int*) {
    auto* subscriber = static_cast<TimedSubscriber*>(self);
    std::lock_guard lock(subscriber->mutex_);
    subscriber->subscribed_ = true;
    subscriber->cv_.notify_all();
  }

  mosquitto* mosq_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool subscribed_ = false;
  std::vector<Arrival> arrivals_;
};

struct Window {
  std::string name;
  int64_t begin_ns;
  int64_t end_ns;
};

struct WindowStats {
  size_t messages = 0;
  double max_latency_ms = 0;
  double p99_latency_ms = 0;
  double max_gap_ms = 0;
  double worst_at_s = 0;  // when the longest-held message arrived, from the window's start
  uint64_t lost = 0;
  size_t over_target = 0;           // messages held up more than kTargetStallMs
  size_t machine_away = 0;          // ... of which the machine was away for the excess
  double worst_not_machine_ms = 0;  // the longest latency not accounted for that way
  double machine_late_ms = 0;       // the probe's latest wake-up in the window
};

// `verbose`: also print each message held up over kTargetStallMs.
WindowStats Analyse(const std::vector<Arrival>& arrivals, const Window& window,
                    const WakeupProbe& probe, bool verbose) {
  WindowStats stats;
  stats.machine_late_ms = probe.LongestLateDueBetween(window.begin_ns, window.end_ns);
  std::vector<double> latencies;
  const Arrival* previous = nullptr;
  for (const Arrival& a : arrivals) {
    if (a.arrived_ns < window.begin_ns || a.arrived_ns > window.end_ns) {
      if (a.arrived_ns < window.begin_ns) previous = &a;
      continue;
    }
    latencies.push_back(static_cast<double>(a.arrived_ns - a.sent_ns) / 1e6);
    if (latencies.back() > kTargetStallMs) {
      ++stats.over_target;
      const double away_ms = probe.AwayWithin(a.sent_ns, a.arrived_ns);
      if (verbose) {
        // The send time on the monotonic clock too: to find the message in a trace taken
        // beside the run (perf record -k CLOCK_MONOTONIC).
        std::printf("  %s: at %.3f s held %.2f ms, machine away %.2f ms (sent at %.6f s)\n",
                    window.name.c_str(), static_cast<double>(a.arrived_ns - window.begin_ns) / 1e9,
                    latencies.back(), away_ms, static_cast<double>(a.sent_ns) / 1e9);
      }
      if (away_ms >= latencies.back() - kTargetStallMs) {
        ++stats.machine_away;
      } else {
        stats.worst_not_machine_ms = std::max(stats.worst_not_machine_ms, latencies.back());
      }
    }
    if (latencies.back() >= stats.max_latency_ms) {
      stats.max_latency_ms = latencies.back();
      stats.worst_at_s = static_cast<double>(a.arrived_ns - window.begin_ns) / 1e9;
    }
    if (previous != nullptr) {
      stats.max_gap_ms = std::max(stats.max_gap_ms,
                                  static_cast<double>(a.arrived_ns - previous->arrived_ns) / 1e6);
      if (a.seq > previous->seq + 1) stats.lost += a.seq - previous->seq - 1;
    }
    previous = &a;
  }
  stats.messages = latencies.size();
  stats.p99_latency_ms = latencies.empty() ? 0 : Percentile(latencies, 99);
  return stats;
}

// The highest generation the plugin has logged ("policy reloaded (generation N)"), polled while
// the stall is being measured, from the process that measures it: so it reads only what the
// broker appended since the last poll. (Reading the whole log every 20 ms, with a line or two
// for each of the 2,000 connections, took CPU from the measuring threads during reload windows
// only.)
class LoggedGeneration {
 public:
  explicit LoggedGeneration(const MosquittoBroker& broker) : path_(broker.log_path()) {}

  int Poll() {
    static const std::string kNeedle = "policy reloaded (generation ";
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string appended((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Only whole lines: a line being written is read again next time.
    const size_t end = appended.rfind('\n');
    if (end == std::string::npos) return generation_;
    appended.resize(end + 1);
    offset_ += appended.size();
    for (size_t at = appended.find(kNeedle); at != std::string::npos;
         at = appended.find(kNeedle, at + 1)) {
      generation_ = std::max(generation_, std::atoi(appended.c_str() + at + kNeedle.size()));
    }
    return generation_;
  }

 private:
  std::string path_;
  size_t offset_ = 0;
  int generation_ = 1;
};

// When certguard's own threads in the broker (named "certguard-*": the watcher that loads, the
// reaper that frees) were on a CPU, sampled from /proc every 5 ms: CERTGUARD_BENCH_VERBOSE lists
// their busy spans beside the late deliveries, to tell a stall they cause from the machine's.
class CertguardThreadSpans {
 public:
  struct Span {
    std::string thread;
    int64_t begin_ns;
    int64_t end_ns;
    double cpu_ms;
  };

  explicit CertguardThreadSpans(pid_t broker) : broker_(broker), sampler_([this] { Sample(); }) {}
  ~CertguardThreadSpans() {
    stop_ = true;
    sampler_.join();
  }

  // The spans that overlap [begin_ns, end_ns].
  std::vector<Span> Between(int64_t begin_ns, int64_t end_ns) const {
    std::vector<Span> found;
    std::lock_guard lock(mutex_);
    for (const Span& span : spans_) {
      if (span.end_ns >= begin_ns && span.begin_ns <= end_ns) found.push_back(span);
    }
    return found;
  }

 private:
  void Sample() {
    constexpr int64_t kMergeGapNs = 20'000'000;  // a pause shorter than this continues a span
    struct Seen {
      bool sampled = false;  // cpu_ns holds an earlier sample
      uint64_t cpu_ns = 0;
      int open = -1;  // index in spans_ of the span this thread is in, or -1
    };
    std::map<int, Seen> seen;
    const std::string tasks = "/proc/" + std::to_string(broker_) + "/task";
    while (!stop_.load()) {
      std::error_code ignored;
      for (const auto& entry : std::filesystem::directory_iterator(tasks, ignored)) {
        const int tid = std::atoi(entry.path().filename().c_str());
        std::string name;
        std::ifstream(entry.path() / "comm") >> name;
        if (name.rfind("certguard-", 0) != 0) continue;
        uint64_t cpu_ns = 0;
        std::ifstream(entry.path() / "schedstat") >> cpu_ns;
        const int64_t now = NowNs();
        Seen& thread = seen[tid];
        const uint64_t ran = std::exchange(thread.sampled, true) ? cpu_ns - thread.cpu_ns : 0;
        thread.cpu_ns = cpu_ns;
        std::lock_guard lock(mutex_);
        if (ran > 0) {
          if (thread.open >= 0 && now - spans_[thread.open].end_ns <= kMergeGapNs) {
            spans_[thread.open].end_ns = now;
            spans_[thread.open].cpu_ms += static_cast<double>(ran) / 1e6;
          } else {
            thread.open = static_cast<int>(spans_.size());
            spans_.push_back(
                {name, now - static_cast<int64_t>(ran), now, static_cast<double>(ran) / 1e6});
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  pid_t broker_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Span> spans_;  // guarded by mutex_
  std::thread sampler_;      // last: it starts once the members it uses exist
};

// What the plugin logs once a reload's re-check of every client is done: the broker thread's CPU
// time for the swap and the re-checks, and the longest single tick of it in CPU and in wall time.
// CPU time leaves out the time the thread waited for a core, which on a shared machine swamps the
// stall a reload itself causes. Maximum over every reload logged; -1 when none was.
struct ReloadCost {
  double busy_ms = -1;
  double longest_tick_ms = -1;
  double longest_tick_wall_ms = -1;  // the same tick kind, in wall time (waiting included)
  double longest_span_ms = -1;       // from the swap until the last client was re-checked
  int reloads = 0;
};
ReloadCost LoggedReloadCost(const MosquittoBroker& broker) {
  static const std::string kNeedle = " clients in ";
  static const std::string kTick = "the longest tick ";
  const std::string log = broker.Log();
  // The number that follows the first `needle` at or after `from`; -1 when there is none.
  const auto number_after = [&log](std::string_view needle, size_t from) {
    const size_t at = log.find(needle, from);
    return at == std::string::npos ? -1.0 : std::atof(log.c_str() + at + needle.size());
  };
  ReloadCost cost;
  for (size_t at = log.find(kNeedle); at != std::string::npos; at = log.find(kNeedle, at + 1)) {
    const size_t tick = log.find(kTick, at);
    if (tick == std::string::npos) break;
    cost.busy_ms = std::max(cost.busy_ms, number_after(kNeedle, at));
    cost.longest_tick_ms = std::max(cost.longest_tick_ms, number_after(kTick, tick));
    cost.longest_tick_wall_ms = std::max(cost.longest_tick_wall_ms, number_after(" ms (", tick));
    cost.longest_span_ms = std::max(cost.longest_span_ms, number_after(" wall), over ", tick));
    ++cost.reloads;
  }
  return cost;
}

// Files are written aside first and renamed into place when the reload window starts: a rename
// is how an operator's deploy (or a CRL fetcher) should replace them, and it keeps writing 50 MB
// out of the window being measured.
std::string Stage(certguard::testing::TempDir& dir, const std::string& relative,
                  const std::string& contents) {
  return dir.Write(relative + ".new", contents);
}
void Promote(certguard::testing::TempDir& dir, const std::string& staged,
             const std::string& relative) {
  std::filesystem::rename(staged, dir.path() + "/" + relative);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens under bench.sh
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int reloads = 3;
  int idle_clients = 2000;
  bool crl_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reloads") == 0) reloads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--idle-clients") == 0) idle_clients = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--crl-only") == 0) crl_only = std::atoi(argv[i + 1]) != 0;
  }
  std::printf(
      "reload under load: %d reloads of %s a %d-device policy and a %d-serial CRL, "
      "1 message/ms, %d idle clients; load average %s\n",
      reloads, crl_only ? "the CRL (the policy unchanged) of" : "both", kFleetDevices, kCrlSerials,
      idle_clients, LoadAverage().c_str());

  BenchPki pki;
  const BenchPki::Client pub = pki.IssueClient(kPublisher);
  const BenchPki::Client sub = pki.IssueClient(kSubscriber);
  const std::vector<ClientIdentity> idle = IssueIdentities(pki, "sensor-", idle_clients);
  // Two versions of each file, swapped in turn: each reload changes both. Renamed into place one
  // after the other, the policy and its CRL are two changes, which the watcher may see apart: a
  // CRL-only refresh first, then the full reload, which then fell into the next window. So, as an
  // operator replacing both at once would, each policy version names a CRL file of its own: the
  // new CRL goes in under the name the current policy does not watch, and the policy's rename is
  // the one change the watcher sees.
  const std::string policy_text = WithDeviceRules(ExamplePolicyText(), kFleetDevices);
  const auto crl_name = [&](int version) {
    return crl_only ? std::string("fleet-ca.crl") : "fleet-ca-" + std::to_string(version) + ".crl";
  };
  const auto naming_crl = [&](std::string text, int version) {
    const size_t at = text.find("\"fleet-ca.crl\"");
    if (at == std::string::npos) Fail("the example policy no longer names \"fleet-ca.crl\"");
    return text.replace(at + 1, std::strlen("fleet-ca.crl"), crl_name(version));
  };
  const std::string policies[2] = {
      naming_crl(policy_text, 0),
      naming_crl(policy_text, 1) + "# version 2: the same rules, a new file\n"};
  std::printf("generating two %d-serial CRLs...\n", kCrlSerials);
  std::fflush(stdout);
  const std::string crls[2] = {pki.ca().CrlDer(RevokedSerials(kCrlSerials, 1), 7 * 86400),
                               pki.ca().CrlDer(RevokedSerials(kCrlSerials, 2), 7 * 86400)};
  const std::string policy_path = WritePolicyDir(pki, "fleet", policies[0], {});
  Promote(pki.temp(), Stage(pki.temp(), "fleet/" + crl_name(0), crls[0]), "fleet/" + crl_name(0));
  std::printf("policy %.1f MB, CRL %.1f MB\n", policies[0].size() / 1e6, crls[0].size() / 1e6);

  auto options = CertguardBrokerOptions(pki, policy_path);
  options.start_timeout = std::chrono::milliseconds(180000);
  MosquittoBroker broker(options);
  StartOrDie(broker, "broker with certguard");
  std::printf("broker pid %d\n", static_cast<int>(broker.pid()));

  // The two measuring clients first: libmosquitto's loop uses select(), which cannot watch a
  // descriptor above 1023, and the idle connections take 2,000 of them.
  TimedSubscriber subscriber(pki, sub, broker.port());
  if (const std::string failed = subscriber.Subscribe("sensors/+/telemetry"); !failed.empty()) {
    const std::string log = broker.Log();
    Fail(failed + "\nbroker log (end):\n" + log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  }
  MqttClient publisher(
      BenchClientOptions(pub, broker.port(), pki, std::chrono::milliseconds(5000)));
  if (publisher.Connect() != 0) Fail("publisher: " + publisher.LastError());
  TlsClientContext tls(pki.ca_path());
  IdleConnections idle_connections;
  std::string error;
  if (!idle_connections.Open(tls, idle, broker.port(), 4, &error)) Fail(error);

  const WakeupProbe probe;
  const bool verbose = std::getenv("CERTGUARD_BENCH_VERBOSE") != nullptr;
  std::unique_ptr<CertguardThreadSpans> certguard_threads;
  if (verbose) certguard_threads = std::make_unique<CertguardThreadSpans>(broker.pid());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread pacer([&] {
    std::string payload(64, 'x');
    auto next = Clock::now();
    uint64_t seq = 0;
    while (!stop.load()) {
      next += kPublishInterval;
      std::this_thread::sleep_until(next);
      const int64_t now = NowNs();
      ++seq;
      std::memcpy(payload.data(), &now, 8);
      std::memcpy(payload.data() + 8, &seq, 8);
      if (publisher.PublishAsync(kTopic, payload, 0) < 0) break;
      sent.store(seq);
      // Behind by more than 50 ms (this process was descheduled): start the schedule afresh
      // rather than sending a burst that looks like a stall.
      if (Clock::now() - next > std::chrono::milliseconds(50)) next = Clock::now();
    }
  });

  std::vector<Window> windows;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  LoggedGeneration logged_generation(broker);
  int generation = logged_generation.Poll();
  for (int r = 0; r < reloads; ++r) {
    const int version = (r + 1) % 2;
    const std::string crl = Stage(pki.temp(), "fleet/" + crl_name(version), crls[version]);
    const std::string policy =
        crl_only ? std::string() : Stage(pki.temp(), "fleet/policy.yaml", policies[version]);
    // A quiet window just before the reload.
    const int64_t quiet_begin = NowNs();
    std::this_thread::sleep_for(std::chrono::seconds(4));
    windows.push_back({"before reload " + std::to_string(r + 1), quiet_begin, NowNs()});

    const int64_t begin = NowNs();
    Promote(pki.temp(), crl, "fleet/" + crl_name(version));
    if (!crl_only) Promote(pki.temp(), policy, "fleet/policy.yaml");
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (logged_generation.Poll() <= generation) {
      if (Clock::now() > deadline || !broker.IsRunning()) {
        Fail("the plugin did not reload within 120 s\n" + broker.Log().substr(0, 8000));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    generation = logged_generation.Poll();
    const double swap_after = static_cast<double>(NowNs() - begin) / 1e9;
    std::this_thread::sleep_for(kSettle);
    windows.push_back({"reload " + std::to_string(r + 1), begin, NowNs()});
    std::printf(
        "reload %d: swapped %.2f s after the files changed (generation %d); broker RSS %.0f MB\n",
        r + 1, swap_after, generation, static_cast<double>(ProcessRssBytes(broker.pid())) / 1e6);
    std::fflush(stdout);
  }
  stop = true;
  pacer.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  publisher.Disconnect();
  const std::vector<Arrival> arrivals = subscriber.Take();
  if (arrivals.empty()) Fail("no message arrived");

  // The worst of every window of a kind: reload windows, and the quiet ones before them.
  struct Worst {
    double latency_ms = 0;
    double gap_ms = 0;
    double machine_late_ms = 0;
  };
  Worst during_reloads, before_reloads;
  double worst_not_machine = 0;
  size_t over_target = 0, machine_away = 0;
  uint64_t lost = 0;
  std::printf("\n%-18s %8s %12s %12s %12s %6s %9s %14s %10s\n", "window", "messages", "max latency",
              "p99 latency", "max gap", "lost", "worst at", "machine late", "> 5 ms");
  for (const Window& window : windows) {
    const WindowStats s = Analyse(arrivals, window, probe, verbose);
    if (verbose) {
      for (const CertguardThreadSpans::Span& span :
           certguard_threads->Between(window.begin_ns, window.end_ns)) {
        std::printf("  %s: %s busy from %.3f to %.3f s, %.1f ms of CPU\n", window.name.c_str(),
                    span.thread.c_str(), static_cast<double>(span.begin_ns - window.begin_ns) / 1e9,
                    static_cast<double>(span.end_ns - window.begin_ns) / 1e9, span.cpu_ms);
      }
      for (const WakeupProbe::Wakeup& w : probe.LateWakeups(window.begin_ns, window.end_ns, 3)) {
        std::printf("  %s: at %.3f s the machine was away %.2f ms (CPU %d)\n", window.name.c_str(),
                    static_cast<double>(w.due_ns - window.begin_ns) / 1e9,
                    static_cast<double>(w.woke_ns - w.due_ns) / 1e6, w.cpu);
      }
    }
    std::printf("%-18s %8zu %9.2f ms %9.2f ms %9.2f ms %6llu %7.2f s %8.2f ms %4zu (%zu)\n",
                window.name.c_str(), s.messages, s.max_latency_ms, s.p99_latency_ms, s.max_gap_ms,
                static_cast<unsigned long long>(s.lost), s.worst_at_s, s.machine_late_ms,
                s.over_target, s.machine_away);
    const bool reload = window.name.rfind("reload", 0) == 0;
    Worst& worst = reload ? during_reloads : before_reloads;
    worst.latency_ms = std::max(worst.latency_ms, s.max_latency_ms);
    worst.gap_ms = std::max(worst.gap_ms, s.max_gap_ms);
    worst.machine_late_ms = std::max(worst.machine_late_ms, s.machine_late_ms);
    if (reload) {
      over_target += s.over_target;
      machine_away += s.machine_away;
      worst_not_machine = std::max(worst_not_machine, s.worst_not_machine_ms);
    }
    lost += s.lost;
  }
  std::printf(
      "machine late: the longest a real-time thread that only sleeps 1 ms at a time woke late, "
      "one on each of %d CPUs (%s); > 5 ms: deliveries held up over 5 ms (in brackets, those "
      "during which the machine was away for the excess)\n",
      probe.cpus(),
      probe.realtime() ? "SCHED_FIFO, pinned" : "not all pinned at SCHED_FIFO: refused");
  std::printf("sent %llu, received %zu; load average now %s\n",
              static_cast<unsigned long long>(sent.load()), arrivals.size(), LoadAverage().c_str());
  Summary("4 longest delivery stall during reload (100k policy + 1M CRL)",
          Format("%.2f ms latency, %.2f ms gap (quiet: %.2f / %.2f ms)", during_reloads.latency_ms,
                 during_reloads.gap_ms, before_reloads.latency_ms, before_reloads.gap_ms),
          "<= 5 ms", during_reloads.latency_ms <= kTargetStallMs ? "pass" : "MISS");
  Summary(
      "4 ... this machine's own stall in the same windows (a real-time thread that only "
      "sleeps, on each CPU)",
      Format("woke up to %.2f ms late during reloads, %.2f ms before them",
             during_reloads.machine_late_ms, before_reloads.machine_late_ms),
      "-", "info");
  Summary("4 ... deliveries over 5 ms during reloads, and those the machine's stall accounts for",
          Format("%zu, of which %zu; the longest of the others %.2f ms", over_target, machine_away,
                 worst_not_machine),
          "-", "info");
  // The reload itself, in the broker thread's CPU time.
  const ReloadCost cost = LoggedReloadCost(broker);
  if (cost.reloads < reloads) Fail("the plugin logged the cost of fewer reloads than were made");
  Summary(
      "4 broker thread's CPU time in one certguard tick during reload",
      Format("%.2f ms (%.2f ms wall; a whole reload: at most %.2f ms, spread over ticks "
             "across at most %.0f ms)",
             cost.longest_tick_ms, cost.longest_tick_wall_ms, cost.busy_ms, cost.longest_span_ms),
      "<= 5 ms", cost.longest_tick_ms <= kTargetStallMs ? "pass" : "MISS");
  if (lost > 0) Summary("4 messages lost during the run", std::to_string(lost), "0", "MISS");
  idle_connections.CloseAll();
  broker.Stop();
  return 0;
}
