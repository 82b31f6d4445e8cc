#!/usr/bin/env bash
# README command (1): installs, builds, and runs a real evaluation end to end:
# a tiny random LLaDA checkpoint that llada-eval writes itself (Hugging Face
# layout: config.json, BF16 safetensors, tokenizer.json) is evaluated on the
# sample documents in samples/ with the real LLaDA backend (Monte-Carlo
# likelihood, diffusion generation). Writes the SQLite store, the results JSON,
# per-sample logs and a results table under llada-eval-out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/llada-eval init-model --arch llada --out llada-eval-out/tiny-llada
./build/llada-eval run \
  --model llada-eval-out/tiny-llada \
  --model-args mc_num=1,gen_length=16,steps=8,block_length=16 \
  --tasks mmlu_astronomy,mmlu_high_school_mathematics,gsm8k \
  --data-dir samples/data \
  --output llada-eval-out/quickstart \
  --log-samples
