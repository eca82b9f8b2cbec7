/* Greedy layer search (train/ic_search.h) on tiny random models:
 *  - the greedy result equals a brute-force reference written here that
 *    scores every candidate with a full forward from layer 0 (same pattern,
 *    same committed layers, every candidate's loss to fp tolerance), with
 *    the full prefix cache, a strided one and none; the layer-forward
 *    counts equal their closed forms;
 *  - an interrupted search resumed from its trace file equals the
 *    uninterrupted one; a trace made with other inputs is refused;
 *  - argument errors of the library and of `indexcache search` ($IC_BIN),
 *    and the CLI's pattern/trace against the in-process search. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/ic_h5tokens.h"
#include "ic_fs.h"
#include "model/ic_dsa.h"
#include "testutil.h"
#include "train/ic_search.h"

enum { NL = 7, K = 5, L = 20, W = 3 };

static void make_model(ic_dsa_model *m, int n_layers, uint64_t seed) {
    ic_config c;
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_tiny_config(&c, n_layers, K);
    ck_assert_msg(ic_dsa_model_init(m, &c, NULL, 0, &err) == 0, "%s", err.msg);
    ic_dsa_model_fill_random(m, seed);
}

static int32_t *random_tokens(int n, int V, uint64_t seed) {
    int32_t *t = malloc(sizeof *t * (size_t)n);
    ic_rng r;
    ic_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) t[i] = (int32_t)(ic_rng_next(&r) % (uint64_t)V);
    return t;
}

/* ---- brute force: every candidate from layer 0, one window at a time --- */

static double full_loss(const ic_dsa_model *m, ic_dsa_state *st, const ic_pattern *p,
                        const int32_t *tok) {
    ic_error err;
    ic_error_clear(&err);
    double sum = 0;
    long n = 0;
    for (int w = 0; w < W; w++) {
        ic_dsa_fwd_opts o = {.pattern = p};
        ic_dsa_result r;
        ck_assert_msg(ic_dsa_forward(m, st, tok + w * L, tok + w * L + 1, L, &o, &r, &err) == 0,
                      "%s", err.msg);
        sum += r.sum_nll;
        n += r.n_targets;
    }
    return sum / (double)n;
}

typedef struct {
    double start;
    int    n_steps, layer[NL];
    double loss[NL], cand[NL][NL];   /* cand[step][layer], NaN: not a candidate */
} brute_trace;

static void brute_force(const ic_dsa_model *m, const int32_t *tok, int keep, brute_trace *b) {
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_state st;
    ck_assert_int_eq(ic_dsa_state_init(&st, ic_test_ctx(0), m, L, &err), 0);
    ic_pattern p;
    ck_assert_int_eq(ic_pattern_parse(&p, "FFFFFFF", NL, &err), 0);
    b->start = full_loss(m, &st, &p, tok);
    b->n_steps = 0;
    for (int nf = NL; nf > keep; nf--) {
        int s = b->n_steps++, best = -1;
        for (int c = 0; c < NL; c++) {
            b->cand[s][c] = NAN;
            if (c == 0 || p.c[c] != 'F') continue;
            ic_pattern q = p;
            q.c[c] = 'S';
            b->cand[s][c] = full_loss(m, &st, &q, tok);
            if (best < 0 || b->cand[s][c] < b->cand[s][best]) best = c;
        }
        b->layer[s] = best;
        b->loss[s] = b->cand[s][best];
        p.c[best] = 'S';
    }
    ic_dsa_state_free(&st);
}

static void expect_same(const ic_search_trace *t, const brute_trace *b, double tol) {
    ck_assert_int_eq(t->n_steps, b->n_steps);
    ck_assert_msg(fabs(t->start_loss - b->start) <= tol * b->start, "start %.9g vs %.9g",
                  t->start_loss, b->start);
    for (int s = 0; s < b->n_steps; s++) {
        ck_assert_msg(t->steps[s].layer == b->layer[s], "step %d: layer %d vs brute force %d",
                      s + 1, t->steps[s].layer, b->layer[s]);
        ck_assert(fabs(t->steps[s].loss - b->loss[s]) <= tol * b->loss[s]);
        for (int c = 0; c < NL; c++) {
            double x = t->steps[s].cand_loss[c], y = b->cand[s][c];
            ck_assert_msg(isnan(x) == isnan(y), "step %d layer %d: candidate %g vs %g", s + 1, c, x, y);
            if (!isnan(y))
                ck_assert_msg(fabs(x - y) <= tol * y, "step %d layer %d: %.9g vs brute force %.9g",
                              s + 1, c, x, y);
        }
    }
}

