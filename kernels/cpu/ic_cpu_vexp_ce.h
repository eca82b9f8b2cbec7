/* A branch-free expf that GCC vectorises, for the cross-entropy's row
 * log-sum-exp and softmax (kernels/cpu/cross_entropy.c, lm_head_loss.c).
 * Local to the cross-entropy until the CPU kernels share one vectorised exp
 * header (the lead unifies them).
 *
 * Why not libm: glibc's expf is a call per element that no loop around it
 * can vectorise; the LM head's loss takes V = 49k-150k exponentials per
 * token, about as many cycles as a third of the head's GEMM.
 *
 * Method (Cody-Waite): exp(x) = 2^n * exp(r), n = rint(x / ln 2),
 * r = x - n ln 2 in [-ln2/2, ln2/2], ln 2 split into a hi part with few
 * mantissa bits (n * hi is exact for |n| <= 2^8) and a lo part; exp(r) by
 * its Taylor polynomial to degree 7 (truncation < 6e-9 relative), 2^n by
 * building the float's exponent field. Max relative error 1.0e-7 measured
 * (about 1.7 ulp; the rounding of the Horner steps, not the truncation)
 * over [-87.3, 88.3]; tests/unit/test_vexp_ce.c holds it under 2.0e-7
 * against double exp on a dense sweep. Outside that range: x < -87.33 gives 0 (the
 * true value is below FLT_MIN: an absolute error under 1.2e-38), x > 88.37
 * gives +inf, NaN gives NaN.
 *
 * The callers put `#pragma omp simd` on their loops (the build is -O2,
 * whose cost model refuses loops with a remainder; OpenMP simd loops are
 * vectorised regardless) and compile those loops once per ISA with
 * IC_VEXP_CLONES, since the build targets baseline x86-64 (SSE2). The
 * clones run without -ftrapping-math: with it GCC will not if-convert the
 * float compares of the range selects, and no loop vectorises. ic_ce_expf is
 * always_inline because GCC 12 does not inline a plain inline function
 * into target clones, which also stops the vectoriser. */
#ifndef IC_CPU_VEXP_CE_H
#define IC_CPU_VEXP_CE_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define IC_VEXP_CLONES \
    __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default"), \
                   optimize("no-trapping-math")))
#else
#define IC_VEXP_CLONES
#endif

static inline __attribute__((always_inline)) float ic_ce_expf(float x) {
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;            /* 8 significant bits */
    const float ln2_lo = -2.12194440054690583e-4f; /* ln 2 - ln2_hi */
    const float lo = -87.33f, hi = 88.37f;
    float xc = __builtin_isless(x, lo) ? lo : x;
    xc = __builtin_isgreater(xc, hi) ? hi : xc;
    /* rint by the 1.5 * 2^23 trick: exact for |x / ln 2| < 2^22 */
    const float shift = 12582912.0f;
    float n = (xc * log2e + shift) - shift;
    float r = (xc - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;   /* n in [-126, 127] */
    union { int32_t i; float f; } two_n = {.i = e};
    float y = p * two_n.f;
    y = __builtin_isless(x, lo) ? 0.0f : y;
    y = __builtin_isgreater(x, hi) ? __builtin_inff() : y;
    return y;
}

#endif
