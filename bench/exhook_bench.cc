// certguard-exhook against a do-nothing ExHook server built the same way (bench/
// exhook_null_server.cc: same generated protos, same gRPC server set-up and worker threads),
// both started here as processes and called as EMQX calls them (emqx.exhook.v2, 8 HTTP/2
// connections like EMQX's default pool_size, `mqtt.peer_cert_as_username = pem`):
//  - closed loop at a fixed concurrency: client.authorize RPCs/s, p50/p99 latency, and the
//    server's CPU time per RPC (/proc, see ProcessCpuSeconds), servers interleaved round by round;
//  - open loop at half of certguard-exhook's maximum rate: p50/p99 latency, interleaved too.
// The servers run on a core of their own and this process (EMQX's stand-in) on the others, as
// EMQX and an exhook server would beside each other: sharing two cores, the client's threads
// took the server's core from it and p99 measured the scheduler (`--share-cpus 1` keeps that
// set-up, for comparison). A WakeupProbe watches every core during the open-loop windows: a
// call the machine held up (its core away, over 1 ms stretches summed within the call's flight,
// for at least its excess over 1 ms) is counted apart, as reload_stall_bench does.
// certguard-exhook runs the example policy (policies/sensors-dashboards.yaml: URI-SAN/CN
// identity, require_issuer, CRL, denylist) for 64 devices that each publish to their telemetry
// topic.
//
// Usage: exhook_bench [--rounds N] [--calls N] [--concurrency N] [--paced-seconds S]
//                     [--share-cpus 1] [--threads N (both servers' worker threads, default 2)]
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/support/bench_support.h"
#include "bench/support/wakeup_probe.h"
#include "emqx/exhook/v2/exhook.grpc.pb.h"

namespace {

using namespace certguard::bench;
namespace v2 = emqx::exhook::v2;

constexpr int kDevices = 64;
constexpr int kChannels = 8;  // EMQX's default exhook pool_size
constexpr double kTargetRatio = 0.90;
constexpr double kTargetP99Ms = 1.0;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A server process, stopped (SIGTERM, then SIGKILL) and reaped by its destructor.
class ServerProcess {
 public:
  // `cpus`: where the server may run (empty: wherever this process may).
  ServerProcess(std::string name, std::vector<std::string> argv, const std::string& dir,
                std::vector<int> cpus)
      : name_(std::move(name)),
        argv_(std::move(argv)),
        output_(dir + "/" + name_ + ".out"),
        cpus_(std::move(cpus)) {}
  ~ServerProcess() { Stop(); }

