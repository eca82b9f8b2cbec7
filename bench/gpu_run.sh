#!/usr/bin/env bash
# The one device call (issue 9 item 7; README "On the lent GPU"). Runs THERE,
# in the repository copy, on the pack that bench/gpu_pack.sh made here and the
# call carried (carry ["gpu-pack"]):
#   nvidia-smi; ldd of every executable (a "not found" fails); every gpu test
#   (exit 77 = SKIP); compute-sanitizer memcheck, racecheck and synccheck on
#   every gpu test; the GPU benchmarks (gpu-pack/bench/*, the pack's builds
#   of bench_*_gpu targets, and bench/gpu_*.py with the machine's python3).
# One line per step goes to $OUT/summary.txt (PASS / FAIL / SKIP, seconds,
# step), the whole console to $OUT/gpu_run.log, and every step's full log plus
# the benchmarks' result files into $OUT/logs.tar.gz (the device returns at
# most 8 files, so the per-step logs travel as one archive). Exits 1 if any
# step failed. Without $OUT (a dry run here) it writes to out/gpu-run/.
set -uo pipefail
# The teacher benchmarks (bench_teacher_gpu, gpu_teacher_torch.py) read the
# model dir in IC_MODEL_DIR from the caller's environment; every step runs in
# a scratch directory, so a relative path is made absolute first.
if [ -n "${IC_MODEL_DIR:-}" ]; then
  IC_MODEL_DIR=$(realpath -m -- "$IC_MODEL_DIR"); export IC_MODEL_DIR
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
PACK=$ROOT/gpu-pack
OUT=${OUT:-$ROOT/out/gpu-run}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_run.log") 2>&1
tee_pid=$!
WORK=$(mktemp -d)   # the tests' working directory (CTest's is build/tests)
LOGS=$(mktemp -d)/logs   # per-step logs, archived into $OUT/logs.tar.gz at the end
mkdir -p "$LOGS"
export NCCL_NVLS_ENABLE=0   # NVLink multicast stays off on the lent machines

SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
n_pass=0 n_fail=0 n_skip=0

record() {  # record STATUS SECONDS STEP [NOTE]
  printf '%-4s %7ss  %s%s\n' "$1" "$2" "$3" "${4:+  ($4)}" | tee -a "$SUMMARY"
  case $1 in PASS) n_pass=$((n_pass + 1)) ;; FAIL) n_fail=$((n_fail + 1)) ;; *) n_skip=$((n_skip + 1)) ;; esac
}

# IC_DEADLINE_S: seconds after which the remaining steps are recorded as SKIP
# (deadline) instead of run, so that a call ends inside its limit with its
# logs archived.
DEADLINE=${IC_DEADLINE_S:-540}
step() {  # step NAME CMD...: runs CMD in $WORK into $OUT/NAME.log; 0 PASS, 77 SKIP, else FAIL
  local name=$1; shift
  if ((SECONDS > DEADLINE)); then record SKIP 0 "$name" "deadline of ${DEADLINE}s passed"; return; fi
  local t0=$SECONDS rc
  echo "== $name: $*"
  (cd "$WORK" && "$@") >"$LOGS/$name.log" 2>&1
  rc=$?
  tail -n 5 "$LOGS/$name.log" | sed 's/^/   | /'
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then record PASS "$dt" "$name"
  elif ((rc == 77)); then
    record SKIP "$dt" "$name" "exit 77$( ((gpu)) && echo ', although nvidia-smi sees a GPU')"
  else record FAIL "$dt" "$name" "exit $rc"
  fi
}

# The pack travels as gpu-pack.tar.xz (bench/gpu_pack.sh); unpack it here.
if [ ! -f "$PACK/MANIFEST" ] && [ -f "$PACK.tar.xz" ]; then
  tar -xJf "$PACK.tar.xz" -C "$(dirname "$PACK")"
fi
if [ ! -f "$PACK/MANIFEST" ]; then
  echo "gpu_run: no $PACK/MANIFEST: run bash bench/gpu_pack.sh here and carry [\"gpu-pack\"]"
  record FAIL 0 pack "missing"
  exit 1
fi
echo "== machine: $(uname -nr)"   # kernel 4.4.0 = gVisor, where compute-sanitizer refuses the device
echo "== pack"; cat "$PACK/MANIFEST"

