/* One harness, both backends (ggml style): every op that has a CUDA kernel
 * is called through its public entry point (kernels/ic_<op>.h, the
 * dispatcher) on a CPU context and on a CUDA context with the same fp32
 * inputs, and the GPU's output is compared with the CPU reference's.
 * tests/gpu/test_cuda_ops.c checks the _cuda kernels against double
 * oracles in fp32 and bf16; this test checks the seam itself: that the
 * dispatcher reaches the CUDA kernel on a CUDA context, that the ops'
 * preconditions and workspace rules hold on both, and that the two
 * backends agree.
 *
 * Tolerances, GPU vs CPU, relative to max(|cpu|, floor):
 *   embedding, add, scale: exact (the same single fp32 operation);
 *   RMSNorm, SwiGLU, RoPE fwd/bwd, AdamW: 2e-6 (both within 1e-6 of
 *     the double result; nvcc contracts multiply-adds, the CPU build may not),
 *     relative to max(|cpu|, the scale of the terms) where a result is a
 *     difference that can cancel (AdamW's first moment: 1e-2);
 *   sum of squares: 1e-12 (both sum the same 8192-element blocks in double).
 * Outputs are poisoned with NaN on both backends first. Plain main, no
 * Check (the GPU machine has no libcheck); exit 77 without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_adamw_update.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_elementwise.h"
#include "kernels/ic_embedding.h"
#include "kernels/ic_grad_norm.h"
#include "kernels/ic_rmsnorm.h"
#include "kernels/ic_rope.h"
#include "kernels/ic_swiglu.h"

#include "ic_gpu_test.h"

static ic_ctx g_cpu, g_gpu;
static int g_cases, g_failed;

/* Uniform in [lo, hi), never exactly zero. */
static float *host_rand(size_t n, uint64_t seed, float lo, float hi) {
    float *x = ic_gt_xmalloc(n * sizeof *x);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        float u = (float)((ic_oracle_next(&s) >> 11) * (1.0 / 9007199254740992.0));
        x[i] = lo + (hi - lo) * u;
        if (x[i] == 0.0f) x[i] = 1e-3f;
    }
    return x;
}

/* A buffer of n floats on a context, holding x (or NaN when x is NULL). */
static float *put(ic_ctx *ctx, const float *x, size_t n) {
    float *d = ic_buf_alloc(ctx, n * sizeof *d);
    if (!d) { fprintf(stderr, "out of %s memory\n", ctx->desc); exit(2); }
    if (x) {
        ic_buf_upload(ctx, d, x, n * sizeof *d);
    } else {
        float *nan = ic_gt_xmalloc(n * sizeof *nan);
        for (size_t i = 0; i < n; i++) nan[i] = NAN;
        ic_buf_upload(ctx, d, nan, n * sizeof *nan);
        free(nan);
    }
    return d;
}

static float *get(ic_ctx *ctx, const float *d, size_t n) {
    float *h = ic_gt_xmalloc(n * sizeof *h);
    ic_buf_download(ctx, h, d, n * sizeof *h);
    return h;
}

/* GPU output against the CPU reference: NaN anywhere fails. */
static void compare(const char *name, const float *gpu, const float *cpu, size_t n, double tol,
                    double floor) {
    double max_rel = 0, max_abs = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double a = gpu[i], b = cpu[i], diff = fabs(a - b);
        double rel = diff / fmax(fabs(b), floor);
        if (!(rel <= tol)) bad++;            /* NaN counts as bad */
        if (diff > max_abs || isnan(diff)) max_abs = diff;
        if (rel > max_rel || isnan(rel)) max_rel = rel;
    }
    g_cases++;
    if (bad) g_failed++;
    printf("%-44s n=%-9zu max abs %.3e  max rel %.3e  tol %.0e  %s\n", name, n, max_abs, max_rel,
           tol, bad ? "FAIL" : "PASS");
}

/* Reserves, on both contexts, the workspace a case's ops ask for. */
static void reserve(size_t cpu_bytes, size_t gpu_bytes) {
    ic_error err = {0};
    if (ic_ctx_reserve(&g_cpu, cpu_bytes, &err) || ic_ctx_reserve(&g_gpu, gpu_bytes, &err)) {
        fprintf(stderr, "workspace: %s\n", err.msg);
        exit(2);
    }
}