  void Start() {
    std::vector<char*> args;
    for (std::string& arg : argv_) args.push_back(arg.data());
    args.push_back(nullptr);
    const std::string output = output_;
    pid_ = ::fork();
    if (pid_ < 0) Fail("fork failed");
    if (pid_ == 0) {
      if (!cpus_.empty() && !PinThisThreadTo(cpus_)) ::_exit(126);
      std::FILE* out = std::freopen(output.c_str(), "w", stderr);
      if (out != nullptr) ::dup2(STDERR_FILENO, STDOUT_FILENO);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    const std::string needle = "listening on ";
    while (Clock::now() < deadline) {
      const std::string text = ReadFile(output_);
      const size_t at = text.find(needle);
      const size_t paren = at == std::string::npos ? at : text.find(" (", at);
      if (paren != std::string::npos) {
        port_ = std::atoi(text.c_str() + text.rfind(':', paren) + 1);
        std::printf("%s: pid %d, port %d\n", name_.c_str(), static_cast<int>(pid_), port_);
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        Fail(name_ + " exited during start-up:\n" + text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Fail(name_ + " did not listen within 30 s:\n" + ReadFile(output_));
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string output_;
  std::vector<int> cpus_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// What EMQX sends for a device whose certificate has only CN=id, with peer_cert_as_username=pem.
template <typename ClientInfo>
void FillClientInfo(ClientInfo* info, const BenchPki::Client& device) {
  info->set_node("emqx@127.0.0.1");
  info->set_clientid(device.id);
  info->set_username(Base64(device.issued.cert_der));
  info->set_peerhost("127.0.0.1");
  info->set_sockport(8883);
  info->set_protocol("mqtt");
  info->set_cn(device.id);
  info->set_dn("CN=" + device.id);
  info->set_peerport(50000);
}

// One EMQX node's pool of connections to a server, with asynchronous calls.
class Pool {
 public:
  explicit Pool(const std::string& address) {
    for (int i = 0; i < kChannels; ++i) {
      grpc::ChannelArguments args;
      // Separate HTTP/2 connections, as EMQX's pool workers have, not one shared subchannel.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("certguard.bench.channel", i);
      stubs_.push_back(v2::HookProvider::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
    }
  }
  v2::HookProvider::Stub* stub(size_t i) { return stubs_[i % stubs_.size()].get(); }

  // Synchronous: OnProviderLoaded and client.authenticate for every device, as EMQX does before
  // any authorize.
  void Prepare(const std::vector<BenchPki::Client>& devices, const std::string& name) {
    grpc::ClientContext context;
    v2::ProviderLoadedRequest loaded;
    loaded.mutable_broker()->set_version("5.8.9");
    v2::LoadedResponse hooks;
    if (!stub(0)->OnProviderLoaded(&context, loaded, &hooks).ok())
      Fail(name + ": OnProviderLoaded");
    for (size_t i = 0; i < devices.size(); ++i) {
      grpc::ClientContext call;
      v2::ClientAuthenticateRequest request;
      FillClientInfo(request.mutable_clientinfo(), devices[i]);
      v2::ValuedResponse response;
      const grpc::Status status = stub(i)->OnClientAuthenticate(&call, request, &response);
      if (!status.ok() || !response.bool_result()) {
        Fail(name + ": " + devices[i].id + " was not authenticated: " + status.error_message());
      }
    }
  }

 private:
  std::vector<std::unique_ptr<v2::HookProvider::Stub>> stubs_;
};

struct Call {
  grpc::ClientContext context;
  v2::ValuedResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v2::ValuedResponse>> reader;
  Clock::time_point start;
};

struct LoadResult {
  double seconds = 0;
  double server_cpu_us = 0;  // per call
  std::vector<double> latencies_us;
  std::vector<int64_t> started_ns;  // each call's start, steady_clock ns, as WakeupProbe keeps time
  uint64_t failed = 0;
  uint64_t denied = 0;
  double rate() const { return static_cast<double>(latencies_us.size()) / seconds; }
};

// Sends client.authorize calls: `total` of them, either keeping `concurrency` in flight (closed
// loop, rate 0) or issuing one every 1/rate seconds (open loop).
LoadResult Run(Pool& pool, const ServerProcess& server,
               const std::vector<v2::ClientAuthorizeRequest>& requests, int concurrency, int total,
               double rate) {
  grpc::CompletionQueue queue;
  std::atomic<int> issued{0};
  LoadResult result;
  result.latencies_us.reserve(static_cast<size_t>(total));
  result.started_ns.reserve(static_cast<size_t>(total));
  const auto issue = [&](int i) {
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    call->start = Clock::now();
    const auto& request = requests[static_cast<size_t>(i) % requests.size()];
    call->reader = pool.stub(static_cast<size_t>(i))
                       ->PrepareAsyncOnClientAuthorize(&call->context, request, &queue);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  };
  const double cpu_before = ProcessCpuSeconds(server.pid());
  const auto start = Clock::now();
  std::thread pacer;
  if (rate <= 0) {
    for (int i = 0; i < concurrency && i < total; ++i) issue(issued++);
  } else {
    pacer = std::thread([&] {
      const auto interval = std::chrono::duration<double>(1.0 / rate);
      for (int i = 0; i < total; ++i) {
        std::this_thread::sleep_until(start +
                                      std::chrono::duration_cast<Clock::duration>(interval * i));
        issue(issued++);
      }
    });
  }
  int completed = 0;
  const auto deadline = start + std::chrono::seconds(120);
  while (completed < total) {
    void* tag = nullptr;
    bool ok = false;
    if (queue.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(10)) !=
        grpc::CompletionQueue::GOT_EVENT) {
      Fail(server.name() + ": no answer for 10 s");
    }
    auto* call = static_cast<Call*>(tag);
    result.latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - call->start).count());
    result.started_ns.push_back(static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(call->start.time_since_epoch())
            .count()));
    if (!ok || !call->status.ok()) {
      ++result.failed;
    } else if (!call->response.bool_result()) {
      ++result.denied;
    }
    delete call;
    ++completed;
    if (rate <= 0 && issued < total) issue(issued++);
    if (Clock::now() > deadline) Fail(server.name() + ": the run took over 120 s");
  }
  result.seconds = SecondsSince(start);
  result.server_cpu_us = (ProcessCpuSeconds(server.pid()) - cpu_before) * 1e6 / total;
  if (pacer.joinable()) pacer.join();
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("nice %d (CERTGUARD_BENCH_NICE)\n", ApplyBenchPriority());
  int rounds = 5;
  int calls = 20'000;
  int concurrency = 32;
  double paced_seconds = 3;
  bool share_cpus = false;
  std::string threads = "2";  // both servers alike (certguard-exhook's default on 2 cores)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = argv[i + 1];
    if (std::strcmp(argv[i], "--share-cpus") == 0) share_cpus = std::atoi(argv[i + 1]) != 0;
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--concurrency") == 0) concurrency = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--paced-seconds") == 0) paced_seconds = std::atof(argv[i + 1]);
  }
  std::printf(
      "exhook: %d rounds (+1 warm-up) of %d client.authorize calls, %d in flight over %d "
      "connections; load average %s\n",
      rounds, calls, concurrency, kChannels, LoadAverage().c_str());