/* Closed forms of the layer-forward counts for a cache of stride s (nb
 * boundaries; 0 = none): naive = W*NL*(1 + candidates), run = the start,
 * each candidate from r(c), and each refresh from r(c*). */
static void expected_counts(const brute_trace *b, int stride, int nb, int64_t *run,
                            int64_t *naive) {
    *run = *naive = (int64_t)W * NL;
    for (int s = 0; s < b->n_steps; s++) {
        for (int c = 1; c < NL; c++) {
            if (isnan(b->cand[s][c])) continue;
            int r = nb ? (c / stride) * stride : 0;
            *run += (int64_t)W * (NL - r);
            *naive += (int64_t)W * NL;
        }
        if (nb) *run += (int64_t)W * (NL - (b->layer[s] / stride) * stride);
    }
}

static size_t per_boundary(const ic_dsa_model *m) {
    return (size_t)W * L * (4 * (size_t)m->w.cfg.hidden_size + 4 * ((size_t)K + 1));
}

START_TEST(test_greedy_equals_brute_force) {
    ic_dsa_model m;
    make_model(&m, NL, 21);
    int32_t *tok = random_tokens(W * L + 1, m.w.cfg.vocab_size, 4);
    const int keep = 2;
    brute_trace b;
    brute_force(&m, tok, keep, &b);
    /* the search must have real choices: candidate losses differ */
    double spread = 0;
    for (int c = 2; c < NL; c++) spread = fmax(spread, fabs(b.cand[0][c] - b.cand[0][1]));
    ck_assert_msg(spread > 1e-3, "degenerate fixture: candidates all alike (%g)", spread);

    /* budgets: every boundary, every 2nd (3 of 6), every 4th (1 of 6), none */
    size_t budgets[] = {(size_t)1 << 30, 3 * per_boundary(&m), per_boundary(&m) + 7,
                        per_boundary(&m) - 1, 0};
    int want_stride[] = {1, 2, 4, NL, NL};
    for (int i = 0; i < 5; i++) {
        int stride;
        size_t bytes;
        int nb = ic_search_cache_plan(&m, L, W, budgets[i], &stride, &bytes);
        ck_assert_int_eq(stride, want_stride[i]);
        ck_assert_int_eq(nb, stride < NL ? (NL - 1) / stride : 0);
        ck_assert(bytes <= budgets[i] && bytes == (size_t)nb * per_boundary(&m));
        ic_error err;
        ic_error_clear(&err);
        ic_search_trace t;
        ck_assert_int_eq(ic_search_trace_init(&t, NL, keep, &err), 0);
        ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = budgets[i]};
        ck_assert_msg(ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err) == 0, "%s", err.msg);
        expect_same(&t, &b, 1e-6);
        char pat[NL + 1];
        ck_assert_int_eq(ic_pattern_n_full(&t.pattern), keep);
        ic_pattern_to_string(&t.pattern, pat, sizeof pat);
        int64_t run, naive;
        expected_counts(&b, stride, nb, &run, &naive);
        ck_assert_msg(t.fwd_done == run && t.fwd_naive == naive,
                      "budget %zu: counts %lld/%lld, expected %lld/%lld", budgets[i],
                      (long long)t.fwd_done, (long long)t.fwd_naive, (long long)run,
                      (long long)naive);
        if (nb == NL - 1) ck_assert(t.fwd_done < naive * 3 / 4);   /* the cache pays */
        ic_search_trace_free(&t);
    }
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

