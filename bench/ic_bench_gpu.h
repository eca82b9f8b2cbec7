/* Pieces every GPU benchmark of bench/ shares: the CUDA check, the sort
 * order for medians, and seeded uniform device buffers. Header-only
 * (static functions): each bench is one C file linked on its own. */
#ifndef IC_BENCH_GPU_H
#define IC_BENCH_GPU_H

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ic_half.h"
#include "kernels/ic_ctx.h"

#define CK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
    fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
    exit(1); } } while (0)

/* qsort order of floats (for medians) */
static inline int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* n values in [lo, hi) from a fixed xorshift seed, stored as fp32 (bf16 = 0)
 * or bf16 (round to nearest even, core/ic_half.h) in a new device buffer. */
static inline void *ic_bench_dev_rand(ic_ctx *ctx, size_t n, uint64_t seed, float lo, float hi,
                                      int bf16) {
    const size_t es = bf16 ? 2 : 4;
    unsigned char *h = malloc(n * es);
    void *p = ic_buf_alloc(ctx, n * es);
    if (!h || !p) { fprintf(stderr, "out of memory (%zu elements)\n", n); exit(1); }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float f = lo + (hi - lo) * (float)(s >> 40) * (1.0f / 16777216.0f);
        if (bf16) ((uint16_t *)h)[i] = ic_f32_to_bf16(f);
        else ((float *)h)[i] = f;
    }
    ic_buf_upload(ctx, p, h, n * es);
    free(h);
    return p;
}

#endif
