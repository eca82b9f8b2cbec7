/* The linear layer on CUDA (kernels/cuda/matmul_cublaslt.cu) against
 * independent references:
 *   fp32, the public ops (ic_matmul_forward, _accumulate, _backward) on a
 *     CUDA context vs the same ops on a CPU context (OpenBLAS sgemm): both
 *     plain fp32, so relative error <= 1e-5, as the Frobenius norm of the
 *     difference over the reference's and as the largest elementwise
 *     difference over the largest |reference|;
 *   bf16, ic_matmul_forward_cuda on bf16 storage vs a double GEMM of the
 *     bf16-rounded inputs: <= 1e-2 by the same two measures (the output is
 *     rounded to bf16: 2^-9 relative).
 * Shapes: SmolLM2-135M's projections at L = 2048 (K = 576 -> N = 576, 192,
 * 1536; K = 1536 -> N = 576), an LM-head chunk (M = 64, K = 576, N = 49152),
 * ragged ones (M = 1, 7, 33, odd N and K, an x that is only 4-byte aligned),
 * each with and without bias. Inputs are random and never zero; outputs are
 * poisoned with NaN first (a NaN fails every measure). The heuristic cache:
 * a repeated call must build no plan, a new shape exactly one.
 * Plain main, no Check (the GPU machine has no libcheck); exit 77 without a
 * GPU, 1 on a failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_matmul.h"

#include "ic_gpu_test.h"

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

/* Uniform in [-1, 1), never exactly zero. */
static float *host_rand(size_t n, uint64_t seed) {
    float *x = ic_gt_xmalloc(n * sizeof *x);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        float u = (float)((ic_oracle_next(&s) >> 11) * (1.0 / 9007199254740992.0));
        x[i] = -1.0f + 2.0f * u;
        if (x[i] == 0.0f) x[i] = 1e-3f;
    }
    return x;
}


/* bytes on a context, holding src (or all-ones bits, a NaN in fp32 and bf16). */
static void *put(ic_ctx *ctx, const void *src, size_t bytes) {
    void *d = ic_buf_alloc(ctx, bytes);
    if (!d) { fprintf(stderr, "out of %s memory\n", ctx->desc); exit(2); }
    if (src) {
        ic_buf_upload(ctx, d, src, bytes);
    } else {
        void *nan = ic_gt_xmalloc(bytes);
        memset(nan, 0xff, bytes);
        ic_buf_upload(ctx, d, nan, bytes);
        free(nan);
    }
    return d;
}

static float *get_f32(ic_ctx *ctx, const void *d, size_t n) {
    float *h = ic_gt_xmalloc(n * sizeof *h);
    ic_buf_download(ctx, h, d, n * sizeof *h);
    return h;
}

/* Relative Frobenius error and max elementwise error over max |ref|; both
 * must be <= tol (a NaN fails). */
static void check(const char *name, const float *got, const double *ref, size_t n, double tol) {
    double d2 = 0.0, r2 = 0.0, dmax = 0.0, rmax = 0.0;
    size_t nan = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - ref[i];
        if (d != d) { nan++; continue; }
        d2 += d * d;
        r2 += ref[i] * ref[i];
        if (fabs(d) > dmax) dmax = fabs(d);
        if (fabs(ref[i]) > rmax) rmax = fabs(ref[i]);
    }
    const double frob = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    const double elem = rmax > 0 ? dmax / rmax : dmax;
    const int ok = nan == 0 && frob <= tol && elem <= tol;
    g_cases++;
    if (!ok) g_failed++;
    printf("%-58s frob %.2e  max %.2e  tol %.0e  %s", name, frob, elem, tol, ok ? "PASS" : "FAIL");
    if (nan) printf("  (%zu NaN)", nan);
    printf("\n");
    fflush(stdout);
}

static void check_f(const char *name, const float *got, const float *ref, size_t n, double tol) {
    double *r = ic_gt_xmalloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = ref[i];
    check(name, got, r, n, tol);
    free(r);
}

