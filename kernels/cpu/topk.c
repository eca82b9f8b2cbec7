/* CPU reference of the per-row top-k (kernels/ic_topk.h).
 * Each candidate becomes one 64-bit key whose unsigned order is exactly the
 * ranking of the header: the high half maps the score to an integer that
 * grows with the float (NaN lowest, -0 folded onto +0 so that they tie), the
 * low half is ~s so that among equal scores the lower position is larger.
 * Keys are unique, so "the k largest keys, descending" is the answer with
 * no tie cases left. A row then costs one quickselect (O(t) expected)
 * plus a sort of the k kept keys, instead of a heap with a branchy float
 * comparison per step. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ic_alloc.h"
#include "ic_check.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/ic_topk.h"

/* Monotone map float -> uint32: a < b (as floats) => key(a) < key(b), equal
 * floats (incl. -0, +0) => equal keys, NaN => 0 (below -inf, whose key is
 * 0x007FFFFF). */
static inline uint32_t score_key(float x) {
    if (isnan(x)) return 0;
    if (x == 0.0f) x = 0.0f;
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static inline void swap64(uint64_t *a, uint64_t *b) { uint64_t t = *a; *a = *b; *b = t; }

/* Median of three moved to a[lo] (as the pivot), for descending order. */
static void pivot_to_front(uint64_t *a, int lo, int hi) {
    const int mid = lo + (hi - lo) / 2;
    if (a[mid] > a[lo]) swap64(&a[mid], &a[lo]);
    if (a[hi] > a[lo]) swap64(&a[hi], &a[lo]);
    if (a[hi] > a[mid]) swap64(&a[hi], &a[mid]);
    /* now a[lo] >= a[mid] >= a[hi]: the median is a[mid] */
    swap64(&a[mid], &a[lo]);
}

/* Partition a[lo..hi] (descending) around the pivot a[lo]; returns its final
 * position p: a[lo..p-1] > pivot > a[p+1..hi] (keys are unique). */
static int partition_desc(uint64_t *a, int lo, int hi) {
    const uint64_t pv = a[lo];
    int i = lo, j = hi + 1;
    for (;;) {
        do i++; while (i <= hi && a[i] > pv);
        do j--; while (a[j] < pv);
        if (i >= j) break;
        swap64(&a[i], &a[j]);
    }
    swap64(&a[lo], &a[j]);
    return j;
}

static void insertion_desc(uint64_t *a, int lo, int hi) {
    for (int i = lo + 1; i <= hi; i++) {
        const uint64_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] < v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void sort_desc(uint64_t *a, int lo, int hi) {
    while (hi - lo > 16) {
        pivot_to_front(a, lo, hi);
        const int p = partition_desc(a, lo, hi);
        /* recurse into the smaller side: O(log n) stack */
        if (p - lo < hi - p) { sort_desc(a, lo, p - 1); lo = p + 1; }
        else { sort_desc(a, p + 1, hi); hi = p - 1; }
    }
    insertion_desc(a, lo, hi);
}

/* Rearranges a[0..n-1] so that its k largest keys are in a[0..k-1].
 * The first pivot comes from a sorted sample of 32 keys, taken a little
 * beyond rank k, so that one partition usually leaves only ~k + n/16 keys
 * in play (instead of the ~n/2 of a median-of-three split). */
static void select_desc(uint64_t *a, int n, int k) {
    int lo = 0, hi = n - 1;
    if (n >= 256) {
        enum { NS = 32 };
        uint64_t smp[NS];
        int pos[NS];
        for (int i = 0; i < NS; i++) { pos[i] = (int)((long)i * n / NS); smp[i] = a[pos[i]]; }
        int r = (int)((long)k * NS / n) + 2;   /* sample rank just past k */
        if (r < NS) {
            /* the r-th largest sample (0-based) by partial selection sort */
            for (int i = 0; i <= r; i++) {
                int b = i;
                for (int j = i + 1; j < NS; j++) if (smp[j] > smp[b]) b = j;
                uint64_t tv = smp[i]; smp[i] = smp[b]; smp[b] = tv;
                int tp = pos[i]; pos[i] = pos[b]; pos[b] = tp;
            }
            swap64(&a[0], &a[pos[r]]);
            const int p = partition_desc(a, 0, n - 1);
            if (p == k - 1 || p == k) return;
            if (p < k) lo = p + 1; else hi = p - 1;
        }
    }
    while (hi - lo > 16) {
        pivot_to_front(a, lo, hi);
        const int p = partition_desc(a, lo, hi);
        if (p == k - 1 || p == k) return;
        if (p < k) lo = p + 1; else hi = p - 1;
    }
    insertion_desc(a, lo, hi);
}

size_t ic_topk_workspace_bytes_cpu(const ic_ctx *ctx, int L) {
    return (size_t)ic_cpu_threads(ctx) * ic_ws_round(sizeof(uint64_t) * (size_t)L);
}

void ic_topk_forward_cpu(ic_ctx *ctx, int32_t *idx, int32_t *cnt, const float *S, int ld,
                         int t0, int t1, int K) {
    if (t1 == t0) return;
    const int nt = ic_cpu_threads(ctx);
    const size_t slice = ic_ws_round(sizeof(uint64_t) * (size_t)t1), mark = ic_ws_mark(ctx);
    char *scratch = ic_ws_alloc(ctx, (size_t)nt * slice, "top-k");
    #pragma omp parallel num_threads(nt) if ((long)(t1 - t0) * t1 >= 65536)
    {
        uint64_t *keys = (uint64_t *)(scratch + (size_t)omp_get_thread_num() * slice);
        #pragma omp for schedule(dynamic, 8)
        for (int t = t0; t < t1; t++) {
            const float *row = S + (size_t)(t - t0) * ld;
            const int n = t + 1, k = K < n ? K : n;
            for (int s = 0; s < n; s++)
                keys[s] = (uint64_t)score_key(row[s]) << 32 | (uint32_t)~(uint32_t)s;
            if (k < n) select_desc(keys, n, k);
            sort_desc(keys, 0, k - 1);
            int32_t *out = idx + (size_t)t * K;
            for (int m = 0; m < k; m++) out[m] = (int32_t)~(uint32_t)keys[m];
            for (int m = k; m < K; m++) out[m] = -1;
            cnt[t] = k;
        }
    }
    ic_ws_release(ctx, mark);
}
