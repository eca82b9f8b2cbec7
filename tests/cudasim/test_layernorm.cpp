// kernels/cuda/layernorm.cu in the CPU SIMT emulator against double oracles:
// rows 1, 7, 300, 1100 (several column-sum chunks, a ragged last one),
// n = 1, 3, 33, 64, 130 (one partial warp to a strided row), out of place
// (poisoned) and in place; the backward accumulates into random initial
// gradients, with and without dx, and a second call gives the same bits.
#include <math.h>

#include "ic_optest.h"

extern "C" {
#include "kernels/ic_layernorm.h"
}

static void fwd_oracle(double *y, double *mu, double *rs, const float *x, const float *w,
                       const float *b, int rows, int n, float eps, double *scale) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        double s = 0.0, v = 0.0;
        for (int i = 0; i < n; i++) s += xr[i];
        const double m = s / n;
        for (int i = 0; i < n; i++) v += (xr[i] - m) * (xr[i] - m);
        const double q = 1.0 / sqrt(v / n + (double)eps);
        mu[r] = m;
        rs[r] = q;
        for (int i = 0; i < n; i++) {
            const double xh = (xr[i] - m) * q;
            y[(size_t)r * n + i] = xh * w[i] + b[i];
            scale[(size_t)r * n + i] = fabs(xh * w[i]) + fabs((double)b[i]) + 1e-30;
        }
    }
}

static void forward_case(int rows, int n, int in_place, uint64_t seed) {
    ic_ctx ctx = optest_ctx(0);
    const size_t N = (size_t)rows * n;
    const float eps = 1e-6f;
    float *x = optest_rand(N, seed, -2.0f, 3.0f, IC_F32);
    float *w = optest_rand((size_t)n, seed + 1, 0.5f, 1.5f, IC_F32);
    float *b = optest_rand((size_t)n, seed + 2, -0.5f, 0.5f, IC_F32);
    double *ref = (double *)malloc(sizeof(double) * N), *sc = (double *)malloc(sizeof(double) * N);
    double *mu = (double *)malloc(sizeof(double) * rows), *rs = (double *)malloc(sizeof(double) * rows);
    fwd_oracle(ref, mu, rs, x, w, b, rows, n, eps, sc);
    optest_buf dx(IC_F32, N), dw(IC_F32, (size_t)n), db(IC_F32, (size_t)n), dy(IC_F32, N);
    optest_buf dmu(IC_F32, (size_t)rows), drs(IC_F32, (size_t)rows);
    dx.put(x); dw.put(w); db.put(b);
    dy.poison(); dmu.poison(); drs.poison();
    optest_buf &o = in_place ? dx : dy;
    ic_layernorm_forward_cuda(&ctx, (float *)o.p, (float *)dmu.p, (float *)drs.p, (const float *)dx.p,
                              (const float *)dw.p, (const float *)db.p, rows, n, eps);
    float *got = (float *)malloc(sizeof(float) * N), *gm = (float *)malloc(sizeof(float) * rows);
    float *gr = (float *)malloc(sizeof(float) * rows);
    o.get(got); dmu.get(gm); drs.get(gr);
    char name[128];
    snprintf(name, sizeof name, "layernorm fwd rows=%d n=%d%s", rows, n, in_place ? " in place" : "");
    optest_check(name, got, ref, sc, N, 1e-6);
    double *mus = (double *)malloc(sizeof(double) * rows);
    for (int r = 0; r < rows; r++) mus[r] = fabs(mu[r]) + 1.0 / rs[r];   // the row's spread
    snprintf(name, sizeof name, "layernorm mean rows=%d n=%d", rows, n);
    optest_check(name, gm, mu, mus, (size_t)rows, 1e-6);
    snprintf(name, sizeof name, "layernorm rstd rows=%d n=%d", rows, n);
    optest_check(name, gr, rs, NULL, (size_t)rows, 1e-6);
    free(x); free(w); free(b); free(ref); free(sc); free(mu); free(rs); free(got); free(gm);
    free(gr); free(mus);
    ic_arena_free(&ctx.ws);
}

