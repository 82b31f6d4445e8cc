#!/usr/bin/env bash
# HumanEval's 164 canonical solutions through the sandbox: one worker, then
# every core, then twice the cores. Needs ../shared/data/humaneval (or pass the file).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/humaneval/HumanEval.jsonl.gz}
cores=$(nproc)
echo "# $(date -u +%FT%TZ) $(uname -m) ${cores} cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); kernel $(uname -r)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(bwrap --version); uid $(id -u)"
./build/bench/sandbox_bench "$data" 1 "$cores" $((cores * 2))
