#!/usr/bin/env bash
# README command (2): installs, builds and runs the whole ctest suite. Tests
# that need ../shared (benchmark files, goldens) skip with a message when it is
# absent; in CI it is present and they run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
