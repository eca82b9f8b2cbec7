#include "launch/ic_dist_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_log.h"
#include "launch/ic_dist.h"

#ifndef IC_WITH_NCCL

int ic_nccl_built(void) { return 0; }
int ic_nccl_is_open(void) { return 0; }
int ic_nccl_open(ic_ctx *ctx, ic_error *err) {
    (void)ctx;
    return ic_error_set(err, "this binary was built without NCCL (CMake found no nccl.h / libnccl)");
}
void ic_nccl_mean_f32(float *dbuf, size_t n) {
    (void)dbuf; (void)n;
    ic_dist_fail("ic_nccl_mean_f32: built without NCCL");
}
void ic_nccl_close(void) {}

#else

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdatomic.h>
#include <time.h>

#include "launch/ic_dist_watchdog.h"

static struct {
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t done;         /* recorded after each all-reduce */
    int device, open;
    atomic_llong enqueued;    /* all-reduces recorded on `done` */
    atomic_llong finished;    /* the watchdog saw `done` complete up to this one */
} g_nc;

static void nccl_rc(ncclResult_t r, const char *call, const char *file, int line) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    const char *last = g_nc.comm ? ncclGetLastError(g_nc.comm) : NULL;
    ic_dist_fail("%s:%d: NCCL error %d: %s (%s)%s%s", file, line, (int)r, ncclGetErrorString(r), call,
                 last && *last ? ": " : "", last ? last : "");
}
#define IC_NCCL_CHECK(call) nccl_rc((call), #call, __FILE__, __LINE__)

static void cudart_rc(cudaError_t e, const char *call, const char *file, int line) {
    if (e == cudaSuccess) return;
    ic_dist_fail("%s:%d: CUDA error %d: %s (%s)", file, line, (int)e, cudaGetErrorString(e), call);
}
#define IC_CUDART_CHECK(call) cudart_rc((call), #call, __FILE__, __LINE__)

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* A non-blocking communicator's call returns ncclInProgress until NCCL has
 * finished it on the host (init, or enqueueing a collective): wait for
 * that, bounded by the timeout, and name the call when it fails. */
static void wait_ready(const char *what, const char *file, int line) {
    const long long t0 = mono_ns(), limit = (long long)(ic_wd_timeout_s() * 1e9);
    for (;;) {
        ncclResult_t st = ncclInProgress;
        IC_NCCL_CHECK(ncclCommGetAsyncError(g_nc.comm, &st));
        if (st == ncclSuccess) return;
        if (st != ncclInProgress) nccl_rc(st, what, file, line);
        if (mono_ns() - t0 > limit) {
            char peers[768];
            ic_wd_lost_peers(peers, sizeof peers);
            fprintf(stderr, "indexcache: rank %d/%d: fatal: %s:%d: %s still in progress after %.0f s "
                    "(IC_COMM_TIMEOUT_S); %s\n", ic_dist_get()->rank, ic_dist_get()->world, file,
                    line, what, ic_wd_timeout_s(), peers);
            ncclCommAbort(g_nc.comm);
            ic_dist_fail("NCCL communicator aborted");
        }
        struct timespec d = { 0, 100000 };
        nanosleep(&d, NULL);
    }
}

/* ---- the watchdog's view (runs on its thread) ------------------------------ */

static int nccl_poll(void *user, char *msg, size_t len) {
    (void)user;
    long long enq = atomic_load(&g_nc.enqueued);
    if (atomic_load(&g_nc.finished) >= enq) return 0;
    ncclResult_t st = ncclSuccess;
    if (ncclCommGetAsyncError(g_nc.comm, &st) == ncclSuccess && st != ncclSuccess &&
        st != ncclInProgress) {
        const char *last = ncclGetLastError(g_nc.comm);
        snprintf(msg, len, "async error %d: %s%s%s", (int)st, ncclGetErrorString(st),
                 last && *last ? ": " : "", last ? last : "");
        return -1;
    }
    /* the thread has no current device by default */
    cudaSetDevice(g_nc.device);
    cudaError_t q = cudaEventQuery(g_nc.done);
    if (q == cudaSuccess) { atomic_store(&g_nc.finished, enq); return 0; }
    if (q != cudaErrorNotReady) {
        snprintf(msg, len, "CUDA error %d while waiting for the all-reduce: %s", (int)q,
                 cudaGetErrorString(q));
        return -1;
    }
    snprintf(msg, len, "all-reduce %lld pending on GPU %d", enq, g_nc.device);
    return 1;
}

