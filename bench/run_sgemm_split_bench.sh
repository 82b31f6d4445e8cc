#!/usr/bin/env bash
# oneDNN's sgemm threaded on its own against the products split by output
# columns (models/torch/cpu_kernels.cc), on the small LLaDA's shapes: the
# measurement behind SgemmLinear's split and its 256-columns-per-thread
# threshold. Debian's LibTorch build only (build/).
#   bash scripts/build.sh && bash bench/run_sgemm_split_bench.sh [THREADS=<cores>] [REPEATS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $build"
"./$build/bench/sgemm_split_bench" "${THREADS:-$(nproc)}" "${REPEATS:-20}"
