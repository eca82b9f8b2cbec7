/* Cross-layer top-k overlap (train/ic_overlap.h) against brute-force set
 * intersection: on random index sets, on constructed sets with known
 * overlap, and end to end on a tiny random DSA model where every layer runs
 * its own indexer. Properties: symmetric, diagonal 1, entries in [0, 1]. */
#define _GNU_SOURCE   /* nftw */
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ic_fs.h"
#include "testutil.h"
#include "train/ic_overlap.h"

/* brute force: sum over rows t >= K and pairs of |T_i ∩ T_j| by a double
 * loop, divided by rows * K */
static void brute(const ic_dsa_index_set *sets, int n, int L, int K, double *sum, long *rows) {
    for (int t = K; t < L; t++) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                int c = 0;
                for (int a = 0; a < K; a++)
                    for (int b = 0; b < K; b++)
                        c += sets[i].idx[t * K + a] == sets[j].idx[t * K + b];
                sum[i * n + j] += c;
            }
        (*rows)++;
    }
}

static void alloc_sets(ic_dsa_index_set *s, int n, int L, int K) {
    for (int l = 0; l < n; l++) {
        s[l].idx = malloc(sizeof(int32_t) * L * K);
        s[l].cnt = malloc(sizeof(int32_t) * L);
    }
}
static void free_sets(ic_dsa_index_set *s, int n) {
    for (int l = 0; l < n; l++) { free(s[l].idx); free(s[l].cnt); }
}

/* random causal sets: a random subset of {0..t} of size min(K, t+1) */
static void random_sets(ic_dsa_index_set *s, int n, int L, int K, ic_rng *r) {
    int *perm = malloc(sizeof(int) * L);
    for (int l = 0; l < n; l++)
        for (int t = 0; t < L; t++) {
            for (int i = 0; i <= t; i++) perm[i] = i;
            int c = t + 1 < K ? t + 1 : K;
            for (int i = 0; i < c; i++) {
                int j = i + (int)(ic_rng_next(r) % (uint64_t)(t + 1 - i));
                int x = perm[i]; perm[i] = perm[j]; perm[j] = x;
                s[l].idx[t * K + i] = perm[i];
            }
            for (int i = c; i < K; i++) s[l].idx[t * K + i] = -1;
            s[l].cnt[t] = c;
        }
    free(perm);
}

static void check_props(const double *m, int n) {
    for (int i = 0; i < n; i++) {
        ck_assert(m[i * n + i] == 1.0);
        for (int j = 0; j < n; j++) {
            ck_assert(m[i * n + j] == m[j * n + i]);
            ck_assert(m[i * n + j] >= 0.0 && m[i * n + j] <= 1.0);
        }
    }
}

START_TEST(test_random_sets_brute_force) {
    enum { N = 5, L = 37, K = 7, W = 3 };
    ic_rng r;
    ic_rng_seed(&r, 123);
    ic_dsa_index_set s[N];
    alloc_sets(s, N, L, K);
    ic_overlap_acc a;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_overlap_init(&a, N, K, L, &err), 0);
    double sum[N * N] = {0}, m[N * N];
    long rows = 0;
    for (int w = 0; w < W; w++) {   /* several windows, different lengths */
        int Lw = L - 5 * w;
        random_sets(s, N, Lw, K, &r);
        /* make layers 1 and 2 share most rows so the values spread over [0, 1] */
        for (int t = 0; t < Lw; t++)
            if (t % 4) memcpy(s[2].idx + t * K, s[1].idx + t * K, sizeof(int32_t) * K);
        ic_overlap_add(&a, s, Lw);
        brute(s, N, Lw, K, sum, &rows);
    }
    ck_assert_int_eq(a.n_queries, rows);
    ck_assert_int_eq(ic_overlap_matrix(&a, m, &err), 0);
    check_props(m, N);
    for (int i = 0; i < N * N; i++) ck_assert(fabs(m[i] - sum[i] / ((double)rows * K)) < 1e-12);
    ck_assert(m[1 * N + 2] > 0.7 && m[0 * N + 3] < 0.7);
    ck_assert(fabs(ic_overlap_adjacent_mean(m, N) -
                   (m[1] + m[N + 2] + m[2 * N + 3] + m[3 * N + 4]) / 4) < 1e-15);

    /* the CSV has the header and the values */
    const char *dir = ic_test_tmpdir("ovl");
    char path[4096];
    snprintf(path, sizeof path, "%s/o.csv", dir);
    ck_assert_int_eq(ic_overlap_write_csv(path, m, N, &err), 0);
    size_t len;
    char *txt = ic_read_file(path, &len, &err);
    ck_assert(txt && strncmp(txt, "layer,0,1,2,3,4\n0,1.000000,", 27) == 0);
    char *row2 = strstr(txt, "\n2,");
    ck_assert(row2 != NULL);
    double v0, v1;
    ck_assert_int_eq(sscanf(row2 + 3, "%lf,%lf", &v0, &v1), 2);
    ck_assert(fabs(v1 - m[2 * N + 1]) < 1e-6);
    free(txt);
    ic_test_rm_tree(dir);
    free_sets(s, N);
    ic_overlap_free(&a);
}
END_TEST

