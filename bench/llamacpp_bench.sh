#!/usr/bin/env bash
# bench/llamacpp_bench.sh: indexcache's CPU path against llama.cpp on the same
# weights (issue 17, item 4). Not a test: scripts/test.sh and CI never call it.
#
#   bash bench/llamacpp_bench.sh                  # R=3 repeats, 2 threads
#   R=5 THREADS=2 IC_BIN=build/indexcache bash bench/llamacpp_bench.sh
#   bash bench/llamacpp_bench.sh --prepare-only   # fetch .. prep, no timing
#
# Steps (each one cached under $WORK, see bench/README.md):
#   fetch    pip download the llama-cpp-python sdist (pinned), unpack it
#   build    llama-bench from its vendored llama.cpp: CPU only, Release, native
#   import   indexcache import GGUF -> f32 model dir (the weights both sides run)
#   convert  vendored convert_hf_to_gguf.py: that dir -> f32 and f16 GGUF
#   prep     indexcache prep of the KJV text for `indexcache eval`
#   time     A, B, A, B ...: per repeat one llama-bench run per GGUF, then ours
#   report   markdown table of medians and spreads, ratios ours / llama.cpp
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LLAMACPP_PY_VERSION=${LLAMACPP_PY_VERSION:-0.3.36}  # pinned; vendors llama.cpp 0c1e570
IC_BIN=${IC_BIN:-build/indexcache}
THREADS=${THREADS:-2}
R=${R:-3}
WORK=${WORK:-build-llamacpp}                        # git-ignored (/build*/)
GGUF_SRC=${GGUF_SRC:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-text/kjv.txt}
EVAL_WINDOWS=${EVAL_WINDOWS:-1}                     # eval windows per timed run
PROMPT=${PROMPT:-In the beginning God created the heaven and the earth.}
JOBS=${JOBS:-2}
BUILD_NICE=${BUILD_NICE:-19}
# --repack 0 keeps llama.cpp off its extra weight buffer types. With
# GGML_NATIVE the build has AMX kernels (the CPU reports amx_tile/amx_int8),
# but this VM does not enable the tile state: Q4_1 prompt batches died with
# SIGILL on `tilezero` (gdb, 2026-12-02). Q4_1 has no CPU repack layout, so
# the flag only swaps AMX for ggml-cpu's AVX-512 dot products; f32 and f16 are
# unchanged. Set LLAMA_BENCH_ARGS= where AMX works.
LLAMA_BENCH_ARGS=${LLAMA_BENCH_ARGS---repack 0}

PREPARE_ONLY=0
for a in "$@"; do
    case "$a" in
        --prepare-only) PREPARE_ONLY=1;;
        -h|--help) sed -n '2,17p' "$0"; exit 0;;
        *) echo "llamacpp_bench.sh: unknown argument '$a' (--prepare-only, --help)" >&2; exit 2;;
    esac
done

STEP=setup
STEP_LOG=
fail() {
    echo "llamacpp_bench.sh: step '$STEP' failed: $*" >&2
    if [ -n "$STEP_LOG" ] && [ -s "$STEP_LOG" ]; then
        echo "--- last lines of $STEP_LOG:" >&2
        tail -n 20 "$STEP_LOG" >&2
    fi
    exit 1
}
trap 'fail "command exited with status $? (line $LINENO)"' ERR
step() { STEP=$1; STEP_LOG="$WORK/logs/$1.log"; echo "== $1: $2" >&2; }
# run CMD with its output in the step's log (kept for the failure message)
logged() { "$@" >>"$STEP_LOG" 2>&1 || fail "'$*' exited with status $?"; }

