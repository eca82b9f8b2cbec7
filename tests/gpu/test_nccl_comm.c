/* The NCCL gradient all-reduce of launch/ic_dist_nccl.h on real GPUs.
 *
 *   test_nccl_comm                  one rank: a communicator of size 1 on
 *                                   GPU 0; the mean of a known buffer is
 *                                   the buffer itself, bit for bit;
 *   mpirun -np N test_nccl_comm     N ranks, one GPU each (N <= GPUs on the
 *                                   host): rank r holds (r + 1) * f(i); the
 *                                   result must be f(i) * (N + 1) / 2 (a
 *                                   double oracle) and hold the same bits on
 *                                   every rank; the same through the comm
 *                                   train/ gets (ic_dist_comm_for).
 * Sizes are ragged (1, 1000003) plus n = 0. Exits 77 without a GPU, without
 * NCCL in the build, or with more ranks than GPUs (NCCL refuses two ranks
 * on one GPU); 1 on a failure (every rank, through ic_dist_fail). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_ctx.h"
#include "launch/ic_dist.h"
#include "launch/ic_dist_nccl.h"

static float f_of(size_t i) { return (float)sin(0.001 * (double)i + 0.5) * 3.0f + 0.25f; }

/* Fails the whole job (every rank) on a wrong result. */
static void check_mean(ic_ctx *ctx, size_t n, int via_comm) {
    const ic_dist *d = ic_dist_get();
    float *h = malloc(sizeof(float) * (n ? n : 1)), *got = malloc(sizeof(float) * (n ? n : 1));
    float *dbuf = ic_buf_alloc(ctx, sizeof(float) * n);
    if (!h || !got || !dbuf) ic_dist_fail("test_nccl_comm: out of memory for n = %zu", n);
    for (size_t i = 0; i < n; i++) h[i] = (float)(d->rank + 1) * f_of(i);
    ic_buf_upload(ctx, dbuf, h, sizeof(float) * n);
    if (via_comm) {
        const ic_comm *c = ic_dist_comm_for(ctx);
        ic_comm_mean_f32(c, dbuf, n);
    } else {
        ic_nccl_mean_f32(dbuf, n);
    }
    for (size_t i = 0; i < n; i++) got[i] = NAN;   /* the download must overwrite all */
    ic_buf_download(ctx, got, dbuf, sizeof(float) * n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (d->world == 1) {
            if (memcmp(&got[i], &h[i], sizeof(float)) != 0)
                ic_dist_fail("n = %zu: element %zu changed in a 1-rank all-reduce: %.9g -> %.9g",
                             n, i, h[i], got[i]);
            continue;
        }
        double want = (double)f_of(i) * (d->world + 1) / 2.0;
        double e = fabs((double)got[i] - want) / (fabs(want) + 1e-3);
        if (!(e <= worst)) worst = e;   /* NaN counts as the worst */
    }
    if (!(worst <= 1e-6))
        ic_dist_fail("n = %zu%s: mean over %d ranks off the double oracle by %g (rel)", n,
                     via_comm ? " (ic_dist_comm_for)" : "", d->world, worst);
    /* every rank must hold rank 0's bits: identical optimizer steps rely on it */
    if (n && !ic_dist_same_bytes(got, sizeof(float) * n))
        ic_dist_fail("n = %zu: ranks hold different results", n);
    printf("rank %d/%d: n = %zu%s ok (worst rel err %.2e)\n", d->rank, d->world, n,
           via_comm ? " via ic_dist_comm_for" : "", worst);
    ic_buf_free(ctx, dbuf);
    free(h);
    free(got);
}

int main(int argc, char **argv) {
    ic_dist_init(&argc, &argv);
    const ic_dist *d = ic_dist_get();
    char why[256] = "";
    int ndev = ic_cuda_compiled() ? ic_cuda_device_count(why, sizeof why) : 0;
    int skip = 0;
    if (!ic_nccl_built()) { printf("SKIP: built without NCCL\n"); skip = 1; }
    else if (ndev <= 0) { printf("SKIP: no CUDA device: %s\n", why); skip = 1; }
    else if (d->world > ndev) {
        printf("SKIP: %d ranks but %d GPU(s) here (NCCL needs one GPU per rank)\n", d->world, ndev);
        skip = 1;
    }
    if (!ic_dist_all_ok(!skip)) { ic_dist_finalize(); return 77; }
    ic_ctx ctx;
    ic_error err = {0};
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, d->local_rank % ndev, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        skip = 1;
    }
    if (!ic_dist_all_ok(!skip)) { ic_dist_finalize(); return 77; }
    printf("rank %d/%d (local %d): %s\n", d->rank, d->world, d->local_rank, ctx.desc);
    if (ic_nccl_open(&ctx, &err) != 0) ic_dist_fail("ic_nccl_open: %s", err.msg);
    check_mean(&ctx, 0, 0);
    check_mean(&ctx, 1, 0);
    check_mean(&ctx, 1000003, 0);
    if (d->world > 1) check_mean(&ctx, 4099, 1);
    ic_nccl_close();
    ic_ctx_free(&ctx);
    ic_dist_finalize();
    printf("rank %d/%d: PASS\n", d->rank, d->world);
    return 0;
}