# Carried libraries fill only what this machine lacks: a soname the loader
# already knows comes from the machine (newer, built for it).
# IC_PACK_LIBS=all uses every carried library instead.
LIBS=$(mktemp -d)/lib
mkdir -p "$LIBS"
known=""
[ "${IC_PACK_LIBS:-}" = all ] ||
  known=$( { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | awk '{print $1}')
used=()
for lib in "$PACK"/lib/*; do
  [ -f "$lib" ] || continue
  so=$(basename "$lib")
  if ! grep -qxF "$so" <<<"$known"; then ln -s "$lib" "$LIBS/$so"; used+=("$so"); fi
done
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "gpu_run: carried libraries used: ${used[*]:-none}"

# Tests find the binary and the source tree as under CTest (tests/CMakeLists.txt).
export IC_BIN=$PACK/bin/indexcache IC_SOURCE_DIR=$ROOT IC_BUILD_DIR=$PACK
export IC_PYTHON=${IC_PYTHON:-python3} CK_DEFAULT_TIMEOUT=600

gpu=0
if nvidia-smi -L >/dev/null 2>&1; then
  step nvidia-smi nvidia-smi
  gpu=1
else
  nvidia-smi >"$LOGS/nvidia-smi.log" 2>&1
  record SKIP 0 nvidia-smi "no GPU here: the gpu tests must skip"
fi

ldd_all() {
  local bad=0 exe
  for exe in "$PACK"/bin/* "$PACK"/bench/*; do
    [ -f "$exe" ] || continue
    echo "-- $exe"; ldd "$exe"
    if ldd "$exe" | grep -q "not found"; then
      echo "!! $exe: missing shared libraries:"; ldd "$exe" | grep "not found"; bad=1
    fi
  done
  return $bad
}
step ldd ldd_all

# Phases (IC_GPU_PHASES, comma-separated; default all): tests, sanitizers,
# model (join nothing: IC_GGUF names the SmolLM2 GGUF already on the machine;
# sha256-checked, imported f32, the carried text/kjv.txt prepped; then the
# tests that need the real model, and memcheck of the whole-model test),
# bench. A lease's call is at most 10 minutes: split the phases over calls.
PHASES=",${IC_GPU_PHASES:-tests,sanitizers,model,bench},"
has() { [[ $PHASES == *",$1,"* ]]; }
STEP_TIMEOUT=${IC_STEP_TIMEOUT:-300}

mapfile -t TESTS < <(grep -v '^\s*$' "$PACK/tests.tsv")
SCRIPTS=("$ROOT"/tests/gpu/test_*.sh)
run_tests() {  # run_tests FILTER: every pack test and gpu script whose name matches
  local line name exe sc
  for line in "${TESTS[@]}"; do
    name=${line%%$'\t'*}; exe=$PACK/${line#*$'\t'}
    [[ $name =~ $1 ]] || continue
    step "$name" timeout "$STEP_TIMEOUT" "$exe"
  done
  for sc in "${SCRIPTS[@]}"; do
    [ -f "$sc" ] || continue
    name=$(basename "$sc" .sh)
    [[ $name =~ $1 ]] || continue
    step "$name" timeout "$STEP_TIMEOUT" bash "$sc"
  done
}

SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
      /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
sanitize() {  # sanitize TOOLS FILTER [ARGS...]: ARGS go to each test (e.g. --quick)
  local tool line name exe
  local tools=$1 filter=$2; shift 2
  for tool in $tools; do
    for line in "${TESTS[@]}"; do
      name=${line%%$'\t'*}; exe=$PACK/${line#*$'\t'}
      [[ $name =~ $filter ]] || continue
      if [ -z "$SAN" ]; then
        if ((gpu)); then record FAIL 0 "$tool ${name}" "no compute-sanitizer"
        else record SKIP 0 "$tool ${name}" "no GPU, no compute-sanitizer"; fi
        continue
      fi
      # racecheck and synccheck look at our own kernels only (namespace
      # ic_cuda; the PTX-twin test's kernels have no library kernels beside
      # them): on cuDNN's and cuBLAS's Hopper kernels (TMA, wgmma, mbarrier)
      # racecheck reported hazards and synccheck overflowed its barrier
      # tracking and broke the launch on 2026-12-01 (bench/RESULTS.md).
      # memcheck checks every kernel.
      local filt=()
      if [ "$tool" != memcheck ] && [ "$name" != test_ptx_twins ]; then
        filt=(--kernel-name kns=ic_cuda)
      fi
      # CK_FORK=no: the Check suites run in the sanitized process itself.
      step "${tool}_${name#test_}" timeout "$STEP_TIMEOUT" env CK_FORK=no "$SAN" --tool "$tool" \
        "${filt[@]}" --error-exitcode 1 --target-processes all "$exe" "$@"
    done
  done
}

if has tests; then
  run_tests "${IC_TEST_FILTER:-.}"   # IC_TEST_FILTER: a regex over test names
  # the NCCL all-reduce across GPUs: one rank per GPU, when there are several
  ngpu=0; ((gpu)) && ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  nccl_exe=$(awk -F'\t' '$1 == "test_nccl_comm" { print $2 }' "$PACK/tests.tsv")
  if ((ngpu >= 2)) && [ -n "$nccl_exe" ] && command -v mpirun >/dev/null; then
    step test_nccl_comm_mpi timeout "$STEP_TIMEOUT" mpirun -np "$ngpu" --oversubscribe \
      --allow-run-as-root -x NCCL_NVLS_ENABLE -x LD_LIBRARY_PATH "$PACK/$nccl_exe"
  else
    record SKIP 0 test_nccl_comm_mpi "needs >= 2 GPUs and mpirun (GPUs: $ngpu)"
  fi
fi
if has sanitizers; then
  # IC_SAN_FILTER narrows the full-run list (a regex over test names)
  sanitize "memcheck racecheck synccheck" "${IC_SAN_FILTER:-^test_(cuda_ops|ops_backends|ptx_twins|matmul_cuda|attention_cuda|ce_decode_cuda|indexer_scores_cuda|topk_cuda|layernorm_validate_cuda)$}"
  # tests whose full shapes are too slow under the sanitizers run --quick
  sanitize "memcheck racecheck synccheck" "${IC_SAN_QUICK_FILTER:-^test_(distill_loss_cuda|distill_loss_sparse_cuda|sparse_attention_cuda)$}" --quick
fi
if has model; then
  if [ -n "${IC_GGUF:-}" ] && [ -f "$IC_GGUF" ]; then
    MW=$(mktemp -d)
    want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    gguf_sha() { local h; h=$(sha256sum "$IC_GGUF" | cut -d' ' -f1); echo "$h"; [ "$h" = "$want" ]; }
    step gguf_sha256 gguf_sha
    step import "$IC_BIN" import "$IC_GGUF" --out "$MW/smol" --dtype f32
    step prep "$IC_BIN" prep --model "$MW/smol" --out "$MW/kjv.h5" "$ROOT/text/kjv.txt"
    export IC_MODEL_DIR=$MW/smol IC_DATA=$MW/kjv.h5
    run_tests 'teacher|train_gpu'
    sanitize "memcheck" '^test_teacher_gpu$'
  elif [ -n "${IC_RANDOM_MODEL:-}" ] && [ -f "$ROOT/$IC_RANDOM_MODEL/config.json" ]; then
    # IC_RANDOM_MODEL: a carried dir (repo-relative) with a config.json and the
    # tokenizer files but no weights: random ones are made here
    # (bench/make_random_weights.py), for the speed runs only, when the real
    # GGUF cannot travel in this call; the tests that compare the GPU with
    # the CPU on it are named by IC_RANDOM_TESTS (default the sparse trainer's)
    MW=$(mktemp -d)
    cp -r "$ROOT/$IC_RANDOM_MODEL" "$MW/rand"
    step random_weights python3 "$ROOT/bench/make_random_weights.py" "$MW/rand"
    step prep "$IC_BIN" prep --model "$MW/rand" --out "$MW/kjv.h5" "$ROOT/text/kjv.txt"
    export IC_MODEL_DIR=$MW/rand IC_DATA=$MW/kjv.h5
    run_tests "${IC_RANDOM_TESTS:-^test_train_sparse_gpu$}"
  else
    record SKIP 0 model "neither IC_GGUF nor IC_RANDOM_MODEL names a model"
  fi
fi

# Benchmarks: each gets IC_OUT for result files of its own (archived with the
# logs); IC_BENCH_FILTER, a regex over the step names (bench_<file name>),
# runs only those that match.
export IC_OUT=$LOGS/bench
mkdir -p "$IC_OUT"
echo "gpu_run: IC_MODEL_DIR=${IC_MODEL_DIR:-(unset: the teacher benchmarks skip)}"
if has bench; then
  # the C benchmarks first: the Python ones print their ratios against them
  for exe in "$PACK"/bench/*; do
    [ -f "$exe" ] || continue
    [[ bench_$(basename "$exe") =~ ${IC_BENCH_FILTER:-.} ]] || continue
    if ((gpu)); then step "bench_$(basename "$exe")" timeout "$STEP_TIMEOUT" "$exe"
    else record SKIP 0 "bench $(basename "$exe")" "no GPU"; fi
  done
  # the shell benchmarks over the binary (they need the model of the model phase)
  for sh in "$ROOT"/bench/bench_*_gpu.sh; do
    [ -f "$sh" ] || continue
    [[ bench_$(basename "$sh" .sh) =~ ${IC_BENCH_FILTER:-.} ]] || continue
    if ((gpu)); then step "bench_$(basename "$sh" .sh)" timeout "$STEP_TIMEOUT" bash "$sh"
    else record SKIP 0 "bench $(basename "$sh")" "no GPU"; fi
  done
  for py in "$ROOT"/bench/gpu_*.py; do
    [ -f "$py" ] || continue
    [[ bench_$(basename "$py" .py) =~ ${IC_BENCH_FILTER:-.} ]] || continue
    if ((gpu)); then step "bench_$(basename "$py" .py)" timeout "$STEP_TIMEOUT" python3 "$py"
    else record SKIP 0 "bench $(basename "$py")" "no GPU"; fi
  done
fi

echo "== summary ($SUMMARY)"; cat "$SUMMARY"
echo "$n_pass passed, $n_fail failed, $n_skip skipped"
tar -czf "$OUT/logs.tar.gz" -C "$(dirname "$LOGS")" logs
rm -rf "$WORK" "$(dirname "$LIBS")" "$(dirname "$LOGS")"
exec >&- 2>&-
wait "$tee_pid" 2>/dev/null
((n_fail == 0))