case "$R" in ''|*[!0-9]*|0) fail "R must be a positive integer (got '$R')";; esac
case "$THREADS" in ''|*[!0-9]*|0) fail "THREADS must be a positive integer (got '$THREADS')";; esac
case "$EVAL_WINDOWS" in ''|*[!0-9]*|0) fail "EVAL_WINDOWS must be a positive integer";; esac
[ -x "$IC_BIN" ] || fail "IC_BIN=$IC_BIN is not an executable (build indexcache or set IC_BIN)"
[ -f "$GGUF_SRC" ] || fail "GGUF_SRC=$GGUF_SRC not found (models/ holds the SmolLM2 Q4_1 GGUF)"
[ -f "$TEXT" ] || fail "TEXT=$TEXT not found (text/kjv.txt)"
IC_BIN=$(cd "$(dirname "$IC_BIN")" && pwd)/$(basename "$IC_BIN")
mkdir -p "$WORK/logs"
WORK=$(cd "$WORK" && pwd)
: >"$WORK/logs/setup.log"

V=$LLAMACPP_PY_VERSION
SDIST_DIR=$WORK/src/llama_cpp_python-$V
LLAMA_SRC=$SDIST_DIR/vendor/llama.cpp
LLAMA_BUILD=$WORK/build-$V
LLAMA_BENCH=$LLAMA_BUILD/bin/llama-bench
BASE=$(basename "$GGUF_SRC" .gguf)
MODEL_DIR=$WORK/model/$BASE-f32
GGUF_DIR=$WORK/gguf-$V
DATA=$WORK/data/$BASE-$(basename "$TEXT" .txt).h5

# ---- fetch ---------------------------------------------------------------
step fetch "llama-cpp-python==$V sdist"
: >"$STEP_LOG"
if [ ! -f "$LLAMA_SRC/CMakeLists.txt" ]; then
    mkdir -p "$WORK/dl" "$WORK/src"
    TARBALL=$WORK/dl/llama_cpp_python-$V.tar.gz
    if [ ! -f "$TARBALL" ]; then
        # pip builds the sdist's metadata, which takes a minute or two
        logged python3 -m pip download --no-deps --no-binary :all: \
            "llama-cpp-python==$V" -d "$WORK/dl"
        [ -f "$TARBALL" ] || fail "pip download left no $TARBALL"
    fi
    rm -rf "$SDIST_DIR"
    logged tar xzf "$TARBALL" -C "$WORK/src"
    [ -f "$LLAMA_SRC/CMakeLists.txt" ] || fail "no vendored llama.cpp in $TARBALL"
