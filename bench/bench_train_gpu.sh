#!/usr/bin/env bash
# Trainer throughput and memory on the GPU (issue 10 item 4): `indexcache
# train` on SmolLM2-135M, uniform:4 (8 F layers of 30), dense stage, multi
# loss, K = 256:
#   - tokens/s at L = 8192, batch 1 (the trainer's own mean over the steps
#     after the first, "train tokens/s (mean)" of its summary);
#   - the peak device memory at L = 131072 (one window): nvidia-smi's
#     memory.used sampled every 50 ms while the run lasts, minus the value
#     before it (the buffers are allocated once at start-up and the workspace
#     reserved once, so the peak is held for the whole run, not a blip);
#   - the --cpu figure at L = 8192 for the ratio, when IC_BENCH_CPU=1.
# Exits 77 when train stays on the CPU (an op without a CUDA kernel).
# JSON into $IC_OUT/bench_train_gpu.json (default out/). Needs IC_BIN,
# IC_MODEL_DIR (f32 SmolLM2 model dir), IC_DATA (a prep'd KJV with at least
# 131073 train tokens). Exits 77 without them or without a GPU.
set -uo pipefail
BIN=${IC_BIN:?IC_BIN}
M=${IC_MODEL_DIR:-}
D=${IC_DATA:-}
[ -n "$M" ] && [ -f "$M/config.json" ] || { echo "SKIP: IC_MODEL_DIR not set"; exit 77; }
[ -n "$D" ] && [ -f "$D" ] || { echo "SKIP: IC_DATA not set"; exit 77; }
nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
OUTDIR=${IC_OUT:-out}; mkdir -p "$OUTDIR"
STEPS=${IC_BENCH_STEPS:-12}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run() {   # run NAME SEQ_LEN STEPS [global flags]: trains; prints the mean tok/s
  local name=$1 L=$2 n=$3; shift 3
  "$BIN" "$@" train --model "$M" --data "$D" --pattern uniform:4 --stage dense --loss multi \
      --steps "$n" --seq-len "$L" --batch 1 --lr 1e-3 --warmup 1 --topk 256 --eval-batches 0 \
      --seed 0 --out "$tmp/$name" >"$tmp/$name.out" 2>"$tmp/$name.err" ||
    { cat "$tmp/$name.err" >&2; return 1; }
  grep '^backend: ' "$tmp/$name.err" | head -1 >&2
  awk '/train tokens\/s \(mean\)/ {print $NF}' "$tmp/$name.out"
}
mem_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 | head -1; }

tps8k=$(run l8k 8192 "$STEPS") || exit 1
# an op without a CUDA kernel keeps train on the CPU (its backend: line says
# which): a 128K window there would take hours, and it is not this figure
if ! grep -q '^backend: CUDA' "$tmp/l8k.err"; then
  echo "SKIP: train did not run on the GPU: $(grep '^backend: ' "$tmp/l8k.err" | head -1)"; exit 77
fi
base=$(mem_used)
tps128k=null peak=null run128=null
if [ "${IC_BENCH_L128K:-1}" = 1 ]; then   # IC_BENCH_L128K=0 skips it (a short call)
  ( while :; do mem_used; sleep 0.05; done ) >"$tmp/mem.log" &
  poll=$!
  tps128k=$(run l128k 131072 2) || { kill "$poll"; exit 1; }
  kill "$poll"; wait "$poll" 2>/dev/null
  peak=$(sort -n "$tmp/mem.log" | tail -1)
  run128=$((peak - base))
fi
cpu8k=null
if [ "${IC_BENCH_CPU:-0}" = 1 ]; then cpu8k=$(run cpu8k 8192 3 --cpu) || exit 1; fi
commit=$(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
cat >"$OUTDIR/bench_train_gpu.json" <<JSON
{"bench": "bench_train_gpu", "date": "$(date -u +%FT%TZ)", "commit": "$commit",
 "model": "$M", "pattern": "uniform:4", "stage": "dense", "loss": "multi", "topk": 256,
 "gpu": "$(nvidia-smi --query-gpu=name --format=csv,noheader -i 0 | head -1)",
 "tokens_per_s_L8192": ${tps8k:-null}, "steps_L8192": $STEPS,
 "tokens_per_s_L131072": ${tps128k:-null},
 "device_mem_before_mib": $base, "device_mem_peak_mib_L131072": $peak,
 "device_mem_run_mib_L131072": $run128,
 "cpu_tokens_per_s_L8192": $cpu8k}
JSON
cat "$OUTDIR/bench_train_gpu.json"