static void nccl_abort(void *user) {
    (void)user;
    if (g_nc.comm) ncclCommAbort(g_nc.comm);
}

/* ---- the API ---------------------------------------------------------------- */

int ic_nccl_built(void) { return 1; }
int ic_nccl_is_open(void) { return g_nc.open; }

int ic_nccl_open(ic_ctx *ctx, ic_error *err) {
    if (g_nc.open) return 0;
    if (!ctx || ctx->backend != IC_BACKEND_CUDA)
        return ic_error_set(err, "NCCL needs a CUDA context (this rank runs on %s)",
                            ctx ? ctx->desc : "no context");
    /* NVLink SHARP (NVLS) multicast buffers fail or hang on the lent
     * multi-GPU hosts; our launch scripts set it, a bare mpirun may not. */
    setenv("NCCL_NVLS_ENABLE", "0", 0);
    const ic_dist *d = ic_dist_get();
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (d->rank == 0) IC_NCCL_CHECK(ncclGetUniqueId(&id));
    ic_dist_bcast(&id, sizeof id);
    g_nc.device = ctx->device;
    g_nc.stream = (cudaStream_t)ctx->stream;
    IC_CUDART_CHECK(cudaSetDevice(g_nc.device));
    IC_CUDART_CHECK(cudaEventCreateWithFlags(&g_nc.done, cudaEventDisableTiming));
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    IC_NCCL_CHECK(ncclCommInitRankConfig(&g_nc.comm, d->world, id, d->rank, &cfg));
    wait_ready("ncclCommInitRankConfig", __FILE__, __LINE__);
    int ver = 0;
    ncclGetVersion(&ver);
    ic_log_note("gradients: NCCL %d.%d.%d all-reduce over %d rank(s), this one on GPU %d",
                ver / 10000, (ver / 100) % 100, ver % 100, d->world, g_nc.device);
    atomic_store(&g_nc.enqueued, 0);
    atomic_store(&g_nc.finished, 0);
    g_nc.open = 1;
    ic_wd_set_device(nccl_poll, nccl_abort, NULL);
    return 0;
}

void ic_nccl_mean_f32(float *dbuf, size_t n) {
    if (!g_nc.open) ic_dist_fail("ic_nccl_mean_f32: the NCCL communicator is not open");
    if (n == 0) return;
    IC_NCCL_CHECK(ncclAllReduce(dbuf, dbuf, n, ncclFloat32, ncclAvg, g_nc.comm, g_nc.stream));
    wait_ready("ncclAllReduce", __FILE__, __LINE__);
    IC_CUDART_CHECK(cudaEventRecord(g_nc.done, g_nc.stream));
    atomic_fetch_add(&g_nc.enqueued, 1);
}

void ic_nccl_close(void) {
    if (!g_nc.open) return;
    /* Wait with the watchdog still armed: a peer that died during the last
     * all-reduce ends this rank here instead of hanging in the free. */
    const long long t0 = mono_ns(), limit = (long long)(ic_wd_timeout_s() * 1e9);
    cudaSetDevice(g_nc.device);
    while (cudaEventQuery(g_nc.done) == cudaErrorNotReady) {
        if (mono_ns() - t0 > limit) break;   /* the watchdog ends the process first */
        struct timespec d = { 0, 1000000 };
        nanosleep(&d, NULL);
    }
    ic_wd_set_device(NULL, NULL, NULL);
    IC_NCCL_CHECK(ncclCommFinalize(g_nc.comm));
    wait_ready("ncclCommFinalize", __FILE__, __LINE__);
    IC_NCCL_CHECK(ncclCommDestroy(g_nc.comm));
    cudaEventDestroy(g_nc.done);
    memset(&g_nc, 0, sizeof g_nc);
}

#endif