static void case_embedding(int L, int D, int V, uint64_t seed) {
    float *table = host_rand((size_t)V * D, seed, -2, 2);
    int32_t *tok = ic_gt_xmalloc(sizeof *tok * (size_t)L);
    uint64_t s = seed;
    for (int t = 0; t < L; t++) tok[t] = (int32_t)(ic_oracle_next(&s) % (uint64_t)V);
    float *out[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        float *dt = put(ctx[b], table, (size_t)V * D), *dout = put(ctx[b], NULL, (size_t)L * D);
        int32_t *dtok = ic_buf_alloc(ctx[b], sizeof *dtok * (size_t)L);
        ic_buf_upload(ctx[b], dtok, tok, sizeof *tok * (size_t)L);
        ic_embedding_forward(ctx[b], dout, dtok, dt, L, D, V);
        out[b] = get(ctx[b], dout, (size_t)L * D);
        ic_buf_free(ctx[b], dt); ic_buf_free(ctx[b], dout); ic_buf_free(ctx[b], dtok);
    }
    char name[96];
    snprintf(name, sizeof name, "embedding L=%d D=%d V=%d", L, D, V);
    compare(name, out[1], out[0], (size_t)L * D, 0, 1e-30);
    free(out[0]); free(out[1]); free(table); free(tok);
}

static void case_rmsnorm(int L, int D, uint64_t seed) {
    float *x = host_rand((size_t)L * D, seed, -3, 3), *w = host_rand((size_t)D, seed + 1, 0.5f, 1.5f);
    float *out[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        float *dx = put(ctx[b], x, (size_t)L * D), *dw = put(ctx[b], w, (size_t)D);
        float *dout = put(ctx[b], NULL, (size_t)L * D);
        ic_rmsnorm_forward(ctx[b], dout, dx, dw, L, D, 1e-5f);
        out[b] = get(ctx[b], dout, (size_t)L * D);
        ic_buf_free(ctx[b], dx); ic_buf_free(ctx[b], dw); ic_buf_free(ctx[b], dout);
    }
    char name[96];
    snprintf(name, sizeof name, "rmsnorm L=%d D=%d", L, D);
    compare(name, out[1], out[0], (size_t)L * D, 2e-6, 1e-3);
    free(out[0]); free(out[1]); free(x); free(w);
}