/* keep == n_layers: no step; keep 1: every layer but 0 flipped */
START_TEST(test_extremes) {
    ic_dsa_model m;
    make_model(&m, NL, 8);
    int32_t *tok = random_tokens(W * L + 1, m.w.cfg.vocab_size, 9);
    brute_trace b;
    brute_force(&m, tok, 1, &b);
    ic_error err;
    ic_error_clear(&err);
    ic_search_trace t;
    ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = (size_t)1 << 30};
    ck_assert_int_eq(ic_search_trace_init(&t, NL, NL, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err), 0);
    ck_assert_int_eq(t.n_steps, 0);
    ck_assert(fabs(t.start_loss - b.start) <= 1e-6 * b.start);
    ic_search_trace_free(&t);
    ck_assert_int_eq(ic_search_trace_init(&t, NL, 1, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err), 0);
    expect_same(&t, &b, 1e-6);
    char pat[NL + 1];
    ck_assert_str_eq(ic_pattern_to_string(&t.pattern, pat, sizeof pat), "FSSSSSS");
    ic_search_trace_free(&t);
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- resume ----------------------------------------------------------- */

typedef struct {
    const ic_search_meta *meta;
    const char *path;
    int stop_after;
} save_ctx;

static int save_step(void *ctx, const ic_search_trace *t, ic_error *err) {
    save_ctx *s = ctx;
    if (ic_search_trace_save(t, s->meta, 0, s->path, err) != 0) return -1;
    if (s->stop_after && t->n_steps == s->stop_after) return ic_error_set(err, "interrupted");
    return 0;
}

