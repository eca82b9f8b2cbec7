#!/usr/bin/env bash
# Fuzzes every parser that reads a user's files, with libFuzzer + ASan +
# UBSan, for a bounded time each: scripts/fuzz.sh [SECONDS] [NAME...]
# (default 60 s each, all of them):
#   safetensors  header parser (model/ic_safetensors.c)
#   gguf         GGUF header, key/values, tensor infos, tokenizer arrays,
#                dequantisation (model/ic_gguf*.c)
#   config       config.json (model/ic_config.c)
#   tokenizer    tokenizer.json and encoding (data/ic_tokenizer*.c)
#   h5attrs      the token file's attributes and dataset layout (data/ic_h5tokens.c)
#   trace        the search trace of --resume (train/ic_search_io.c)
# Harnesses are tests/fuzz/fuzz_*.c, built with clang into build-fuzz/. Seed
# corpora are written here, on this machine, from real files where they
# exist (the SmolLM2 GGUF in models/, a dir imported from it, a tiny model
# dir, a real search trace and token file made with the built binary
# $IC_BIN, default build/indexcache) and synthetic ones (tests/fuzz/
# make_seeds.py); nothing large is committed. Crashes found and fixed are
# kept in tests/fuzz/regressions/<name>/ and replayed first. Prints each
# fuzzer's execution count; a crash leaves the input in build-fuzz/
# (crash-*) and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(safetensors gguf config tokenizer h5attrs trace)
out=${IC_FUZZ_DIR:-build-fuzz}
mkdir -p "$out"
CC=${IC_FUZZ_CC:-clang}
PY=${IC_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
BIN=${IC_BIN:-build/indexcache}

CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
        -Wno-unknown-warning-option -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -I. -Icore -Itests/fuzz)
CORE=(core/ic_error.c core/ic_tensor.c core/ic_alloc.c core/ic_fs.c core/ic_log.c)
JANSSON=$(pkg-config --cflags --libs jansson)
HDF5=$(pkg-config --cflags --libs hdf5 2>/dev/null || pkg-config --cflags --libs hdf5-serial)
build() {   # build NAME SOURCES... [-- LIBS]
    local name=$1; shift
    "$CC" "${CFLAGS[@]}" "tests/fuzz/fuzz_$name.c" "$@" -lm -o "$out/fuzz_$name"
}
for n in "${names[@]}"; do
    case $n in
    safetensors) build safetensors model/ic_safetensors.c model/ic_safetensors_write.c "${CORE[@]}" $JANSSON ;;
    gguf)        build gguf model/ic_gguf.c model/ic_gguf_quant.c model/ic_gguf_llama.c "${CORE[@]}" ;;
    config)      build config model/ic_config.c model/ic_config_pattern.c model/ic_pattern.c "${CORE[@]}" $JANSSON ;;
    tokenizer)   build tokenizer data/ic_tokenizer.c data/ic_tokenizer_encode.c data/ic_unicode.c \
                       data/ic_unicode_tables.c "${CORE[@]}" $JANSSON ;;
    h5attrs)     build h5attrs data/ic_h5tokens.c "${CORE[@]}" $HDF5 ;;
    trace)       build trace train/ic_search_io.c model/ic_pattern.c "${CORE[@]}" $JANSSON ;;
    *) echo "fuzz.sh: unknown fuzzer '$n'"; exit 2 ;;
    esac
done

