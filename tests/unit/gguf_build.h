/* A tiny GGUF writer for the tests, written from the spec independently of
 * model/ic_gguf.c: a growable byte buffer with little-endian put helpers.
 * Tests build valid files with it and then corrupt them on purpose. */
#ifndef IC_TEST_GGUF_BUILD_H
#define IC_TEST_GGUF_BUILD_H

#include <stdint.h>
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

#endif
