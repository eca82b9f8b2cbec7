/* Dequantisation of the ggml block formats we import, and llama.cpp's q/k
 * row permutation. Block layouts (ggml-common.h, little-endian):
 *   Q8_0: f16 d, int8 qs[32]          x[j] = d * qs[j]
 *   Q4_0: f16 d, u8 qs[16]            x[j] = d * ((qs[j] & 15) - 8),  x[j+16] = d * ((qs[j] >> 4) - 8)
 *   Q4_1: f16 d, f16 m, u8 qs[16]     x[j] = d * (qs[j] & 15) + m,    x[j+16] = d * (qs[j] >> 4) + m
 * The low nibbles hold the first half of the block, the high nibbles the
 * second half (not interleaved). */
#include <string.h>

#include "ic_check.h"
#include "ic_gguf.h"
#include "ic_half.h"

static uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static void deq_q8_0(const uint8_t *b, float *y) {
    float d = ic_f16_to_f32(ld16(b));
    for (int j = 0; j < 32; j++) y[j] = d * (float)(int8_t)b[2 + j];
}

static void deq_q4_0(const uint8_t *b, float *y) {
    float d = ic_f16_to_f32(ld16(b));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((int)(b[2 + j] & 15) - 8);
        y[j + 16] = d * (float)((int)(b[2 + j] >> 4) - 8);
    }
}

static void deq_q4_1(const uint8_t *b, float *y) {
    float d = ic_f16_to_f32(ld16(b)), m = ic_f16_to_f32(ld16(b + 2));
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 15) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

int ic_gguf_dequantize(uint32_t type, const void *src, size_t src_bytes, float *dst, int64_t n,
                       ic_error *err) {
    int64_t blk, bb;
    if (ic_ggml_type_block(type, &blk, &bb))
        return ic_error_set(err, "dequantize: unknown ggml type %u", type);
    if (n < 0 || n % blk)
        return ic_error_set(err, "dequantize: %lld elements is not a multiple of the %s block size %lld",
                            (long long)n, ic_ggml_type_name(type), (long long)blk);
    int64_t nb = n / blk;
    if ((uint64_t)nb > src_bytes / (uint64_t)bb)
        return ic_error_set(err, "dequantize: %lld %s elements need %lld bytes, only %zu given", (long long)n,
                            ic_ggml_type_name(type), (long long)(nb * bb), src_bytes);
    const uint8_t *s = src;
    switch (type) {
    case IC_GGML_F32:
        memcpy(dst, s, (size_t)n * 4);
        break;
    case IC_GGML_F16:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) dst[i] = ic_f16_to_f32(ld16(s + 2 * i));
        break;
    case IC_GGML_BF16:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) dst[i] = ic_bf16_to_f32(ld16(s + 2 * i));
        break;
    case IC_GGML_Q8_0:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < nb; i++) deq_q8_0(s + i * bb, dst + i * 32);
        break;
    case IC_GGML_Q4_0:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < nb; i++) deq_q4_0(s + i * bb, dst + i * 32);
        break;
    case IC_GGML_Q4_1:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < nb; i++) deq_q4_1(s + i * bb, dst + i * 32);
        break;
    default:
        return ic_error_set(err, "dequantize: ggml type %s is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1 are)",
                            ic_ggml_type_name(type));
    }
    return 0;
}

int ic_gguf_tensor_to_f32(const ic_gguf *g, const ic_gguf_tensor *t, float *dst, ic_error *err) {
    ic_error inner;
    ic_error_clear(&inner);
    if (ic_gguf_dequantize(t->type, t->data, t->n_bytes, dst, t->n_elems, &inner))
        return ic_error_wrap(err, "%s: tensor '%s': %s", g->path, t->name, inner.msg);
    return 0;
}

/* Row r of head h: HF keeps the two rotary halves apart (i*hd/2 + j), the
 * GGUF interleaves them (2*j + i). */
void ic_gguf_permute_qk(const float *src, float *dst, int64_t n_head, int64_t hd, int64_t n_cols) {
    IC_ASSERT(hd % 2 == 0 && src != dst);
    int64_t half = hd / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < half; j++)
                memcpy(dst + (h * hd + 2 * j + i) * n_cols, src + (h * hd + i * half + j) * n_cols,
                       (size_t)n_cols * sizeof(float));
}

void ic_gguf_unpermute_qk(const float *src, float *dst, int64_t n_head, int64_t hd, int64_t n_cols) {
    IC_ASSERT(hd % 2 == 0 && src != dst);
    int64_t half = hd / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < half; j++)
                memcpy(dst + (h * hd + i * half + j) * n_cols, src + (h * hd + 2 * j + i) * n_cols,
                       (size_t)n_cols * sizeof(float));
}
