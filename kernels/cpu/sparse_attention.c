/* CPU reference of sparse attention (kernels/ic_sparse_attention.h).
 * One query row per loop iteration; within it, one pass per KV group: the
 * H/Hkv query heads of a group read the same key and value rows, so each
 * gathered row is loaded once and used by all of them (scores of every
 * head of the group for one key, then one value row accumulated into every
 * head's output). Everything is fp32 with a float exp (ic_cpu_vexp.h: 2 ulp,
 * vectorised): the largest term of each softmax is exp(0) = 1, so the sums
 * are well conditioned. The index set
 * is validated here because a position past t would silently leak the
 * future. */
#include <math.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/cpu/ic_cpu_vexp.h"
#include "kernels/ic_sparse_attention.h"

/* One thread's scratch: scores then weights [group, K], accumulators
 * [group, d], running max and sum [group]. */
static size_t sa_piece(size_t floats) { return ic_ws_round(sizeof(float) * floats); }
static size_t sa_slice(int group, int d, int K) {
    return sa_piece((size_t)group * K) + sa_piece((size_t)group * d) + 2 * sa_piece((size_t)group);
}

size_t ic_sparse_attention_workspace_bytes_cpu(const ic_ctx *ctx, int H, int Hkv, int d, int K) {
    return (size_t)ic_cpu_threads(ctx) * sa_slice(H / Hkv, d, K);
}

void ic_sparse_attention_forward_cpu(ic_ctx *ctx, float *out, float *lse, const float *q,
                                     const float *k, const float *v, int L, int H, int Hkv,
                                     int d, const int32_t *idx, const int32_t *cnt, int K) {
    const int group = H / Hkv;
    const float scale = 1.0f / sqrtf((float)d);
    const int nt = ic_cpu_threads(ctx);
    const size_t slice = sa_slice(group, d, K), mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * slice, "sparse attention");
    #pragma omp parallel num_threads(nt) if ((long)L * H * K * d >= (1L << 20))
    {
        char *mine = scratch + (size_t)omp_get_thread_num() * slice;
        float *p = (float *)mine;                                  /* [group, K] */
        float *acc = (float *)(mine + sa_piece((size_t)group * K)); /* [group, d] */
        float *mx = (float *)((char *)acc + sa_piece((size_t)group * d));
        float *sum = (float *)((char *)mx + sa_piece((size_t)group));
        #pragma omp for schedule(dynamic, 16)
        for (int t = 0; t < L; t++) {
            const int32_t *set = idx + (size_t)t * K;
            const int n = cnt[t];
            for (int g = 0; g < Hkv; g++) {
                const int h0 = g * group;
                const float *qg = q + ((size_t)t * H + h0) * d;   /* [group, d] */
                for (int hh = 0; hh < group; hh++) mx[hh] = -INFINITY;
                for (int i = 0; i < n; i++) {
                    const float *restrict kk = k + ((size_t)set[i] * Hkv + g) * d;
                    for (int hh = 0; hh < group; hh++) {
                        const float *restrict qh = qg + (size_t)hh * d;
                        float dot = 0.0f;
                        /* simd reduction: a fixed lane split, so still deterministic */
                        #pragma omp simd reduction(+:dot)
                        for (int c = 0; c < d; c++) dot += qh[c] * kk[c];
                        const float sc = dot * scale;
                        p[(size_t)hh * K + i] = sc;
                        mx[hh] = sc > mx[hh] ? sc : mx[hh];
                    }
                }
                for (int hh = 0; hh < group; hh++) {
                    float *restrict ph = p + (size_t)hh * K;
                    const float m = mx[hh];
                    sum[hh] = ic_vexp_shift_sum(ph, n, m);   /* vectorised exp, fixed lanes */
                    float *restrict a = acc + (size_t)hh * d;
                    for (int c = 0; c < d; c++) a[c] = 0.0f;
                }
                for (int i = 0; i < n; i++) {
                    const float *restrict vv = v + ((size_t)set[i] * Hkv + g) * d;
                    for (int hh = 0; hh < group; hh++) {
                        const float e = p[(size_t)hh * K + i];
                        float *restrict a = acc + (size_t)hh * d;
                        #pragma omp simd
                        for (int c = 0; c < d; c++) a[c] += e * vv[c];
                    }
                }
                for (int hh = 0; hh < group; hh++) {
                    const int h = h0 + hh;
                    float *oh = out + ((size_t)t * H + h) * d;
                    const float sh = sum[hh], *a = acc + (size_t)hh * d;
                    for (int c = 0; c < d; c++) oh[c] = a[c] / sh;
                    if (lse) lse[(size_t)h * L + t] = mx[hh] + logf(sum[hh]);
                }
            }
        }
    }
    ic_ws_release(ctx, mark);
}