START_TEST(test_resume) {
    ic_dsa_model m;
    make_model(&m, NL, 31);
    int32_t *tok = random_tokens(W * L + 1, m.w.cfg.vocab_size, 17);
    const char *dir = ic_test_tmpdir("search_resume");
    char path[4096];
    snprintf(path, sizeof path, "%s/trace.json", dir);
    ic_search_meta meta = {"model", ic_search_model_hash(&m), "data", "val",
                           ic_search_hash_bytes(tok, sizeof *tok * (W * L + 1), 1), L, W, K};
    ic_error err;
    ic_error_clear(&err);
    const int keep = 2;
    ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = (size_t)1 << 30};
    ic_search_trace full, part, res;
    ck_assert_int_eq(ic_search_trace_init(&full, NL, keep, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &full, &err), 0);

    save_ctx sc = {&meta, path, 2};
    o.on_step = save_step;
    o.on_step_ctx = &sc;
    ck_assert_int_eq(ic_search_trace_init(&part, NL, keep, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &part, &err), -1);
    ck_assert_str_eq(err.msg, "interrupted");
    ck_assert_int_eq(part.n_steps, 2);

    sc.stop_after = 0;
    ic_error_clear(&err);
    int cut = -1;
    ck_assert_int_eq(ic_search_trace_init(&res, NL, keep, &err), 0);
    ck_assert_msg(ic_search_trace_load(&res, &meta, path, &cut, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cut, 0);
    ck_assert_int_eq(res.n_steps, 2);
    ck_assert_int_eq(res.fwd_done, part.fwd_done);
    ck_assert_msg(ic_search_run(ic_test_ctx(0), &m, tok, &o, &res, &err) == 0, "%s", err.msg);
    /* bitwise: the trace keeps 17 significant digits, the forwards are the same */
    ck_assert_int_eq(res.n_steps, full.n_steps);
    ck_assert(res.start_loss == full.start_loss);
    for (int s = 0; s < full.n_steps; s++) {
        ck_assert_int_eq(res.steps[s].layer, full.steps[s].layer);
        ck_assert(res.steps[s].loss == full.steps[s].loss);
        for (int c = 0; c < NL; c++)
            ck_assert(memcmp(&res.steps[s].cand_loss[c], &full.steps[s].cand_loss[c],
                             sizeof(double)) == 0 ||
                      (isnan(res.steps[s].cand_loss[c]) && isnan(full.steps[s].cand_loss[c])));
    }
    ck_assert(strcmp(res.pattern.c, full.pattern.c) == 0);
    /* the resume re-ran the current pattern once: W*NL more than straight */
    ck_assert_int_eq(res.fwd_done, full.fwd_done + (int64_t)W * NL);
    ck_assert_int_eq(res.fwd_naive, full.fwd_naive);

    /* a finished trace read for a larger keep: its first steps are the answer */
    ic_search_trace cutt;
    ck_assert_int_eq(ic_search_trace_init(&cutt, NL, NL - 1, &err), 0);
    ck_assert_msg(ic_search_trace_load(&cutt, &meta, path, &cut, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cut, full.n_steps - 1);
    ck_assert_int_eq(cutt.n_steps, 1);
    ck_assert_int_eq(cutt.steps[0].layer, full.steps[0].layer);
    ic_search_trace_free(&cutt);

    /* other inputs are refused, naming what differs */
    struct { ic_search_meta m; const char *needle; } bad[] = {
        {meta, "seq_len = 20"}, {meta, "batches = 3"}, {meta, "topk = 5"},
        {meta, "another model"}, {meta, "other calibration tokens"}, {meta, "split 'val'"},
    };
    bad[0].m.seq_len = 24;
    bad[1].m.n_windows = 2;
    bad[2].m.topk = 4;
    bad[3].m.model_hash ^= 1;
    bad[4].m.data_hash ^= 1;
    bad[5].m.split = "train";
    for (int i = 0; i < 6; i++) {
        ic_search_trace x;
        ic_error_clear(&err);
        ck_assert_int_eq(ic_search_trace_init(&x, NL, keep, &err), 0);
        ck_assert_int_eq(ic_search_trace_load(&x, &bad[i].m, path, NULL, &err), -1);
        ck_assert_msg(strstr(err.msg, bad[i].needle) != NULL, "case %d: %s", i, err.msg);
        ic_search_trace_free(&x);
    }
    /* a trace of another layer count */
    ic_search_trace x;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_init(&x, NL + 1, keep, &err), 0);
    ck_assert_int_eq(ic_search_trace_load(&x, &meta, path, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "n_layers = 7") != NULL, "%s", err.msg);
    ic_search_trace_free(&x);
    /* a trace whose step pattern contradicts its flips */
    size_t len;
    char *text = ic_read_file(path, &len, &err);
    ck_assert(text != NULL);
    char *p = strstr(text, "\"pattern\": \"F");
    ck_assert(p != NULL);
    p[strlen("\"pattern\": \"F")] ^= 'F' ^ 'S';   /* flip the char after layer 0 */
    ck_assert_int_eq(ic_write_file_atomic(path, text, len, &err), 0);
    free(text);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_init(&x, NL, keep, &err), 0);
    ck_assert_int_eq(ic_search_trace_load(&x, &meta, path, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "does not follow from the flips") != NULL, "%s", err.msg);
    ic_search_trace_free(&x);

    ic_search_trace_free(&full);
    ic_search_trace_free(&part);
    ic_search_trace_free(&res);
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- two ranks in two processes ---------------------------------------- */

/* A comm over two pipes between a parent (rank 0) and a forked child
 * (rank 1), so the distribution logic is tested without mpirun: every
 * collective swaps the two ranks' values and combines them in rank order,
 * as an MPI reduction would. */
typedef struct { int rank, rd, wr; } pipe_comm;

static void xfer(pipe_comm *c, const void *mine, void *theirs, size_t n) {
    ck_assert(write(c->wr, mine, n) == (ssize_t)n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(c->rd, (char *)theirs + got, n - got);
        ck_assert(r > 0);
        got += (size_t)r;
    }
}

static void pc_sum(void *ctx, double *buf, size_t n) {
    pipe_comm *c = ctx;
    double *other = malloc(sizeof(double) * n);
    xfer(c, buf, other, sizeof(double) * n);
    for (size_t i = 0; i < n; i++)   /* rank 0's term first on both ranks */
        buf[i] = c->rank == 0 ? buf[i] + other[i] : other[i] + buf[i];
    free(other);
}

