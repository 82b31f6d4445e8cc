#!/usr/bin/env bash
# The same backend benchmark under both build configurations, side by side in
# one run on one machine: build/ (Debian's LibTorch 1.13) and build-torch2/
# (PyPI's LibTorch 2.11, SDPA attention), alternating, ROUNDS times each, on
# the same random checkpoints (run_backend_bench.sh's small LLaDA and Llama), CPU.
#   bash scripts/build.sh && bash scripts/build.sh torch2 &&
#   cmake --build build --target backend_bench && cmake --build build-torch2 --target backend_bench &&
#   bash bench/run_torch_versions_bench.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
for round in $(seq "${1:-3}"); do
  for build in build build-torch2; do
    echo "## round $round, $build"
    BUILD_DIR=$build bash bench/run_backend_bench.sh cpu
  done
done
