/* A tiny GGUF writer for the tests, written from the spec independently of
 * model/ic_gguf.c: a growable byte buffer with little-endian put helpers.
 * Tests build valid files with it and then corrupt them on purpose. */
#ifndef IC_TEST_GGUF_BUILD_H
#define IC_TEST_GGUF_BUILD_H

#include <math.h>
#include <stdint.h>
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
} gb_buf;

static inline void gb_put(gb_buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static inline void gb_u8(gb_buf *b, uint8_t v) { gb_put(b, &v, 1); }
static inline void gb_u16(gb_buf *b, uint16_t v) { gb_put(b, &v, 2); }
static inline void gb_u32(gb_buf *b, uint32_t v) { gb_put(b, &v, 4); }
static inline void gb_u64(gb_buf *b, uint64_t v) { gb_put(b, &v, 8); }
static inline void gb_f32(gb_buf *b, float v) { gb_put(b, &v, 4); }
static inline void gb_f64(gb_buf *b, double v) { gb_put(b, &v, 8); }
static inline void gb_str(gb_buf *b, const char *s) {
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}
static inline void gb_pad(gb_buf *b, size_t align) {
    while (b->n % align) gb_u8(b, 0);
}
static inline void gb_free(gb_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* header: magic, version, tensor count, kv count */
static inline void gb_header(gb_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gb_put(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

/* kv helpers: key, type id, value */
static inline void gb_kv_u32(gb_buf *b, const char *k, uint32_t v) { gb_str(b, k); gb_u32(b, 4); gb_u32(b, v); }
static inline void gb_kv_i32(gb_buf *b, const char *k, int32_t v) { gb_str(b, k); gb_u32(b, 5); gb_u32(b, (uint32_t)v); }
static inline void gb_kv_f32(gb_buf *b, const char *k, float v) { gb_str(b, k); gb_u32(b, 6); gb_f32(b, v); }
static inline void gb_kv_bool(gb_buf *b, const char *k, int v) { gb_str(b, k); gb_u32(b, 7); gb_u8(b, (uint8_t)v); }
static inline void gb_kv_str(gb_buf *b, const char *k, const char *v) { gb_str(b, k); gb_u32(b, 8); gb_str(b, v); }
static inline void gb_kv_u64(gb_buf *b, const char *k, uint64_t v) { gb_str(b, k); gb_u32(b, 10); gb_u64(b, v); }
static inline void gb_kv_str_arr(gb_buf *b, const char *k, const char *const *v, size_t n) {
    gb_str(b, k); gb_u32(b, 9); gb_u32(b, 8); gb_u64(b, n);
    for (size_t i = 0; i < n; i++) gb_str(b, v[i]);
}
static inline void gb_kv_i32_arr(gb_buf *b, const char *k, const int32_t *v, size_t n) {
    gb_str(b, k); gb_u32(b, 9); gb_u32(b, 5); gb_u64(b, n);
    for (size_t i = 0; i < n; i++) gb_u32(b, (uint32_t)v[i]);
}

/* tensor info: name, n_dims, ne[] (innermost first), ggml type, offset */
static inline void gb_tensor(gb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                             uint64_t offset) {
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) gb_u64(b, ne[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

/* bytes per row of `type` for ne0 elements (types the tests use) */
static inline size_t gb_type_bytes(uint32_t type, uint64_t n) {
    switch (type) {
    case 0: return n * 4;                 /* F32 */
    case 1: case 30: return n * 2;        /* F16, BF16 */
    case 2: return n / 32 * 18;           /* Q4_0 */
    case 3: return n / 32 * 20;           /* Q4_1 */
    case 8: return n / 32 * 34;           /* Q8_0 */
    default: return 0;
    }
}

/* ---- independent decoders (spec formulas, double precision) ----
 * ggml type ids: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 30 BF16. */

static inline double f16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}
static inline double bf16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return s ? -v : v;
}
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* element k of a block of 32 */
static inline double block_ref(uint32_t type, const uint8_t *blk, int k) {
    if (type == 8) return f16_ref(rd16(blk)) * (double)(int8_t)blk[2 + k];
    const uint8_t *qs = blk + (type == 3 ? 4 : 2);
    int nib = k < 16 ? (qs[k] & 15) : (qs[k - 16] >> 4);
    if (type == 2) return f16_ref(rd16(blk)) * (nib - 8);
    return f16_ref(rd16(blk)) * nib + f16_ref(rd16(blk + 2));
}

static inline double elem_ref(uint32_t type, const uint8_t *data, int64_t i) {
    switch (type) {
    case 0: { float f; memcpy(&f, data + 4 * i, 4); return f; }
    case 1: return f16_ref(rd16(data + 2 * i));
    case 30: return bf16_ref(rd16(data + 2 * i));
    case 8: return block_ref(type, data + (i / 32) * 34, (int)(i % 32));
    case 2: return block_ref(type, data + (i / 32) * 18, (int)(i % 32));
    default: return block_ref(type, data + (i / 32) * 20, (int)(i % 32));
    }
}

/* random finite half: exponent kept below 31 (no inf/NaN) and above 0 */
static inline uint16_t rand_f16(ic_rng *r, int max_exp) {
    uint16_t e = (uint16_t)(1 + ic_rng_next(r) % (uint64_t)max_exp);
    return (uint16_t)((ic_rng_next(r) & 1) << 15 | e << 10 | (ic_rng_next(r) & 1023));
}

/* n_elems of `type` as random bytes with valid scales/values */
static inline void fill_type(ic_rng *r, uint32_t type, uint8_t *p, int64_t n) {
    size_t bytes = gb_type_bytes(type, (uint64_t)n);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)ic_rng_next(r);
    if (type == 0)
        for (int64_t i = 0; i < n; i++) { float f = (float)ic_rng_normal(r); memcpy(p + 4 * i, &f, 4); }
    if (type == 1)
        for (int64_t i = 0; i < n; i++) { uint16_t h = rand_f16(r, 30); memcpy(p + 2 * i, &h, 2); }
    if (type == 30)
        for (int64_t i = 0; i < n; i++) {   /* the top half of a random float */
            float f = (float)ic_rng_normal(r);
            uint32_t u;
            memcpy(&u, &f, 4);
            uint16_t h = (uint16_t)(u >> 16);
            memcpy(p + 2 * i, &h, 2);
        }
    size_t bb = type == 8 ? 34 : type == 2 ? 18 : 20;
    if (type == 8 || type == 2 || type == 3)
        for (int64_t b = 0; b < n / 32; b++) {
            uint16_t d = rand_f16(r, 16), m = rand_f16(r, 16);   /* |d| < 2 */
            memcpy(p + b * bb, &d, 2);
            if (type == 3) memcpy(p + b * bb + 2, &m, 2);
        }
}

/* convert_hf_to_gguf.py: w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2),
 * done here as an explicit 4-D index walk. */
static inline void permute_brute(const float *w, float *out, int n_head, int hd, int cols) {
    int half = hd / 2;
    for (int h = 0; h < n_head; h++)
        for (int a = 0; a < half; a++)          /* axis 1 after the swap */
            for (int bb = 0; bb < 2; bb++)      /* axis 2 after the swap */
                for (int c = 0; c < cols; c++)
                    out[(((size_t)h * half + a) * 2 + bb) * cols + c] = w[(((size_t)h * 2 + bb) * half + a) * cols + c];
}

#endif
