#!/usr/bin/env bash
# Load and soak: 2,000 TLS devices on Mosquitto with certguard, and 64 EMQX connections on
# certguard-exhook, each while the policy file is rewritten every 100 ms; prints the figures
# (lines starting with "[ SOAK     ]") and fails on a crash, a wrong decision, a lost connection
# or RSS growth after warm-up. CI runs the same tests for 20 s through ctest (label soak).
# Usage: scripts/soak.sh [SECONDS]      (default 60; builds into ./build-soak)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
bash scripts/install-deps.sh

cmake -S . -B build-soak -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGUARD_BUILD_BENCH=OFF \
  >/dev/null
known=$(cmake --build build-soak --target help)
targets=()
for target in certguard_mosquitto_soak certguard_exhook_soak; do
  if grep -q "^${target}:" <<<"$known"; then targets+=("$target"); fi
done
cmake --build build-soak -j"$(nproc)" --target "${targets[@]}"

# Run directly rather than through ctest, whose per-test timeout would cut a long soak short.
export CERTGUARD_SOAK_SECONDS=$seconds
status=0
for target in "${targets[@]}"; do
  echo "=== $target, ${seconds} s"
  "build-soak/tests/soak/$target" || status=1
done
exit $status