static void pc_minloc(void *ctx, double *v, int *i) {
    pipe_comm *c = ctx;
    struct { double v; int i; } mine = {isnan(*v) ? INFINITY : *v, *i}, o;
    memset(&o, 0, sizeof o);
    xfer(c, &mine, &o, sizeof mine);
    if (o.v < mine.v || (o.v == mine.v && o.i < mine.i)) mine = o;
    *v = mine.v;
    *i = mine.i;
}

static int pc_all_ok(void *ctx, int ok) {
    pipe_comm *c = ctx;
    int o = 0;
    xfer(c, &ok, &o, sizeof ok);
    return ok && o;
}

START_TEST(test_two_ranks) {
    int p01[2], p10[2];
    ck_assert(pipe(p01) == 0 && pipe(p10) == 0);
    /* fork before this process runs any OpenMP region (libgomp and fork) */
    pid_t pid = fork();
    ck_assert(pid >= 0);
    int rank = pid == 0 ? 1 : 0;
    pipe_comm pc = {rank, rank ? p01[0] : p10[0], rank ? p10[1] : p01[1]};
    ic_search_comm comm = {rank, 2, &pc, pc_sum, pc_minloc, pc_all_ok};
    ic_dsa_model m;
    make_model(&m, NL, 55);
    int32_t *tok = random_tokens(W * L + 1, m.w.cfg.vocab_size, 12);
    ic_error err;
    ic_error_clear(&err);
    ic_search_trace t;
    ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = (size_t)1 << 30, .comm = &comm};
    int rc = ic_search_trace_init(&t, NL, 2, &err) == 0 && ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err) == 0;
    if (rank == 1) {   /* the child reports its trace to rank 0 and leaves */
        int32_t hdr[2] = {rc, t.n_steps};
        int ok = write(p10[1], hdr, sizeof hdr) == (ssize_t)sizeof hdr;
        for (int s = 0; rc && s < t.n_steps; s++)
            ok &= write(p10[1], &t.steps[s], sizeof t.steps[s]) == (ssize_t)sizeof t.steps[s];
        _exit(ok ? 0 : 3);
    }
    ck_assert_msg(rc, "%s", err.msg);
    int32_t hdr[2];
    ck_assert(read(p10[0], hdr, sizeof hdr) == (ssize_t)sizeof hdr);
    ck_assert_int_eq(hdr[0], 1);
    ck_assert_int_eq(hdr[1], t.n_steps);
    brute_trace b;
    brute_force(&m, tok, 2, &b);
    expect_same(&t, &b, 1e-6);
    for (int s = 0; s < t.n_steps; s++) {
        ic_search_step other;
        size_t got = 0;
        while (got < sizeof other) {
            ssize_t r = read(p10[0], (char *)&other + got, sizeof other - got);
            ck_assert(r > 0);
            got += (size_t)r;
        }
        /* both ranks hold every candidate's loss, bit for bit */
        ck_assert(memcmp(&other, &t.steps[s], sizeof other) == 0);
    }
    int st;
    ck_assert(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the candidates were split: run < naive, and the naive count (one
     * from-layer-0 forward per candidate) is the same as in one process */
    int64_t run, naive;
    expected_counts(&b, 1, NL - 1, &run, &naive);
    ck_assert_int_eq(t.fwd_naive, naive);
    ck_assert(t.fwd_done > run && t.fwd_done < naive);   /* refreshes run on both ranks */
    ic_search_trace_free(&t);
    free(tok);
    ic_dsa_model_free(&m);
    close(p01[0]); close(p01[1]); close(p10[0]); close(p10[1]);
}
END_TEST

/* ---- library errors --------------------------------------------------- */