/* known values: layer 0 picks the K oldest keys, layer 1 the K newest,
 * layer 2 the K oldest again: 0 vs 2 overlap 1; 0 vs 1 overlap only where
 * the windows meet (t < 2K - 1) */
START_TEST(test_known_overlap) {
    enum { L = 20, K = 4 };
    ic_dsa_index_set s[3];
    alloc_sets(s, 3, L, K);
    for (int t = 0; t < L; t++)
        for (int i = 0; i < K; i++) {
            int ok = i <= t;
            s[0].idx[t * K + i] = s[2].idx[t * K + i] = ok ? i : -1;
            s[1].idx[t * K + i] = ok ? t - i : -1;
            s[0].cnt[t] = s[1].cnt[t] = s[2].cnt[t] = t + 1 < K ? t + 1 : K;
        }
    ic_overlap_acc a;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_overlap_init(&a, 3, K, L, &err), 0);
    ic_overlap_add(&a, s, L);
    double m[9];
    ck_assert_int_eq(ic_overlap_matrix(&a, m, &err), 0);
    /* rows t = 4..19; oldest {0..3} vs newest {t-3..t}: t=4: {1,2,3}, t=5: {2,3}, t=6: {3} */
    ck_assert(fabs(m[1] - (3.0 + 2.0 + 1.0) / (16.0 * K)) < 1e-15);
    ck_assert(m[2] == 1.0 && m[5] == m[1]);
    /* no full rows -> clear error */
    ic_overlap_acc b;
    ck_assert_int_eq(ic_overlap_init(&b, 3, K, L, &err), 0);
    ic_overlap_add(&b, s, K);
    ck_assert_int_eq(ic_overlap_matrix(&b, m, &err), -1);
    ck_assert(strstr(err.msg, "t >= k") != NULL);
    ic_overlap_free(&a);
    ic_overlap_free(&b);
    free_sets(s, 3);
}
END_TEST

typedef struct { const uint32_t *tok; size_t n; } src;
static int rd(void *ctx, uint64_t off, size_t n, uint32_t *dst, ic_error *err) {
    const src *s = ctx;
    if (off + n > s->n) return ic_error_set(err, "past the end");
    memcpy(dst, s->tok + off, n * sizeof *dst);
    return 0;
}

START_TEST(test_run_end_to_end) {
    enum { NL = 4, L = 36, K = 5, W = 2 };
    ic_config c;
    ic_dsa_tiny_config(&c, NL, K);
    ic_dsa_model m;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, NULL, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 77);
    uint32_t tok[W * L + 1];
    ic_rng r;
    ic_rng_seed(&r, 4);
    for (int i = 0; i < W * L + 1; i++) tok[i] = (uint32_t)(ic_rng_next(&r) % 61);
    src sc = {tok, W * L + 1};
    ic_overlap_opts o = {.seq_len = L, .n_windows = W};
    double mat[NL * NL];
    int64_t nq = 0;
    ck_assert_msg(ic_overlap_run(ic_test_ctx(0), &m, rd, &sc, W * L + 1, &o, mat, &nq, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(nq, W * (L - K));
    check_props(mat, NL);

    /* brute force over the sets of separate all-own-indexer forwards */
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), &m, L, &err), 0);
    ic_dsa_index_set s[NL];
    alloc_sets(s, NL, L, K);
    double sum[NL * NL] = {0};
    long rows = 0;
    int32_t t32[L];
    for (int w = 0; w < W; w++) {
        for (int t = 0; t < L; t++) t32[t] = (int32_t)tok[w * L + t];
        ic_dsa_fwd_opts fo = {.mode = IC_DSA_MODE_OWN, .keep = s};
        ck_assert_int_eq(ic_dsa_forward(&m, &st, t32, NULL, L, &fo, NULL, &err), 0);
        brute(s, NL, L, K, sum, &rows);
    }
    int off_diag_lt1 = 0;
    for (int i = 0; i < NL * NL; i++) {
        ck_assert(fabs(mat[i] - sum[i] / ((double)rows * K)) < 1e-12);
        off_diag_lt1 += mat[i] < 1.0;
    }
    ck_assert_int_gt(off_diag_lt1, 0);   /* different random indexers do disagree */

    /* errors: L <= K; a layer without an indexer */
    o.seq_len = K;
    ck_assert_int_eq(ic_overlap_run(ic_test_ctx(0), &m, rd, &sc, W * L + 1, &o, mat, &nq, &err), -1);
    ck_assert(strstr(err.msg, "--seq-len") != NULL);
    ic_error_clear(&err);
    o.seq_len = L;
    ic_indexer_free(&m.ix[2]);
    ck_assert_int_eq(ic_overlap_run(ic_test_ctx(0), &m, rd, &sc, W * L + 1, &o, mat, &nq, &err), -1);
    ck_assert_msg(strstr(err.msg, "layer 2") != NULL, "%s", err.msg);
    free_sets(s, NL);
    ic_dsa_state_free(&st);
    ic_dsa_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("overlap");
    TCase *tc = tcase_create("overlap");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_random_sets_brute_force);
    tcase_add_test(tc, test_known_overlap);
    tcase_add_test(tc, test_run_end_to_end);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
