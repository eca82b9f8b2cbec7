#!/usr/bin/env bash
# `indexcache CMD ...` under mpirun, one rank per GPU, with the NCCL
# environment every rank needs.
#
#   bash launch/scripts/mpirun.sh N COMMAND [options]     e.g. N = GPUs of this host
#   IC_HOSTFILE=hosts bash launch/scripts/mpirun.sh 16 train --model ...   several hosts
#
# Ranks fill each host's slots in order (--map-by slot), so the local rank
# picks the GPU. NCCL_NVLS_ENABLE=0 and every NCCL_* / IC_* / OMP_* variable
# set here are exported to all ranks (-x).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 N COMMAND [options]" >&2; exit 2; }
N=$1; shift
BIN=${IC_BIN:-indexcache}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
export IC_COMM_TIMEOUT_S=${IC_COMM_TIMEOUT_S:-600}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
xs=()
for v in $(compgen -e | grep -E '^(NCCL_|IC_|OMP_|CUDA_VISIBLE_DEVICES$|LD_LIBRARY_PATH$)'); do xs+=(-x "$v"); done
host=()
[ -n "${IC_HOSTFILE:-}" ] && host=(--hostfile "$IC_HOSTFILE")
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
exec mpirun -np "$N" "${host[@]}" --map-by slot --bind-to none "${extra[@]}" "${xs[@]}" "$BIN" "$@"