START_TEST(test_library_errors) {
    ic_error err;
    ic_search_trace t;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_init(&t, NL, 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "keep 0") != NULL, "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_init(&t, NL, NL + 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "keep 8") != NULL, "%s", err.msg);

    /* a model with an indexer missing at layer 3 */
    ic_config c;
    ic_dsa_tiny_config(&c, NL, K);
    int want[NL] = {1, 1, 1, 0, 1, 1, 1};
    ic_dsa_model m;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_dsa_model_init(&m, &c, want, 0, &err), 0);
    ic_dsa_model_fill_random(&m, 3);
    int32_t *tok = random_tokens(W * L + 1, m.w.cfg.vocab_size, 2);
    ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = 1 << 20};
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_init(&t, NL, 2, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err), -1);
    ck_assert_msg(strstr(err.msg, "every layer needs an indexer") && strstr(err.msg, "layer 3"),
                  "%s", err.msg);
    ic_dsa_model_free(&m);
    /* a token outside the vocabulary */
    make_model(&m, NL, 3);
    tok[W * L] = m.w.cfg.vocab_size;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &t, &err), -1);
    ck_assert_msg(strstr(err.msg, "outside the model's vocabulary") != NULL, "%s", err.msg);
    /* flipping layer 0 or an S layer */
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_push(&t, 0, 1.0, NULL, &err), -1);
    ck_assert_int_eq(ic_search_trace_push(&t, 2, 1.0, NULL, &err), 0);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_search_trace_push(&t, 2, 1.0, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "already S") != NULL, "%s", err.msg);
    ic_search_trace_free(&t);
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

/* ---- the command ------------------------------------------------------ */

