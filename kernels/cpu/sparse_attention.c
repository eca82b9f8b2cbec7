/* CPU reference of sparse attention (kernels/ic_sparse_attention.h).
 * One query row per loop iteration; within it, one pass per KV group: the
 * H/Hkv query heads of a group read the same key and value rows, so each
 * gathered row is loaded once and used by all of them (scores of every
 * head of the group for one key, then one value row accumulated into every
 * head's output). Everything is fp32 with float expf: the largest term of
 * each softmax is exp(0) = 1, so the sums are well conditioned. The index set
 * is validated here because a position past t would silently leak the
 * future. */
#include <math.h>
#include <stdlib.h>

#include "ic_check.h"
#include "kernels/ic_sparse_attention.h"

void ic_sparse_attention_forward(float *out, float *lse, const float *q, const float *k,
                                 const float *v, int L, int H, int Hkv, int d,
                                 const int32_t *idx, const int32_t *cnt, int K) {
    IC_ASSERT(out != NULL && q != NULL && k != NULL && v != NULL);
    IC_ASSERT(idx != NULL && cnt != NULL);
    IC_ASSERT(L >= 0 && H > 0 && Hkv > 0 && H % Hkv == 0 && d > 0 && K >= 1);
    for (int t = 0; t < L; t++) {
        IC_ASSERT(cnt[t] >= 1 && cnt[t] <= K);
        for (int i = 0; i < cnt[t]; i++) {
            const int32_t s = idx[(size_t)t * K + i];
            IC_ASSERT(s >= 0 && s <= t);
        }
    }
    const int group = H / Hkv;
    const float scale = 1.0f / sqrtf((float)d);
    #pragma omp parallel if ((long)L * H * K * d >= (1L << 20))
    {
        float *p = malloc(sizeof(float) * (size_t)group * K);     /* [group, K] scores, then weights */
        float *acc = malloc(sizeof(float) * (size_t)group * d);   /* [group, d] */
        float *mx = malloc(sizeof(float) * (size_t)group), *sum = malloc(sizeof(float) * (size_t)group);
        IC_ASSERT(p != NULL && acc != NULL && mx != NULL && sum != NULL);
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
                    float s = 0.0f;
                    for (int i = 0; i < n; i++) {
                        ph[i] = expf(ph[i] - m);
                        s += ph[i];
                    }
                    sum[hh] = s;
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
        free(sum); free(mx); free(acc); free(p);
    }
}
