#define _GNU_SOURCE  /* nftw, popen */
#include "testutil.h"

#include <ftw.h>
#include <stdarg.h>
#include <sys/wait.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ic_rng_seed(ic_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t ic_rng_next(ic_rng *r) {  /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ic_rng_uniform(ic_rng *r) { return (double)(ic_rng_next(r) >> 11) * 0x1.0p-53; }

double ic_rng_normal(ic_rng *r) {
    double u1 = ic_rng_uniform(r), u2 = ic_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ic_fill_uniform(ic_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)ic_rng_uniform(r);
}

void ic_fill_normal(ic_rng *r, float *x, size_t n, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * (float)ic_rng_normal(r);
}

double ic_rel_err_f32(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

double ic_rel_err_f64(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

double ic_max_abs_diff_f32(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m) m = d;
    }
    return m;
}

const char *ic_test_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    /* A fixed pool instead of malloc: the paths live until exit and
     * LeakSanitizer stays quiet. */
    static char pool[32][4096];
    static int used = 0;
    if (used == 32) { fprintf(stderr, "ic_test_tmpdir: more than 32 dirs\n"); exit(1); }
    char *path = pool[used++];
    snprintf(path, 4096, "%s/ic_%s_XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) { perror("mkdtemp"); exit(1); }
    return path;  /* lives until exit */
}

int ic_test_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void ic_test_rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *ic_test_bin(void) {
    const char *b = getenv("IC_BIN");
    ck_assert_msg(b != NULL, "IC_BIN not set (run through ctest)");
    return b;
}

int ic_test_run_cmd(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "OMP_NUM_THREADS=1 %s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

ic_ctx *ic_test_ctx(size_t ws_bytes) {
    static ic_ctx ctx;
    static int ready = 0;
    ic_error err;
    ic_error_clear(&err);
    if (!ready) {
        if (ic_ctx_init(&ctx, IC_BACKEND_CPU, -1, 0, &err) != 0) {
            fprintf(stderr, "test context: %s\n", err.msg);
            abort();
        }
        ready = 1;
    }
    if (ic_ctx_reserve(&ctx, ws_bytes, &err) != 0) {
        fprintf(stderr, "test context: %s\n", err.msg);
        abort();
    }
    return &ctx;
}
