#!/usr/bin/env bash
# Full disks: a checkpoint, the trained model dir or an export that runs out
# of space (a small tmpfs; needs root and mount(2), else skip 77) fails with
# exit 1 and a message naming the file and "No space left on device"; the
# previous checkpoint stays complete and loadable, and no half-written file
# is left (no *.tmp* temp file or directory, no partial tensor file).
set -uo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_enospc.XXXXXX")"
mnt="$tmp/mnt"
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
if [ "$(id -u)" -ne 0 ]; then echo "skip: mounting a tmpfs needs root"; exit 77; fi
if ! mount -t tmpfs -o size=64k tmpfs "$mnt" 2>"$tmp/merr"; then
    echo "skip: cannot mount a tmpfs here: $(cat "$tmp/merr")"; exit 77
fi
umount "$mnt"
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 6 --topk 8 >/dev/null
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# mount a fresh tmpfs of SIZE
fresh() { umount "$mnt" 2>/dev/null; mount -t tmpfs -o size="$1" tmpfs "$mnt"; }
no_leftovers() {   # no temp file or directory anywhere under $1
    local left
    left=$(find "$1" -name '*.tmp*' -o -name '*.old.*' | head -5)
    [ -z "$left" ] || fail "$2: half-written leftovers: $left"
}
ckpt_ok() {        # $1 = a checkpoint dir: complete and loadable
    [ -f "$1/COMPLETE" ] || { fail "$1 lost its COMPLETE marker"; return; }
    for f in weights optimizer; do
        "$BIN" inspect "$1/$f.safetensors" >/dev/null 2>&1 || fail "$1/$f.safetensors does not load"
    done
    "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$1/state.json" || fail "$1/state.json"
}
train=(train --model "$tmp/model" --data "$tmp/data.h5" --pattern FSFSFS --seq-len 16 --batch 1
       --eval-every 2 --eval-batches 1 --quiet)

# 1. the second checkpoint does not fit (one is about 44 KiB on tmpfs)
fresh 72k
"$BIN" "${train[@]}" --steps 6 --out "$mnt/run" >/dev/null 2>"$tmp/err1"; rc=$?
[ $rc -eq 1 ] || fail "checkpoint on a full disk: exit $rc (want 1)"
grep -q "No space left on device" "$tmp/err1" && grep -q "ckpt-4" "$tmp/err1" ||
    fail "checkpoint on a full disk: message does not name the file and ENOSPC: $(cat "$tmp/err1")"
ckpt_ok "$mnt/run/checkpoints/ckpt-2"
[ ! -e "$mnt/run/checkpoints/ckpt-4" ] || fail "a ckpt-4 exists after its write failed"
no_leftovers "$mnt/run" "checkpoint"
echo "checkpoint: $(head -c 300 "$tmp/err1")"
# the run resumes from ckpt-2 once there is room (a bigger disk, same files)
mkdir -p "$tmp/copy" && cp -a "$mnt/run" "$tmp/copy/"
"$BIN" "${train[@]}" --steps 6 --out "$tmp/copy/run" --resume >/dev/null 2>"$tmp/err1b" ||
    fail "--resume after the full disk: $(cat "$tmp/err1b")"

# 2. the checkpoints fit but the trained model dir (220 KiB) does not
fresh 160k
"$BIN" "${train[@]}" --steps 2 --keep-checkpoints 1 --out "$mnt/run2" >/dev/null 2>"$tmp/err2"; rc=$?
[ $rc -eq 1 ] || fail "model dir on a full disk: exit $rc (want 1)"
grep -q "No space left on device" "$tmp/err2" && grep -q "$mnt/run2" "$tmp/err2" ||
    fail "model dir on a full disk: message: $(cat "$tmp/err2")"
ckpt_ok "$mnt/run2/checkpoints/ckpt-2"
[ ! -e "$mnt/run2/model.safetensors" ] || fail "a partial model.safetensors was left"
no_leftovers "$mnt/run2" "model dir"
echo "model dir: $(head -c 300 "$tmp/err2")"

# 3. export of a model that does not fit
"$BIN" "${train[@]}" --steps 2 --out "$tmp/trained" >/dev/null 2>&1 || fail "training the export source"
fresh 96k
"$BIN" export --model "$tmp/trained" --out "$mnt/exp" >/dev/null 2>"$tmp/err3"; rc=$?
[ $rc -eq 1 ] || fail "export on a full disk: exit $rc (want 1)"
grep -q "No space left on device" "$tmp/err3" && grep -q "$mnt/exp" "$tmp/err3" ||
    fail "export on a full disk: message: $(cat "$tmp/err3")"
[ ! -e "$mnt/exp/model.safetensors" ] || fail "export left a partial model.safetensors"
no_leftovers "$mnt" "export"
echo "export: $(head -c 300 "$tmp/err3")"

[ $fails -eq 0 ] && echo "ok: ENOSPC in checkpoint, model dir and export: exit 1, named, nothing half-written"
[ $fails -eq 0 ]