fi
# the llama.cpp commit llama-cpp-python vendors, from its changelog
LLAMA_COMMIT=$(awk -v v="## [$V]" '$0 == v {f = 1; next} f && /^## \[/ {exit}
    f && match($0, /llama\.cpp@[0-9a-f]+/) {print substr($0, RSTART + 10, RLENGTH - 10); exit}' \
    "$SDIST_DIR/CHANGELOG.md" 2>/dev/null || true)

# ---- build ---------------------------------------------------------------
step build "llama-bench (CPU only, Release, native) under nice -n $BUILD_NICE, -j $JOBS"
: >"$STEP_LOG"
if [ ! -x "$LLAMA_BENCH" ]; then
    logged nice -n "$BUILD_NICE" cmake -S "$LLAMA_SRC" -B "$LLAMA_BUILD" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
        -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_HIP=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF
    logged nice -n "$BUILD_NICE" cmake --build "$LLAMA_BUILD" --target llama-bench -j "$JOBS"
    [ -x "$LLAMA_BENCH" ] || fail "the build left no $LLAMA_BENCH"
fi
LLAMA_VERSION=$("$LLAMA_BENCH" --version 2>&1 | head -n 1 || true)

# ---- import --------------------------------------------------------------
step import "$GGUF_SRC -> $MODEL_DIR (f32)"
: >"$STEP_LOG"
if [ ! -f "$MODEL_DIR/model.safetensors" ] || [ ! -f "$MODEL_DIR/tokenizer.json" ]; then
    rm -rf "$MODEL_DIR"
    mkdir -p "$(dirname "$MODEL_DIR")"
    logged nice -n "$BUILD_NICE" "$IC_BIN" --cpu import "$GGUF_SRC" --out "$MODEL_DIR" --dtype f32
fi

# ---- convert -------------------------------------------------------------
step convert "$MODEL_DIR -> f32 and f16 GGUF (vendored convert_hf_to_gguf.py)"
: >"$STEP_LOG"
# The converter imports torch, numpy, transformers, sentencepiece, safetensors,
# and gguf-py's tqdm and yaml. gguf itself comes from the vendored gguf-py.
# Python: $CONVERT_PYTHON, else the repo's .venv-torch (torch + transformers),
# else a venv created here from the vendored requirements (CPU torch). Any of
# the small modules that python lacks goes into $WORK/pydeps-pyX.Y (pip --target),
# never into the project's venvs.
PYDEPS=
py_has() { PYTHONPATH="$PYDEPS" "$1" -c "import $2" >/dev/null 2>&1; }
need_f32=0; need_f16=0
[ -s "$GGUF_DIR/$BASE-f32.gguf" ] || need_f32=1
[ -s "$GGUF_DIR/$BASE-f16.gguf" ] || need_f16=1
if [ $need_f32 = 1 ] || [ $need_f16 = 1 ]; then
    PY=${CONVERT_PYTHON:-}
    if [ -z "$PY" ] && [ -x "$ROOT/.venv-torch/bin/python" ] &&
       py_has "$ROOT/.venv-torch/bin/python" "torch, numpy, transformers"; then
        PY=$ROOT/.venv-torch/bin/python
    fi
    if [ -z "$PY" ]; then
        PY=$WORK/venv-convert/bin/python
        if ! py_has "$PY" "torch, numpy, transformers"; then
            echo "   creating $WORK/venv-convert (torch CPU, transformers: a large download)" >&2
            logged python3 -m venv "$WORK/venv-convert"
            # they name download.pytorch.org's CPU wheels as an extra index;
            # where that is unreachable (the helper box) pip takes torch
            # from PyPI (checked: 2.5 minutes there, with a warm pip cache)
            "$PY" -m pip install --quiet --retries 1 --timeout 30 \
                -r "$LLAMA_SRC/requirements/requirements-convert_hf_to_gguf.txt" \
                >>"$STEP_LOG" 2>&1 ||
                fail "cannot install the converter's requirements into $WORK/venv-convert" \
                     "(see the log): set CONVERT_PYTHON to a python" \
                     "with torch + transformers + numpy, e.g. the project's .venv-torch/bin/python"
        fi
    fi
    py_has "$PY" "torch, numpy, transformers" || fail "$PY cannot import torch, numpy, transformers"
    # compiled wheels (sentencepiece) fit one python version only
    PYDEPS=$WORK/pydeps-py$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    for m in sentencepiece:'sentencepiece>=0.1.98,<0.3.0' safetensors:safetensors \
             tqdm:tqdm yaml:pyyaml google.protobuf:'protobuf>=4.21.0,<5.0.0'; do
        mod=${m%%:*}; req=${m#*:}
        py_has "$PY" "$mod" || logged "$PY" -m pip install --quiet --target "$PYDEPS" "$req"
        py_has "$PY" "$mod" || fail "$PY still cannot import $mod after installing $req into $PYDEPS"
    done
    mkdir -p "$GGUF_DIR"
    for dt in f32 f16; do
        out=$GGUF_DIR/$BASE-$dt.gguf
        [ -s "$out" ] && continue
        PYTHONPATH="$LLAMA_SRC/gguf-py:$PYDEPS" logged nice -n "$BUILD_NICE" "$PY" \
            "$LLAMA_SRC/convert_hf_to_gguf.py" "$MODEL_DIR" --outtype $dt --outfile "$out.tmp"
        mv "$out.tmp" "$out"
    done
fi

# ---- prep ----------------------------------------------------------------
step prep "$TEXT -> $DATA"
: >"$STEP_LOG"
if [ ! -f "$DATA" ]; then
    mkdir -p "$(dirname "$DATA")"
    logged nice -n "$BUILD_NICE" "$IC_BIN" --cpu prep --model "$MODEL_DIR" --out "$DATA" "$TEXT"
fi

if [ $PREPARE_ONLY = 1 ]; then
    echo "prepared: $LLAMA_BENCH, $GGUF_DIR/$BASE-{f32,f16}.gguf, $MODEL_DIR, $DATA" >&2
    exit 0
fi

# ---- time ----------------------------------------------------------------
step time "R=$R interleaved repeats, $THREADS threads"
: >"$STEP_LOG"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$WORK/runs/$STAMP
mkdir -p "$RUN"
SAMPLES=$RUN/samples.tsv         # row <TAB> column <TAB> repeat <TAB> tok/s
: >"$SAMPLES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date -u +%FT%TZ)
ROWS="f32:$GGUF_DIR/$BASE-f32.gguf f16:$GGUF_DIR/$BASE-f16.gguf Q4_1:$GGUF_SRC"

# llama-bench, one run per GGUF and repeat: pp with -embd 1 (every position's
# logits, as our eval), pp and tg with -embd 0 (its usual figures, the logits
# of the last prompt token only). -r 1 since the repeats are ours; its own
# warm-up run stays on.
llama_once() {   # NAME GGUF REPEAT
    local out=$RUN/llama-$1-$3.jsonl
    local st=0
    # shellcheck disable=SC2086  # LLAMA_BENCH_ARGS is a list of words
    "$LLAMA_BENCH" -m "$2" -t "$THREADS" -p 512,2048 -n 32 -embd 0,1 -r 1 -o jsonl \
        $LLAMA_BENCH_ARGS >"$out" 2>"$out.err" || st=$?
    [ $st = 132 ] && fail "llama-bench on $2 died of SIGILL: an instruction this CPU or VM" \
        "does not run (AMX? keep LLAMA_BENCH_ARGS='--repack 0'; see $out.err)"
    [ $st = 0 ] || fail "llama-bench on $2 exited with status $st (see $out.err)"
    python3 - "$out" "$1" "$3" >>"$SAMPLES" <<'EOF' || fail "cannot parse llama-bench output $out"
import json, sys
path, row, rep = sys.argv[1:]
got = set()
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    p, g, e = r["n_prompt"], r["n_gen"], bool(r["embeddings"])
    if g == 0 and p in (512, 2048):
        col = "pp%d" % p + ("" if e else "_last")
    elif p == 0 and g == 32 and not e:
        col = "tg32"
    else:
        continue
    print("llama.cpp %s\t%s\t%s\t%.4f" % (row, col, rep, r["avg_ts"]))
    got.add(col)
want = {"pp512", "pp2048", "pp512_last", "pp2048_last", "tg32"}
if got != want:
    sys.exit("missing tests: %s" % sorted(want - got))
EOF
}

# ours: eval (dense, every position's logits and the loss) at L = 512 and
# 2048, and greedy decoding of 32 tokens after a short prompt
ours_once() {   # REPEAT
    local L out tps
    for L in 512 2048; do
        out=$RUN/ours-eval$L-$1
        OMP_NUM_THREADS=$THREADS "$IC_BIN" --cpu eval --model "$MODEL_DIR" --data "$DATA" \
            --split val --seq-len $L --batches "$EVAL_WINDOWS" --json >"$out.json" 2>"$out.err" \
            || fail "indexcache eval --seq-len $L exited with status $? (see $out.err)"
        tps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tok_per_s"])' \
              "$out.json") || fail "no tok_per_s in $out.json"
        printf 'indexcache f32\tpp%s\t%s\t%s\n' $L "$1" "$tps" >>"$SAMPLES"
    done
    out=$RUN/ours-gen-$1
    OMP_NUM_THREADS=$THREADS "$IC_BIN" --cpu generate --model "$MODEL_DIR" --prompt "$PROMPT" \
        --tokens 32 >"$out.txt" 2>"$out.err" \
        || fail "indexcache generate exited with status $? (see $out.err)"
    # "generate: P prompt tokens (x tok/s), N new tokens (y tok/s)": y is N over
    # the time of N-1 decode steps (the first new token comes from the prompt's
    # logits), so steps/s = y (N-1)/N, what llama-bench's tg32 counts (32
    # single-token decodes)
    tps=$(sed -n 's/.*, \([0-9]*\) new tokens (\([0-9.]*\) tok\/s).*/\1 \2/p' "$out.err" |
          awk '$1 < 2 {exit 1} {printf "%.4f %d\n", $2 * ($1 - 1) / $1, $1}') \
        || fail "generate stopped before 2 new tokens (see $out.err)"
    [ -n "$tps" ] || fail "no 'new tokens (... tok/s)' line in $out.err"
    [ "${tps#* }" = 32 ] || echo "   note: generate stopped at ${tps#* } tokens (EOS)" >&2
    printf 'indexcache f32\ttg32\t%s\t%s\n' "$1" "${tps% *}" >>"$SAMPLES"
}

for rep in $(seq 1 "$R"); do
    for r in $ROWS; do
        echo "   repeat $rep/$R: llama.cpp ${r%%:*}" >&2
        llama_once "${r%%:*}" "${r#*:}" "$rep"
    done
    echo "   repeat $rep/$R: indexcache f32" >&2
    ours_once "$rep"
done
T_END=$(date -u +%FT%TZ)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report --------------------------------------------------------------
step report "$RUN/table.md"
: >"$STEP_LOG"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (dirty)"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
    echo "indexcache $COMMIT ($IC_BIN) vs llama.cpp ${LLAMA_COMMIT:-?} (llama-cpp-python $V; llama-bench: $LLAMA_VERSION; args: ${LLAMA_BENCH_ARGS:-none})"
    echo "$T_START .. $T_END; $(nproc) CPUs ($CPU), $THREADS threads, R = $R interleaved repeats;" \
         "load average (1/5/15 min) $LOAD_BEFORE before, $LOAD_AFTER after"
    echo
    python3 - "$SAMPLES" <<'EOF'
import statistics, sys
s = {}
for line in open(sys.argv[1]):
    row, col, rep, v = line.rstrip("\n").split("\t")
    s.setdefault((row, col), []).append(float(v))
rows = ["llama.cpp f32", "llama.cpp f16", "llama.cpp Q4_1", "indexcache f32"]
cols = ["pp512", "pp2048", "tg32"]
def cell(row, col):
    v = s.get((row, col))
    if not v:
        return "-"
    m = statistics.median(v)
    return "%.1f (%.1f-%.1f)" % (m, min(v), max(v))
def med(row, col):
    v = s.get((row, col))
    return statistics.median(v) if v else None
ours = "indexcache f32"
print("tok/s, median (min-max) of the repeats; pp = every position's logits "
      "(llama-bench -embd 1, indexcache eval); ours/x = indexcache f32 over that row")
print()
print("| engine | pp512 | pp2048 | tg32 | ours/x pp512 | ours/x pp2048 | ours/x tg32 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for row in rows:
    ratios = []
    for col in cols:
        a, b = med(ours, col), med(row, col)
        ratios.append("%.2f" % (a / b) if a and b else "-")
    print("| %s | %s | %s | %s | %s |" % (row, *[cell(row, c) for c in cols], " | ".join(ratios)))
print()
print("llama.cpp's usual pp (logits of the last prompt token only, -embd 0), tok/s:")
print()
print("| engine | pp512 | pp2048 | ours/x pp512 | ours/x pp2048 |")
print("|---|---:|---:|---:|---:|")
for row in rows[:3]:
    ratios = []
    for col in ("pp512", "pp2048"):
        a, b = med(ours, col), med(row, col + "_last")
        ratios.append("%.2f" % (a / b) if a and b else "-")
    print("| %s | %s | %s | %s |" % (row, cell(row, "pp512_last"), cell(row, "pp2048_last"),
                                     " | ".join(ratios)))
EOF
} >"$RUN/table.md" || fail "cannot write the table"
cat "$RUN/table.md"
echo "(raw outputs and samples.tsv in $RUN)" >&2
