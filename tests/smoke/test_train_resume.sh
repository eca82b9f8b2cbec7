#!/usr/bin/env bash
# --resume continues bitwise: on a tiny random model (tests/interop/
# make_tiny_model.py), `train --steps 2E` straight must log exactly the same
# per-step losses, gradient norms and val KL (%.17g in train_log.jsonl) as
# `train --steps 2E --stop-after E` followed by `train --steps 2E --resume`,
# and write byte-identical indexer weights. Both stages. Also: a run into an
# out dir that holds checkpoints without --resume is refused, and --resume
# with a changed pattern is refused naming the key.
set -euo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_train_resume.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 6 --topk 8

E=4
for stage in dense sparse; do
    common=(--model "$tmp/model" --data "$tmp/data.h5" --pattern FSSFSF --stage $stage --loss multi
            --steps $((2 * E)) --seq-len 32 --batch 3 --lr 5e-3 --warmup 2 --eval-every 2
            --eval-batches 4 --seed 3 --quiet)
    "$BIN" train "${common[@]}" --out "$tmp/straight_$stage"
    "$BIN" train "${common[@]}" --out "$tmp/resumed_$stage" --stop-after $E
    [ ! -f "$tmp/resumed_$stage/model.safetensors" ] || { echo "FAIL: model dir written before the end"; exit 1; }
    "$BIN" train "${common[@]}" --out "$tmp/resumed_$stage" --resume
    a=$(grep -E '"(loss|val_kl)"' "$tmp/straight_$stage/train_log.jsonl")
    b=$(grep -E '"(loss|val_kl)"' "$tmp/resumed_$stage/train_log.jsonl" | grep -v '"ms"' ; true)
    # the per-step lines carry a wall time in ms: compare everything else
    strip() { sed -E 's/, "ms": [0-9.]+//'; }
    if [ "$(strip <<<"$a")" != "$(strip <<<"$(grep -E '"(loss|val_kl)"' "$tmp/resumed_$stage/train_log.jsonl")")" ]; then
        echo "FAIL $stage: logs differ"; diff <(strip <<<"$a") <(grep -E '"(loss|val_kl)"' "$tmp/resumed_$stage/train_log.jsonl" | strip)
        exit 1
    fi
    n=$(grep -c '"loss"' <<<"$a")
    [ "$n" -eq $((2 * E)) ] || { echo "FAIL $stage: $n step lines, expected $((2 * E))"; exit 1; }
    cmp "$tmp/straight_$stage/model.safetensors" "$tmp/resumed_$stage/model.safetensors" ||
        { echo "FAIL $stage: final model.safetensors differ"; exit 1; }
    echo "ok $stage: $((2 * E)) steps straight == $E + resume $E (losses, norms, lr, val KL bitwise; weights byte-identical)"
done

# guards
if "$BIN" train --model "$tmp/model" --data "$tmp/data.h5" --pattern FSSFSF --steps 8 --seq-len 32 \
       --batch 3 --out "$tmp/straight_dense" --quiet 2>"$tmp/err"; then
    echo "FAIL: training into an out dir with checkpoints without --resume was accepted"; exit 1
fi
grep -q "already holds checkpoints" "$tmp/err" || { cat "$tmp/err"; exit 1; }
if "$BIN" train --model "$tmp/model" --data "$tmp/data.h5" --pattern FSFSFS --stage dense --steps 8 \
       --seq-len 32 --batch 3 --lr 5e-3 --warmup 2 --eval-every 2 --eval-batches 4 --seed 3 \
       --out "$tmp/straight_dense" --resume --quiet 2>"$tmp/err"; then
    echo "FAIL: --resume with another pattern was accepted"; exit 1
fi
grep -q "pattern" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "ok guards: $(head -c 160 "$tmp/err")"
