/* Double-precision oracles of the element-wise and normalisation ops, for
 * the tests of their CUDA kernels (tests/gpu/test_cuda_ops.c on the GPU,
 * tests/cudasim/test_*.cpp in the emulator). Each follows the maths of the
 * CPU reference (kernels/cpu/<op>.c, kernels/ic_adamw_update.h,
 * kernels/ic_grad_norm.h) with every intermediate in double, from the same
 * fp32 (or bf16-rounded) inputs, so it is independent of both backends and
 * of their signatures. Where an op's error depends on a cancellation, the
 * oracle also returns a per-element scale the tolerance is relative to.
 * Plain C that also compiles as C++; static functions, header only. */
#ifndef IC_OPS_ORACLE_H
#define IC_OPS_ORACLE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Tolerances, relative to the oracle's |value| (or its scale):
 * fp32 storage: a few fp32 ulp (the kernels' expf is within 2 ulp, a fused
 *   multiply-add or a float-rounded cos/sin adds one): 1e-6.
 * bf16 storage: the fp32 result rounded to bf16 is off by at most half a
 *   bf16 ulp, <= 2^-8 of the value, plus the fp32 noise: 4e-3. */
#define IC_ORACLE_TOL_F32 1e-6
#define IC_ORACLE_TOL_BF16 4e-3

/* ---- bf16 on the host: round to nearest even, as __float2bfloat16 ---- */
static inline uint16_t ic_oracle_f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float ic_oracle_bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float ic_oracle_round_bf16(float f) { return ic_oracle_bf2f(ic_oracle_f2bf(f)); }

/* ---- deterministic inputs: splitmix64, uniform in [lo, hi), never 0 ---- */
static inline uint64_t ic_oracle_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline float ic_oracle_uniform(uint64_t *s, float lo, float hi) {
    for (;;) {
        double u = (double)(ic_oracle_next(s) >> 11) * (1.0 / 9007199254740992.0);
        float f = (float)(lo + (hi - lo) * u);
        if (f != 0.0f) return f;
    }
}
/* n values in [lo, hi); rounded to bf16 when bf16 != 0 (so that the
 * oracle sees exactly what the kernel reads). */
static inline void ic_oracle_fill(float *x, size_t n, uint64_t seed, float lo, float hi, int bf16) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        float f = ic_oracle_uniform(&s, lo, hi);
        if (bf16) {
            f = ic_oracle_round_bf16(f);
            if (f == 0.0f) f = lo > 0 ? lo : hi;  /* never zero after rounding either */
        }
        x[i] = f;
    }
}

/* ---- the ops ---- */
static inline void ic_oracle_embedding(double *out, const int32_t *tokens, const float *table, int L,
                                int D) {
    for (int t = 0; t < L; t++)
        for (int j = 0; j < D; j++)
            out[(size_t)t * D + j] = table[(size_t)tokens[t] * D + j];
}

static inline void ic_oracle_rmsnorm(double *out, const float *x, const float *w, int L, int D,
                              float eps) {
    for (int t = 0; t < L; t++) {
        const float *xr = x + (size_t)t * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        const double inv = 1.0 / sqrt(ss / D + (double)eps);
        for (int i = 0; i < D; i++) out[(size_t)t * D + i] = (double)w[i] * ((double)xr[i] * inv);
    }
}

/* sign +1 forward, -1 backward; scale = |a| + |b| of the element's pair
 * (|x| past rot_dim, where the op must leave x unchanged). */
static inline void ic_oracle_rope(double *out, double *scale, const float *x, int L, int n_heads,
                           int head_dim, int rot_dim, int pos0, float theta, double sign) {
    const int half = rot_dim / 2;
    for (int t = 0; t < L; t++) {
        const double p = (double)pos0 + (double)t;
        for (int h = 0; h < n_heads; h++) {
            const size_t base = ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                const double inv_freq = pow((double)theta, -2.0 * (double)i / (double)rot_dim);
                const double c = cos(p * inv_freq), s = sign * sin(p * inv_freq);
                const double a = x[base + i], b = x[base + i + half];
                out[base + i] = a * c - b * s;
                out[base + i + half] = b * c + a * s;
                scale[base + i] = scale[base + i + half] = fabs(a) + fabs(b);
            }
            for (int i = rot_dim; i < head_dim; i++) {
                out[base + i] = x[base + i];
                scale[base + i] = fabs((double)x[base + i]);
            }
        }
    }
}

