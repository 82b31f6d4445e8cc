#!/usr/bin/env bash
# Backend throughput on random checkpoints written by `llada-eval init-model`:
# a small LLaDA and a small Llama (CPU). Pass a device (cuda) to run there;
# on a GPU, scripts/gpu-check.sh runs this and the LLaDA-8B shape. BUILD_DIR
# picks the build configuration (default build/; build-torch2/ for LibTorch 2.x).
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}
build=${BUILD_DIR:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); RelWithDebInfo; device $device; $build"
# init-model's default seed: the same weights on every call.
"./$build/llada-eval" init-model --arch llada --layers 4 --d-model 256 --heads 8 --ffn 768 --vocab 4096 --out "$work/llada" 2>/dev/null
"./$build/llada-eval" init-model --arch llama --layers 4 --d-model 256 --heads 8 --ffn 768 --vocab 4096 --out "$work/llama" 2>/dev/null
"./$build/bench/backend_bench" "$work/llada" "$device" 256 16 128 32 64
"./$build/bench/backend_bench" "$work/llama" "$device" 256 16 128 32 64