  BenchPki pki;
  std::vector<BenchPki::Client> devices;
  for (int i = 0; i < kDevices; ++i)
    devices.push_back(pki.IssueClient("sensor-" + std::to_string(i)));
  const std::string policy =
      WritePolicyDir(pki, "example", ExamplePolicyText(), RevokedSerials(1000));
  std::vector<v2::ClientAuthorizeRequest> requests;
  for (const auto& device : devices) {
    v2::ClientAuthorizeRequest request;
    FillClientInfo(request.mutable_clientinfo(), device);
    request.set_type(v2::ClientAuthorizeRequest::PUBLISH);
    request.set_topic("sensors/" + device.id + "/telemetry");
    requests.push_back(std::move(request));
  }

  // The probe first, while this process may still run on every CPU: it pins a thread to each.
  const WakeupProbe probe;
  std::vector<int> client_cpus = AllowedCpus();
  std::vector<int> server_cpus;
  if (!share_cpus && client_cpus.size() >= 2) {
    server_cpus = {client_cpus.back()};
    client_cpus.pop_back();
  }
  const auto list = [](const std::vector<int>& cpus) {
    std::string text;
    for (int cpu : cpus) text += (text.empty() ? "" : ",") + std::to_string(cpu);
    return text;
  };
  std::printf("CPUs: servers %s, this client %s\n",
              server_cpus.empty() ? "shared" : list(server_cpus).c_str(),
              server_cpus.empty() ? "shared" : list(client_cpus).c_str());
  ServerProcess certguard("certguard-exhook",
                          {CERTGUARD_EXHOOK_PATH, "--policy", policy, "--listen", "127.0.0.1:0",
                           "--peer-cert", "pem", "--threads", threads},
                          pki.dir(), server_cpus);
  ServerProcess null_server(
      "do-nothing server",
      {CERTGUARD_EXHOOK_NULL_PATH, "--listen", "127.0.0.1:0", "--threads", threads}, pki.dir(),
      server_cpus);
  certguard.Start();
  null_server.Start();
  // This thread and every thread it starts from here on (gRPC's included) stay off the servers'.
  if (!server_cpus.empty() && !PinThisThreadTo(client_cpus))
    Fail("cannot pin the client to its CPUs");
  std::printf("machine probe on %d CPUs (%s)\n", probe.cpus(),
              probe.realtime() ? "SCHED_FIFO, pinned" : "not all pinned at SCHED_FIFO: refused");
  Pool certguard_pool(certguard.address());
  Pool null_pool(null_server.address());
  certguard_pool.Prepare(devices, certguard.name());
  null_pool.Prepare(devices, null_server.name());