/* ---- fp32: the public ops on both backends -------------------------------- */

static void case_f32(int M, int N, int K, int with_bias, int x_off, uint64_t seed) {
    const size_t nx = (size_t)M * K + (size_t)x_off, nw = (size_t)N * K, no = (size_t)M * N;
    float *x = host_rand(nx, seed), *w = host_rand(nw, seed + 1), *b = host_rand((size_t)N, seed + 2);
    float *acc0 = host_rand(no, seed + 3);
    float *cx = put(&g_cpu, x, nx * 4), *cw = put(&g_cpu, w, nw * 4), *cb = put(&g_cpu, b, (size_t)N * 4);
    float *gx = put(&g_gpu, x, nx * 4), *gw = put(&g_gpu, w, nw * 4), *gb = put(&g_gpu, b, (size_t)N * 4);
    float *co = put(&g_cpu, NULL, no * 4), *go = put(&g_gpu, NULL, no * 4);
    const float *bias_c = with_bias ? cb : NULL, *bias_g = with_bias ? gb : NULL;
    char name[160];

    ic_matmul_forward(&g_cpu, co, cx + x_off, cw, bias_c, M, N, K);
    const long before = ic_matmul_cuda_plans_built();
    ic_matmul_forward(&g_gpu, go, gx + x_off, gw, bias_g, M, N, K);
    const long built = ic_matmul_cuda_plans_built() - before;
    float *hc = get_f32(&g_cpu, co, no), *hg = get_f32(&g_gpu, go, no);
    snprintf(name, sizeof name, "f32 fwd M=%d N=%d K=%d%s%s", M, N, K, with_bias ? " +bias" : "",
             x_off ? " x+1" : "");
    check_f(name, hg, hc, no, 1e-5);

    /* the same call again: the plan is cached, and the result bitwise equal
     * (cuBLAS is deterministic for one algorithm on one stream) */
    ic_buf_upload(&g_gpu, go, acc0, no * 4);  /* not NaN: a stale read would show as a diff */
    const long before2 = ic_matmul_cuda_plans_built();
    ic_matmul_forward(&g_gpu, go, gx + x_off, gw, bias_g, M, N, K);
    const long rebuilt = ic_matmul_cuda_plans_built() - before2;
    float *hg1 = get_f32(&g_gpu, go, no);
    g_cases++;
    if (rebuilt != 0 || built > 1) {
        printf("%-58s FAIL: %ld plan(s) built on the first call, %ld on the repeat\n", name,
               built, rebuilt);
        g_failed++;
    }
    g_cases++;
    if (memcmp(hg, hg1, no * 4) != 0) {
        printf("%-58s FAIL: the repeated call gave different bits\n", name);
        g_failed++;
    }
    free(hg1);

    /* residual add: out = acc0 + x w^T (+ b) through beta = 1 */
    ic_buf_upload(&g_cpu, co, acc0, no * 4);
    ic_buf_upload(&g_gpu, go, acc0, no * 4);
    {
        ic_error rerr = {0};
        if (ic_ctx_reserve(&g_cpu, ic_matmul_accumulate_workspace_bytes(&g_cpu, M, N), &rerr)) {
            fprintf(stderr, "%s\n", rerr.msg);
            exit(2);
        }
    }
    ic_matmul_forward_accumulate(&g_cpu, co, cx + x_off, cw, bias_c, M, N, K);
    ic_matmul_forward_accumulate(&g_gpu, go, gx + x_off, gw, bias_g, M, N, K);
    free(hc); free(hg);
    hc = get_f32(&g_cpu, co, no);
    hg = get_f32(&g_gpu, go, no);
    snprintf(name, sizeof name, "f32 fwd+= M=%d N=%d K=%d%s%s", M, N, K, with_bias ? " +bias" : "",
             x_off ? " x+1" : "");
    check_f(name, hg, hc, no, 1e-5);

    free(hc); free(hg); free(x); free(w); free(b); free(acc0);
    ic_buf_free(&g_cpu, cx); ic_buf_free(&g_cpu, cw); ic_buf_free(&g_cpu, cb); ic_buf_free(&g_cpu, co);
    ic_buf_free(&g_gpu, gx); ic_buf_free(&g_gpu, gw); ic_buf_free(&g_gpu, gb); ic_buf_free(&g_gpu, go);
}

