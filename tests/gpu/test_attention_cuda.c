/* Causal GQA attention forward with LSE on the GPU (cuDNN's fused SDPA,
 * kernels/cuda/attention_cudnn.cpp) against the CPU reference op
 * (kernels/cpu/attention.c, run on a CPU context) on the same bf16-rounded
 * inputs. Shapes: SmolLM2's H=9 Hkv=3 d=64 at L = 1, 7, 128, 2048 and
 * H=16 Hkv=16 d=128 at L = 256, 1000. Each shape runs twice:
 *   bf16  ic_attention_forward_cuda(IC_BF16) on bf16 tensors;
 *   f32   the public dispatcher ic_attention_forward on a CUDA context (fp32
 *         tensors, rounded to bf16 in the op: the inputs are bf16 values
 *         already, so only the output's rounding differs from bf16).
 * Inputs are never zero (q, k in [-2, 2): scores of std ~1.3, a softmax
 * that is neither flat nor one-hot; v in [-1, 1)); out and lse are poisoned
 * with NaN before each call.
 *
 * Tolerances: out relative Frobenius error <= 1e-2 (bf16 output: <= 2^-9
 * per element; bf16 P in cuDNN's second GEMM: a few 1e-3), LSE max abs
 * error <= 1e-2 (fp32 softmax statistics: ~1e-6 measured on the H200,
 * shared/GPU.md). Any NaN fails.
 * Graph cache: the first workspace query of a shape builds exactly one
 * graph, the calls after it build none; a fresh context (new cuDNN handle)
 * builds again.
 *
 * Plain main, no Check; exit 77 without a CUDA context, 1 on a failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ic_error.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"

#include "ic_gpu_test.h"

#ifndef IC_WITH_CUDA
int main(void) {
    printf("SKIP: built without CUDA (-DIC_CUDA=OFF)\n");
    return 77;
}
#else

#define TOL_OUT_REL 1e-2
#define TOL_LSE_ABS 1e-2

static ic_ctx g_gpu, g_cpu;
static int g_cases, g_failed;

static void *dev_alloc(size_t bytes) {
    void *p = ic_buf_alloc(&g_gpu, bytes);
    if (!p) { fprintf(stderr, "out of device memory (%zu bytes)\n", bytes); exit(2); }
    return p;
}

/* n floats to the device as fp32 or bf16. */
static void *dev_from(ic_dtype dt, const float *x, size_t n) {
    void *p = dev_alloc(n * (dt == IC_BF16 ? 2 : 4));
    if (dt == IC_F32) {
        ic_buf_upload(&g_gpu, p, x, n * 4);
    } else {
        uint16_t *h = ic_gt_xmalloc(n * 2);
        for (size_t i = 0; i < n; i++) h[i] = ic_oracle_f2bf(x[i]);
        ic_buf_upload(&g_gpu, p, h, n * 2);
        free(h);
    }
    return p;
}

static void dev_to(ic_dtype dt, float *x, const void *p, size_t n) {
    if (dt == IC_F32) { ic_buf_download(&g_gpu, x, p, n * 4); return; }
    uint16_t *h = ic_gt_xmalloc(n * 2);
    ic_buf_download(&g_gpu, h, p, n * 2);
    for (size_t i = 0; i < n; i++) x[i] = ic_oracle_bf2f(h[i]);
    free(h);
}

static void reserve(ic_ctx *ctx, size_t bytes) {
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_reserve(ctx, bytes, &err) != 0) { fprintf(stderr, "%s\n", err.msg); exit(2); }
}

