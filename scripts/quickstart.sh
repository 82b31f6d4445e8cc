#!/usr/bin/env bash
# README command (1): installs, builds, and runs a real evaluation end to end on
# the sample documents in samples/, writing the SQLite store, results JSON,
# per-sample logs and a results table under llada-eval-out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/llada-eval run \
  --tasks mmlu_astronomy,mmlu_high_school_mathematics,gsm8k \
  --data-dir samples/data \
  --model replay:samples/replay/quickstart.jsonl \
  --output llada-eval-out/quickstart \
  --log-samples