START_TEST(test_cli) {
    const char *dir = ic_test_tmpdir("search_cli");
    char mdir[2048], pdir[2048], h5[2048];
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    snprintf(pdir, sizeof pdir, "%s/part", dir);
    snprintf(h5, sizeof h5, "%s/tok.h5", dir);
    ic_error err;
    ic_error_clear(&err);
    ic_dsa_model m;
    make_model(&m, NL, 77);
    ck_assert_msg(ic_dsa_model_save(&m, mdir, &err) == 0, "%s", err.msg);
    int32_t *tok = random_tokens(W * L + 40, m.w.cfg.vocab_size, 6);
    ic_h5tokens_writer wr;
    ck_assert_int_eq(ic_h5tokens_writer_init(&wr, h5, (uint32_t)m.w.cfg.vocab_size, "t", "t", &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&wr, IC_SPLIT_VAL, (const uint32_t *)tok, W * L + 40, &err), 0);
    ck_assert_int_eq(ic_h5tokens_append(&wr, IC_SPLIT_TRAIN, (const uint32_t *)tok, 30, &err), 0);
    ck_assert_msg(ic_h5tokens_writer_commit(&wr, &err) == 0, "%s", err.msg);

    /* in-process reference: --retain 0.5 of 7 layers = 4 kept */
    ic_search_trace ref;
    ic_search_opts o = {.seq_len = L, .n_windows = W, .cache_bytes = (size_t)1 << 30};
    ck_assert_int_eq(ic_search_trace_init(&ref, NL, 4, &err), 0);
    ck_assert_int_eq(ic_search_run(ic_test_ctx(0), &m, tok, &o, &ref, &err), 0);
    char refpat[NL + 1];
    ic_pattern_to_string(&ref.pattern, refpat, sizeof refpat);

    static char out[1 << 16];
    char common[8192];
    snprintf(common, sizeof common, "%s search --model %s --data %s --seq-len %d --batches %d",
             ic_test_bin(), mdir, h5, L, W);
    int rc = ic_test_run_cmd(out, sizeof out, "%s --retain 0.5 --out %s/a.txt --json", common, dir);
    ck_assert_msg(rc == 0, "%s", out);
    char path[4200];
    size_t len;
    snprintf(path, sizeof path, "%s/a.txt", dir);
    char *pat = ic_read_file(path, &len, &err);
    ck_assert(pat != NULL);
    ck_assert_msg(len == NL + 1 && strncmp(pat, refpat, NL) == 0, "cli %s vs %s", pat, refpat);
    free(pat);
    ck_assert_msg(strstr(out, "layer-forwards:") && strstr(out, "saved"), "%s", out);
    ck_assert_msg(strstr(out, "search step 3/3"), "no progress lines: %s", out);
    snprintf(path, sizeof path, "%s/a.txt.json", dir);
    char *trace = ic_read_file(path, &len, &err);
    ck_assert(trace != NULL);
    ck_assert(strstr(trace, "\"done\": true") && strstr(trace, "\"candidates\""));

    /* --stop-after 1 then --resume gives the same trace steps */
    rc = ic_test_run_cmd(out, sizeof out, "%s --keep 4 --out %s/b.txt --trace %s/b.json --stop-after 1",
                 common, dir, dir);
    ck_assert_msg(rc == 0 && strstr(out, "stopped after step 1"), "%s", out);
    snprintf(path, sizeof path, "%s/b.txt", dir);
    ck_assert(!ic_path_exists(path));
    rc = ic_test_run_cmd(out, sizeof out, "%s --keep 4 --out %s/b.txt --trace %s/b.json --resume",
                 common, dir, dir);
    ck_assert_msg(rc == 0 && strstr(out, "holds 1 step"), "%s", out);
    snprintf(path, sizeof path, "%s/b.json", dir);
    char *trace_b = ic_read_file(path, &len, &err);
    ck_assert(trace_b != NULL);
    const char *sa = strstr(trace, "\"steps\""), *ea = strstr(trace, "\"layer_forwards\"");
    const char *sb = strstr(trace_b, "\"steps\""), *eb = strstr(trace_b, "\"layer_forwards\"");
    ck_assert(sa && ea && sb && eb);
    ck_assert_msg(ea - sa == eb - sb && memcmp(sa, sb, (size_t)(ea - sa)) == 0,
                  "resumed trace differs from the straight one");
    free(trace);
    free(trace_b);
    /* resuming with another L is refused */
    rc = ic_test_run_cmd(out, sizeof out, "%s search --model %s --data %s --seq-len %d --batches %d "
                 "--keep 4 --out %s/b.txt --trace %s/b.json --resume", ic_test_bin(), mdir, h5, L - 1, W,
                 dir, dir);
    ck_assert_msg(rc != 0 && strstr(out, "seq_len = 20"), "%s", out);

    /* argument errors */
    struct { const char *args; const char *needle; int code; } bad[] = {
        {"--keep 0", "--keep 0: must be between 1", 2},
        {"--keep 8", "--keep 8: must be between 1", 2},
        {"--keep 2 --retain 0.5", "exactly one of --keep", 2},
        {"", "exactly one of --keep", 2},
        {"--retain 1.5", "--retain 1.5", 2},
        {"--keep 2 --resume", "--resume continues from the trace", 2},
        {"--keep 2 --split nope", "--split", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = ic_test_run_cmd(out, sizeof out, "%s %s --out %s/c.txt", common, bad[i].args, dir);
        ck_assert_msg(rc == bad[i].code && strstr(out, bad[i].needle),
                      "'%s': rc %d: %s", bad[i].args, rc, out);
    }
    /* a model whose layer 5 has no indexer */
    ic_indexer_free(&m.ix[5]);
    ck_assert_int_eq(ic_pattern_parse(&m.pattern, "FFFFFSF", NL, &err), 0);
    ck_assert_msg(ic_dsa_model_save(&m, pdir, &err) == 0, "%s", err.msg);
    rc = ic_test_run_cmd(out, sizeof out, "%s search --model %s --data %s --keep 2 --seq-len %d "
                 "--batches %d --out %s/c.txt", ic_test_bin(), pdir, h5, L, W, dir);
    ck_assert_msg(rc == 1 && strstr(out, "no indexer for layer 5") &&
                  strstr(out, "every layer needs an indexer"), "%s", out);
    /* more windows than the split holds */
    rc = ic_test_run_cmd(out, sizeof out, "%s search --model %s --data %s --keep 2 --seq-len %d "
                 "--batches 50 --out %s/c.txt", ic_test_bin(), mdir, h5, L, dir);
    ck_assert_msg(rc == 1 && strstr(out, "window(s) of 20 fit"), "%s", out);
    snprintf(path, sizeof path, "%s/c.txt", dir);
    ck_assert(!ic_path_exists(path));

    ic_search_trace_free(&ref);
    free(tok);
    ic_dsa_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_greedy_equals_brute_force);
    tcase_add_test(tc, test_extremes);
    tcase_add_test(tc, test_resume);
    tcase_add_test(tc, test_two_ranks);
    tcase_add_test(tc, test_library_errors);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
