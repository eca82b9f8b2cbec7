/* Shared helpers for the Check suites: seeded random fills, error norms,
 * scratch directories. Every test draws fresh random inputs; nothing is
 * compared against zeros. */
#ifndef IC_TESTUTIL_H
#define IC_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ic_ctx.h"

typedef struct { uint64_t s; } ic_rng;

void     ic_rng_seed(ic_rng *r, uint64_t seed);
uint64_t ic_rng_next(ic_rng *r);
double   ic_rng_uniform(ic_rng *r);            /* [0, 1) */
double   ic_rng_normal(ic_rng *r);             /* N(0, 1) */
void     ic_fill_uniform(ic_rng *r, float *x, size_t n, float lo, float hi);
void     ic_fill_normal(ic_rng *r, float *x, size_t n, float std);

/* ||a - b|| / ||b|| in double; +inf when a has a NaN. */
double ic_rel_err_f32(const float *a, const float *b, size_t n);
double ic_rel_err_f64(const double *a, const double *b, size_t n);
double ic_max_abs_diff_f32(const float *a, const float *b, size_t n);

/* mkdtemp under $TMPDIR (or /tmp); the path lives until exit: never free it. */
const char *ic_test_tmpdir(const char *tag);

/* rm -r: remove a scratch tree once a test has passed (failures keep
 * theirs for a look). */
void ic_test_rm_tree(const char *dir);

/* The indexcache binary under test ($IC_BIN, set by ctest). */
const char *ic_test_bin(void);

/* Run a shell command (printf-style) with OMP_NUM_THREADS=1, capture its
 * stdout + stderr into out (cap bytes, NUL-terminated); returns its exit
 * status, -1 when it did not exit normally. */
int ic_test_run_cmd(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The CPU op context of the suites (made on first use), its workspace grown
 * to at least ws_bytes (pass the _workspace_bytes query of the op about to
 * run; 0 for ops without scratch). Aborts when the context cannot be had. */
ic_ctx *ic_test_ctx(size_t ws_bytes);

/* Run a suite, return EXIT_SUCCESS / EXIT_FAILURE (for main()). */
int ic_test_run_suite(Suite *s);

#endif
