#!/usr/bin/env bash
# One failing rank must end the whole job quickly with its message, not
# leave the other rank blocked in a collective. The modes of test_dist:
#   --fail-rank 1       rank 1 calls ic_dist_fail (a recoverable error only
#                       it sees) while rank 0 waits in a barrier;
#   --mpi-error-rank 1  rank 1's MPI call fails (MPI_ERRORS_RETURN +
#                       IC_MPI_CHECK) while rank 0 waits in a barrier.
# `timeout` turns a hang into a failure (exit 124) instead of a stuck CI.
set -u
BIN="${IC_BUILD_DIR:-$(dirname "$0")/../../build}/tests/test_dist"
if [ ! -x "$BIN" ]; then echo "skip: $BIN not built"; exit 77; fi
if ! command -v mpiexec >/dev/null; then echo "skip: no mpiexec"; exit 77; fi
if ! "$BIN" --probe >/dev/null; then echo "skip: built without MPI"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
LIMIT=20     # seconds before we call it a hang
MAX_OK=10    # seconds a clean abort may take (start-up included)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0

run_case() {  # mode, expected message (grep -E)
    local mode=$1 want=$2
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout -k 5 "$LIMIT" mpiexec -np 2 --oversubscribe "$BIN" "$mode" 1 >"$out" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL $mode: job still running after ${LIMIT}s (hang)"; cat "$out"; fail=1; return
    fi
    if [ "$rc" -eq 0 ]; then
        echo "FAIL $mode: job exited 0 although rank 1 failed"; cat "$out"; fail=1; return
    fi
    if ! grep -Eq "$want" "$out"; then
        echo "FAIL $mode: message /$want/ not printed"; cat "$out"; fail=1; return
    fi
    if awk -v s="$secs" -v m="$MAX_OK" 'BEGIN { exit !(s > m) }'; then
        echo "FAIL $mode: took ${secs}s (> ${MAX_OK}s)"; cat "$out"; fail=1; return
    fi
    echo "ok   $mode: exit $rc after ${secs}s"
    grep -E "$want" "$out" | head -1 | sed 's/^/     /'
}

run_case --fail-rank 'rank 1/2: fatal: cannot read /data/shard-1\.h5'
run_case --mpi-error-rank 'rank 1/2: fatal: .*test_dist\.c:[0-9]+: MPI error [0-9]+: .*MPI_Send'
exit $fail