  struct Series {
    std::vector<double> rate, p50, p99, cpu;
  } series[2];
  ServerProcess* servers[2] = {&certguard, &null_server};
  Pool* pools[2] = {&certguard_pool, &null_pool};
  for (int round = 0; round <= rounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      const int s = (k + round) % 2;
      const LoadResult r =
          Run(*pools[s], *servers[s], requests, concurrency, round == 0 ? calls / 4 : calls, 0);
      if (r.failed > 0 || r.denied > 0) {
        Fail(Format("%s: %llu failed and %llu denied calls", servers[s]->name().c_str(),
                    static_cast<unsigned long long>(r.failed),
                    static_cast<unsigned long long>(r.denied)));
      }
      if (round == 0) continue;
      series[s].rate.push_back(r.rate());
      series[s].p50.push_back(Percentile(r.latencies_us, 50) / 1000);
      series[s].p99.push_back(Percentile(r.latencies_us, 99) / 1000);
      series[s].cpu.push_back(r.server_cpu_us);
      std::printf(
          "round %d  %-18s %7.0f calls/s  p50 %.3f ms  p99 %.3f ms  server CPU %.1f us/call\n",
          round, servers[s]->name().c_str(), r.rate(), series[s].p50.back(), series[s].p99.back(),
          r.server_cpu_us);
    }
  }
  const double ratio = Median(Ratios(series[0].rate, series[1].rate));
  const double cpu_ratio = Median(Ratios(series[0].cpu, series[1].cpu));
  std::printf("\nclosed loop, %d in flight, median of %d rounds:\n", concurrency, rounds);
  for (int s = 0; s < 2; ++s) {
    std::printf("  %-18s %7.0f calls/s  p50 %.3f ms  p99 %.3f ms  server CPU %.1f us/call\n",
                servers[s]->name().c_str(), Median(series[s].rate), Median(series[s].p50),
                Median(series[s].p99), Median(series[s].cpu));
  }
  std::printf("  certguard / do-nothing: throughput x%.3f, server CPU per call x%.3f\n", ratio,
              cpu_ratio);

