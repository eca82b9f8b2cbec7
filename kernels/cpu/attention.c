/* CPU reference of causal GQA attention (kernels/ic_attention.h).
 *
 * The prefill path is organised around two GEMMs per (KV group, row block):
 * the query rows of all heads that share a KV head are packed together so
 * one GEMM scores them against the shared keys, the masked softmax runs in
 * place on that score block, and a second GEMM applies it to the values.
 * The (group, block) tasks are spread over OpenMP threads, each with its own
 * scratch and single-threaded BLAS calls (ic_cpu_blas.h). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/cpu/ic_cpu_vexp.h"
#include "kernels/ic_attention.h"

/* Softmax of one score row over its first n entries (the visible keys),
 * zeros after them up to ld; returns the log-sum-exp. Every loop is a simd
 * loop (the build is -O2, whose cost model leaves loops of unknown length
 * scalar) and the exp is ic_vexpf, which vectorises where libm's expf is a
 * call per element; the reductions split into a fixed set of lanes, so a
 * row gives the same bits on every call and every thread. */
static float softmax_row(float *s, int n, int ld) {
    float m = s[0];
    #pragma omp simd reduction(max:m)
    for (int j = 1; j < n; j++) m = s[j] > m ? s[j] : m;
    const float sum = ic_vexp_shift_sum(s, n, m);
    const float inv = 1.0f / sum;
    #pragma omp simd
    for (int j = 0; j < n; j++) s[j] *= inv;
    for (int j = n; j < ld; j++) s[j] = 0.0f;
    return m + logf(sum);
}

/* One thread's scratch: packed queries [gs*B, d], outputs [gs*B, d] and
 * scores/probabilities [gs*B, L]. */
static size_t attn_slice(int L, int gs, int d) {
    const size_t B = IC_ATTENTION_BLOCK;
    return 2 * ic_ws_round(sizeof(float) * (size_t)gs * B * d)
         + ic_ws_round(sizeof(float) * (size_t)gs * B * L);
}

size_t ic_attention_workspace_bytes_cpu(const ic_ctx *ctx, int L, int H, int Hkv, int d) {
    return (size_t)ic_cpu_threads(ctx) * attn_slice(L, H / Hkv, d);
}

void ic_attention_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q,
                              const float *k, const float *v, int L, int H, int Hkv, int d) {
    if (L == 0) return;
    ic_cpu_blas_init();
    const int gs = H / Hkv, B = IC_ATTENTION_BLOCK;
    const int n_blocks = (L + B - 1) / B, n_tasks = Hkv * n_blocks;
    const float scale = 1.0f / sqrtf((float)d);
    const int nt = ic_cpu_threads(ctx);
    const size_t slice = attn_slice(L, gs, d), mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * slice, "attention");
    #pragma omp parallel num_threads(nt) if (n_tasks > 1)
    {
        char *mine = scratch + (size_t)omp_get_thread_num() * slice;
        float *qb = (float *)mine;
        float *ob = (float *)(mine + ic_ws_round(sizeof(float) * (size_t)gs * B * d));
        float *sb = (float *)(mine + 2 * ic_ws_round(sizeof(float) * (size_t)gs * B * d));
        /* causal blocks grow with t: hand out the last (largest) ones first */
        #pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < n_tasks; task++) {
            const int g = task % Hkv, t0 = (n_blocks - 1 - task / Hkv) * B;
            const int nb = L - t0 < B ? L - t0 : B;   /* rows in this block */
            const int nk = t0 + nb;                    /* keys any of them sees */
            const int rows = gs * nb;
            for (int rr = 0; rr < rows; rr++) {       /* row j*nb + r: head g*gs + j, token t0 + r */
                int j = rr / nb, r = rr % nb;
                memcpy(qb + (size_t)rr * d, q + ((size_t)(t0 + r) * H + (size_t)g * gs + j) * d,
                       sizeof(float) * (size_t)d);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nk, d, scale,
                        qb, d, k + (size_t)g * d, Hkv * d, 0.0f, sb, nk);
            for (int rr = 0; rr < rows; rr++) {
                int j = rr / nb, r = rr % nb, t = t0 + r;
                float l = softmax_row(sb + (size_t)rr * nk, t + 1, nk);
                if (lse) lse[(size_t)(g * gs + j) * L + t] = l;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, nk, 1.0f,
                        sb, nk, v + (size_t)g * d, Hkv * d, 0.0f, ob, d);
            for (int rr = 0; rr < rows; rr++) {
                int j = rr / nb, r = rr % nb;
                memcpy(out + ((size_t)(t0 + r) * H + (size_t)g * gs + j) * d, ob + (size_t)rr * d,
                       sizeof(float) * (size_t)d);
            }
        }
    }
    ic_ws_release(ctx, mark);
}

size_t ic_attention_decode_workspace_bytes_cpu(const ic_ctx *ctx, int T) {
    return (size_t)ic_cpu_threads(ctx) * ic_ws_round(sizeof(float) * (size_t)T);
}

void ic_attention_decode_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q,
                                     const float *k_cache, const float *v_cache,
                                     int T, int H, int Hkv, int d) {
    const int gs = H / Hkv;
    const float scale = 1.0f / sqrtf((float)d);
    const int nt = ic_cpu_threads(ctx);
    const size_t slice = ic_ws_round(sizeof(float) * (size_t)T), mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * slice, "attention decode");
    #pragma omp parallel num_threads(nt) if ((long)T * H * d >= 65536)
    {
        float *s = (float *)(scratch + (size_t)omp_get_thread_num() * slice);
        #pragma omp for schedule(static)
        for (int h = 0; h < H; h++) {
            const int g = h / gs;
            const float *qh = q + (size_t)h * d;
            for (int j = 0; j < T; j++) {
                const float *kj = k_cache + ((size_t)j * Hkv + g) * d;
                float dot = 0.0f;
                #pragma omp simd reduction(+:dot)   /* fixed lanes: deterministic */
                for (int c = 0; c < d; c++) dot += qh[c] * kj[c];
                s[j] = dot * scale;
            }
            float l = softmax_row(s, T, T);
            if (lse) lse[h] = l;
            float *o = out + (size_t)h * d;
            for (int c = 0; c < d; c++) o[c] = 0.0f;
            for (int j = 0; j < T; j++) {
                const float *vj = v_cache + ((size_t)j * Hkv + g) * d;
                #pragma omp simd
                for (int c = 0; c < d; c++) o[c] += s[j] * vj[c];
            }
        }
    }
    ic_ws_release(ctx, mark);
}
