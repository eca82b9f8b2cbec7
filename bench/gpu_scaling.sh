#!/usr/bin/env bash
# Data-parallel scaling on one multi-GPU host (issue 15), for the lead to
# run on a lent nvidia-h200-x{2,4,8} machine:
#   - `indexcache train` tokens/s (the summary's mean) at 1, 2, 4, 8 GPUs,
#     one rank per GPU, SmolLM2-135M, uniform:4, L = IC_SCALE_L (8192),
#     batch 1 per rank, IC_SCALE_STEPS (12) steps (the first is not counted);
#   - `indexcache search` wall time at 1 and N GPUs (N = all of them).
# Needs IC_MODEL_DIR (an imported SmolLM2 dir) and IC_DATA (its KJV .h5), as
# bench/gpu_run.sh's model phase makes them, and IC_BIN (default
# build/indexcache). Skips (exit 77) with fewer than 2 GPUs, without
# mpirun or without the model. Results: $IC_OUT/gpu_scaling.json (IC_OUT
# default .) and a table on stdout: GPUs, tokens/s, speed-up, efficiency.
#   IC_MODEL_DIR=/tmp/icm/smol IC_DATA=/tmp/icm/kjv.h5 bash bench/gpu_scaling.sh
set -uo pipefail
BIN=${IC_BIN:-build/indexcache}
OUTD=${IC_OUT:-.}
L=${IC_SCALE_L:-8192}
STEPS=${IC_SCALE_STEPS:-12}
SEARCH_KEEP=${IC_SCALE_KEEP:-28}   # F layers kept: 30 -> 28 is 2 greedy steps
export NCCL_NVLS_ENABLE=0 OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
ngpu=${ngpu:-0}
skip() { echo "gpu_scaling: SKIP: $*"; exit 77; }
((ngpu >= 2)) || skip "$ngpu GPU(s) visible; scaling needs >= 2"
command -v mpirun >/dev/null || skip "no mpirun"
[ -x "$BIN" ] || skip "$BIN not built"
[ -n "${IC_MODEL_DIR:-}" ] && [ -f "$IC_MODEL_DIR/config.json" ] || skip "IC_MODEL_DIR names no model dir"
[ -n "${IC_DATA:-}" ] && [ -f "$IC_DATA" ] || skip "IC_DATA names no token file"
mkdir -p "$OUTD"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ic_scaling.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
MPI=(mpirun --oversubscribe --bind-to none -x NCCL_NVLS_ENABLE -x OMP_NUM_THREADS -x LD_LIBRARY_PATH)

rows=()
base=""
for g in 1 2 4 8; do
  ((g <= ngpu)) || break
  log=$tmp/train_$g.log
  t0=$(date +%s.%N)
  timeout 900 "${MPI[@]}" -np "$g" "$BIN" train --model "$IC_MODEL_DIR" --data "$IC_DATA" \
      --pattern uniform:4 --steps "$STEPS" --seq-len "$L" --batch 1 --eval-batches 0 \
      --out "$tmp/out_$g" >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  cp "$log" "$OUTD/gpu_scaling_train_$g.log"
  tps=$(sed -n 's/^train tokens\/s (mean) *\([0-9.]*\).*/\1/p' "$log" | tail -1)
  backend=$(grep -m1 'backend:' "$log" | sed 's/.*backend: //')
  if [ "$rc" -ne 0 ] || [ -z "$tps" ]; then
    echo "gpu_scaling: train on $g GPU(s) failed (exit $rc): see $OUTD/gpu_scaling_train_$g.log"
    tail -5 "$log"; tps=0
  fi
  hashes=$(grep -o 'parameter hash [0-9a-f]*' "$log" | sort -u | wc -l)
  [ -z "$base" ] && base=$tps
  rows+=("{\"gpus\": $g, \"tokens_per_s\": $tps, \"wall_s\": $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}'), \"exit\": $rc, \"distinct_param_hashes\": $hashes, \"backend\": \"${backend//\"/\'}\"}")
  printf "train  %d GPU(s): %10.0f tok/s  speed-up %.2fx  efficiency %.0f%%  (param hashes: %s distinct)\n" \
    "$g" "$tps" "$(awk -v a="$tps" -v b="$base" 'BEGIN{print b > 0 ? a / b : 0}')" \
    "$(awk -v a="$tps" -v b="$base" -v g="$g" 'BEGIN{print b > 0 ? 100 * a / b / g : 0}')" "$hashes"
done

srows=()
for g in 1 "$ngpu"; do
  log=$tmp/search_$g.log
  t0=$(date +%s.%N)
  timeout 900 "${MPI[@]}" -np "$g" "$BIN" search --model "$IC_MODEL_DIR" --data "$IC_DATA" \
      --keep "$SEARCH_KEEP" --out "$tmp/pattern_$g.txt" >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  cp "$log" "$OUTD/gpu_scaling_search_$g.log"
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  pat=$(grep -v '^#' "$tmp/pattern_$g.txt" 2>/dev/null | head -1)
  srows+=("{\"gpus\": $g, \"wall_s\": $wall, \"exit\": $rc, \"pattern\": \"$pat\"}")
  echo "search %d GPU(s): ${wall} s (exit $rc) pattern $pat" | sed "s/%d/$g/"
done

{
  echo "{\"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo ?)\","
  echo " \"seq_len\": $L, \"steps\": $STEPS, \"gpus_visible\": $ngpu,"
  echo " \"train\": [$(IFS=,; echo "${rows[*]}")],"
  echo " \"search\": [$(IFS=,; echo "${srows[*]}")]}"
} >"$OUTD/gpu_scaling.json"
echo "gpu_scaling: wrote $OUTD/gpu_scaling.json"