static void case_rope(int backward, int L, int H, int hd, int rot, int pos0, uint64_t seed) {
    size_t n = (size_t)L * H * hd;
    float *x = host_rand(n, seed, -2, 2);
    float *out[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    reserve(ic_rope_workspace_bytes(&g_cpu, rot), ic_rope_workspace_bytes(&g_gpu, rot));
    for (int b = 0; b < 2; b++) {
        float *dx = put(ctx[b], x, n);
        if (backward) ic_rope_backward(ctx[b], dx, L, H, hd, rot, pos0, 10000.0f);
        else ic_rope_forward(ctx[b], dx, L, H, hd, rot, pos0, 10000.0f);
        out[b] = get(ctx[b], dx, n);
        ic_buf_free(ctx[b], dx);
    }
    char name[96];
    snprintf(name, sizeof name, "rope %s L=%d H=%d hd=%d rot=%d pos0=%d", backward ? "bwd" : "fwd",
             L, H, hd, rot, pos0);
    /* A rotated coordinate can cancel to ~0: compare against the pair's scale. */
    compare(name, out[1], out[0], n, 2e-6, 1.0);
    free(out[0]); free(out[1]); free(x);
}

static void case_swiglu(size_t n, uint64_t seed) {
    float *g = host_rand(n, seed, -6, 6), *u = host_rand(n, seed + 1, -3, 3);
    float *out[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        float *dg = put(ctx[b], g, n), *du = put(ctx[b], u, n), *dout = put(ctx[b], NULL, n);
        ic_swiglu_forward(ctx[b], dout, dg, du, n);
        out[b] = get(ctx[b], dout, n);
        ic_buf_free(ctx[b], dg); ic_buf_free(ctx[b], du); ic_buf_free(ctx[b], dout);
    }
    char name[96];
    snprintf(name, sizeof name, "swiglu");
    compare(name, out[1], out[0], n, 2e-6, 1e-3);
    free(out[0]); free(out[1]); free(g); free(u);
}

static void case_add_scale(size_t n, uint64_t seed) {
    float *h = host_rand(n, seed, -4, 4), *x = host_rand(n, seed + 1, -4, 4);
    float *out[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        float *dh = put(ctx[b], h, n), *dx = put(ctx[b], x, n);
        ic_add_inplace(ctx[b], dh, dx, n);
        ic_scale(ctx[b], dh, 0.37f, n);
        out[b] = get(ctx[b], dh, n);
        ic_buf_free(ctx[b], dh); ic_buf_free(ctx[b], dx);
    }
    compare("add_inplace then scale", out[1], out[0], n, 0, 1e-30);
    free(out[0]); free(out[1]); free(h); free(x);
}

static void case_adamw(int64_t n, int steps, uint64_t seed) {
    float *p = host_rand((size_t)n, seed, -1, 1);
    float *out[2][3];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    for (int b = 0; b < 2; b++) {
        float *dp = put(ctx[b], p, (size_t)n), *dm = ic_buf_alloc(ctx[b], (size_t)n * 4);
        float *dv = ic_buf_alloc(ctx[b], (size_t)n * 4);
        for (int t = 1; t <= steps; t++) {
            float *g = host_rand((size_t)n, seed + 100 + (uint64_t)t, -0.1f, 0.1f);
            float *dg = put(ctx[b], g, (size_t)n);
            double lr = 1e-3;
            ic_adamw_coef c = {0.9f, 0.95f, 1e-8f, (float)(1.0 - lr * 0.1),
                               (float)(lr / (1.0 - pow(0.9, t))),
                               (float)(1.0 / sqrt(1.0 - pow(0.95, t)))};
            ic_adamw_update(ctx[b], dp, dg, dm, dv, n, &c);
            ic_buf_free(ctx[b], dg);
            free(g);
        }
        out[b][0] = get(ctx[b], dp, (size_t)n);
        out[b][1] = get(ctx[b], dm, (size_t)n);
        out[b][2] = get(ctx[b], dv, (size_t)n);
        ic_buf_free(ctx[b], dp); ic_buf_free(ctx[b], dm); ic_buf_free(ctx[b], dv);
    }
    compare("adamw_update x3 steps: param", out[1][0], out[0][0], (size_t)n, 2e-6, 1e-3);
    /* exp_avg is a sum of terms of either sign (beta1 * m + (1 - beta1) * g):
     * where they cancel, compare against the terms' scale, (1 - beta1) *
     * max|g| = 1e-2, not against the small result (nvcc fuses the multiply-
     * add; the first device run saw 3.7e-9 absolute, 1.2e-3 relative to a
     * near-zero m) */
    compare("adamw_update x3 steps: exp_avg", out[1][1], out[0][1], (size_t)n, 2e-6, 1e-2);
    compare("adamw_update x3 steps: exp_avg_sq", out[1][2], out[0][2], (size_t)n, 2e-6, 1e-9);
    for (int b = 0; b < 2; b++) for (int k = 0; k < 3; k++) free(out[b][k]);
    free(p);
}

static void case_sumsq(int64_t n, uint64_t seed) {
    float *g = host_rand((size_t)n, seed, -1, 1);
    double r[2];
    ic_ctx *ctx[2] = {&g_cpu, &g_gpu};
    reserve(ic_sumsq_workspace_bytes(&g_cpu, n), ic_sumsq_workspace_bytes(&g_gpu, n));
    for (int b = 0; b < 2; b++) {
        float *dg = put(ctx[b], g, (size_t)n);
        r[b] = ic_sumsq(ctx[b], dg, n);
        ic_buf_free(ctx[b], dg);
    }
    double rel = fabs(r[1] - r[0]) / r[0];
    int bad = !(rel <= 1e-12);
    g_cases++;
    g_failed += bad;
    printf("%-44s n=%-9lld cpu %.17g gpu %.17g rel %.3e tol 1e-12  %s\n", "sumsq", (long long)n,
           r[0], r[1], rel, bad ? "FAIL" : "PASS");
    free(g);
}

int main(void) {
    int rc = ic_gt_open(&g_cpu, &g_gpu);
    if (rc) return rc;

    case_embedding(2048, 576, 49152, 1);
    case_embedding(7, 577, 100, 2);
    case_rmsnorm(2048, 576, 3);
    case_rmsnorm(7, 577, 4);
    case_rope(0, 2048, 9, 64, 64, 0, 5);
    case_rope(0, 33, 16, 128, 64, 4093, 6);
    case_rope(1, 2048, 3, 64, 64, 0, 7);
    case_swiglu((size_t)2048 * 1536, 8);
    case_swiglu(1001, 9);
    case_add_scale((size_t)2048 * 576 + 3, 10);
    case_adamw(1000003, 3, 11);
    case_sumsq(10000005, 12);
    case_sumsq(8191, 13);

    int64_t cpu_ops = g_cpu.n_ops, gpu_ops = g_gpu.n_ops;
    printf("ops dispatched: CPU %lld, CUDA %lld\n", (long long)cpu_ops, (long long)gpu_ops);
    if (cpu_ops != gpu_ops || gpu_ops == 0) {
        printf("FAIL: the two backends ran different op counts\n");
        g_failed++;
    }
    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    printf("%d cases, %d failed\n", g_cases, g_failed);
    return g_failed ? 1 : 0;
}
