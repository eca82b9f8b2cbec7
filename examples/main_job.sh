#!/usr/bin/env bash
# The main job: IndexCache on real data, end to end.
#   build -> fetch SmolLM2-135M-Instruct + the KJV -> import -> prep ->
#   train the lightning indexers of uniform:4 (8 F layers of 30) with the
#   IndexCache multi-layer loss (dense stage) -> val LM loss table
#   (dense teacher / untrained indexers / trained indexers, same K) -> export.
# Outputs go to runs/main_job/ (git-ignored). About 8 minutes on 2 idle CPU cores
# (build, training ~4 min, the short search ~3.5 min).
#
# Knobs (environment): STEPS (default 250), SEQ_LEN (512), TOPK (64),
# BATCH (1), LR (3e-3), EVAL_WINDOWS (16); for the search at the end
# SEARCH_ALLF_STEPS (40), SEARCH_SEQ_LEN (256), SEARCH_EVAL_WINDOWS (8). On a
# machine with a GPU, train, eval and overlap run there once every op they
# need has a CUDA kernel (no --cpu is passed); each command's `backend:` line
# says which backend runs and, for the CPU, why.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-runs/main_job}
STEPS=${STEPS:-250}; SEQ_LEN=${SEQ_LEN:-512}; TOPK=${TOPK:-64}; BATCH=${BATCH:-1}
LR=${LR:-3e-3}; EVAL_WINDOWS=${EVAL_WINDOWS:-16}
# One OpenMP team over the cores, OpenBLAS single-threaded inside it (the
# kernels set that); PASSIVE stops idle OpenMP threads from spinning against
# the BLAS calls on a small shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
t_start=$(date +%s)
stamp() { echo; echo "== [$(( $(date +%s) - t_start )) s] $*"; }

stamp "build"
bash scripts/build.sh
BIN=$ROOT/build/indexcache

stamp "fetch the teacher and the text"
bash scripts/fetch-smollm2.sh
bash scripts/fetch-text.sh

mkdir -p "$OUT"
stamp "import SmolLM2-135M-Instruct (GGUF Q4_1 -> fp32 model dir)"
"$BIN" import models/SmolLM2-135M-Instruct.Q4_1.gguf --out "$OUT/smollm2" --dtype f32 --quiet

stamp "prep: the KJV -> HDF5 tokens (train/val)"
"$BIN" prep --model "$OUT/smollm2" --out "$OUT/kjv.h5" --val-fraction 0.05 text/kjv.txt

stamp "train: uniform:4, dense stage, --loss multi, $STEPS steps x $BATCH x $SEQ_LEN tokens, K = $TOPK"
rm -rf "$OUT/trained"
"$BIN" train --model "$OUT/smollm2" --data "$OUT/kjv.h5" --pattern uniform:4 --stage dense \
    --loss multi --steps "$STEPS" --seq-len "$SEQ_LEN" --batch "$BATCH" --lr "$LR" \
    --warmup $((STEPS / 10)) --topk "$TOPK" --eval-every "$STEPS" --eval-batches 8 --seed 0 \
    --out "$OUT/trained" | grep --line-buffered -Ev '^step +[0-9]*[1-9]/'   # every 10th step line
grep '"loss"' "$OUT/trained/train_log.jsonl" | awk 'NR % 10 == 1' | head -20 | sed 's/^/  log: /'

stamp "untrained indexers (the trainer's seeded starting point)"
rm -rf "$OUT/untrained"
"$BIN" init-indexers --model "$OUT/smollm2" --pattern uniform:4 --seed 0 --index-topk "$TOPK" \
    --out "$OUT/untrained" | head -3

stamp "val LM loss: $EVAL_WINDOWS windows of $SEQ_LEN tokens, K = $TOPK"
ev() { "$BIN" eval --model "$1" --data "$OUT/kjv.h5" --seq-len "$SEQ_LEN" --batches "$EVAL_WINDOWS" \
         --pattern "$2" --topk "$TOPK" --json 2>/dev/null | grep '^{'; }
dense=$(ev "$OUT/untrained" dense)
untrained=$(ev "$OUT/untrained" uniform:4)
trained=$(ev "$OUT/trained" uniform:4)
python3 - "$dense" "$untrained" "$trained" "$OUT/trained/train_log.jsonl" <<'PYEOF' | tee "$OUT/summary.txt"
import json, sys
rows = [("dense teacher", json.loads(sys.argv[1])),
        ("uniform:4, untrained indexers", json.loads(sys.argv[2])),
        ("uniform:4, trained indexers", json.loads(sys.argv[3]))]
log = [json.loads(l) for l in open(sys.argv[4])]
val = [r for r in log if "val_kl" in r]
steps = [r for r in log if "loss" in r]
d = rows[0][1]["loss"]
print(f"{'model':32s} {'F layers':>8s} {'top-k':>6s} {'val loss':>9s} {'ppl':>8s} {'Δ vs dense':>10s}")
for name, r in rows:
    f = "-" if r["pattern"] == "dense" else str(r["n_full"])
    k = "-" if r["pattern"] == "dense" else str(r["topk"])
    print(f"{name:32s} {f:>8s} {k:>6s} {r['loss']:9.4f} {r['ppl']:8.2f} {r['loss'] - d:+10.4f}")
print(f"(val split, {rows[0][1]['windows']} windows x {rows[0][1]['seq_len']} tokens)")
print(f"val KL per token (IndexCache multi loss, sum over F layers): "
      f"{val[0]['val_kl']:.4f} before -> {val[-1]['val_kl']:.4f} after {steps[-1]['step']} steps")
ms = [r["ms"] for r in steps[1:]] or [steps[0]["ms"]]
print(f"trainer: {sum(ms) / len(ms):.0f} ms/step")
PYEOF

stamp "export (transformers / safetensors readable)"
"$BIN" export --model "$OUT/trained" --out "$OUT/export"

stamp "training-free IndexCache: a short greedy layer search (examples/search_job.sh, shortened)"
# Indexers at all 30 layers for a few steps, then Algorithm 1 down to 1/4 of
# the layers on one train window; its pattern's val loss beside uniform:4.
# The full-length version (examples/RESULTS.md, Issue 6) is
# `OUT=$OUT bash examples/search_job.sh` with its defaults (~17 min).
rm -rf "$OUT/allf_short" "$OUT/search_trace.json" "$OUT/searched.txt"
OUT="$OUT" BIN="$BIN" MODEL="$OUT/allf_short" TOPK="$TOPK" RETAIN=0.25 \
    ALLF_STEPS=${SEARCH_ALLF_STEPS:-40} SEARCH_SEQ_LEN=${SEARCH_SEQ_LEN:-256} SEARCH_WINDOWS=1 \
    EVAL_SEQ_LEN="$SEQ_LEN" EVAL_WINDOWS=${SEARCH_EVAL_WINDOWS:-8} bash examples/search_job.sh

stamp "done"
cat <<EOM
Outputs (all under $OUT/):
  smollm2/        the imported dense teacher (model dir)
  kjv.h5          the tokenized KJV (train/val)
  trained/        the trained IndexCache model dir (+ checkpoints/, train_log.jsonl)
  untrained/      the same pattern with freshly initialised indexers
  export/         the export: config.json (use_index_cache, index_topk_pattern, ...),
                  model.safetensors, tokenizer.json
  summary.txt     the table above
  allf_short/     indexers at every layer (short training), the greedy search's start
  searched.txt    the searched pattern (keep 1/4); search_trace.json its whole trace
  search_summary.txt  searched vs uniform val loss
EOM
