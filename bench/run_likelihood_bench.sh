#!/usr/bin/env bash
# Monte-Carlo likelihood against upstream LLaDA's own code, side by side in
# one run: the same small random LLaDA (d_model 512, 8 layers, vocab 32000,
# llama2's tokenizer), lm-eval's own requests (`llada-eval requests`), the
# same thread count, alternating ours and the reference per workload.
#   ours:      `llada-eval run` as a whole process (load, prompts, store included)
#   reference: ML-GSAI/LLaDA get_log_likelihood.py's get_log_likelihood per request,
#              model calls timed only (bench/reference/time_reference_loglik.py)
# Workloads (the issue's protocol): MMLU-shape = mmlu_abstract_algebra docs
# 0-19, 5-shot, mc_num 1; ARC-shape = arc_challenge docs 0-9, 0-shot, mc_num
# 128 in batches of 32, exact and with mc_adaptive (ours: batches of 8).
#
# The reference's files are fetched, never committed: get_log_likelihood.py
# from github.com/ML-GSAI/LLaDA, modeling_llada.py + configuration_llada.py
# from the Hugging Face repo GSAI-ML/LLaDA-8B-Instruct (the hub is not
# reachable here: use github.com/charleschen-ml/pa-dllm at 34c6e39, the hub's
# forward path; yinj66/support_basis's copy is modified and returns NaN).
# The reference's transformers is 4.46.3 (e.g. on PYTHONPATH).
# Ours runs from each build directory in BUILDS (default: build/ = Debian's
# LibTorch 1.13, products on oneDNN, and build-torch2/ = PyPI's 2.11, the reference's
# own torch, when it is built).
# REPEATS=N runs each side N times, alternating (reference, then ours per
# build), and reports the medians: single runs on this shared 2-core machine
# move by 10-20 %.
#   REFERENCE_DIR=dir-with-those-3-files REFERENCE_PYTHON=python-with-torch+transformers \
#     bash bench/run_likelihood_bench.sh   [THREADS="1 2"] [BUILDS="build build-torch2"] [WORKLOADS="mmlu arc arc-adaptive"] [REPEATS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/llada-eval
builds=${BUILDS:-build $([ -x build-torch2/llada-eval ] && echo build-torch2)}
shared=${LLADA_EVAL_SHARED:-../shared}
python=${REFERENCE_PYTHON:-python3}
upstream=${REFERENCE_DIR:?set REFERENCE_DIR to the directory holding upstream get_log_likelihood.py, modeling_llada.py, configuration_llada.py}
threads_list=${THREADS:-2 1}
repeats=${REPEATS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/small-llada
. bench/small_llada.sh
write_small_llada "$model"
echo "reference: $("$python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
echo "model: init-model llada, 8 layers, d_model 512, 8 heads, ffn 1536, vocab 32000"
"$bin" requests --tasks mmlu_abstract_algebra --shots 5 --limit 20 --data-dir "$shared/data" > "$work/mmlu.jsonl"
"$bin" requests --tasks arc_challenge --shots 0 --limit 10 --data-dir "$shared/data" > "$work/arc.jsonl"

# name task shots limit requests mc_num ref_batch our_model_args
workloads=(
  "mmlu mmlu_abstract_algebra 5 20 mmlu.jsonl 1 1 mc_num=1,mc_batch_size=1"
  "arc arc_challenge 0 10 arc.jsonl 128 32 mc_num=128,mc_batch_size=32"
  "arc-adaptive arc_challenge 0 10 arc.jsonl 128 32 mc_num=128,mc_batch_size=8,mc_adaptive=true"
)
printf '%-13s %-13s %7s %9s %9s %8s %9s %9s %8s %s\n' workload ours threads ours_s ref_s speed-up ours_MFU ref_MFU samples "estimates / first places"
for threads in $threads_list; do
  for line in "${workloads[@]}"; do
    read -r name task shots limit requests mc ref_batch args <<<"$line"
    [[ " ${WORKLOADS:-$name} " == *" $name "* ]] || continue
    # The reference's runs of this request set (the adaptive workload reads the full one's).
    reference=$work/reference-${requests%.jsonl}-$mc-$ref_batch-$threads.json
    declare -A ours_times=()
    for repeat in $(seq "$repeats"); do
      if [ ! -f "$reference.$repeat" ]; then
        OMP_NUM_THREADS=$threads "$python" bench/reference/time_reference_loglik.py --upstream "$upstream" \
          --checkpoint "$model" --requests "$work/$requests" --mc-num "$mc" --mc-batch "$ref_batch" \
          --threads "$threads" > "$reference.$repeat"
      fi
      # The first process after the reference's runs slower (3.17 against 2.77 s for
      # the same MMLU-shape run, 81 against 31 major page faults): the builds take
      # turns at going first.
      order=$builds
      (( repeat % 2 == 0 )) && order=$(printf '%s\n' $builds | tac | xargs)
      for build in $order; do
        out=$work/$name-$threads-$build
        rm -rf "$out"
        start=$(date +%s.%N)
        "$build/llada-eval" run --model "$model" --tasks "$task" --shots "$shots" --limit "$limit" \
          --data-dir "$shared/data" --model-args "$args" --threads "$threads" --output "$out" --log-samples \
          >/dev/null 2>"$out.log" || { cat "$out.log"; exit 1; }
        ours_times[$build]+=" $(echo "$(date +%s.%N) - $start" | bc)"
      done
    done
    # One reference record with the median time (and every run's).
    python3 - "$reference" "$repeats" <<'PY'
import json, statistics, sys
reference, repeats = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{reference}.{i}")) for i in range(1, repeats + 1)]
merged = dict(runs[0])
merged["model_seconds_runs"] = [r["model_seconds"] for r in runs]
merged["model_seconds"] = statistics.median(merged["model_seconds_runs"])
merged["matmul_gflops"] = statistics.median(r["matmul_gflops"] for r in runs)
json.dump(merged, open(reference, "w"))
PY
    for build in $builds; do
      out=$work/$name-$threads-$build
      python3 - "$out" "$reference" "$work/$requests" "${ours_times[$build]}" "$name" "$threads" "$build" <<'PY'
import json, math, sqlite3, statistics, sys
out, reference_file, requests_file, ours_runs, name, threads, build = sys.argv[1:]
ours_runs = [float(t) for t in ours_runs.split()]
ours_seconds = statistics.median(ours_runs)
reference = json.load(open(reference_file))
requests = [json.loads(line) for line in open(requests_file)]
position = {(r["task"], r["doc_index"], r["request_index"]): i for i, r in enumerate(requests)}
# Ours: the forward passes it ran (rows computed after deduplication), each
# counted as the reference counts a row of that request.
db = sqlite3.connect(out + "/llada-eval.db")
flops, ours_ll, samples = 0.0, {}, []
for request, response in db.execute("SELECT request, response FROM request_cache"):
    request, response = json.loads(request), json.loads(response)
    i = position[(request["task"], request["doc_index"], request["request_index"])]
    flops += response["cost"]["rows_computed"] * reference["flops_per_row"][i]
    ours_ll[i] = response["loglikelihood"]
    samples.append(response["cost"]["rows"])
peak = reference["matmul_gflops"] * 1e9
ref_ll = reference["loglikelihoods"]
if "adaptive" in name:
    # First places per question (acc) against the reference's full run.
    by_doc = {}
    for i, r in enumerate(requests):
        by_doc.setdefault(r["doc_index"], []).append(i)
    agree = sum(max(ix, key=lambda i: ours_ll[i]) == max(ix, key=lambda i: ref_ll[i]) for ix in by_doc.values())
    quality = f"first places {agree}/{len(by_doc)} = the reference's"
else:
    worst = max(abs(ours_ll[i] - ref_ll[i]) / max(1.0, abs(ref_ll[i])) for i in range(len(ref_ll)))
    quality = f"max rel. diff {worst:.1e}"
print(f"{name:<13} {build:<13} {threads:>7} {ours_seconds:>9.1f} {reference['model_seconds']:>9.1f} "
      f"{reference['model_seconds'] / ours_seconds:>7.2f}x {100 * flops / ours_seconds / peak:>8.1f}% "
      f"{100 * reference['flops'] / reference['model_seconds'] / peak:>8.1f}% {sum(samples) / len(samples):>8.1f} {quality}"
      + (f"  (runs: ours {' '.join(f'{t:.1f}' for t in ours_runs)}, reference "
         f"{' '.join(f'{t:.1f}' for t in reference['model_seconds_runs'])})" if len(ours_runs) > 1 else ""),
      flush=True)
PY
    done
  done
done
echo "MFU: forward-pass FLOPs (2 x multiply-adds, attention included, the full head per position as the reference computes it) per second, against a float32 1024^3 matmul in the reference's process ($(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['matmul_gflops'],1))" "$reference") GFLOP/s at the last thread count)."
