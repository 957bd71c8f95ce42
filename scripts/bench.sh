#!/usr/bin/env bash
# Runs every benchmark in bench/ and prints one table: each figure, its target, pass or MISS.
#
# Usage: scripts/bench.sh [--quick]
#   --quick   fewer rounds and messages: a smoke run of every benchmark in a few minutes (its
#             figures are noisier; the README's come from a full run)
# Environment:
#   CERTGUARD_BENCH_NICE  shift of every benchmark thread's nice value (default -10: other jobs on a
#                         shared machine then add less of their scheduling delay; every thread of the
#                         experiment moves alike). Set it empty to leave priorities alone.
#   BUILD_DIR             build directory (default build-bench), JOBS (default: nproc)
#
# Each benchmark's full output goes to $BUILD_DIR/bench-results/<time>/<name>.log.
# Loopback only; every process a benchmark starts is stopped by its pid when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash scripts/install-deps.sh

build=${BUILD_DIR:-build-bench}
jobs=${JOBS:-$(nproc)}
# Release at -O2: what distributions build with. (GCC 12 at -O3, CMake's Release default, stops
# the build with a false -Wrestrict in shared/topic_template.cc.)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -g -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" >/dev/null
targets=(decision_bench crl_load_bench mosquitto_throughput_bench mosquitto_connect_bench
         broker_instructions_bench memory_bench reload_stall_bench idle_broker_bench)
have_exhook=0
if grep -q "^exhook_bench:" <(ninja -C "$build" -t targets all 2>/dev/null); then
  targets+=(exhook_bench)
  have_exhook=1
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# The memory benchmark holds 10,000 connections: one socket each here and in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export CERTGUARD_BENCH_NICE=${CERTGUARD_BENCH_NICE--10}

out="$build/bench-results/$(date +%Y%m%dT%H%M%S)"
mkdir -p "$out"
start_load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
failed=()

run() {
  local name=$1
  shift
  echo
  echo "=== $name $*"
  # pipefail: the benchmark's own status, not tee's. decision_bench exits 1 when a ratio is over
  # its target, which the table shows; any other failure means the benchmark could not measure.
  if ! "$build/bench/$name" "$@" 2>&1 | tee "$out/$name.log"; then
    [ "$name" = decision_bench ] || failed+=("$name")
  fi
}

if [ "$quick" = 1 ]; then
  run decision_bench --benchmark_min_time=0.05
  run crl_load_bench 100000
  run mosquitto_throughput_bench --rounds 2 --qos0 20000 --qos1 10000
  run mosquitto_connect_bench --rounds 2 --connections 300
  run broker_instructions_bench --rounds 2 --messages 200 --connections 20
  run memory_bench --clients 2000
  run reload_stall_bench --reloads 1 --idle-clients 500
  run idle_broker_bench --clients 500 --seconds 3 --rounds 3
  [ "$have_exhook" = 1 ] && run exhook_bench --rounds 2 --calls 5000 --paced-seconds 2
else
  run decision_bench
  run crl_load_bench
  run mosquitto_throughput_bench
  run mosquitto_connect_bench
  run broker_instructions_bench
  run memory_bench
  run reload_stall_bench
  run idle_broker_bench
  [ "$have_exhook" = 1 ] && run exhook_bench
fi

# The two Google Benchmark programs print their own ratio lines; one row each here.
{
  awk '/^(publish|subscribe|receive) / && NF >= 7 {
         printf "SUMMARY\tcore %s decision, 100k-device / 10-device policy\tx%s (%s vs %s ns)\t< 2\t%s\n",
                $1, $6, $4, $2, ($6 < 2 ? "pass" : "MISS") }' "$out/decision_bench.log"
  awk '/certguard CrlSet::Load/ { gsub(/[()]/, ""); printf "SUMMARY\tCRL load (%s), certguard / OpenSSL parse\t%s ms (%s)\t-\tinfo\n", crl, $3, $5 }
       /^CRL with/ { crl = $3 " serials" }' "$out/crl_load_bench.log"
  cat "$out"/*.log | grep '^SUMMARY' | grep -v '^SUMMARY	core\|^SUMMARY	CRL load' || true
} > "$out/summary.tsv"

echo
echo "=== summary ($(( ($(date +%s) - started) / 60 )) min; load average $start_load at the start," \
  "$(cut -d' ' -f1-3 /proc/loadavg) at the end; $(nproc) cores; nice shift ${CERTGUARD_BENCH_NICE:-none})"
{
  printf "figure\tvalue\ttarget\tverdict\n"
  # The issue's items 1-5 in order, then the core's own benchmarks.
  grep -P '^SUMMARY\t[0-9]' "$out/summary.tsv" | sort -s -t $'\t' -k2,2.1 | cut -f2- || true
  grep -vP '^SUMMARY\t[0-9]' "$out/summary.tsv" | cut -f2- || true
} | column -t -s $'\t'
echo
echo "logs: $out"
[ "$have_exhook" = 1 ] || echo "exhook_bench not built: certguard-exhook needs gRPC (scripts/install-deps.sh)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED to run: ${failed[*]}"
  exit 1
fi