static void case_f32_backward(int M, int N, int K, uint64_t seed) {
    const size_t nx = (size_t)M * K, nw = (size_t)N * K, no = (size_t)M * N;
    float *x = host_rand(nx, seed), *w = host_rand(nw, seed + 1), *dout = host_rand(no, seed + 2);
    /* the gradients accumulate: start from random values */
    float *dx0 = host_rand(nx, seed + 3), *dw0 = host_rand(nw, seed + 4), *db0 = host_rand((size_t)N, seed + 5);
    ic_ctx *c[2] = {&g_cpu, &g_gpu};
    float *res[2][3];
    for (int b = 0; b < 2; b++) {
        float *dx_ = put(c[b], x, nx * 4), *dw_ = put(c[b], w, nw * 4), *dd = put(c[b], dout, no * 4);
        float *gx = put(c[b], dx0, nx * 4), *gw = put(c[b], dw0, nw * 4), *gb = put(c[b], db0, (size_t)N * 4);
        ic_matmul_backward(c[b], gx, gw, gb, dd, dx_, dw_, M, N, K);
        res[b][0] = get_f32(c[b], gx, nx);
        res[b][1] = get_f32(c[b], gw, nw);
        res[b][2] = get_f32(c[b], gb, (size_t)N);
        ic_buf_free(c[b], dx_); ic_buf_free(c[b], dw_); ic_buf_free(c[b], dd);
        ic_buf_free(c[b], gx); ic_buf_free(c[b], gw); ic_buf_free(c[b], gb);
    }
    const char *what[3] = {"dx", "dw", "dbias"};
    const size_t n[3] = {nx, nw, (size_t)N};
    for (int i = 0; i < 3; i++) {
        char name[160];
        snprintf(name, sizeof name, "f32 bwd %s M=%d N=%d K=%d", what[i], M, N, K);
        check_f(name, res[1][i], res[0][i], n[i], 1e-5);
        free(res[0][i]);
        free(res[1][i]);
    }
    free(x); free(w); free(dout); free(dx0); free(dw0); free(db0);
}

/* ---- bf16: the _cuda entry point vs a double GEMM ------------------------- */

