#!/usr/bin/env bash
# Tokenizer throughput over the GSM8K and MMLU test text for each shared
# tokenizer. Needs ../shared and a build (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${LLADA_EVAL_SHARED:-../shared}
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); build type RelWithDebInfo (-O2 -g)"
for t in llama3 qwen3 llama2; do
  ./build/bench/tokenizer_bench "$shared/tokenizers/$t" "$shared/data/gsm8k/test.jsonl" "$shared"/data/mmlu/test/*.csv
done
