#!/usr/bin/env bash
# The same backend benchmark under both build configurations, side by side in
# one run on one machine: build/ (Debian's LibTorch 1.13) and build-torch2/
# (PyPI's LibTorch 2.11, SDPA attention), alternating, ROUNDS times each, on
# the same random checkpoints (a small LLaDA and a small Llama), CPU.
#   bash scripts/build.sh && bash scripts/build.sh torch2 &&
#   cmake --build build --target backend_bench && cmake --build build-torch2 --target backend_bench &&
#   bash bench/run_torch_versions_bench.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); RelWithDebInfo; cpu; $rounds rounds, alternating"
./build/llada-eval init-model --arch llada --layers 4 --d-model 256 --heads 8 --ffn 768 --vocab 4096 --out "$work/llada" 2>/dev/null
./build/llada-eval init-model --arch llama --layers 4 --d-model 256 --heads 8 --ffn 768 --vocab 4096 --out "$work/llama" 2>/dev/null
for round in $(seq "$rounds"); do
  for build in build build-torch2; do
    for model in llada llama; do
      echo "## round $round, $build, $model"
      "./$build/bench/backend_bench" "$work/$model" cpu 256 16 128 32 64
    done
  done
done