# ---- seeds from real files (made here, on a fresh machine too) ------------
real="$out/real"
mkdir -p "$real"
seed_args=()
gguf_file=$(ls models/*.gguf 2>/dev/null | head -1 || true)
[ -n "$gguf_file" ] && seed_args+=(--gguf "$gguf_file")
if [ -x "$BIN" ]; then
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
    if [ -n "$gguf_file" ] && [ ! -f "$real/smol/tokenizer.json" ]; then
        rm -rf "$real/smol"
        "$BIN" import "$gguf_file" --out "$real/smol" --quiet >/dev/null || true
    fi
    [ -f "$real/smol/config.json" ] && seed_args+=(--model-dir "$real/smol")
    if [ ! -f "$real/trace.json" ]; then
        rm -rf "$real/tiny" "$real/tiny_allf" "$real/tiny.h5"
        "$PY" tests/interop/make_tiny_model.py "$real/tiny" "$real/tiny.h5" --layers 6 --topk 4 >/dev/null &&
        "$BIN" init-indexers --model "$real/tiny" --pattern FFFFFF --out "$real/tiny_allf" --quiet >/dev/null &&
        "$BIN" search --model "$real/tiny_allf" --data "$real/tiny.h5" --keep 2 --seq-len 16 --batches 2 \
            --topk 4 --out "$real/pattern.txt" --trace "$real/trace.json" --quiet >/dev/null || true
    fi
    [ -f "$real/tiny_allf/config.json" ] && seed_args+=(--tiny-dir "$real/tiny_allf")
    [ -f "$real/trace.json" ] && seed_args+=(--trace "$real/trace.json")
    if [ -f "$real/smol/tokenizer.json" ] && [ ! -f "$real/kjv.h5" ] && ls text/*.txt >/dev/null 2>&1; then
        head -c 20000 "$(ls text/*.txt | head -1)" > "$real/excerpt.txt"
        "$BIN" prep --model "$real/smol" --out "$real/kjv.h5" "$real/excerpt.txt" --quiet >/dev/null || true
    fi
    [ -f "$real/kjv.h5" ] && seed_args+=(--h5 "$real/kjv.h5")
fi
for d in gguf config tokenizer h5attrs trace; do rm -rf "$out/seeds/$d"; done
"$PY" tests/fuzz/make_seeds.py "$out/seeds" "${seed_args[@]}"
echo "real seed sources: ${seed_args[*]:-none}"

# ---- safetensors: seeds and dictionary --------------------------------------
seeds="$out/seeds/safetensors"
rm -rf "$seeds" && mkdir -p "$seeds"
python3 - "$seeds" <<'PY'
import json, struct, sys, os
d = sys.argv[1]
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
         "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
def st(tensors, meta=None, pad=True):
    h, off, data = {}, 0, b""
    if meta is not None:
        h["__metadata__"] = meta
    for name, dt, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        nb = n * SIZES[dt]
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nb]}
        data += bytes((off + i) % 251 for i in range(nb))
        off += nb
    hb = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + data
seeds = {
    "empty": st([]),
    "meta": st([], {"format": "pt", "k": ""}),
    "all_dtypes": st([(f"w.{k}", k, [2, 3]) for k in SIZES], {"format": "pt"}),
    "scalar_empty": st([("s", "F32", []), ("e", "F16", [0, 4]), ("e2", "I64", [3, 0]), ("x", "BF16", [5])]),
    "unpadded": st([("a", "F32", [3]), ("b", "U8", [1])], pad=False),
    "llama": st([("model.layers.0.self_attn.q_proj.weight", "BF16", [4, 4]),
                 ("model.layers.0.self_attn.indexer.wk.weight", "F32", [2, 4]),
                 ("lm_head.weight", "F16", [3, 4])], {"format": "pt"}),
    "hole": st([("a", "F32", [1])])[:-2],
    "unicode": st([("\u00e9\u4e2d\U0001F600", "U8", [2])], {"\u00fc": "\u00df"}),
}
for k, v in seeds.items():
    open(os.path.join(d, k), "wb").write(v)
PY

dict="$out/safetensors.dict"
{
  for tok in '"dtype"' '"shape"' '"data_offsets"' '"__metadata__"' '{' '}' '[' ']' ':' ',' \
             '"F32"' '"F16"' '"BF16"' '"F64"' '"I64"' '"U64"' '"I32"' '"U32"' '"I16"' '"U16"' \
             '"I8"' '"U8"' '"BOOL"' '"F8_E4M3"' '"F8_E5M2"' 'null' '0' '-1' '18446744073709551615' \
             '4294967296' '\u0000' '1e3' '1.0'; do
    printf '"%s"\n' "$(printf '%s' "$tok" | sed 's/\\/\\\\/g; s/"/\\"/g')"
  done
} > "$dict"

# ---- run ----------------------------------------------------------------------
status=0
for n in "${names[@]}"; do
    corpus=$(mktemp -d "${TMPDIR:-/tmp}/ic_fuzz_corpus.XXXXXX")
    log="$out/fuzz_$n.log"
    dict_arg=()
    [ "$n" = safetensors ] && dict_arg=(-dict="$dict")
    reg="tests/fuzz/regressions/$n"
    dirs=("$out/seeds/$n")
    [ -d "$reg" ] && dirs+=("$reg")
    set +e
    # replay the regression inputs alone first: each must pass as it is
    if [ -d "$reg" ] && [ -n "$(ls "$reg")" ]; then
        "$out/fuzz_$n" "$reg"/* >"$log.regressions" 2>&1 ||
            { echo "fuzz_$n: a kept regression input fails again (see $log.regressions)"; status=1; }
    fi
    "$out/fuzz_$n" "$corpus" "${dirs[@]}" "${dict_arg[@]}" -max_total_time="$secs" -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$out/$n-" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1
    rc=$?
    set -e
    grep -E "ERROR|SUMMARY" "$log" | head -5 || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz_$n: ${execs:-?} executions in ${secs} s, corpus $(ls "$corpus" | wc -l) units, exit $rc"
    rm -rf "$corpus"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz_$n: FAILED (see $log and $out/$n-crash-*)"
        tail -30 "$log"
        status=1
    fi
done
exit $status
