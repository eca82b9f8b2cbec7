/* Gradient averaging on GPUs: one NCCL communicator over the MPI world
 * (docs/DESIGN.md s5). Rank 0 makes the ncclUniqueId, ic_dist_bcast sends it,
 * every rank joins on its context's device (one rank per GPU: the local
 * rank picks it, kernels/ic_ctx.h ic_ctx_init_auto). NCCL refuses two ranks
 * on one GPU, so a host with fewer GPUs than ranks cannot use this path.
 *
 * The communicator is non-blocking (ncclConfig_t.blocking = 0) so that the
 * watchdog thread (launch/ic_dist_watchdog.h) may ncclCommAbort it while a
 * collective hangs on a dead peer: it polls ncclCommGetAsyncError and an
 * event recorded after each all-reduce, and past IC_COMM_TIMEOUT_S ends
 * the process with exit 1 and a message. Every NCCL call goes through
 * IC_NCCL_CHECK (file:line, ncclGetErrorString, ncclGetLastError).
 *
 * A build without NCCL (CMake did not find nccl.h / libnccl, or no CUDA)
 * compiles this API as stubs: ic_nccl_built() is 0 and ic_nccl_open fails
 * with a message saying so. Set NCCL_NVLS_ENABLE=0 in the ranks'
 * environment (the launch scripts do; ic_nccl_open sets it when unset). */
#ifndef IC_DIST_NCCL_H
#define IC_DIST_NCCL_H

#include <stddef.h>

#include "core/ic_ctx.h"
#include "core/ic_error.h"

/* 1 when this binary was built with NCCL. */
int ic_nccl_built(void);

/* Opens the communicator of every rank of ic_dist_get() on ctx's device
 * (a CUDA context). Collective: every rank calls it at the same point;
 * with one rank (no mpirun) it is a communicator of size 1. 0 on success,
 * -1 with err when NCCL is absent or ctx is not CUDA; an NCCL failure ends
 * the job (ic_dist_fail) since the other ranks cannot go on alone. */
int ic_nccl_open(ic_ctx *ctx, ic_error *err);
int ic_nccl_is_open(void);

/* dbuf[n] (device memory of the opened context) <- the mean over ranks,
 * in place, one ncclAllReduce(ncclAvg) on the context's stream; returns
 * once it is enqueued (stream-ordered like every op). */
void ic_nccl_mean_f32(float *dbuf, size_t n);

/* Waits for the queued all-reduces (under the watchdog), then frees the
 * communicator. */
void ic_nccl_close(void);

#endif
