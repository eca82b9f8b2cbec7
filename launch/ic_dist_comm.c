/* The process group as the collectives interface of train/ and optim/
 * (optim/ic_comm.h): ic_dist's MPI calls behind callbacks. */
#include "launch/ic_dist.h"

static void dist_mean_f32(void *user, float *buf, size_t n) {
    (void)user;
    ic_dist_allreduce_mean_f32(buf, n);
}

static void dist_sum_f64(void *user, double *buf, size_t n) {
    (void)user;
    ic_dist_allreduce_sum_f64(buf, n);
}

static double dist_max_f64(void *user, double x) {
    (void)user;
    return ic_dist_max_f64(x);
}

static void dist_minloc(void *user, double *value, int *index) {
    (void)user;
    ic_dist_minloc_pair p = ic_dist_minloc(*value, *index);
    *value = p.value;
    *index = p.index;
}

static int dist_all_ok(void *user, int ok) {
    (void)user;
    return ic_dist_all_ok(ok);
}

const ic_comm *ic_dist_comm(void) {
    static ic_comm c;
    const ic_dist *d = ic_dist_get();
    c = (ic_comm){ d->rank, d->world, NULL, dist_mean_f32, dist_sum_f64, dist_max_f64,
                   dist_minloc, dist_all_ok };
    return &c;
}

/* ---- the comm for a context's device ---------------------------------------- */

#include <stdlib.h>

#include "ic_log.h"
#include "kernels/ic_ctx.h"
#include "launch/ic_dist_nccl.h"

static ic_ctx *g_comm_ctx;

static void nccl_mean_f32(void *user, float *buf, size_t n) {
    (void)user;
    ic_nccl_mean_f32(buf, n);
}

/* A CUDA context in a build without NCCL: the device buffer goes to the
 * host, through MPI and back (slow, but correct and stream-ordered). */
static void staged_mean_f32(void *user, float *dbuf, size_t n) {
    (void)user;
    static float *host;
    static size_t cap;
    if (n > cap) {
        float *p = realloc(host, sizeof(float) * n);
        if (!p) ic_dist_fail("out of host memory staging %zu gradient floats for MPI", n);
        host = p;
        cap = n;
    }
    ic_buf_download(g_comm_ctx, host, dbuf, sizeof(float) * n);
    ic_dist_allreduce_mean_f32(host, n);
    ic_buf_upload(g_comm_ctx, dbuf, host, sizeof(float) * n);
}

const ic_comm *ic_dist_comm_for(struct ic_ctx *ctx) {
    static ic_comm c;
    const ic_dist *d = ic_dist_get();
    const ic_comm *host = ic_dist_comm();
    if (d->world <= 1) return host;
    const int cuda = ctx && ctx->backend == IC_BACKEND_CUDA;
    /* Mixed backends would round differently and drift apart step by step:
     * refuse them on every rank with the same message. */
    const int64_t n_cuda = ic_dist_sum_i64(cuda);
    if (n_cuda != 0 && n_cuda != d->world)
        ic_dist_fail("%lld of %d ranks run on CUDA, the others on the CPU (this rank: %s): give "
                     "every rank a GPU (one per rank) or pass --cpu", (long long)n_cuda, d->world,
                     ctx ? ctx->desc : "no context");
    if (!cuda) return host;
    c = *host;
    g_comm_ctx = ctx;
    if (ic_nccl_built()) {
        ic_error err = {0};
        if (ic_nccl_open(ctx, &err) != 0) ic_dist_fail("%s", err.msg);
        c.mean_f32 = nccl_mean_f32;
    } else {
        ic_log_note("gradients: this binary has no NCCL; averaging GPU gradients through host "
                    "memory and MPI");
        c.mean_f32 = staged_mean_f32;
    }
    return &c;
}
