#!/usr/bin/env bash
# Fuzzes the safetensors header parser with libFuzzer + ASan + UBSan for a
# bounded time: scripts/fuzz.sh [SECONDS]   (default 60).
# Builds tests/fuzz/fuzz_safetensors.c with clang into build-fuzz/, writes a
# small seed corpus (valid files of every dtype, sharing/empty/scalar
# tensors, a few broken ones) and a dictionary of the format's tokens, runs,
# and prints the executions count. A crash leaves the input in build-fuzz/
# (crash-*) and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=${IC_FUZZ_DIR:-build-fuzz}
mkdir -p "$out"
CC=${IC_FUZZ_CC:-clang}

"$CC" -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Wno-unknown-warning-option \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I. -Icore tests/fuzz/fuzz_safetensors.c \
  model/ic_safetensors.c model/ic_safetensors_write.c \
  core/ic_error.c core/ic_tensor.c core/ic_alloc.c core/ic_fs.c \
  $(pkg-config --cflags --libs jansson) -o "$out/fuzz_safetensors"

seeds="$out/seeds"
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

corpus=$(mktemp -d "${TMPDIR:-/tmp}/ic_fuzz_corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
log="$out/fuzz.log"
set +e
"$out/fuzz_safetensors" "$corpus" "$seeds" -dict="$dict" -max_total_time="$secs" \
  -print_final_stats=1 -artifact_prefix="$out/" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1
rc=$?
set -e
grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY" "$log" || true
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "fuzz_safetensors: ${execs:-?} executions in ${secs} s, corpus $(ls "$corpus" | wc -l) units, exit $rc"
if [ "$rc" -ne 0 ]; then
  echo "fuzz_safetensors: FAILED (see $log and $out/crash-*)"
  tail -40 "$log"
  exit 1
fi
