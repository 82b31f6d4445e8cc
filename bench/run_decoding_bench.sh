#!/usr/bin/env bash
# Fast diffusion decoding against the paper's decoding, side by side in one
# run: `llada-eval run` on the same GSM8K 5-shot prompts (../shared/data) and
# the same small random LLaDA (d_model 512, 8 layers, vocab 32000 with
# llama2's tokenizer), gen_length 256, block_length 32, once per setting.
# Whole-process wall time (model load and prompt building included: < 1 s).
# Also prints how many responses each setting shares with the paper's mode
# (a random model's accuracy is noise; agreement is not).
# Then batched generation (paper mode): the same run at --batch-size 1 and 8
# on BATCH_DOCS 0-shot prompts (shorter, so that it stays quick).
#   bash scripts/build.sh && bash bench/run_decoding_bench.sh [DOCS=2]
# SKIP_MODES=1 runs only the batching part.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD_DIR:-build}/llada-eval
shared=${LLADA_EVAL_SHARED:-../shared}
docs=${1:-2}
gen=${GEN:-256}
block=${BLOCK:-32}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/small-llada
. bench/small_llada.sh
write_small_llada "$model"
echo "model: init-model llada, 8 layers, d_model 512, 8 heads, ffn 1536, vocab 32000; GSM8K 5-shot, $docs documents, gen_length $gen, block_length $block"
[ -n "${SKIP_MODES:-}" ] || printf '%-28s %9s %11s %12s %9s\n' setting seconds tokens/s speed-up agree
# "k/n": documents whose responses in run directory $2 equal those in $1.
agreement() {
  python3 - "$1/samples_gsm8k.jsonl" "$2/samples_gsm8k.jsonl" <<'PY'
import json, sys
def load(path):
    return {json.loads(l)["doc_index"]: json.loads(l)["responses"] for l in open(path)}
a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"{sum(a[k] == b[k] for k in a)}/{len(a)}")
PY
}
paper_seconds=""
[ -n "${SKIP_MODES:-}" ] || for setting in "paper:" "prefix-cache:cache=prefix" "dual-cache:cache=dual" "threshold-0.9+prefix:cache=prefix,threshold=0.9" \
               "fast-dllm(dual+0.9):cache=dual,threshold=0.9"; do
  name=${setting%%:*}
  extra=${setting#*:}
  args="gen_length=$gen,steps=$gen,block_length=$block${extra:+,$extra}"
  start=$(date +%s.%N)
  "$bin" run --model "$model" --tasks gsm8k --shots 5 --limit "$docs" --data-dir "$shared/data" --model-args "$args" \
    --output "$work/$name" --log-samples >/dev/null 2>"$work/$name.log" || { cat "$work/$name.log"; exit 1; }
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$paper_seconds" ] && paper_seconds=$seconds
  agree=$(agreement "$work/paper" "$work/$name")
  printf '%-28s %9.1f %11.2f %11.1fx %9s\n' "$name" "$seconds" "$(echo "$docs * $gen / $seconds" | bc -l)" \
    "$(echo "$paper_seconds / $seconds" | bc -l)" "$agree"
done

batch_docs=${BATCH_DOCS:-8}
batch_gen=${BATCH_GEN:-64}
echo "batched generation: GSM8K 0-shot, $batch_docs documents, gen_length = steps = $batch_gen, block_length 32, paper mode"
printf '%-28s %9s %11s %12s %9s\n' batch seconds tokens/s speed-up agree
one_seconds=""
for batch in 1 8; do
  start=$(date +%s.%N)
  "$bin" run --model "$model" --tasks gsm8k --shots 0 --limit "$batch_docs" --data-dir "$shared/data" \
    --model-args "gen_length=$batch_gen,steps=$batch_gen,block_length=32" --batch-size "$batch" \
    --output "$work/batch$batch" --log-samples >/dev/null 2>"$work/batch$batch.log" || { cat "$work/batch$batch.log"; exit 1; }
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  [ -z "$one_seconds" ] && one_seconds=$seconds
  agree=$(agreement "$work/batch1" "$work/batch$batch")
  printf '%-28s %9.1f %11.2f %11.2fx %9s\n' "--batch-size $batch" "$seconds" \
    "$(echo "$batch_docs * $batch_gen / $seconds" | bc -l)" "$(echo "$one_seconds / $seconds" | bc -l)" "$agree"
done
