/* Index sets for the sparse-attention tests and benchmark (kernels/
 * ic_sparse_attention.h conventions: idx [L, K], cnt [L], row t uses
 * idx[t, 0..cnt[t]-1], distinct, each in [0, t]; slots past cnt are -1).
 *   SETS_TOPK   what a trained indexer's top-k looks like: n = min(K, t+1)
 *               entries, the local window (the last min(n, 64) positions up
 *               to t) plus distinct random earlier positions, sorted
 *               ascending (torch.topk(sorted=False) + sort, as engines do);
 *   SETS_SHORT  cnt[t] random in [1, min(K, t+1)] (a row with fewer entries
 *               than it could take), distinct random positions, unsorted;
 *   SETS_DENSE  cnt[t] = min(K, t+1), the last n positions, descending
 *               (with K >= L this is dense causal attention).
 * Plain C, header only; deterministic from the seed. */
#ifndef IC_SPARSE_SETS_H
#define IC_SPARSE_SETS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { SETS_TOPK, SETS_SHORT, SETS_DENSE };

static inline const char *sets_mode_name(int mode) {
    return mode == SETS_TOPK ? "topk" : mode == SETS_SHORT ? "short" : "dense";
}

static inline uint64_t sets_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline int sets_cmp_i32(const void *a, const void *b) {
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* n distinct positions in [0, lo) (n <= lo) into out, by a partial
 * Fisher-Yates shuffle of perm [lo] (the identity on entry and on return:
 * the n swaps, recorded in js [n], are undone, so a row costs O(n)). */
static inline void sets_sample(int32_t *out, int n, int lo, int32_t *perm, int32_t *js,
                               uint64_t *s) {
    for (int i = 0; i < n; i++) {
        const int j = i + (int)(sets_next(s) % (uint64_t)(lo - i));
        const int32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        out[i] = perm[i];
        js[i] = j;
    }
    for (int i = n - 1; i >= 0; i--) {
        const int32_t tmp = perm[i];
        perm[i] = perm[js[i]];
        perm[js[i]] = tmp;
    }
}

/* Fills idx [L, K] and cnt [L]. */
static inline void sets_fill(int32_t *idx, int32_t *cnt, int L, int K, int mode, uint64_t seed) {
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + 7;
    int32_t *perm = (int32_t *)malloc(sizeof(int32_t) * (size_t)(L > 0 ? L : 1));
    int32_t *js = (int32_t *)malloc(sizeof(int32_t) * (size_t)K);
    if (!perm || !js) abort();
    for (int i = 0; i < L; i++) perm[i] = i;
    for (int t = 0; t < L; t++) {
        int32_t *row = idx + (size_t)t * (size_t)K;
        const int full = K < t + 1 ? K : t + 1;
        int n = full;
        if (mode == SETS_SHORT) n = 1 + (int)(sets_next(&s) % (uint64_t)full);
        if (mode == SETS_DENSE) {
            for (int i = 0; i < n; i++) row[i] = t - i;
        } else if (mode == SETS_SHORT) {
            sets_sample(row, n, t + 1, perm, js, &s);
        } else {
            const int w = n < 64 ? n : 64;  /* the local window t-w+1 .. t */
            for (int i = 0; i < w; i++) row[i] = t - w + 1 + i;
            sets_sample(row + w, n - w, t + 1 - w, perm, js, &s);
            qsort(row, (size_t)n, sizeof *row, sets_cmp_i32);
        }
        for (int i = n; i < K; i++) row[i] = -1;
        cnt[t] = n;
    }
    free(perm);
    free(js);
}

#endif