static void verdict(const char *name, const float *got, const float *ref, size_t n_out,
                    const float *got_lse, const float *ref_lse, size_t n_lse) {
    double num = 0, den = 0, lse_max = 0;
    size_t nan = 0;
    for (size_t i = 0; i < n_out; i++) {
        if (isnan(got[i])) { nan++; continue; }
        const double e = (double)got[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    for (size_t i = 0; got_lse && i < n_lse; i++) {
        if (isnan(got_lse[i])) { nan++; continue; }
        const double e = fabs((double)got_lse[i] - ref_lse[i]);
        if (e > lse_max) lse_max = e;
    }
    const double rel = sqrt(num / (den > 0 ? den : 1));
    const int ok = nan == 0 && rel <= TOL_OUT_REL && lse_max <= TOL_LSE_ABS;
    g_cases++;
    if (!ok) g_failed++;
    printf("%-44s out rel %.3e (tol %.0e)  lse max abs %.3e (tol %.0e)  NaN %zu  %s\n", name, rel,
           TOL_OUT_REL, lse_max, TOL_LSE_ABS, nan, ok ? "PASS" : "FAIL");
    fflush(stdout);
}

static void expect(const char *what, int64_t got, int64_t want) {
    g_cases++;
    if (got != want) g_failed++;
    printf("%-44s graphs built %lld, want %lld  %s\n", what, (long long)got, (long long)want,
           got == want ? "PASS" : "FAIL");
}

static void case_attention(int L, int H, int Hkv, int d, int with_lse, uint64_t seed) {
    const size_t nq = (size_t)L * H * d, nkv = (size_t)L * Hkv * d, nl = (size_t)H * L;
    float *q = ic_gt_xmalloc(nq * 4), *k = ic_gt_xmalloc(nkv * 4), *v = ic_gt_xmalloc(nkv * 4);
    ic_oracle_fill(q, nq, seed, -2.0f, 2.0f, 1);
    ic_oracle_fill(k, nkv, seed + 1, -2.0f, 2.0f, 1);
    ic_oracle_fill(v, nkv, seed + 2, -1.0f, 1.0f, 1);

    /* the CPU reference on the same (bf16-valued) inputs */
    float *ref = ic_gt_xmalloc(nq * 4), *ref_lse = ic_gt_xmalloc(nl * 4);
    reserve(&g_cpu, ic_attention_workspace_bytes(&g_cpu, L, H, Hkv, d));
    ic_attention_forward(&g_cpu, ref, ref_lse, q, k, v, L, H, Hkv, d);

    /* the graph cache: the first query builds one graph, nothing after */
    const int64_t built0 = ic_attention_cudnn_graphs_built();
    const size_t ws_bf16 = ic_attention_workspace_bytes_cuda(&g_gpu, IC_BF16, L, H, Hkv, d);
    const size_t ws_f32 = ic_attention_workspace_bytes(&g_gpu, L, H, Hkv, d);
    reserve(&g_gpu, ws_bf16 > ws_f32 ? ws_bf16 : ws_f32);

    float *got = ic_gt_xmalloc(nq * 4), *got_lse = ic_gt_xmalloc(nl * 4), *nan_buf = ic_gt_xmalloc(nq * 4);
    for (size_t i = 0; i < nq; i++) nan_buf[i] = NAN;
    char name[160];
    for (int pass = 0; pass < 2; pass++) {
        const ic_dtype dt = pass == 0 ? IC_BF16 : IC_F32;
        void *dq = dev_from(dt, q, nq), *dk = dev_from(dt, k, nkv), *dv = dev_from(dt, v, nkv);
        void *dout = dev_from(dt, nan_buf, nq);
        float *dlse = with_lse ? dev_from(IC_F32, nan_buf, nl) : NULL;
        if (dt == IC_BF16)
            ic_attention_forward_cuda(&g_gpu, IC_BF16, dout, dlse, dq, dk, dv, L, H, Hkv, d);
        else
            ic_attention_forward(&g_gpu, dout, dlse, dq, dk, dv, L, H, Hkv, d);
        ic_ctx_sync(&g_gpu);
        dev_to(dt, got, dout, nq);
        if (with_lse) ic_buf_download(&g_gpu, got_lse, dlse, nl * 4);
        snprintf(name, sizeof name, "attention %s L=%d H=%d Hkv=%d d=%d%s",
                 dt == IC_BF16 ? "bf16" : "f32 ", L, H, Hkv, d, with_lse ? "" : " (lse NULL)");
        verdict(name, got, ref, nq, with_lse ? got_lse : NULL, ref_lse, nl);
        ic_buf_free(&g_gpu, dq); ic_buf_free(&g_gpu, dk); ic_buf_free(&g_gpu, dv);
        ic_buf_free(&g_gpu, dout);
        if (dlse) ic_buf_free(&g_gpu, dlse);
    }
    snprintf(name, sizeof name, "  cache L=%d H=%d Hkv=%d d=%d", L, H, Hkv, d);
    expect(name, ic_attention_cudnn_graphs_built() - built0, with_lse ? 1 : 0);
    free(q); free(k); free(v); free(ref); free(ref_lse); free(got); free(got_lse); free(nan_buf);
}

static int open_gpu(void) {
    ic_error err;
    ic_error_clear(&err);
    if (ic_ctx_init(&g_gpu, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(void) {
    ic_error err;
    ic_error_clear(&err);
    if (open_gpu() != 0) return 77;
    if (ic_ctx_init(&g_cpu, IC_BACKEND_CPU, -1, 0, &err) != 0) {
        fprintf(stderr, "CPU context: %s\n", err.msg);
        return 2;
    }
    printf("%s\n", g_gpu.desc);
    case_attention(1, 9, 3, 64, 1, 11);
    case_attention(7, 9, 3, 64, 1, 12);
    case_attention(7, 9, 3, 64, 0, 13);  /* same shape, lse NULL: the cached graph */
    case_attention(128, 9, 3, 64, 1, 14);
    case_attention(2048, 9, 3, 64, 1, 15);
    case_attention(256, 16, 16, 128, 1, 16);
    case_attention(1000, 16, 16, 128, 1, 17);

    /* A new context has a new cuDNN handle: its plans are its own. */
    ic_ctx_free(&g_gpu);
    if (open_gpu() != 0) return 1;
    const int64_t built0 = ic_attention_cudnn_graphs_built();
    (void)ic_attention_workspace_bytes(&g_gpu, 7, 9, 3, 64);
    (void)ic_attention_workspace_bytes(&g_gpu, 7, 9, 3, 64);
    expect("fresh context, one shape queried twice", ic_attention_cudnn_graphs_built() - built0, 1);

    ic_ctx_free(&g_gpu);
    ic_ctx_free(&g_cpu);
    printf("%d cases, %d failed\n", g_cases, g_failed);
    return g_failed ? 1 : 0;
}
#endif
