#!/usr/bin/env bash
# Preemption (core/ic_preempt.h): SIGTERM or SIGUSR1 during `train` writes a
# checkpoint at the next step boundary and exits 0 with a message naming
# the signal; --resume then continues bitwise: per-step losses, gradient
# norms, lr and val KL (%.17g in train_log.jsonl) equal a straight run's,
# and the final indexer weights are byte-identical. `search` with a trace
# stops after the current step, exit 0, and --resume ends with the straight
# search's pattern and step losses. Tiny random model (make_tiny_model.py).
set -euo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_preempt.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 6 --topk 8 \
    --train-tokens 16384 >/dev/null

strip() { grep -E '"(loss|val_kl)"' "$1" | sed -E 's/, "ms": [0-9.]+//'; }
steps_logged() { local n; n=$(grep -c '"loss"' "$1" 2>/dev/null); echo "${n:-0}"; }

N=300
common=(--model "$tmp/model" --data "$tmp/data.h5" --pattern FSSFSF --stage dense --loss multi
        --steps $N --seq-len 32 --batch 2 --lr 5e-3 --warmup 2 --eval-every 50 --eval-batches 2
        --seed 5 --quiet)
"$BIN" train "${common[@]}" --out "$tmp/straight"

for sig in TERM USR1; do
    out="$tmp/pre_$sig"
    "$BIN" train "${common[@]}" --out "$out" 2>"$tmp/err_$sig" &
    pid=$!
    # the handler is installed before the first step: wait for a logged step
    for _ in $(seq 1 2000); do
        [ "$(steps_logged "$out/train_log.jsonl")" -ge 3 ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.01
    done
    kill -$sig $pid
    set +e; wait $pid; rc=$?; set -e
    done_steps=$(steps_logged "$out/train_log.jsonl")
    [ "$rc" -eq 0 ] || { echo "FAIL SIG$sig: exit $rc"; cat "$tmp/err_$sig"; exit 1; }
    grep -q "SIG$sig received" "$tmp/err_$sig" || { echo "FAIL SIG$sig: no message"; cat "$tmp/err_$sig"; exit 1; }
    [ "$done_steps" -lt $N ] || { echo "FAIL SIG$sig: the run finished before the signal (make it longer)"; exit 1; }
    [ -d "$out/checkpoints/ckpt-$done_steps" ] || { echo "FAIL SIG$sig: no checkpoint at step $done_steps"; ls "$out/checkpoints"; exit 1; }
    [ ! -f "$out/model.safetensors" ] || { echo "FAIL SIG$sig: model dir written by a stopped run"; exit 1; }
    "$BIN" train "${common[@]}" --out "$out" --resume
    if [ "$(strip "$tmp/straight/train_log.jsonl")" != "$(strip "$out/train_log.jsonl")" ]; then
        echo "FAIL SIG$sig: logs differ"
        diff <(strip "$tmp/straight/train_log.jsonl") <(strip "$out/train_log.jsonl") | head; exit 1
    fi
    cmp "$tmp/straight/model.safetensors" "$out/model.safetensors" ||
        { echo "FAIL SIG$sig: final weights differ"; exit 1; }
    echo "ok train SIG$sig: stopped after step $done_steps of $N with a checkpoint, exit 0; --resume bitwise: $(head -c 120 "$tmp/err_$sig")"
done

# ---- search -------------------------------------------------------------
"$BIN" init-indexers --model "$tmp/model" --pattern FFFFFF --out "$tmp/allf" --quiet >/dev/null
scommon=(--model "$tmp/allf" --data "$tmp/data.h5" --split train --keep 1 --seq-len 128 --batches 24
         --cache-mb 0 --quiet)
"$BIN" search "${scommon[@]}" --out "$tmp/s_straight.txt" --trace "$tmp/s_straight.json" >/dev/null
out="$tmp/s_pre"
"$BIN" search "${scommon[@]}" --out "$out.txt" --trace "$out.json" >/dev/null 2>"$tmp/serr" &
pid=$!
# the trace appears after the start forward (handler installed before it)
for _ in $(seq 1 3000); do
    [ -s "$out.json" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.005
done
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" -eq 0 ] || { echo "FAIL search: exit $rc"; cat "$tmp/serr"; exit 1; }
if grep -q "SIGTERM received" "$tmp/serr"; then
    [ ! -f "$out.txt" ] || { echo "FAIL search: pattern written by a stopped search"; exit 1; }
    "$BIN" search "${scommon[@]}" --out "$out.txt" --trace "$out.json" --resume >/dev/null
    cmp "$tmp/s_straight.txt" "$out.txt" || { echo "FAIL search: patterns differ"; exit 1; }
    losses() { "$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); print([(s["layer"], repr(s["loss"])) for s in t["steps"]])' "$1"; }
    [ "$(losses "$tmp/s_straight.json")" = "$(losses "$out.json")" ] || { echo "FAIL search: step losses differ"; exit 1; }
    echo "ok search SIGTERM: stopped with the trace, exit 0; --resume gives the straight pattern $(cat "$out.txt")"
else
    # the whole search ran between the trace's first write and the signal
    echo "FAIL search: finished before the signal arrived (make it longer)"; cat "$tmp/serr"; exit 1
fi
