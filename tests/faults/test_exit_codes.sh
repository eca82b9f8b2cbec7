#!/usr/bin/env bash
# One exit-status rule in every subcommand (docs/DESIGN.md s6): 0 success, 1 the
# work failed (the message names the file and the fault), 2 a bad command
# line only. Every subcommand is walked through a bad flag (2, the message
# names the flag), a missing input (1, names the path) and a malformed
# input (1, names the file); also bad flag values, global flags standing as
# another flag's value, and the exit-status section of every --help.
set -uo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_exit_codes.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0

# expect CODE NEEDLE CMD...: exit status CODE and NEEDLE in stderr+stdout
expect() {
    local want=$1 needle=$2
    shift 2
    "$BIN" "$@" >"$tmp/out" 2>&1
    local rc=$?
    checks=$((checks + 1))
    if [ "$rc" -ne "$want" ] || ! grep -qF -- "$needle" "$tmp/out"; then
        echo "FAIL: indexcache $* -> exit $rc (want $want), message must name '$needle':"
        head -c 600 "$tmp/out"; echo
        fails=$((fails + 1))
    fi
}

"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 4 --topk 4 >/dev/null
M="$tmp/model" D="$tmp/data.h5"
NOM="$tmp/no_such_model" NOD="$tmp/no_such_data.h5"
mkdir -p "$tmp/bad_model" && printf '{"hidden_size": "wide", ' >"$tmp/bad_model/config.json"
printf '{"model": {"type": "BPE", "vocab": [' >"$tmp/bad_model/tokenizer.json"
BADM="$tmp/bad_model"
printf 'this is not HDF5\n' >"$tmp/bad_data.h5"
BADD="$tmp/bad_data.h5"
printf 'GGUF\x03\x00\x00\x00\xff\xff' >"$tmp/bad.gguf"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":' >"$tmp/bad.safetensors"
echo "In the beginning" >"$tmp/text.txt"

# ---- a bad flag: 2, names the flag, in every subcommand ------------------
for cmd in import prep init-indexers train search eval overlap bench export generate inspect; do
    expect 2 "--no-such-flag" $cmd --no-such-flag
done
expect 2 "no-such-command" no-such-command

# ---- bad flag values: 2, naming the flag ---------------------------------
expect 2 "--stage" train --model "$M" --data "$D" --pattern FSFS --steps 1 --out "$tmp/t0" --stage bogus
expect 2 "--loss" train --model "$M" --data "$D" --pattern FSFS --steps 1 --out "$tmp/t0" --loss bogus
expect 2 "--steps" train --model "$M" --data "$D" --pattern FSFS --steps x --out "$tmp/t0"
expect 2 "--dtype" import "$tmp/bad.gguf" --out "$tmp/i0" --dtype f7
expect 2 "--split" eval --model "$M" --data "$D" --split nope
expect 2 "--keep" search --model "$M" --data "$D" --out "$tmp/s0"
expect 2 "--model" eval --data "$D"

# ---- a missing input: 1, names the path ------------------------------------
expect 1 "no_such.gguf" import "$tmp/no_such.gguf" --out "$tmp/i1"
expect 1 "no_such_model" prep --model "$NOM" --out "$tmp/p1.h5" "$tmp/text.txt"
expect 1 "no_such_model" init-indexers --model "$NOM" --pattern FSFS --out "$tmp/ii1"
expect 1 "no_such_model" train --model "$NOM" --data "$D" --pattern FSFS --steps 1 --seq-len 8 --out "$tmp/t1"
expect 1 "no_such_data.h5" train --model "$M" --data "$NOD" --pattern FSFS --steps 1 --seq-len 8 --out "$tmp/t2"
expect 1 "no_such_model" search --model "$NOM" --data "$D" --keep 1 --out "$tmp/s1"
expect 1 "no_such_model" eval --model "$NOM" --data "$D"
expect 1 "no_such_data.h5" eval --model "$M" --data "$NOD" --seq-len 8
expect 1 "no_such_model" overlap --model "$NOM" --data "$D" --out "$tmp/o1.csv"
expect 1 "no_such_data.h5" overlap --model "$M" --data "$NOD" --out "$tmp/o1.csv"
expect 1 "no_such_model" export --model "$NOM" --out "$tmp/e1"
expect 1 "no_such_model" bench --model "$NOM"
expect 1 "no_such_model" generate --model "$NOM" --prompt hi
expect 1 "no_such.safetensors" inspect "$tmp/no_such.safetensors"
expect 1 "nope.txt" eval --model "$M" --data "$D" --patterns-file "$tmp/nope.txt"

# ---- a malformed input: 1, names the file ------------------------------------
expect 1 "bad.gguf" import "$tmp/bad.gguf" --out "$tmp/i2"
expect 1 "tokenizer.json" prep --model "$BADM" --out "$tmp/p2.h5" "$tmp/text.txt"
expect 1 "config.json" init-indexers --model "$BADM" --pattern FSFS --out "$tmp/ii2"
expect 1 "config.json" train --model "$BADM" --data "$D" --pattern FSFS --steps 1 --seq-len 8 --out "$tmp/t3"
expect 1 "bad_data.h5" train --model "$M" --data "$BADD" --pattern FSFS --steps 1 --seq-len 8 --out "$tmp/t4"
expect 1 "config.json" search --model "$BADM" --data "$D" --keep 1 --out "$tmp/s2"
expect 1 "config.json" eval --model "$BADM" --data "$D"
expect 1 "bad_data.h5" eval --model "$M" --data "$BADD" --seq-len 8
expect 1 "config.json" overlap --model "$BADM" --data "$D" --out "$tmp/o2.csv"
expect 1 "bad_data.h5" overlap --model "$M" --data "$BADD" --out "$tmp/o2.csv"
expect 1 "config.json" export --model "$BADM" --out "$tmp/e2"
expect 1 "config.json" bench --model "$BADM"
expect 1 "config.json" generate --model "$BADM" --prompt hi
expect 1 "bad.safetensors" inspect "$tmp/bad.safetensors"

# ---- global flags only where they stand as flags -----------------------------
# "--quiet" as --out's value is a path, not the flag: train must not go quiet
# (its start-up line prints) and must fail on the missing data naming it
expect 1 "no_such_data.h5" --cpu train --model "$M" --data "$NOD" --pattern FSFS --steps 1 --seq-len 8 --out --quiet
expect 1 "no_such_data.h5" train --model "$M" --data "$NOD" --pattern FSFS --steps 1 --seq-len 8 --quiet --out "$tmp/t5" --cpu

# ---- --help: 0 and the exit-status section, in every subcommand ------------
for cmd in import prep init-indexers train search eval overlap bench export generate inspect; do
    expect 0 "2  a bad command line" $cmd --help
done
expect 0 "SIGTERM" train --help
expect 0 "SIGTERM" search --help

echo "exit codes: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
