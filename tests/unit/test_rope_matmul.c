/* kernels: RoPE and the linear layer against double-precision loops;
 * RoPE backward as the transpose of the forward, matmul backward against
 * finite differences of a double-precision forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ic_matmul.h"
#include "kernels/ic_rope.h"
#include "testutil.h"

/* Independent oracle: rotate pair (i, i + rot/2) by p * theta^(-2i/rot). */
static void rope_ref(double *y, const float *x, int L, int H, int d, int rot, int pos0,
                     double theta) {
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++) {
            const float *v = x + ((size_t)t * H + h) * d;
            double *o = y + ((size_t)t * H + h) * d;
            for (int j = 0; j < d; j++) o[j] = v[j];
            for (int i = 0; i < rot / 2; i++) {
                double ang = (double)(pos0 + t) / pow(theta, 2.0 * i / rot);
                o[i] = v[i] * cos(ang) - v[i + rot / 2] * sin(ang);
                o[i + rot / 2] = v[i + rot / 2] * cos(ang) + v[i] * sin(ang);
            }
        }
}

static void check_rope(int L, int H, int d, int rot, int pos0, float theta, uint64_t seed) {
    ic_rng r; ic_rng_seed(&r, seed);
    size_t n = (size_t)L * H * d;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    float *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
    double *yr = malloc(n * sizeof *yr);
    ic_fill_normal(&r, x, n, 1.0f);
    ic_fill_normal(&r, dy, n, 1.0f);
    memcpy(y, x, n * sizeof *x);
    ic_rope_forward(ic_test_ctx(ic_rope_workspace_bytes(ic_test_ctx(0), rot)), y, L, H, d, rot, pos0, theta);
    rope_ref(yr, x, L, H, d, rot, pos0, theta);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { num += (y[i] - yr[i]) * (y[i] - yr[i]); den += yr[i] * yr[i]; }
    ck_assert_msg(sqrt(num / den) < 2e-6, "rope fwd rel err %g (L=%d rot=%d pos0=%d)",
                  sqrt(num / den), L, rot, pos0);
    for (size_t i = 0; i < n; i++)   /* dims past rot_dim untouched */
        if ((int)(i % d) >= rot) ck_assert(y[i] == x[i]);
    /* <dy, R x> == <R^T dy, x> */
    memcpy(dx, dy, n * sizeof *dy);
    ic_rope_backward(ic_test_ctx(ic_rope_workspace_bytes(ic_test_ctx(0), rot)), dx, L, H, d, rot, pos0, theta);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        lhs += (double)dy[i] * y[i]; rhs += (double)dx[i] * x[i];
        scale += fabs((double)dy[i] * y[i]);
    }
    ck_assert_msg(fabs(lhs - rhs) < 1e-6 * scale, "rope adjoint %g vs %g", lhs, rhs);
    /* backward(forward(x)) == x: the rotation is orthogonal */
    ic_rope_backward(ic_test_ctx(ic_rope_workspace_bytes(ic_test_ctx(0), rot)), y, L, H, d, rot, pos0, theta);
    ck_assert(ic_rel_err_f32(y, x, n) < 1e-6);
    free(x); free(y); free(dy); free(dx); free(yr);
}

START_TEST(test_rope) {
    check_rope(37, 3, 64, 64, 0, 100000.0f, 1);      /* teacher: full head_dim */
    check_rope(19, 4, 32, 16, 5, 10000.0f, 2);       /* indexer: partial rot dim */
    check_rope(5, 2, 8, 8, 70000, 100000.0f, 3);     /* far positions */
    check_rope(1, 1, 2, 2, 3, 500000.0f, 4);
}
END_TEST

static void matmul_ref(double *out, const double *x, const double *w, const double *b,
                       int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = b ? b[j] : 0.0;
            for (int k = 0; k < K; k++) s += x[(size_t)i * K + k] * w[(size_t)j * K + k];
            out[(size_t)i * N + j] = s;
        }
}

static double *to_f64(const float *a, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

/* loss(x, w, b) = sum dout * (x w^T + b), in double */
static double matmul_loss(const double *x, const double *w, const double *b, const double *dout,
                          int M, int N, int K) {
    double *o = malloc((size_t)M * N * sizeof *o);
    matmul_ref(o, x, w, b, M, N, K);
    double s = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) s += o[i] * dout[i];
    free(o);
    return s;
}

static void fd_grad(double *g, double *p, size_t n, const double *x, const double *w,
                    const double *b, const double *dout, int M, int N, int K) {
    const double h = 1e-4;
    for (size_t i = 0; i < n; i++) {
        double save = p[i];
        p[i] = save + h; double lp = matmul_loss(x, w, b, dout, M, N, K);
        p[i] = save - h; double lm = matmul_loss(x, w, b, dout, M, N, K);
        p[i] = save;
        g[i] = (lp - lm) / (2 * h);
    }
}

