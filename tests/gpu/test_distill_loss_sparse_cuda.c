/* The CUDA sparse-stage distillation loss (kernels/cuda/distill_loss_sparse.cu)
 * on the GPU against the CPU reference op (kernels/cpu/distill_loss.c), both
 * through the dispatcher kernels/distill_loss.c:
 *   SmolLM2 shapes (H_I 16, d_I 64; teacher H 9, Hkv 3, d 64), 4 served
 *   layers, L = 8192, K = 256, random and window sets (window: every key in
 *   up to K rows), and the large shape (H_I 64, d_I 128, H 16 Hkv 16 d 128,
 *   3 served layers, L = 1536, K = 1024, rows with t + 1 < K).
 * Checks loss and kl_pbar (1e-5 relative) and the accumulated gradients
 * dqI, dkI, dw (pre-filled with random values on both sides; 1e-4 relative
 * to |ref| + 0.1 * the largest gradient entry, as
 * tests/cudasim/test_distill_loss_sparse.cpp explains). The GPU workspace is poisoned with NaN bytes before every call.
 * Determinism: the backward runs twice; loss, dqI, dkI, dw must be the same
 * bits (blocks run in a different order each time on the GPU).
 * Prints the time of one forward and one backward call (after a warm-up).
 *
 * --quick runs two small shapes (for compute-sanitizer). Plain main, no Check. Exit 77 without a GPU (or in a build without
 * CUDA), 1 on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/ic_ctx.h"
#include "kernels/ic_distill_loss.h"

#include "ic_gpu_test.h"
#include "../ic_distill_sparse_prob.h"

#ifndef IC_WITH_CUDA
int main(void) {
    printf("SKIP: built without CUDA (-DIC_CUDA=OFF)\n");
    return 77;
}
#else

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *up(const void *h, size_t bytes) {
    void *p = ic_buf_alloc(&g_gpu, bytes);
    if (!p) { fprintf(stderr, "out of device memory (%zu bytes)\n", bytes); exit(2); }
    ic_buf_upload(&g_gpu, p, h, bytes);
    return p;
}

static void poison_ws(void) {
    unsigned char *ff = ic_gt_xmalloc(g_gpu.ws.cap);
    memset(ff, 0xFF, g_gpu.ws.cap);
    ic_buf_upload(&g_gpu, g_gpu.ws.base, ff, g_gpu.ws.cap);
    free(ff);
}

static void one(int L, int HI, int dI, int H, int Hkv, int d, int K, int ns, int kind,
                uint64_t seed) {
    dls_prob p;
    dls_prob_init(&p, L, HI, dI, H, Hkv, d, K, ns, kind, seed);
    const size_t nq = (size_t)L * HI * dI, nk = (size_t)L * dI, nw = (size_t)L * HI;
    float *pre[3];
    const size_t nn[3] = {nq, nk, nw};
    for (int i = 0; i < 3; i++) {
        pre[i] = ic_gt_xmalloc(nn[i] * sizeof(float));
        ic_oracle_fill(pre[i], nn[i], seed + 100 + (uint64_t)i, -0.01f, 0.01f, 0);
    }

    /* CPU reference */
    ic_distill_desc dc = dls_desc(&p, p.idx, p.cnt);
    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, ic_distill_loss_workspace_bytes(&g_cpu, &dc), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    ic_distill_teacher tc[DLS_MAX_SERVED], tg[DLS_MAX_SERVED];
    for (int j = 0; j < ns; j++) { tc[j].q = p.q[j]; tc[j].k = p.k[j]; tc[j].lse = NULL; }
    float *ref[3];
    for (int i = 0; i < 3; i++) {
        ref[i] = ic_gt_xmalloc(nn[i] * sizeof(float));
        memcpy(ref[i], pre[i], nn[i] * sizeof(float));
    }
    ic_distill_stats rs;
    const double c0 = now_s();
    ic_distill_loss_backward(&g_cpu, &dc, p.qI, p.kI, p.w, tc, ns, ref[0], ref[1], ref[2], &rs,
                             &err);
    const double cpu_ms = 1e3 * (now_s() - c0);

    /* GPU */
    float *qI = up(p.qI, nq * 4), *kI = up(p.kI, nk * 4), *w = up(p.w, nw * 4);
    int32_t *idx = up(p.idx, (size_t)L * K * 4), *cnt = up(p.cnt, (size_t)L * 4);
    for (int j = 0; j < ns; j++) {
        tg[j].q = up(p.q[j], (size_t)L * H * d * 4);
        tg[j].k = up(p.k[j], (size_t)L * Hkv * d * 4);
        tg[j].lse = NULL;
    }
    float *dg[3];
    for (int i = 0; i < 3; i++) dg[i] = ic_buf_alloc(&g_gpu, nn[i] * sizeof(float));
    ic_distill_desc dd = dls_desc(&p, idx, cnt);
    if (ic_ctx_reserve(&g_gpu, ic_distill_loss_workspace_bytes(&g_gpu, &dd), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
    ic_distill_stats fs, bs[2];
    double fwd_ms = 0.0, bwd_ms = 0.0;
    float *got[2][3];
    for (int rep = 0; rep < 3; rep++) {  /* rep 0 warms up; 1 and 2 are checked */
        for (int i = 0; i < 3; i++) ic_buf_upload(&g_gpu, dg[i], pre[i], nn[i] * sizeof(float));
        poison_ws();
        ic_ctx_sync(&g_gpu);
        double a = now_s();
        ic_distill_loss_forward(&g_gpu, &dd, qI, kI, w, tg, ns, &fs, &err);
        ic_ctx_sync(&g_gpu);
        fwd_ms = 1e3 * (now_s() - a);
        poison_ws();
        ic_ctx_sync(&g_gpu);
        a = now_s();
        ic_distill_stats st;
        ic_distill_loss_backward(&g_gpu, &dd, qI, kI, w, tg, ns, dg[0], dg[1], dg[2], &st, &err);
        ic_ctx_sync(&g_gpu);
        bwd_ms = 1e3 * (now_s() - a);
        if (rep == 0) continue;
        bs[rep - 1] = st;
        for (int i = 0; i < 3; i++) {
            got[rep - 1][i] = ic_gt_xmalloc(nn[i] * sizeof(float));
            ic_buf_download(&g_gpu, got[rep - 1][i], dg[i], nn[i] * sizeof(float));
        }
    }

    printf("-- L=%d HI=%d dI=%d H=%d/%d d=%d K=%d ns=%d %s: forward %.3f ms, backward %.3f ms "
           "(CPU backward %.0f ms)\n", L, HI, dI, H, Hkv, d, K, ns, dls_kind_name(kind), fwd_ms,
           bwd_ms, cpu_ms);
    dls_check_scalar("  loss (forward)", fs.loss, rs.loss, 1e-5, &g_cases, &g_failed);
    dls_check_scalar("  kl_pbar (forward)", fs.kl_pbar, rs.kl_pbar, 1e-5, &g_cases, &g_failed);
    dls_check_scalar("  loss (backward)", bs[0].loss, rs.loss, 1e-5, &g_cases, &g_failed);
    dls_check_scalar("  kl_pbar (backward)", bs[0].kl_pbar, rs.kl_pbar, 1e-5, &g_cases, &g_failed);
    const char *names[3] = {"  dqI", "  dkI", "  dw"};
    for (int i = 0; i < 3; i++)
        dls_check(names[i], got[0][i], ref[i], pre[i], nn[i], 1e-4, 0.1, &g_cases, &g_failed);
    int same = memcmp(&bs[0].loss, &bs[1].loss, 8) == 0 &&
               memcmp(&bs[0].kl_pbar, &bs[1].kl_pbar, 8) == 0;
    for (int i = 0; i < 3; i++)
        same = same && memcmp(got[0][i], got[1][i], nn[i] * sizeof(float)) == 0;
    g_cases++;
    if (!same) g_failed++;
    printf("  %-54s %s\n", "backward run twice: same bits", same ? "PASS" : "FAIL");

    for (int i = 0; i < 3; i++) {
        free(pre[i]); free(ref[i]); free(got[0][i]); free(got[1][i]);
        ic_buf_free(&g_gpu, dg[i]);
    }
    ic_buf_free(&g_gpu, qI); ic_buf_free(&g_gpu, kI); ic_buf_free(&g_gpu, w);
    ic_buf_free(&g_gpu, idx); ic_buf_free(&g_gpu, cnt);
    for (int j = 0; j < ns; j++) {
        ic_buf_free(&g_gpu, (void *)tg[j].q);
        ic_buf_free(&g_gpu, (void *)tg[j].k);
    }
    dls_prob_free(&p);
}

int main(int argc, char **argv) {
    const int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {  /* small shapes, for compute-sanitizer */
        one(512, 16, 64, 9, 3, 64, 64, 2, DLS_WINDOW, 31);
        one(130, 64, 128, 16, 16, 128, 128, 1, DLS_RANDOM, 32);
        printf("distill loss sparse cuda (--quick): %d cases, %d failed\n", g_cases, g_failed);
        ic_ctx_free(&g_gpu);
        ic_ctx_free(&g_cpu);
        return g_failed ? 1 : 0;
    }
    one(8192, 16, 64, 9, 3, 64, 256, 4, DLS_RANDOM, 21);
    one(8192, 16, 64, 9, 3, 64, 256, 4, DLS_WINDOW, 22);
    one(8192, 16, 64, 9, 3, 64, 256, 1, DLS_TIES, 23);
    one(1536, 64, 128, 16, 16, 128, 1024, 3, DLS_RANDOM, 24);
    printf("distill loss sparse cuda: %d cases, %d failed\n", g_cases, g_failed);
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    return g_failed ? 1 : 0;
}
#endif
