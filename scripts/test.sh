#!/usr/bin/env bash
# Runs every test, on a bare Debian 12 as root (installs what is missing first):
#   1. the normal build: unit, CLI, real-broker integration, valgrind, exhook, parity, soak (20 s)
#   2. the unit, integration, exhook, parity and soak suites again with all of our code (core,
#      CLI, plugin, certguard-exhook, tests) built with AddressSanitizer + UndefinedBehaviorSanitizer
#      (the plugin runs inside Debian's broker with the sanitizer runtime preloaded); not the
#      valgrind test (valgrind cannot run an ASan binary)
#   3. every libFuzzer target for 30 s on its seed corpus
# Usage: scripts/test.sh            (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
start=$SECONDS
stage() { printf '\n== %s (at %ds)\n' "$1" "$((SECONDS - start))"; }

# Line tables only (-g1): stack traces from valgrind and the sanitizers keep their file:line, and
# the build, gRPC's generated code above all, takes far less time than with full debug info.
stage "1/3 build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build -j"$jobs"
stage "1/3 tests"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900

stage "2/3 sanitizer build (ASan + UBSan)"
# -O0: GCC instruments twice as fast as at -O1 (the build was the stage's longest part), and the
# suites, mostly waiting on brokers and sockets, run only 15 % longer; detection is the same.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGUARD_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" \
  -DCERTGUARD_BUILD_BENCH=OFF >/dev/null
# The test binaries and every binary they run: the CLI (unit tests), the plugin (integration,
# parity, soak) and certguard-exhook (exhook, parity, soak). The soaks look for memory errors
# under load and policy rewrites here; their RSS bound is asserted in stage 1 only, since ASan's
# quarantine holds freed memory back (tests/soak/soak_support.h).
cmake --build build-asan -j"$jobs" --target certguard certguard_mosquitto certguard-exhook \
  certguard_unit_tests certguard_integration_tests certguard_exhook_tests \
  certguard_mosquitto_soak certguard_exhook_soak
stage "2/3 sanitizer tests"
# Debian's broker is not instrumented: it needs the runtime preloaded to load our ASan plugin
# (tests/support/mosquitto_broker.cc gives the broker its own ASAN_OPTIONS, without leak checks).
export CERTGUARD_BROKER_PRELOAD=/usr/lib/x86_64-linux-gnu/libasan.so.8:/usr/lib/x86_64-linux-gnu/libubsan.so.1
# Reports of the test binaries, the CLI and certguard-exhook go to files, one per process: the
# tests send the servers' and the CLI's output to temporary files or pipes, so a report from a
# server a test then SIGKILLs (or never asks for its exit code) would otherwise be lost. Any
# file there fails the stage. (The broker's ASAN_OPTIONS above replace these.)
san_logs=$(mktemp -d)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$san_logs/report:log_exe_name=1"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The valgrind test stays in stage 1: valgrind cannot run an ASan binary.
san_status=0
# The soaks for 10 s here (100 policy rewrites): enough to race rewrites against live sessions,
# and CI's time is better spent on the 20 s runs of stage 1.
CERTGUARD_SOAK_SECONDS=10 ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 900 \
  -L 'unit|integration|exhook|soak' -E PluginUnderValgrindTest || san_status=$?
for report in "$san_logs"/*; do
  [ -e "$report" ] || continue
  printf '\n== sanitizer report %s\n' "$(basename "$report")"
  cat "$report"
  san_status=1
done
rm -rf "$san_logs"
unset CERTGUARD_BROKER_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
[ "$san_status" -eq 0 ] || exit "$san_status"

stage "3/3 fuzzing (30 s per target)"
bash scripts/fuzz.sh 30

stage "all tests passed"