static void case_bf16(int M, int N, int K, int with_bias, uint64_t seed) {
    const size_t nx = (size_t)M * K, nw = (size_t)N * K, no = (size_t)M * N;
    float *x = host_rand(nx, seed), *w = host_rand(nw, seed + 1), *b = host_rand((size_t)N, seed + 2);
    uint16_t *xb = ic_gt_xmalloc(nx * 2), *wb = ic_gt_xmalloc(nw * 2), *bb = ic_gt_xmalloc((size_t)N * 2);
    for (size_t i = 0; i < nx; i++) { xb[i] = ic_oracle_f2bf(x[i]); x[i] = ic_oracle_bf2f(xb[i]); }
    for (size_t i = 0; i < nw; i++) { wb[i] = ic_oracle_f2bf(w[i]); w[i] = ic_oracle_bf2f(wb[i]); }
    for (int i = 0; i < N; i++) { bb[i] = ic_oracle_f2bf(b[i]); b[i] = ic_oracle_bf2f(bb[i]); }
    double *ref = ic_gt_xmalloc(no * sizeof *ref);
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const float *xr = x + (size_t)i * K, *wr = w + (size_t)j * K;
            double s = with_bias ? (double)b[j] : 0.0;
            for (int k = 0; k < K; k++) s += (double)xr[k] * (double)wr[k];
            ref[(size_t)i * N + j] = s;
        }
    void *gx = put(&g_gpu, xb, nx * 2), *gw = put(&g_gpu, wb, nw * 2), *gb = put(&g_gpu, bb, (size_t)N * 2);
    void *go = put(&g_gpu, NULL, no * 2);
    const size_t mark = ic_ws_mark(&g_gpu), wsb = ic_matmul_workspace_bytes(&g_gpu);
    void *ws = ic_ws_alloc(&g_gpu, wsb, "test_matmul_cuda");
    const long before = ic_matmul_cuda_plans_built();
    ic_matmul_forward_cuda(&g_gpu, IC_BF16, go, gx, gw, with_bias ? gb : NULL, M, N, K, ws, wsb);
    ic_matmul_forward_cuda(&g_gpu, IC_BF16, go, gx, gw, with_bias ? gb : NULL, M, N, K, ws, wsb);
    const long built = ic_matmul_cuda_plans_built() - before;
    ic_ws_release(&g_gpu, mark);
    uint16_t *hb = ic_gt_xmalloc(no * 2);
    ic_buf_download(&g_gpu, hb, go, no * 2);
    float *hg = ic_gt_xmalloc(no * 4);
    for (size_t i = 0; i < no; i++) hg[i] = ic_oracle_bf2f(hb[i]);
    char name[160];
    snprintf(name, sizeof name, "bf16 fwd M=%d N=%d K=%d%s", M, N, K, with_bias ? " +bias" : "");
    check(name, hg, ref, no, 1e-2);
    g_cases++;
    if (built > 1) {
        printf("%-58s FAIL: two identical calls built %ld plans\n", name, built);
        g_failed++;
    }
    free(x); free(w); free(b); free(xb); free(wb); free(bb); free(ref); free(hb); free(hg);
    ic_buf_free(&g_gpu, gx); ic_buf_free(&g_gpu, gw); ic_buf_free(&g_gpu, gb); ic_buf_free(&g_gpu, go);
}

int main(void) {
    ic_error err = {0};
    int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    if (ic_ctx_reserve(&g_gpu, ic_matmul_workspace_bytes(&g_gpu), &err) != 0) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        return 1;
    }
    printf("CPU reference: %s\nGPU:           %s\n", g_cpu.desc, g_gpu.desc);

    static const int shapes[][3] = {  /* M, N, K */
        {2048, 576, 576}, {2048, 192, 576}, {2048, 1536, 576}, {2048, 576, 1536},
        {64, 49152, 576}, {1, 5, 3}, {7, 33, 17}, {33, 577, 191}, {1, 49152, 576}, {7, 1, 9},
    };
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < ns; s++)
        for (int bias = 0; bias < 2; bias++) {
            case_f32(shapes[s][0], shapes[s][1], shapes[s][2], bias, 0, 100u + 10u * (unsigned)s);
            case_bf16(shapes[s][0], shapes[s][1], shapes[s][2], bias, 500u + 10u * (unsigned)s);
        }
    case_f32(33, 577, 191, 1, 1, 900);  /* x only 4-byte aligned: the plan must know */
    case_f32(7, 33, 17, 0, 1, 910);

    case_f32_backward(2048, 576, 576, 1000);
    case_f32_backward(2048, 576, 1536, 1010);
    case_f32_backward(64, 49152, 576, 1020);
    case_f32_backward(33, 577, 191, 1030);
    case_f32_backward(1, 5, 3, 1040);
    case_f32_backward(7, 33, 17, 1050);

    /* a shape seen before builds nothing, wherever it comes in the sequence */
    const long before = ic_matmul_cuda_plans_built();
    case_f32(7, 33, 17, 1, 0, 1100);
    g_cases++;
    if (ic_matmul_cuda_plans_built() != before) {
        printf("FAIL: a shape run before built %ld new plan(s)\n",
               ic_matmul_cuda_plans_built() - before);
        g_failed++;
    }
    printf("plans built in all: %ld\n", ic_matmul_cuda_plans_built());

    ic_ctx_free(&g_cpu);
    ic_ctx_free(&g_gpu);
    printf("matmul cuda: %d cases, %d failed\n", g_cases, g_failed);
    return g_failed ? 1 : 0;
}