static void backward_case(int rows, int n, int with_dx, uint64_t seed) {
    ic_ctx ctx = optest_ctx(ic_layernorm_backward_workspace_bytes_cuda(NULL, rows, n));
    const size_t N = (size_t)rows * n;
    float *x = optest_rand(N, seed, -2.0f, 3.0f, IC_F32);
    float *g = optest_rand(N, seed + 1, -1.0f, 1.0f, IC_F32);
    float *w = optest_rand((size_t)n, seed + 2, 0.5f, 1.5f, IC_F32);
    float *mu = optest_rand((size_t)rows, seed + 3, -0.3f, 0.3f, IC_F32);
    float *rs = optest_rand((size_t)rows, seed + 4, 0.5f, 2.0f, IC_F32);
    float *dx0 = optest_rand(N, seed + 5, -0.1f, 0.1f, IC_F32);
    float *dw0 = optest_rand((size_t)n, seed + 6, -0.1f, 0.1f, IC_F32);
    float *db0 = optest_rand((size_t)n, seed + 7, -0.1f, 0.1f, IC_F32);
    double *rdx = (double *)malloc(sizeof(double) * N), *sdx = (double *)malloc(sizeof(double) * N);
    double *rdw = (double *)calloc((size_t)n, sizeof(double)), *sdw = (double *)calloc((size_t)n, sizeof(double));
    double *rdb = (double *)calloc((size_t)n, sizeof(double)), *sdb = (double *)calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) { rdw[i] = sdw[i] = dw0[i]; rdb[i] = db0[i]; sdb[i] = fabs((double)db0[i]); }
    for (int i = 0; i < n; i++) sdw[i] = fabs((double)dw0[i]);
    for (int r = 0; r < rows; r++) {
        double sg = 0, sgx = 0;
        for (int i = 0; i < n; i++) {
            const size_t e = (size_t)r * n + i;
            const double xh = ((double)x[e] - mu[r]) * rs[r], gh = (double)g[e] * w[i];
            sg += gh; sgx += gh * xh;
            rdw[i] += g[e] * xh; sdw[i] += fabs(g[e] * xh);
            rdb[i] += g[e]; sdb[i] += fabs((double)g[e]);
        }
        const double mg = sg / n, mgx = sgx / n;
        for (int i = 0; i < n; i++) {
            const size_t e = (size_t)r * n + i;
            const double xh = ((double)x[e] - mu[r]) * rs[r], gh = (double)g[e] * w[i];
            rdx[e] = dx0[e] + rs[r] * (gh - mg - xh * mgx);
            sdx[e] = fabs((double)dx0[e]) + rs[r] * (fabs(gh) + fabs(mg) + fabs(xh * mgx)) + 1e-30;
        }
    }
    optest_buf bx(IC_F32, N), bg(IC_F32, N), bw(IC_F32, (size_t)n), bmu(IC_F32, (size_t)rows);
    optest_buf brs(IC_F32, (size_t)rows), bdx(IC_F32, N), bdw(IC_F32, (size_t)n), bdb(IC_F32, (size_t)n);
    bx.put(x); bg.put(g); bw.put(w); bmu.put(mu); brs.put(rs);
    float *got = (float *)malloc(sizeof(float) * N), *first = (float *)malloc(sizeof(float) * (N + 2 * n));
    char name[128];
    for (int rep = 0; rep < 2; rep++) {
        bdx.put(dx0); bdw.put(dw0); bdb.put(db0);
        ic_layernorm_backward_cuda(&ctx, with_dx ? (float *)bdx.p : NULL, (float *)bdw.p, (float *)bdb.p,
                                   (const float *)bg.p, (const float *)bx.p, (const float *)bmu.p,
                                   (const float *)brs.p, (const float *)bw.p, rows, n);
        if (ic_ws_mark(&ctx) != 0) { printf("layernorm backward kept workspace: FAIL\n"); g_failed++; }
        float *all = (float *)malloc(sizeof(float) * (N + 2 * n));
        bdx.get(all); bdw.get(all + N); bdb.get(all + N + n);
        if (rep == 0) {
            memcpy(first, all, sizeof(float) * (N + 2 * n));
            if (with_dx) {
                snprintf(name, sizeof name, "layernorm bwd dx rows=%d n=%d", rows, n);
                optest_check(name, all, rdx, sdx, N, 1e-6);
            }
            snprintf(name, sizeof name, "layernorm bwd dweight rows=%d n=%d", rows, n);
            optest_check(name, all + N, rdw, sdw, (size_t)n, 1e-6);
            snprintf(name, sizeof name, "layernorm bwd dbias rows=%d n=%d", rows, n);
            optest_check(name, all + N + n, rdb, sdb, (size_t)n, 1e-6);
        } else {
            g_cases++;
            const int same = memcmp(first, all, sizeof(float) * (N + 2 * n)) == 0;
            if (!same) g_failed++;
            printf("layernorm bwd rows=%d n=%d second call same bits: %s\n", rows, n, same ? "PASS" : "FAIL");
        }
        free(all);
    }
    free(x); free(g); free(w); free(mu); free(rs); free(dx0); free(dw0); free(db0);
    free(rdx); free(sdx); free(rdw); free(sdw); free(rdb); free(sdb); free(got); free(first);
    ic_arena_free(&ctx.ws);
}

int main(void) {
    forward_case(1, 1, 0, 11);
    forward_case(7, 3, 0, 12);
    forward_case(7, 64, 0, 13);
    forward_case(33, 130, 0, 14);
    forward_case(20, 64, 1, 15);
    forward_case(5, 33, 0, 16);
    backward_case(1, 1, 1, 21);
    backward_case(7, 3, 1, 22);
    backward_case(300, 64, 1, 23);
    backward_case(1100, 33, 0, 24);
    backward_case(40, 130, 1, 25);
    return optest_end("layernorm");
}