static inline void ic_oracle_swiglu(double *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const double a = gate[i];
        out[i] = a / (1.0 + exp(-a)) * (double)up[i];
    }
}

/* One AdamW element (kernels/ic_adamw_update.h) with the fp32 coefficients
 * taken exactly; scale_* are the magnitudes of each result's terms. */
static inline void ic_oracle_adamw(double *p_out, double *m_out, double *v_out, double *scale_p,
                            double *scale_m, double *scale_v, const float *p, const float *g,
                            const float *m, const float *v, size_t n, float beta1, float beta2,
                            float eps, float decay_mul, float step_size, float inv_sqrt_bc2) {
    for (size_t i = 0; i < n; i++) {
        const double gi = g[i];
        const double mi = (double)beta1 * m[i] + (1.0 - (double)beta1) * gi;
        const double vi = (double)beta2 * v[i] + (1.0 - (double)beta2) * gi * gi;
        const double step = (double)step_size * mi / (sqrt(vi) * (double)inv_sqrt_bc2 + (double)eps);
        p_out[i] = (double)p[i] * (double)decay_mul - step;
        m_out[i] = mi;
        v_out[i] = vi;
        scale_p[i] = fabs((double)p[i] * (double)decay_mul) + fabs(step);
        scale_m[i] = fabs((double)beta1 * m[i]) + fabs((1.0 - (double)beta1) * gi);
        scale_v[i] = fabs((double)beta2 * v[i]) + fabs((1.0 - (double)beta2) * gi * gi);
    }
}

/* Sum of squares with compensated (Kahan) summation: closer to the exact
 * sum than either backend's blocked double sum. */
static inline double ic_oracle_sumsq(const float *g, size_t n) {
    double s = 0.0, c = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double y = (double)g[i] * (double)g[i] - c;
        const double t = s + y;
        c = (t - s) - y;
        s = t;
    }
    return s;
}

/* ---- the comparison: |got - ref| <= tol * scale for every element (scale
 * = |ref| when NULL); a NaN fails. Prints one line per case and counts it. */
static inline int ic_oracle_check(const char *name, const float *got, const double *ref,
                           const double *scale, size_t n, double tol, int *cases, int *failed) {
    double max_abs = 0.0, max_rel = 0.0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - ref[i]);
        const double s = scale ? scale[i] : fabs(ref[i]);
        if (!(err <= tol * s)) {
            if (!bad) first_bad = i;
            bad++;
        }
        if (err > max_abs || err != err) max_abs = err;
        const double rel = s > 0 ? err / s : err;
        if (rel > max_rel || rel != rel) max_rel = rel;
    }
    (*cases)++;
    if (bad) (*failed)++;
    printf("%-56s max abs %.3e  max rel %.3e  tol %.0e  %s", name, max_abs, max_rel, tol,
           bad ? "FAIL" : "PASS");
    if (bad)
        printf("  (%zu bad, first [%zu] got %.9g want %.9g)", bad, first_bad,
               (double)got[first_bad], ref[first_bad]);
    printf("\n");
    fflush(stdout);
    return bad == 0;
}

/* Sum of squares: relative error 1e-12 (double sums of up to 10M terms). */
#define IC_ORACLE_TOL_SUMSQ 1e-12
static inline int ic_oracle_check_sumsq(const char *name, double got, double again, double ref,
                                 int *cases, int *failed) {
    const double err = fabs(got - ref), rel = err / ref;
    const int ok = rel <= IC_ORACLE_TOL_SUMSQ && got == again;  /* and run-to-run bitwise */
    (*cases)++;
    if (!ok) (*failed)++;
    printf("%-56s max abs %.3e  max rel %.3e  tol %.0e  %s  (%.17g%s)\n", name, err, rel,
           IC_ORACLE_TOL_SUMSQ, ok ? "PASS" : "FAIL", got,
           got == again ? "" : ", differs between two runs");
    fflush(stdout);
    return ok;
}

#endif
