#!/usr/bin/env bash
# A rank that dies during `mpirun -np 2 indexcache train` ends the job on
# the survivor within a bounded time, exit status non-zero, with a line that
# names the lost rank (docs/DESIGN.md s5; launch/ic_dist_watchdog.h):
#   kill: SIGKILL rank 1 mid-training; mpirun sends SIGTERM to rank 0, whose
#         handler prints "rank 0/2: fatal: ... lost peer: rank 1 (pid P ...)
#         is gone" and exits 1;
#   stop: SIGSTOP rank 1 (a stuck peer the launcher cannot see); rank 0 waits
#         in a collective until its watchdog fires after IC_COMM_TIMEOUT_S=8:
#         "... did not complete within 8 s ...: rank 1 (pid P ...) is stopped".
# Every mpirun runs under `timeout`, so a hang fails the test instead of CI.
set -uo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
command -v mpirun >/dev/null || { echo "skip: no mpirun"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_train_kill.XXXXXX")"
victim=""
cleanup() {
    [ -n "$victim" ] && kill -CONT "$victim" 2>/dev/null && kill -KILL "$victim" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 4 --topk 8 >/dev/null
export IC_KILLTEST_TAG="$tmp"    # finds this test's ranks among all processes
LIMIT=120     # hard limit of one job (start-up + the wait for the survivor)
MAX_END=60    # seconds from the signal to the end of the job
fail=0

# pid of the rank with OMPI_COMM_WORLD_RANK=$1 whose environment has our tag
rank_pid() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}; pid=${pid%/environ}
        if tr '\0' '\n' 2>/dev/null <"$f" | grep -qx "IC_KILLTEST_TAG=$tmp" &&
           tr '\0' '\n' 2>/dev/null <"$f" | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
            echo "$pid"; return 0
        fi
    done
    return 1
}

run_case() {  # name, signal, IC_COMM_TIMEOUT_S, expected message (grep -E, PID replaced)
    local name=$1 sig=$2 wd=$3 want=$4 log="$tmp/$1.log"
    IC_COMM_TIMEOUT_S=$wd timeout -k 5 "$LIMIT" mpirun -np 2 --oversubscribe "$BIN" train \
        --model "$tmp/model" --data "$tmp/data.h5" --pattern uniform:2 --steps 1000000 \
        --seq-len 16 --batch 1 --eval-batches 0 --out "$tmp/out_$name" >"$log" 2>&1 &
    local job=$! t=0
    while ! grep -q "^step *2/" "$log" 2>/dev/null; do
        sleep 0.5; t=$((t + 1))
        if ! kill -0 "$job" 2>/dev/null || [ "$t" -gt 180 ]; then
            echo "FAIL $name: training never reached step 2"; cat "$log"; fail=1; wait "$job"; return
        fi
    done
    victim=$(rank_pid 1) || { echo "FAIL $name: rank 1 not found"; kill "$job"; wait "$job"; fail=1; return; }
    local t0 t1 rc secs
    t0=$(date +%s.%N)
    kill "-$sig" "$victim"
    wait "$job"; rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local vp=$victim
    want=${want//PID/$vp}
    kill -CONT "$vp" 2>/dev/null; kill -KILL "$vp" 2>/dev/null; victim=""
    if [ "$rc" -eq 0 ]; then echo "FAIL $name: job exited 0 although rank 1 was lost"; cat "$log"; fail=1; return; fi
    if ! grep -Eq "$want" "$log"; then
        echo "FAIL $name: message /$want/ not printed"; cat "$log"; fail=1; return
    fi
    if awk -v s="$secs" -v m="$MAX_END" 'BEGIN { exit !(s > m) }'; then
        echo "FAIL $name: the job ended ${secs}s after the signal (> ${MAX_END}s: a hang that"\
             "timeout -k 5 $LIMIT ended)"; cat "$log"; fail=1; return
    fi
    echo "ok   $name: SIG$sig to rank 1 (pid $vp), job ended after ${secs}s with exit $rc"
    grep -E "$want" "$log" | head -1 | sed 's/^/     /'
}

# the kill case must not need the watchdog: a long timeout proves the SIGTERM path
run_case kill KILL 300 'rank 0/2: fatal: .*lost peer: rank 1 \(pid PID on [^)]*\) is gone'
run_case stop STOP 8 'rank 0/2: fatal: MPI_[A-Za-z]+\(.*did not complete within 8 s.*rank 1 \(pid PID on [^)]*\) is stopped'
exit $fail
