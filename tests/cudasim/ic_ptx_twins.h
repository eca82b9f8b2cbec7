// The pure arithmetic of the inline-PTX wrappers of kernels/cuda/ic_ptx.cuh,
// written from the PTX ISA's fragment layouts, as plain host functions on
// whole-warp data. The emulator's twins (ic_cudasim) gather every lane's
// operands, call these and scatter the results; tests/gpu/test_ptx_twins.cu
// calls the same functions from nvcc-compiled host code and compares them
// with the hardware bit for bit. No emulator state here: header-only, C++11.
#ifndef IC_PTX_TWINS_H
#define IC_PTX_TWINS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// ---- bf16 <-> fp32, bit level ---------------------------------------------
// Round to nearest even on the bit pattern. That rule is exact for normals,
// subnormals (same exponent field as fp32) and overflow (rounds up to the
// infinity pattern); NaN becomes the canonical quiet NaN 0x7FFF, which is
// what cvt.rn.bf16.f32 produces (checked on the GPU by test_ptx_twins).
static inline uint16_t ic_twin_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFFu;
    uint32_t lsb = (u >> 16) & 1u;
    return (uint16_t)((u + 0x7FFFu + lsb) >> 16);
}
static inline float ic_twin_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 -------------------
// How the tensor core sums c + sum_k a_k b_k. The products of bf16 are exact
// in fp32; the summation is the open question, so the twin has several models
// and the GPU test reports which one the hardware matches:
//   IC_MMA_DOUBLE_RNE  exact sum (double), rounded once to nearest even;
//   IC_MMA_FP32_SEQ    c, then fp32 fmaf over k = 0..15 in order;
//   IC_MMA_FUSED_TRUNC per group of `group` k-terms: the group's products and
//                      the running accumulator are aligned to the largest
//                      exponent among them (a product's exponent: the sum of
//                      its factors' exponents), each truncated (toward zero) to
//                      `frac_bits` bits below that exponent, summed exactly,
//                      and the sum truncated to fp32 (round toward zero);
//                      the result is the accumulator of the next group.
// Non-finite inputs use IEEE double arithmetic; a NaN result is 0x7FFFFFFF.
enum { IC_MMA_DOUBLE_RNE = 0, IC_MMA_FP32_SEQ = 1, IC_MMA_FUSED_TRUNC = 2 };
typedef struct {
    int kind, group, frac_bits;
} ic_mma_model;

// The twin's model in the emulator: fused over all 16 products and c, 25
// bits below the largest exponent, truncated, round toward zero. On an H200
// (2026-12-01, tests/gpu/test_ptx_twins.cu) it matched all 196608 outputs of
// random data bit for bit, including inputs with inf, NaN, subnormals and
// overflow mixed in.
#ifndef IC_MMA_DEFAULT_MODEL
#define IC_MMA_DEFAULT_MODEL {IC_MMA_FUSED_TRUNC, 16, 25}
#endif
static inline ic_mma_model ic_mma_default_model(void) {
    ic_mma_model m = IC_MMA_DEFAULT_MODEL;
    return m;
}

static inline float ic_twin_rz_f32(double d) {
    float f = (float)d;
    if (fabs((double)f) > fabs(d)) f = nextafterf(f, 0.0f);
    return f;
}

static inline float ic_twin_canon_nan(float f) {
    if (f != f) {
        uint32_t u = 0x7FFFFFFFu;
        memcpy(&f, &u, 4);
    }
    return f;
}

static inline int ic_twin_exp(float x) {
    int e = ilogb(x);
    return e < -126 ? -126 : e;
}

// One output element: acc + sum_{k<16} a[k] * b[k] under model m.
static inline float ic_twin_dot16(float acc, const float a[16], const float b[16], ic_mma_model m) {
    if (m.kind == IC_MMA_FP32_SEQ) {
        for (int k = 0; k < 16; k++) acc = fmaf(a[k], b[k], acc);
        return ic_twin_canon_nan(acc);
    }
    if (m.kind == IC_MMA_DOUBLE_RNE) {
        double s = acc;
        for (int k = 0; k < 16; k++) s += (double)a[k] * (double)b[k];
        return ic_twin_canon_nan((float)s);
    }
    int g = m.group > 0 && m.group <= 16 ? m.group : 16;
    for (int k0 = 0; k0 < 16; k0 += g) {
        int n = 16 - k0 < g ? 16 - k0 : g;
        // A product's exponent is the sum of its factors' exponents (its
        // significand lies in [1, 4), the carry is not renormalised before
        // the alignment); subnormals count with exponent -126.
        double t[17];
        int ex[17];
        t[0] = acc;
        ex[0] = acc != 0.0f ? ic_twin_exp(acc) : -100000;
        for (int k = 0; k < n; k++) {
            t[k + 1] = (double)a[k0 + k] * (double)b[k0 + k];
            ex[k + 1] = t[k + 1] != 0.0 ? ic_twin_exp(a[k0 + k]) + ic_twin_exp(b[k0 + k]) : -100000;
        }
        int finite = 1, emax = -100000;
        for (int i = 0; i <= n; i++) {
            if (!isfinite(t[i])) finite = 0;
            else if (ex[i] > emax) emax = ex[i];
        }
        if (!finite || emax == -100000) {
            double s = 0.0;
            for (int i = 0; i <= n; i++) s += t[i];
            acc = ic_twin_canon_nan((float)s);
            if (acc != acc) return acc;
            continue;
        }
        int scale = emax - m.frac_bits;
        int64_t sum = 0;
        for (int i = 0; i <= n; i++) sum += (int64_t)trunc(ldexp(t[i], -scale));
        double v = ldexp((double)sum, scale);
        // An exponent past fp32's range gives inf (the H200 does), not the
        // largest finite value round-toward-zero would.
        acc = fabs(v) >= 0x1p128 ? (float)v : ic_twin_rz_f32(v);
    }
    return acc;
}

