#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian 12, as root), builds, runs CTest.
# Usage: scripts/test.sh            (from anywhere; builds into ./build)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
# Unit tests first (seconds), then the integration tests with real brokers.
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600
