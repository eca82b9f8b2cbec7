#!/usr/bin/env bash
# Preemption under `mpirun -np 2 indexcache train`: SIGTERM reaching one
# rank only (here rank 1, which writes nothing) stops both ranks at the same
# step boundary, rank 0 writes the checkpoint, the job exits 0, and a
# 2-rank --resume reproduces the straight 2-rank run bitwise. A SIGTERM
# after a dead peer is the dead-rank path (tests/mpi/test_train_kill.sh).
set -uo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
command -v mpirun >/dev/null || { echo "skip: no mpirun"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_preempt_mpi.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 4 --topk 8 \
    --train-tokens 16384 >/dev/null
export IC_PREEMPT_TAG="$tmp"
rank_pid() {   # pid of rank $1 of this test's job
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}; pid=${pid%/environ}
        if tr '\0' '\n' 2>/dev/null <"$f" | grep -qx "IC_PREEMPT_TAG=$tmp" &&
           tr '\0' '\n' 2>/dev/null <"$f" | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
            echo "$pid"; return 0
        fi
    done
    return 1
}
strip() { grep -E '"(loss|val_kl)"' "$1" | sed -E 's/, "ms": [0-9.]+//'; }
N=400
common=(--model "$tmp/model" --data "$tmp/data.h5" --pattern uniform:2 --steps $N --seq-len 16
        --batch 1 --eval-every 100 --eval-batches 1 --seed 2 --quiet)
mpi=(timeout -k 5 300 mpirun -np 2 --oversubscribe "$BIN" train)
"${mpi[@]}" "${common[@]}" --out "$tmp/straight" >/dev/null 2>&1 || { echo "FAIL: straight 2-rank run"; exit 1; }
"${mpi[@]}" "${common[@]}" --out "$tmp/pre" >"$tmp/log" 2>&1 &
job=$!
for _ in $(seq 1 3000); do
    n=$(grep -c '"loss"' "$tmp/pre/train_log.jsonl" 2>/dev/null); [ "${n:-0}" -ge 3 ] && break
    kill -0 $job 2>/dev/null || break
    sleep 0.01
done
victim=$(rank_pid 1) || { echo "FAIL: rank 1 not found"; cat "$tmp/log"; kill $job; exit 1; }
kill -TERM "$victim"
wait $job; rc=$?
done_steps=$(grep -c '"loss"' "$tmp/pre/train_log.jsonl")
[ $rc -eq 0 ] || { echo "FAIL: job exit $rc"; cat "$tmp/log"; exit 1; }
[ "$done_steps" -lt $N ] || { echo "FAIL: finished before the signal (make it longer)"; exit 1; }
grep -q "received" "$tmp/log" || { echo "FAIL: no message"; cat "$tmp/log"; exit 1; }
[ -d "$tmp/pre/checkpoints/ckpt-$done_steps" ] || { echo "FAIL: no checkpoint at $done_steps"; exit 1; }
"${mpi[@]}" "${common[@]}" --out "$tmp/pre" --resume >/dev/null 2>"$tmp/log2" || { echo "FAIL: resume"; cat "$tmp/log2"; exit 1; }
[ "$(strip "$tmp/straight/train_log.jsonl")" = "$(strip "$tmp/pre/train_log.jsonl")" ] ||
    { echo "FAIL: logs differ"; diff <(strip "$tmp/straight/train_log.jsonl") <(strip "$tmp/pre/train_log.jsonl") | head; exit 1; }
cmp "$tmp/straight/model.safetensors" "$tmp/pre/model.safetensors" || { echo "FAIL: weights differ"; exit 1; }
echo "ok: SIGTERM to rank 1 only stopped both ranks after step $done_steps of $N, exit 0 ($(grep -m1 'received' "$tmp/log" | head -c 100)); 2-rank --resume bitwise"
