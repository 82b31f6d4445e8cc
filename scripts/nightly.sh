#!/usr/bin/env bash
# Nightly regression gate: evaluate a pinned slice of tasks, compare it with the
# last accepted baseline run, write the HTML report and the comparison JSON,
# and fail (exit 1) only on a statistically significant regression.
#
#   scripts/nightly.sh --model DIR [--state DIR] [--accept]
#
# --state DIR   where the store (nightly.db), the accepted baseline's run id
#               (baseline_run) and the artifacts (report.html, compare.json)
#               live; keep it between nights (CI: a cache). Default: nightly-state/
# --accept      make tonight's run the baseline (first night, or after a
#               deliberate change); the first night is accepted on its own.
# Environment: NIGHTLY_TASKS (default: a pinned slice), NIGHTLY_LIMIT (documents
# per task, default 200), NIGHTLY_SHOTS (default 0), NIGHTLY_ALPHA (0.05),
# NIGHTLY_MIN_DELTA (0.01), NIGHTLY_EXTRA_ARGS (more `run` flags, e.g. --device cuda),
# LLADA_EVAL_DATA (benchmark files), LLADA_EVAL_BIN (default build/llada-eval).
# Exit: 0 pass, 1 significant regression, 2 the evaluation itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

model="" state="nightly-state" accept=0
while (($#)); do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --state) state=$2; shift 2 ;;
    --accept) accept=1; shift ;;
    *) echo "nightly: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$model" ]] || { echo "nightly: --model DIR is required" >&2; exit 2; }

tasks=${NIGHTLY_TASKS:-arc_challenge,piqa,gsm8k,mmlu_high_school_mathematics}
limit=${NIGHTLY_LIMIT:-200}
shots=${NIGHTLY_SHOTS:-0}
bin=${LLADA_EVAL_BIN:-./build/llada-eval}
mkdir -p "$state"
db="$state/nightly.db"

echo "nightly: $model on $tasks (limit $limit, $shots shots), store $db"
# shellcheck disable=SC2086
"$bin" run --model "$model" --tasks "$tasks" --limit "$limit" --shots "$shots" --db "$db" \
  --output "$state/run" ${NIGHTLY_EXTRA_ARGS:-} || exit 2

# The run just made: the newest finished run of this model.
candidate=$("$bin" runs --db "$db" | awk -v m="$model" '$2 == m && $7 == "finished" { id = $1 } END { print id }')
[[ -n "$candidate" ]] || { echo "nightly: no finished run found in $db" >&2; exit 2; }

"$bin" report --db "$db" --out "$state/report.html"

if [[ $accept == 1 || ! -s "$state/baseline_run" ]]; then
  echo "$candidate" > "$state/baseline_run"
  echo "nightly: run $candidate is now the accepted baseline"
  exit 0
fi
baseline=$(cat "$state/baseline_run")
set +e
"$bin" compare --db "$db" --baseline "$baseline" --candidate "$candidate" \
  --alpha "${NIGHTLY_ALPHA:-0.05}" --min-delta "${NIGHTLY_MIN_DELTA:-0.01}" --json "$state/compare.json"
status=$?
set -e
if ((status == 1)); then
  echo "nightly: REGRESSION against baseline run $baseline (see $state/compare.json, $state/report.html)"
elif ((status != 0)); then
  echo "nightly: compare failed (exit $status)" >&2
  exit 2
fi
exit "$status"
