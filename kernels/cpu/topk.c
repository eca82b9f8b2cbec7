/* CPU reference of the per-row top-k (kernels/ic_topk.h): a bounded heap of
 * k_eff candidates per row whose root is the worst one kept, so a row costs
 * O(t log k) time and O(k) memory; popping the root repeatedly then lays the
 * kept set out best-first. */
#include <math.h>
#include <stdlib.h>

#include "ic_check.h"
#include "kernels/ic_topk.h"

/* NaN ranks below -inf; equal scores rank the lower position first. */
static inline int better(const float *row, int32_t a, int32_t b) {
    const float sa = row[a], sb = row[b];
    const int na = isnan(sa), nb = isnan(sb);
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
}

/* Min-heap by `better`: the root is the worst candidate. */
static void sift_down(int32_t *h, int n, int i, const float *row) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && better(row, h[m], h[l])) m = l;
        if (r < n && better(row, h[m], h[r])) m = r;
        if (m == i) return;
        int32_t tmp = h[i]; h[i] = h[m]; h[m] = tmp;
        i = m;
    }
}

static void sift_up(int32_t *h, int i, const float *row) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!better(row, h[p], h[i])) return;
        int32_t tmp = h[i]; h[i] = h[p]; h[p] = tmp;
        i = p;
    }
}

void ic_topk_forward(int32_t *idx, int32_t *cnt, const float *S, int ld,
                     int t0, int t1, int K) {
    IC_ASSERT(idx != NULL && cnt != NULL && S != NULL);
    IC_ASSERT(K >= 1 && 0 <= t0 && t0 <= t1 && ld >= t1);
    #pragma omp parallel for schedule(dynamic, 8)
    for (int t = t0; t < t1; t++) {
        const float *row = S + (size_t)(t - t0) * ld;
        int32_t *h = idx + (size_t)t * K;   /* the output row doubles as the heap */
        const int k = K < t + 1 ? K : t + 1;
        int n = 0;
        for (int32_t s = 0; s <= t; s++) {
            if (n < k) {
                h[n] = s;
                sift_up(h, n++, row);
            } else if (better(row, s, h[0])) {
                h[0] = s;
                sift_down(h, n, 0, row);
            }
        }
        /* Pop the worst into the back: leaves the row sorted best-first. */
        for (int m = n - 1; m > 0; m--) {
            int32_t tmp = h[0]; h[0] = h[m]; h[m] = tmp;
            sift_down(h, m, 0, row);
        }
        for (int m = k; m < K; m++) h[m] = -1;
        cnt[t] = k;
    }
}
