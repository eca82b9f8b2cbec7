/* Score rows for the top-k tests (tests/cudasim/test_topk.cpp,
 * tests/gpu/test_topk_cuda.c), plain C99 so both include it. Modes:
 *   TOPK_RANDOM   uniform in [-4, 4): (almost) no ties;
 *   TOPK_TIES     quantised to 4 values: long runs of equal scores, so the
 *                 k-th score is shared by many positions (tie rule by s);
 *   TOPK_SPECIAL  ties plus NaN, +-inf, -0/+0, denormals, FLT_MAX;
 *   TOPK_FLAT     one value per row (the row's parity picks 0.5 or NaN):
 *                 the whole selection is the tie rule.
 * Columns past a row's last candidate (s > t) hold +inf bait: a kernel that
 * reads one changes its answer. */
#ifndef IC_TOPK_SCORES_H
#define IC_TOPK_SCORES_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ic_ops_oracle.h"

enum { TOPK_RANDOM, TOPK_TIES, TOPK_SPECIAL, TOPK_FLAT };

static inline const char *topk_mode_name(int mode) {
    static const char *names[] = {"random", "ties", "special", "flat"};
    return names[mode];
}

static inline float topk_denormal(int neg) {
    uint32_t b = 0x00000123u | (neg ? 0x80000000u : 0u);
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* S [t1 - t0, ld], row r = query t0 + r. */
static inline void topk_fill_scores(float *S, int t0, int t1, int ld, int mode, uint64_t seed) {
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int t = t0; t < t1; t++) {
        float *row = S + (size_t)(t - t0) * (size_t)ld;
        for (int s = 0; s < ld; s++) {
            float v;
            if (s > t) { row[s] = INFINITY; continue; }
            const uint64_t u = ic_oracle_next(&st);
            switch (mode) {
            case TOPK_RANDOM: v = ic_oracle_uniform(&st, -4.0f, 4.0f); break;
            case TOPK_TIES: v = (float)(int)(u % 4u) - 1.5f; break;
            case TOPK_SPECIAL: {
                const float sp[10] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, topk_denormal(0),
                                      topk_denormal(1), FLT_MAX, -FLT_MAX, 1.0f};
                v = (u >> 8) % 3u == 0 ? sp[(u >> 16) % 10u] : (float)(int)(u % 3u) - 1.0f;
                break;
            }
            default: v = (t & 1) ? NAN : 0.5f; break;
            }
            row[s] = v;
        }
    }
}

#endif
