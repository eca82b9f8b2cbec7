// kernels/cuda/attention_decode.cu in the CPU SIMT emulator against a double
// oracle (scores, softmax, weighted sum of V in double from the same fp32 or
// bf16-rounded q, K, V): T = 1, 7, 300 (5 splits), 1000 (16 splits);
// H/Hkv = 9/3 (SmolLM2: 3 heads a block), 4/4 (one), 8/1 (two sub-groups of
// 4), 5/1 (sub-groups of 3 and 2); d = 64 and 8 (16-byte packs), 20 and 6
// (element loads where d is not a multiple of the pack), and one case with
// every pointer one element off 16-byte alignment; fp32 and bf16; lse
// returned or NULL. Outputs are poisoned (NaN) first.
//
// Tolerances: out relative to sum_t p_t |v_t| (>= |out|): fp32 5e-6, bf16
// 4e-3 (one bf16 rounding); lse (fp32 output) 5e-6 of |lse| + 1.
#include <math.h>

#include "ic_optest.h"

static void oracle(double *out, double *osc, double *lse, const float *q, const float *k,
                   const float *v, int T, int H, int Hkv, int d) {
    const int gs = H / Hkv;
    double *p = (double *)malloc(sizeof(double) * (size_t)T);
    for (int h = 0; h < H; h++) {
        const int g = h / gs;
        double m = -INFINITY;
        for (int t = 0; t < T; t++) {
            double s = 0.0;
            for (int c = 0; c < d; c++)
                s += (double)q[(size_t)h * d + c] * k[((size_t)t * Hkv + g) * d + c];
            p[t] = s / sqrt((double)d);
            m = p[t] > m ? p[t] : m;
        }
        double l = 0.0;
        for (int t = 0; t < T; t++) l += (p[t] = exp(p[t] - m));
        lse[h] = m + log(l);
        for (int c = 0; c < d; c++) {
            double a = 0.0, sa = 0.0;
            for (int t = 0; t < T; t++) {
                const double vv = v[((size_t)t * Hkv + g) * d + c];
                a += p[t] * vv;
                sa += p[t] * fabs(vv);
            }
            out[(size_t)h * d + c] = a / l;
            osc[(size_t)h * d + c] = sa / l;
        }
    }
    free(p);
}

static void one(ic_dtype dt, int T, int H, int Hkv, int d, int off, int with_lse, uint64_t seed) {
    const size_t nq = (size_t)H * d, nkv = (size_t)T * Hkv * d;
    float *q = optest_rand(nq, seed, -1.5f, 1.5f, dt);
    float *k = optest_rand(nkv, seed + 1, -1.5f, 1.5f, dt);
    float *v = optest_rand(nkv, seed + 2, -1.0f, 1.0f, dt);
    double *ro = (double *)malloc(sizeof(double) * nq), *rs = (double *)malloc(sizeof(double) * nq);
    double *rl = (double *)malloc(sizeof(double) * (size_t)H);
    oracle(ro, rs, rl, q, k, v, T, H, Hkv, d);

    ic_ctx probe = optest_ctx(0);
    ic_ctx ctx = optest_ctx(ic_attention_decode_workspace_bytes_cuda(&probe, T, H, d));
    ic_arena_free(&probe.ws);
    optest_buf dq(dt, nq, off), dk(dt, nkv, off), dv(dt, nkv, off), dout(dt, nq, off);
    optest_buf dlse(IC_F32, (size_t)H);
    dq.put(q);
    dk.put(k);
    dv.put(v);
    dout.poison();
    dlse.poison();
    ic_attention_decode_forward_cuda(&ctx, dt, dout.p, with_lse ? (float *)dlse.p : NULL, dq.p,
                                     dk.p, dv.p, T, H, Hkv, d);
    float *got = (float *)malloc(sizeof(float) * nq), *gl = (float *)malloc(sizeof(float) * (size_t)H);
    dout.get(got);
    char name[128];
    snprintf(name, sizeof name, "decode %s T=%d H=%d Hkv=%d d=%d%s out", optest_dt(dt), T, H, Hkv,
             d, off ? " unaligned" : "");
    optest_check(name, got, ro, rs, nq, dt == IC_BF16 ? IC_ORACLE_TOL_BF16 : 5e-6);
    if (with_lse) {
        dlse.get(gl);
        double *ls = (double *)malloc(sizeof(double) * (size_t)H);
        for (int h = 0; h < H; h++) ls[h] = fabs(rl[h]) + 1.0;
        snprintf(name, sizeof name, "decode %s T=%d H=%d Hkv=%d d=%d%s lse", optest_dt(dt), T, H,
                 Hkv, d, off ? " unaligned" : "");
        optest_check(name, gl, rl, ls, (size_t)H, 5e-6);
        free(ls);
    } else {
        // lse == NULL: the kernel must leave the buffer alone (still NaN)
        dlse.get(gl);
        int untouched = 1;
        for (int h = 0; h < H; h++) untouched &= gl[h] != gl[h];
        g_cases++;
        if (!untouched) g_failed++;
        printf("%-56s %s\n", "decode lse NULL leaves lse alone", untouched ? "PASS" : "FAIL");
    }
    free(q); free(k); free(v); free(ro); free(rs); free(rl); free(got); free(gl);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    const ic_dtype dts[2] = {IC_F32, IC_BF16};
    for (int x = 0; x < 2; x++) {
        const ic_dtype dt = dts[x];
        const uint64_t sd = 1000u * (uint64_t)(x + 1);
        one(dt, 1, 9, 3, 64, 0, 1, sd + 1);
        one(dt, 7, 9, 3, 64, 0, 1, sd + 2);
        one(dt, 300, 9, 3, 64, 0, 1, sd + 3);
        one(dt, 1000, 9, 3, 64, 0, 0, sd + 4);
        one(dt, 7, 4, 4, 64, 0, 1, sd + 5);
        one(dt, 300, 4, 4, 8, 0, 1, sd + 6);
        one(dt, 7, 9, 3, 8, 0, 1, sd + 7);
        one(dt, 300, 8, 1, 64, 0, 1, sd + 8);
        one(dt, 7, 5, 1, 20, 0, 1, sd + 9);
        one(dt, 70, 4, 2, 6, 0, 1, sd + 10);
        one(dt, 300, 9, 3, 64, 1, 1, sd + 11);
    }
    return optest_end("attention_decode");
}