  // Open loop at half of certguard-exhook's maximum, interleaved over the same rounds: a p99 is
  // the few slowest calls, and on a shared machine one unlucky second decides it.
  const double half = Median(series[0].rate) / 2;
  const int paced_calls = static_cast<int>(half * paced_seconds);
  std::vector<double> paced_p50[2], paced_p99[2], paced_max[2], paced_p99_not_machine[2];
  std::vector<double> machine_late[2];
  for (int round = 1; round <= rounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      const int s = (k + round) % 2;
      const LoadResult r = Run(*pools[s], *servers[s], requests, 0, paced_calls, half);
      if (r.failed > 0 || r.denied > 0) Fail(servers[s]->name() + ": failed or denied calls");
      // Calls over the target that the machine accounts for: their cores were away, within the
      // call's flight, for at least the excess.
      std::vector<double> not_machine;
      size_t over = 0, machine = 0;
      for (size_t i = 0; i < r.latencies_us.size(); ++i) {
        const double ms = r.latencies_us[i] / 1000;
        if (ms > kTargetP99Ms) {
          ++over;
          const int64_t end = r.started_ns[i] + static_cast<int64_t>(r.latencies_us[i] * 1000);
          if (probe.AwayWithin(r.started_ns[i], end) >= ms - kTargetP99Ms) {
            ++machine;
            continue;
          }
        }
        not_machine.push_back(r.latencies_us[i]);
      }
      const auto [first, last] = std::minmax_element(r.started_ns.begin(), r.started_ns.end());
      const int64_t begin = first == r.started_ns.end() ? 0 : *first;
      const int64_t end = last == r.started_ns.end() ? 0 : *last;
      paced_p50[s].push_back(Percentile(r.latencies_us, 50) / 1000);
      paced_p99[s].push_back(Percentile(r.latencies_us, 99) / 1000);
      paced_max[s].push_back(Percentile(r.latencies_us, 100) / 1000);
      paced_p99_not_machine[s].push_back(Percentile(not_machine, 99) / 1000);
      machine_late[s].push_back(probe.LongestLateDueBetween(begin, end));
      std::printf(
          "round %d  open loop at %.0f calls/s for %.0f s: %-18s p50 %.3f ms  p99 %.3f ms  "
          "max %.3f ms; over %.0f ms %zu, the machine's %zu (p99 without them %.3f ms; probe "
          "late up to %.2f ms)\n",
          round, half, paced_seconds, servers[s]->name().c_str(), paced_p50[s].back(),
          paced_p99[s].back(), paced_max[s].back(), kTargetP99Ms, over, machine,
          paced_p99_not_machine[s].back(), machine_late[s].back());
    }
  }
  std::printf("\nopen loop at %.0f calls/s, median of %d rounds:\n", half, rounds);
  for (int s = 0; s < 2; ++s) {
    std::printf(
        "  %-18s p50 %.3f ms  p99 %.3f ms  max %.3f ms; p99 without the machine's %.3f ms\n",
        servers[s]->name().c_str(), Median(paced_p50[s]), Median(paced_p99[s]),
        Median(paced_max[s]), Median(paced_p99_not_machine[s]));
  }
  std::printf("load average now %s\n", LoadAverage().c_str());

  Summary("3 exhook authorize throughput certguard / do-nothing",
          Format("x%.3f (%.0f vs %.0f calls/s, %d in flight)", ratio, Median(series[0].rate),
                 Median(series[1].rate), concurrency),
          ">= 0.90", ratio >= kTargetRatio ? "pass" : "MISS");
  Summary(
      "3 exhook server CPU per authorize certguard / do-nothing",
      Format("x%.2f (%.1f vs %.1f us)", cpu_ratio, Median(series[0].cpu), Median(series[1].cpu)),
      "-", "info");
  Summary("3 exhook latency p50/p99 at max (closed loop)",
          Format("%.3f / %.3f ms (do-nothing %.3f / %.3f)", Median(series[0].p50),
                 Median(series[0].p99), Median(series[1].p50), Median(series[1].p99)),
          "-", "info");
  const double p99 = Median(paced_p99[0]);
  Summary("3 exhook p99 at half the maximum rate",
          Format("%.3f ms at %.0f calls/s (p50 %.3f; do-nothing p99 %.3f)", p99, half,
                 Median(paced_p50[0]), Median(paced_p99[1])),
          "< 1 ms", p99 < kTargetP99Ms ? "pass" : "MISS");
  Summary("3 exhook p99 at half the maximum rate, calls the machine held up left out",
          Format("%.3f ms (do-nothing %.3f; the probe's worst wake-up per round, median %.2f ms)",
                 Median(paced_p99_not_machine[0]), Median(paced_p99_not_machine[1]),
                 Median(machine_late[0])),
          "-", "info");
  return 0;
}
