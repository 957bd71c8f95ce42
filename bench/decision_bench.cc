// The cost of one authorization decision (publish, subscribe, receive) must not grow with the
// fleet: policies with explicit rules for 10, 10,000 and 100,000 devices plus templated group
// rules are compiled once, then decisions for one connected device are timed. Prints ns per
// decision and the ratio of the 100,000-device case to the 10-device case, measured in the same
// run (the target is a ratio under 2).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "shared/certificate_info.h"
#include "shared/policy.h"

namespace {

using certguard::Action;
using certguard::CertificateInfo;
using certguard::Policy;

std::string FleetPolicy(int devices) {
  std::string yaml = R"(version: 1
identity:
  from:
    - cn: "{id}"
  client_id: must_match
groups:
  sensors: { id: "dev-*" }
  dashboards: { id: ["dashboard-*", "ops-console"] }
rules:
  - for: sensors
    allow:
      publish: ["sensors/{id}/telemetry", "devices/{id}/status"]
      subscribe: ["devices/{id}/commands/#"]
  - for: dashboards
    allow:
      subscribe: ["sensors/+/telemetry"]
  - for: all
    deny:
      publish: ["$SYS/#"]
      subscribe: ["$SYS/#", "private/#"]
)";
  yaml.reserve(yaml.size() + static_cast<size_t>(devices) * 160);
  for (int i = 0; i < devices; ++i) {
    const std::string id = "dev-" + std::to_string(i);
    yaml += "  - for: { id: \"" + id + "\" }\n    allow:\n      publish: [\"fleet/" + id +
            "/data\", \"fleet/" + id + "/cfg/#\"]\n      subscribe: [\"fleet/" + id +
            "/cmd/+\", \"fleet/" + id + "/ota/#\"]\n";
  }
  return yaml;
}

struct Fleet {
  std::shared_ptr<Policy> policy;
  CertificateInfo cert;
  std::string device_id;
  std::vector<const certguard::PermissionSet*> permissions;
};

const Fleet& FleetOf(int devices) {
  static std::map<int, std::unique_ptr<Fleet>> fleets;
  auto& fleet = fleets[devices];
  if (!fleet) {
    fleet = std::make_unique<Fleet>();
    auto policy = Policy::Parse(FleetPolicy(devices), "bench.yaml");
    if (!policy) {
      std::fprintf(stderr, "%s\n", policy.error().message.c_str());
      std::abort();
    }
    fleet->policy = std::move(policy).value();
    fleet->device_id = "dev-" + std::to_string(devices / 2);
    auto cert = CertificateInfo::FromSubjectStrings(fleet->device_id, "CN=" + fleet->device_id);
    if (!cert) std::abort();
    fleet->cert = std::move(cert).value();
    fleet->permissions = fleet->policy->PermissionsFor(fleet->device_id, fleet->cert);
  }
  return *fleet;
}

// One decision per iteration, cycling through a fixed mix so no branch is favoured.
void Decide(benchmark::State& state, Action action,
            std::vector<std::string> (*topics)(const std::string&)) {
  const Fleet& fleet = FleetOf(static_cast<int>(state.range(0)));
  const certguard::PlaceholderValues values{fleet.device_id, fleet.device_id, fleet.device_id};
  const std::vector<std::string> mix = topics(fleet.device_id);
  size_t i = 0;
  int64_t allowed = 0;
  for (auto _ : state) {
    const auto decision = fleet.policy->Authorize(action, fleet.permissions, values, mix[i]);
    allowed += decision.allowed;
    benchmark::DoNotOptimize(decision);
    i = i + 1 == mix.size() ? 0 : i + 1;
  }
  state.counters["allowed_share"] =
      static_cast<double>(allowed) / static_cast<double>(state.iterations());
}

std::vector<std::string> PublishTopics(const std::string& id) {
  return {"fleet/" + id + "/data",
          "fleet/" + id + "/cfg/a/b",
          "sensors/" + id + "/telemetry",
          "sensors/dev-other/telemetry",
          "$SYS/broker/x",
          "fleet/dev-other/data"};
}
std::vector<std::string> SubscribeFilters(const std::string& id) {
  return {"fleet/" + id + "/cmd/+",
          "fleet/" + id + "/ota/#",
          "devices/" + id + "/commands/#",
          "devices/+/commands/#",
          "#",
          "private/x/+"};
}
std::vector<std::string> ReceiveTopics(const std::string& id) {
  return {"fleet/" + id + "/cmd/reboot",
          "fleet/" + id + "/ota/v2/chunk",
          "devices/" + id + "/commands/x",
          "devices/dev-other/commands/x",
          "private/x/y",
          "$SYS/uptime"};
}

void BM_Publish(benchmark::State& state) { Decide(state, Action::kPublish, PublishTopics); }
void BM_Subscribe(benchmark::State& state) { Decide(state, Action::kSubscribe, SubscribeFilters); }
void BM_Receive(benchmark::State& state) { Decide(state, Action::kReceive, ReceiveTopics); }

constexpr int kFleetSizes[] = {10, 10'000, 100'000};

void Register(const char* name, void (*fn)(benchmark::State&)) {
  auto* b = benchmark::RegisterBenchmark(name, fn);
  for (int n : kFleetSizes) b->Arg(n);
  b->Repetitions(5)->ReportAggregatesOnly(true)->MinTime(0.2);
}

// Collects the median time per decision of each run, to print the ratios after the table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.aggregate_name == "median") {
        medians_[run.run_name.function_name][static_cast<int>(std::stol(run.run_name.args))] =
            run.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  bool PrintRatios() const {
    bool ok = true;
    std::printf("\nCPU ns per decision (median of 5) and ratio to the 10-device policy:\n");
    std::printf("%-12s %12s %12s %12s %10s %10s\n", "decision", "10", "10000", "100000", "10k/10",
                "100k/10");
    for (const auto& [name, by_size] : medians_) {
      const double base = by_size.at(10);
      const double r10k = by_size.at(10'000) / base;
      const double r100k = by_size.at(100'000) / base;
      std::printf("%-12s %12.1f %12.1f %12.1f %10.2f %10.2f %s\n", name.c_str(), base,
                  by_size.at(10'000), by_size.at(100'000), r10k, r100k,
                  r100k < 2.0 ? "ok (< 2)" : "OVER TARGET (>= 2)");
      ok = ok && r100k < 2.0;
    }
    return ok;
  }

 private:
  std::map<std::string, std::map<int, double>> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  Register("publish", BM_Publish);
  Register("subscribe", BM_Subscribe);
  Register("receive", BM_Receive);
  benchmark::Initialize(&argc, argv);
  for (int n : kFleetSizes) FleetOf(n);  // compile every policy before timing anything
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const bool ok = reporter.PrintRatios();
  benchmark::Shutdown();
  return ok ? 0 : 1;
}
