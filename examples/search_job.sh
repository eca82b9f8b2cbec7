#!/usr/bin/env bash
# Training-free IndexCache (issue 6) on real data: a short greedy layer
# search on SmolLM2 with lightning indexers trained at every layer, and its
# pattern's val LM loss beside the uniform pattern with as many F layers.
#
#   1. indexers at every layer (all F), dense stage, --loss single, unless
#      $MODEL already holds them (skipped when $MODEL/config.json exists);
#   2. `indexcache search --retain $RETAIN` on the first $SEARCH_WINDOWS
#      windows of the TRAIN split (calibration; the val split stays unseen);
#   3. `indexcache eval` on the val split: dense, all F, uniform:1/R, searched
#      (and, for R < 1/2, uniform:2 and the search's keep-1/2 prefix).
#
# The main job (examples/main_job.sh) may call this at its end with the same
# OUT; it then reuses its imported model and token file. Alone it expects
# them at $OUT/smollm2 and $OUT/kjv.h5 (run the main job, or import + prep).
# The defaults reproduce examples/RESULTS.md "Issue 6": about 5 min of
# training, 7.5 min of search (2 ranks x 1 thread), 4 min of eval on 2 cores.
#
# Knobs (environment): OUT (runs/main_job), MODEL ($OUT/allf_single),
# ALLF_STEPS (150), TOPK (64), RETAIN (0.25), SEARCH_SEQ_LEN (512),
# SEARCH_WINDOWS (1), EVAL_SEQ_LEN (512), EVAL_WINDOWS (16), NP (2 when
# mpirun exists and there are 2+ cores: ranks of `mpirun -np NP` for the
# search; the OpenMP threads are split between them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/build/indexcache}
OUT=${OUT:-runs/main_job}
MODEL=${MODEL:-$OUT/allf_single}
ALLF_STEPS=${ALLF_STEPS:-150}; TOPK=${TOPK:-64}; RETAIN=${RETAIN:-0.25}
SEARCH_SEQ_LEN=${SEARCH_SEQ_LEN:-512}; SEARCH_WINDOWS=${SEARCH_WINDOWS:-1}
EVAL_SEQ_LEN=${EVAL_SEQ_LEN:-512}; EVAL_WINDOWS=${EVAL_WINDOWS:-16}
NP=${NP:-$(command -v mpirun >/dev/null && [ "$(nproc)" -ge 2 ] && echo 2 || echo 1)}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
t_start=$(date +%s)
stamp() { echo; echo "== [search job, $(( $(date +%s) - t_start )) s] $*"; }

for f in "$OUT/smollm2/config.json" "$OUT/kjv.h5"; do
    [ -e "$f" ] || { echo "search_job: $f missing: run examples/main_job.sh first (or set OUT)" >&2; exit 1; }
done

if [ ! -e "$MODEL/config.json" ]; then
    stamp "train indexers at all 30 layers (all F), dense stage, --loss single, $ALLF_STEPS steps"
    rm -rf "$MODEL"
    "$BIN" train --model "$OUT/smollm2" --data "$OUT/kjv.h5" --pattern uniform:1 --stage dense \
        --loss single --steps "$ALLF_STEPS" --seq-len "$EVAL_SEQ_LEN" --batch 1 --lr 3e-3 \
        --warmup $((ALLF_STEPS / 10)) --topk "$TOPK" --eval-every "$ALLF_STEPS" --eval-batches 4 \
        --seed 0 --out "$MODEL" | grep --line-buffered -Ev '^step +[0-9]*[1-9]/'
fi

stamp "greedy search: keep ${RETAIN} of the layers, $SEARCH_WINDOWS train windows x $SEARCH_SEQ_LEN tokens, K = $TOPK"
search=("$BIN" search --model "$MODEL" --data "$OUT/kjv.h5" --split train --retain "$RETAIN"
        --seq-len "$SEARCH_SEQ_LEN" --batches "$SEARCH_WINDOWS" --topk "$TOPK"
        --out "$OUT/searched.txt" --trace "$OUT/search_trace.json" --resume)
if [ "$NP" -gt 1 ]; then
    OMP_NUM_THREADS=$(( OMP_NUM_THREADS / NP > 0 ? OMP_NUM_THREADS / NP : 1 )) \
        mpirun -np "$NP" --oversubscribe --allow-run-as-root "${search[@]}" |
        grep --line-buffered -v ' candidate [0-9]'
else
    "${search[@]}" | grep --line-buffered -v ' candidate [0-9]'   # the step lines and the table
fi
searched=$(cat "$OUT/searched.txt")
uniform="uniform:$(python3 -c "print(max(1, round(1 / $RETAIN)))")"
pats=(dense uniform:1 "$uniform" "$searched")
names=("dense teacher" "all F" "$uniform" "searched $RETAIN")
# a search to keep fewer layers passes through keep 1/2 on its way: that
# prefix of the trace is the searched pattern for 1/2
half=$(python3 - "$OUT/search_trace.json" "$RETAIN" <<'PYEOF'
import json, math, sys
t = json.load(open(sys.argv[1]))
n, want = t["n_layers"], math.ceil(t["n_layers"] / 2)
if float(sys.argv[2]) < 0.5:
    print(t["steps"][n - want - 1]["pattern"])
PYEOF
)
if [ -n "$half" ]; then pats+=(uniform:2 "$half"); names+=("uniform:2" "searched 0.5"); fi

stamp "val LM loss, $EVAL_WINDOWS windows x $EVAL_SEQ_LEN tokens, K = $TOPK"
args=()
for p in "${pats[@]}"; do args+=(--pattern "$p"); done
"$BIN" eval --model "$MODEL" --data "$OUT/kjv.h5" --seq-len "$EVAL_SEQ_LEN" \
    --batches "$EVAL_WINDOWS" --topk "$TOPK" "${args[@]}" --json 2>/dev/null >"$OUT/search_eval.json"
python3 - "$OUT/search_eval.json" "${names[@]}" <<'PYEOF' | tee "$OUT/search_summary.txt"
import json, sys
txt = open(sys.argv[1]).read()
rows = json.loads(txt[txt.index("["):])
names = sys.argv[2:]
d = rows[0]["loss"]
print(f"{'pattern':14s} {'F':>3s} {'val loss':>9s} {'ppl':>8s} {'Δ vs dense':>10s}  literal")
for name, r in zip(names, rows):
    f = "-" if r["pattern"] == "dense" else str(r["n_full"])
    print(f"{name:14s} {f:>3s} {r['loss']:9.4f} {r['ppl']:8.2f} {r['loss'] - d:+10.4f}  {r['pattern']}")
print(f"(val split, {rows[0]['windows']} windows x {rows[0]['seq_len']} tokens, K = {rows[1]['topk']}; "
      f"the search saw only the train split)")
PYEOF