static void check_matmul(int M, int N, int K, int with_bias, uint64_t seed) {
    ic_rng r; ic_rng_seed(&r, seed);
    float *x = malloc((size_t)M * K * 4), *w = malloc((size_t)N * K * 4), *b = malloc((size_t)N * 4);
    float *out = malloc((size_t)M * N * 4), *dout = malloc((size_t)M * N * 4);
    ic_fill_normal(&r, x, (size_t)M * K, 1.0f);
    ic_fill_normal(&r, w, (size_t)N * K, 0.5f);
    ic_fill_normal(&r, b, (size_t)N, 1.0f);
    ic_fill_normal(&r, dout, (size_t)M * N, 1.0f);
    ic_fill_normal(&r, out, (size_t)M * N, 1.0f);   /* garbage: must be overwritten */
    ic_matmul_forward(ic_test_ctx(0), out, x, w, with_bias ? b : NULL, M, N, K);
    double *xd = to_f64(x, (size_t)M * K), *wd = to_f64(w, (size_t)N * K), *bd = to_f64(b, N);
    double *dod = to_f64(dout, (size_t)M * N), *ref = malloc((size_t)M * N * 8);
    matmul_ref(ref, xd, wd, with_bias ? bd : NULL, M, N, K);
    double *outd = to_f64(out, (size_t)M * N);
    ck_assert_msg(ic_rel_err_f64(outd, ref, (size_t)M * N) < 1e-5, "matmul fwd M=%d N=%d K=%d", M, N, K);

    /* backward accumulates: start from random contents and subtract them */
    float *dx = malloc((size_t)M * K * 4), *dw = malloc((size_t)N * K * 4), *db = malloc((size_t)N * 4);
    ic_fill_normal(&r, dx, (size_t)M * K, 1.0f);
    ic_fill_normal(&r, dw, (size_t)N * K, 1.0f);
    ic_fill_normal(&r, db, (size_t)N, 1.0f);
    double *dx0 = to_f64(dx, (size_t)M * K), *dw0 = to_f64(dw, (size_t)N * K), *db0 = to_f64(db, N);
    ic_matmul_backward(ic_test_ctx(0), dx, dw, with_bias ? db : NULL, dout, x, w, M, N, K);
    double *gx = malloc((size_t)M * K * 8), *gw = malloc((size_t)N * K * 8), *gb = malloc((size_t)N * 8);
    fd_grad(gx, xd, (size_t)M * K, xd, wd, bd, dod, M, N, K);
    fd_grad(gw, wd, (size_t)N * K, xd, wd, bd, dod, M, N, K);
    fd_grad(gb, bd, (size_t)N, xd, wd, bd, dod, M, N, K);
    double *ax = malloc((size_t)M * K * 8), *aw = malloc((size_t)N * K * 8), *ab = malloc((size_t)N * 8);
    for (size_t i = 0; i < (size_t)M * K; i++) ax[i] = dx[i] - dx0[i];
    for (size_t i = 0; i < (size_t)N * K; i++) aw[i] = dw[i] - dw0[i];
    for (int i = 0; i < N; i++) ab[i] = db[i] - db0[i];
    ck_assert_msg(ic_rel_err_f64(ax, gx, (size_t)M * K) < 1e-4, "dx err %g", ic_rel_err_f64(ax, gx, (size_t)M * K));
    ck_assert_msg(ic_rel_err_f64(aw, gw, (size_t)N * K) < 1e-4, "dw err %g", ic_rel_err_f64(aw, gw, (size_t)N * K));
    if (with_bias)
        ck_assert_msg(ic_rel_err_f64(ab, gb, N) < 1e-4, "db err %g", ic_rel_err_f64(ab, gb, N));
    else
        for (int i = 0; i < N; i++) ck_assert(db[i] == (float)db0[i]);
    /* NULL gradients are skipped */
    ic_matmul_backward(ic_test_ctx(0), NULL, NULL, NULL, dout, x, w, M, N, K);
    free(x); free(w); free(b); free(out); free(dout); free(xd); free(wd); free(bd); free(dod);
    free(ref); free(outd); free(dx); free(dw); free(db); free(dx0); free(dw0); free(db0);
    free(gx); free(gw); free(gb); free(ax); free(aw); free(ab);
}

START_TEST(test_matmul) {
    check_matmul(7, 5, 3, 1, 11);
    check_matmul(13, 17, 29, 0, 12);
    check_matmul(33, 9, 40, 1, 13);
    check_matmul(1, 1, 1, 1, 14);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rope_matmul");
    TCase *tc = tcase_create("rope_matmul");
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_matmul);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
