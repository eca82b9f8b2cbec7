/* A float exp the compiler can vectorise, for the softmax and log-sum-exp
 * loops of the CPU ops. libm's expf is a call per element, so a loop over
 * it stays scalar (the exp of the attention softmax was ~13% of a CPU
 * prefill); ic_vexpf is branch-free straight-line code on floats and 32-bit
 * integers, so a loop marked `#pragma omp simd` (or -O3) turns it into
 * SSE2/AVX code, and called alone it is an ordinary scalar function.
 *
 * Method (Cody-Waite): exp(x) = 2^n * exp(r) with n = round(x / ln2) and
 * r = x - n ln2 in [-ln2/2, ln2/2], ln2 split in a 9-bit head (n * head is
 * exact for |n| < 2^15) and a tail; exp(r) = 1 + r + r^2 q(r) with q a
 * degree-4 polynomial fitted (weighted least squares iterated towards
 * minimax on the relative error, approximation error 3.1e-9) so that float
 * rounding dominates. 2^n is built from exponent bits in two halves, so the
 * product rounds to subnormals, 0 and inf by itself with no special cases.
 *
 * Accuracy (tests/unit/test_cpu_vexp.c proves it against double exp on a
 * dense sweep of [-104, 89] and the special values):
 *   max relative error 1.2e-7 (2 ulp; the sweeps see 8.1e-8) wherever
 *   exp(x) is a normal float (-87.33 <= x <= 88.72); below that the result
 *   is subnormal with an absolute error under 2^-148; 0 for x <= -104 and
 *   -inf, +inf for x >= 88.73 and +inf, NaN for NaN. These hold with and
 *   without FMA contraction (the reduction is exact either way).
 * Softmax calls it with x = s - max <= 0, where all of this is ample: its
 * sums are of terms in (0, 1] and the largest is exactly exp(0) = 1. */
#ifndef IC_CPU_VEXP_H
#define IC_CPU_VEXP_H

#include <stdint.h>

/* Bit casts through a union (defined in C99 and later): GCC vectorises
 * these, where a memcpy pun kept the loop scalar. */
typedef union { float f; uint32_t u; } ic_vexp_pun;
static inline float ic_vexp_bits_to_float(uint32_t u) { ic_vexp_pun p = {.u = u}; return p.f; }
static inline uint32_t ic_vexp_float_to_bits(float f) { ic_vexp_pun p = {.f = f}; return p.u; }

/* c ? a : b on the bits: a ?: on floats becomes a branch that GCC then
 * threads into copies of the code with constant, overflowing products,
 * which -ftrapping-math forbids it to if-convert, so the loop stayed scalar. */
static inline float ic_vexp_select(int c, float a, float b) {
    const uint32_t m = 0u - (uint32_t)c;
    return ic_vexp_bits_to_float((ic_vexp_float_to_bits(a) & m) | (ic_vexp_float_to_bits(b) & ~m));
}

static inline float ic_vexpf(float x) {
    /* Clamp so that n stays in [-150, 129] and both halves of 2^n below are
     * normal floats; outside, exp already rounds to 0 or overflows, and the
     * final product gets there by itself. Comparisons, not fminf/fmaxf,
     * so that a NaN stays NaN (both compare false). */
    float xc = ic_vexp_select(x < -104.0f, -104.0f, x);
    xc = ic_vexp_select(xc > 89.0f, 89.0f, xc);
    /* n = round(x log2 e): adding 1.5 * 2^23 rounds away the fraction and
     * leaves n in the low mantissa bits of t (no float-to-int conversion). */
    const float shift = 12582912.0f;
    const float t = xc * 1.44269504088896341f + shift;
    const float nf = t - shift;
    float r = xc - nf * 0.693359375f;   /* ln2 head: 0x3f318000, 9 significant bits */
    r = r - nf * -2.12194440e-4f;       /* ln2 - head */
    float q = 1.381461276e-03f;
    q = q * r + 8.368710056e-03f;
    q = q * r + 4.166838899e-02f;
    q = q * r + 1.666652113e-01f;
    q = q * r + 4.999999404e-01f;
    const float p = 1.0f + (r + (r * r) * q);
    const int32_t n = (int32_t)(ic_vexp_float_to_bits(t) - ic_vexp_float_to_bits(shift));
    const int32_t n1 = n / 2, n2 = n - n1;   /* each in [-75, 65] */
    const float s1 = ic_vexp_bits_to_float((uint32_t)(n1 + 127) << 23);
    const float s2 = ic_vexp_bits_to_float((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

/* x[i] = exp(x[i] - m) for i < n; returns their float sum (summed in a
 * fixed lane order: the same bits for the same input on every call). */
static inline float ic_vexp_shift_sum(float *x, int n, float m) {
    float sum = 0.0f;
    #pragma omp simd reduction(+:sum)
    for (int i = 0; i < n; i++) {
        const float e = ic_vexpf(x[i] - m);
        x[i] = e;
        sum += e;
    }
    return sum;
}

#endif