// Whole-warp mma: lane l holds a[l][0..3], b[l][0..1], c[l][0..3] in the
// PTX ISA's layout for m16n8k16 (groupID g = l >> 2, t = l & 3):
//   A (16x16 row): a[l][r] holds the pair A[row][col], A[row][col+1] (low
//     half first) with row = g + 8*(r & 1), col = 2t + 8*(r >> 1);
//   B (16x8 col):  b[l][r] holds B[2t + 8r][g], B[2t + 8r + 1][g];
//   C, D (16x8):   c[l][r] is C[g + 8*(r >> 1)][2t + (r & 1)].
static inline void ic_twin_mma_m16n8k16_bf16_f32_model(const uint32_t a[32][4],
                                                       const uint32_t b[32][2],
                                                       const float c[32][4], float d[32][4],
                                                       ic_mma_model m) {
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, t = l & 3;
        for (int r = 0; r < 4; r++) {
            int row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
            A[row][col] = ic_twin_bf16_to_f32((uint16_t)(a[l][r] & 0xFFFFu));
            A[row][col + 1] = ic_twin_bf16_to_f32((uint16_t)(a[l][r] >> 16));
            C[g + 8 * (r >> 1)][2 * t + (r & 1)] = c[l][r];
        }
        for (int r = 0; r < 2; r++) {
            B[2 * t + 8 * r][g] = ic_twin_bf16_to_f32((uint16_t)(b[l][r] & 0xFFFFu));
            B[2 * t + 8 * r + 1][g] = ic_twin_bf16_to_f32((uint16_t)(b[l][r] >> 16));
        }
    }
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, t = l & 3;
        for (int r = 0; r < 4; r++) {
            int row = g + 8 * (r >> 1), col = 2 * t + (r & 1);
            float bc[16];
            for (int k = 0; k < 16; k++) bc[k] = B[k][col];
            d[l][r] = ic_twin_dot16(C[row][col], A[row], bc, m);
        }
    }
}

static inline void ic_twin_mma_m16n8k16_bf16_f32(const uint32_t a[32][4], const uint32_t b[32][2],
                                                 const float c[32][4], float d[32][4]) {
    ic_twin_mma_m16n8k16_bf16_f32_model(a, b, c, d, ic_mma_default_model());
}

// ---- ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16 --------------
// nmat 8x8 matrices of b16; row i of matrix j starts at rows[8j + i] (the
// address lane 8j + i passes; lanes >= 8*nmat pass addresses that are not
// read). Lane l receives, in r[l][j], the pair of matrix j at
// row l/4, columns 2(l%4) and 2(l%4)+1 (low half first); with .trans the
// matrix is read transposed: elements [2(l%4)][l/4] and [2(l%4)+1][l/4].
static inline void ic_twin_ldmatrix(const void *const rows[32], int nmat, int trans,
                                    uint32_t r[32][4]) {
    for (int l = 0; l < 32; l++) {
        for (int j = 0; j < nmat; j++) {
            uint16_t e[2];
            for (int h = 0; h < 2; h++) {
                int row = l / 4, col = 2 * (l % 4) + h;
                if (trans) {
                    int tmp = row;
                    row = col;
                    col = tmp;
                }
                memcpy(&e[h], (const unsigned char *)rows[8 * j + row] + 2 * col, 2);
            }
            r[l][j] = (uint32_t)e[0] | ((uint32_t)e[1] << 16);
        }
    }
}

// ---- cp.async.cg.shared.global [dst], [src], 16 ---------------------------
// The copy itself: 16 bytes. When it happens (at the cp.async.wait_group that
// covers its group) is the emulator's business (kernels/cuda/ic_ptx.cuh).
static inline void ic_twin_cp_async16(void *dst, const void *src) { memcpy(dst, src, 16); }

#endif
