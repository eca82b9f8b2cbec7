/* CPU reference of sparse attention (kernels/ic_sparse_attention.h): one
 * query row per loop iteration, two passes over its index set per head
 * (scores and max, then exp-weighted sum of values). The index set is
 * validated here because a position past t would silently leak the future. */
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
    #pragma omp parallel
    {
        float *p = malloc(sizeof(float) * (size_t)K);
        double *acc = malloc(sizeof(double) * (size_t)d);
        IC_ASSERT(p != NULL && acc != NULL);
        #pragma omp for schedule(dynamic, 16)
        for (int t = 0; t < L; t++) {
            const int32_t *set = idx + (size_t)t * K;
            const int n = cnt[t];
            for (int h = 0; h < H; h++) {
                const int g = h / group;
                const float *qh = q + ((size_t)t * H + h) * d;
                float m = -INFINITY;
                for (int i = 0; i < n; i++) {
                    const float *kk = k + ((size_t)set[i] * Hkv + g) * d;
                    float dot = 0.0f;
                    /* simd reduction: lets the compiler split the sum into
                     * vector lanes (a fixed order, so still deterministic) */
                    #pragma omp simd reduction(+:dot)
                    for (int c = 0; c < d; c++) dot += qh[c] * kk[c];
                    p[i] = dot * scale;
                    if (p[i] > m) m = p[i];
                }
                double sum = 0.0;
                for (int c = 0; c < d; c++) acc[c] = 0.0;
                for (int i = 0; i < n; i++) {
                    const double e = exp((double)(p[i] - m));
                    sum += e;
                    const float *vv = v + ((size_t)set[i] * Hkv + g) * d;
                    #pragma omp simd
                    for (int c = 0; c < d; c++) acc[c] += e * vv[c];
                }
                float *oh = out + ((size_t)t * H + h) * d;
                for (int c = 0; c < d; c++) oh[c] = (float)(acc[c] / sum);
                if (lse) lse[(size_t)h * L + t] = (float)((double)m + log(sum));
            }
        }
        free(acc);
        free(p);
    }
}
