#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan into build-fuzz, and runs
# each for SECONDS (default 30) on a copy of its seed corpus in a temp dir; the committed corpus is
# never written to. Prints the executions each target ran; exits non-zero on any crash, leak,
# timeout or sanitizer report, leaving the input that caused it in build-fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets by name, e.g. policy_parser crl)
# Targets run side by side, one per core (FUZZ_JOBS=N to change).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi

build="build-fuzz"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DCERTGUARD_FUZZ=ON -DCERTGUARD_BUILD_BENCH=OFF -DCERTGUARD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for source in tests/fuzz/fuzz_*.cc; do
    name="$(basename "$source" .cc)"
    name="${name#fuzz_}"
    # A target whose dependencies are not installed is not configured (see tests/fuzz).
    [ -x "$build/tests/fuzz/fuzz_$name" ] && targets+=("$name")
  done
fi

# Sanitizer reports stop the run (UBSan would otherwise print and carry on).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# One target per core at a time (FUZZ_JOBS overrides): each libFuzzer process is single-threaded.
fuzz_jobs="${FUZZ_JOBS:-$(nproc)}"
results="$(mktemp -d)"

# Runs one target and writes its verdict line to $results/<name>; the line starts with "ok" or
# "FAILED".
run_target() {
  local name="$1"
  local binary="$build/tests/fuzz/fuzz_$name"
  local seeds="tests/fuzz/corpus/$name"
  if [ ! -x "$binary" ] || [ ! -d "$seeds" ]; then
    echo "FAILED fuzz_$name: no such target or no corpus in $seeds" >"$results/$name"
    return
  fi
  local corpus artifacts log status=0 runs
  corpus="$(mktemp -d)"
  cp -r "$seeds"/. "$corpus"/
  artifacts="$build/artifacts/$name"
  mkdir -p "$artifacts"
  log="$build/artifacts/$name.log"
  nice -n 10 "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  rm -rf "$corpus"
  runs="$(sed -n 's/^stat::number_of_executed_runs: *//p' "$log" | tail -n 1)"
  if [ -z "$runs" ]; then runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"; fi
  # A run stopped by a finding prints no final stats: its last status line is the closest count.
  if [ -z "$runs" ]; then runs="$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)"; fi
  if [ "$status" -eq 0 ] && ! grep -qE '^(SUMMARY: |==[0-9]+==ERROR)|runtime error:' "$log"; then
    echo "ok fuzz_$name: ${runs:-?} executions in ${seconds}s, no findings" >"$results/$name"
  else
    {
      echo "FAILED fuzz_$name: exit $status after ${runs:-?} executions; log $log, input in $artifacts/"
      grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9]+ ' "$log" | head -n 30 || true
    } >"$results/$name"
  fi
}

running=0
for name in "${targets[@]}"; do
  if [ "$running" -ge "$fuzz_jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$name" &
  running=$((running + 1))
done
wait

passed=0
failed=0
for name in "${targets[@]}"; do
  verdict="$(cat "$results/$name" 2>/dev/null || echo "FAILED fuzz_$name: no verdict")"
  if [[ "$verdict" == ok\ * ]]; then
    echo "${verdict#ok }"
    passed=$((passed + 1))
  else
    echo "${verdict#FAILED }"
    failed=$((failed + 1))
  fi
done
rm -rf "$results"

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
