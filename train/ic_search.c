/* Greedy IndexCache layer search with a prefix cache (see ic_search.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ic_alloc.h"
#include "kernels/ic_ctx.h"
#include "ic_log.h"
#include "train/ic_search.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* (the trace itself: ic_search_io.c) */

/* ---- hashes ------------------------------------------------------------ */

uint64_t ic_search_hash_bytes(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    /* FNV-1a over 8-byte words (bytewise for the tail): fast enough for a
     * few hundred MB of weights, and a fingerprint, not a security check */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t ic_search_model_hash(const ic_dsa_model *m) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const ic_config *c = &m->w.cfg;
    int shape[4] = {c->n_layers, c->hidden_size, c->vocab_size, m->topk};
    h = ic_search_hash_bytes(shape, sizeof shape, h);
    h = ic_search_hash_bytes(m->w.block, sizeof(float) * m->w.n_floats, h);
    for (int l = 0; l < c->n_layers; l++)
        if (ic_dsa_model_has_indexer(m, l))
            h = ic_search_hash_bytes(m->ix[l].data, sizeof(float) * m->ix[l].numel, h);
    return h;
}

/* ---- collectives (a single process when comm is NULL) ------------------ */

static int comm_world(const ic_search_comm *c) { return c && c->world > 1 ? c->world : 1; }
static int comm_rank(const ic_search_comm *c) { return c && c->world > 1 ? c->rank : 0; }

static void comm_sum(const ic_search_comm *c, double *buf, size_t n) {
    if (comm_world(c) > 1 && c->sum_f64) c->sum_f64(c->ctx, buf, n);
}

static void comm_minloc(const ic_search_comm *c, double *v, int *i) {
    if (comm_world(c) > 1 && c->minloc) c->minloc(c->ctx, v, i);
}

static int comm_all_ok(const ic_search_comm *c, int ok) {
    return comm_world(c) > 1 && c->all_ok ? c->all_ok(c->ctx, ok) : ok != 0;
}

/* ---- prefix cache ------------------------------------------------------- */

static size_t boundary_bytes(const ic_dsa_model *m, int L) {
    return (size_t)L * (sizeof(float) * (size_t)m->w.cfg.hidden_size +
                        sizeof(int32_t) * ((size_t)m->topk + 1));
}

int ic_search_cache_plan(const ic_dsa_model *m, int seq_len, int n_windows, size_t cache_bytes,
                         int *stride, size_t *bytes) {
    const int n = m->w.cfg.n_layers;
    const size_t per = boundary_bytes(m, seq_len) * (size_t)n_windows;
    for (int s = 1; s < n; s++) {
        int nb = (n - 1) / s;
        if (per > 0 && (size_t)nb <= cache_bytes / per) {
            *stride = s;
            *bytes = per * (size_t)nb;
            return nb;
        }
    }
    *stride = n;
    *bytes = 0;
    return 0;
}

typedef struct {
    ic_ctx *ctx;             /* the forwards' ops and the cache live on it */
    const ic_dsa_model *m;
    const int32_t *tokens;   /* [W*L + 1] */
    int L, W, n, D, K;
    int stride, nb;          /* cached boundaries stride, 2*stride, ..., nb*stride */
    float   *hid;            /* [W, nb, L, D]  input of the boundary layer */
    int32_t *idx;            /* [W, nb, L, K]  index buffer entering it */
    int32_t *cnt;            /* [W, nb, L] */
    ic_dsa_state st;
    int64_t done, naive;     /* this rank's layer-forwards */
} search_ctx;

/* r(c): the nearest cached boundary at or before layer c (0: from the start). */
static int resume_at(const search_ctx *x, int c) {
    return x->nb == 0 ? 0 : (c / x->stride) * x->stride;
}

static size_t slot(const search_ctx *x, int w, int b) {
    return (size_t)w * x->nb + (size_t)(b / x->stride - 1);
}

static int is_cached(const search_ctx *x, int b) {
    return x->nb > 0 && b > 0 && b % x->stride == 0 && b / x->stride <= x->nb;
}

/* One window, pattern p, layers [r, n) resumed from the cache at r (from the
 * tokens when r = 0). With refresh, the layers run one at a time and the
 * cached boundaries after r are rewritten with p's states. */
static int window_run(search_ctx *x, int w, const ic_pattern *p, int r, int refresh,
                      double *sum, long *cnt, ic_error *err) {
    const size_t L = (size_t)x->L;
    const int32_t *tok = x->tokens + (size_t)w * L;
    ic_dsa_fwd_opts o = {.pattern = p, .mode = IC_DSA_MODE_PATTERN, .layer_begin = r};
    if (r > 0) {
        size_t s = slot(x, w, r);
        ic_buf_copy(x->ctx, x->st.hidden, x->hid + s * L * x->D, sizeof(float) * L * x->D);
        o.idx_in = x->idx + s * L * x->K;
        o.cnt_in = x->cnt + s * L;
    }
    ic_dsa_result res;
    if (!refresh) {
        if (ic_dsa_forward(x->m, &x->st, tok, tok + 1, x->L, &o, &res, err) != 0) return -1;
    } else {
        for (int l = r; l < x->n; l++) {
            o.layer_begin = l;
            o.layer_end = l + 1;
            if (ic_dsa_forward(x->m, &x->st, tok, l + 1 == x->n ? tok + 1 : NULL, x->L, &o, &res,
                               err) != 0)
                return -1;
            /* the next layer resumes with the buffer as this one left it */
            o.idx_in = x->st.sel.idx;
            o.cnt_in = x->st.sel.cnt;
            if (is_cached(x, l + 1)) {
                size_t s = slot(x, w, l + 1);
                ic_buf_copy(x->ctx, x->hid + s * L * x->D, x->st.hidden, sizeof(float) * L * x->D);
                ic_buf_copy(x->ctx, x->idx + s * L * x->K, x->st.sel.idx,
                            sizeof(int32_t) * L * x->K);
                ic_buf_copy(x->ctx, x->cnt + s * L, x->st.sel.cnt, sizeof(int32_t) * L);
            }
        }
    }
    *sum += res.sum_nll;
    *cnt += res.n_targets;
    x->done += x->n - r;
    return 0;
}

/* Mean loss of p over all windows, resumed at r. */
static int pattern_loss(search_ctx *x, const ic_pattern *p, int r, int refresh, double *loss,
                        ic_error *err) {
    double sum = 0.0;
    long cnt = 0;
    for (int w = 0; w < x->W; w++)
        if (window_run(x, w, p, r, refresh, &sum, &cnt, err) != 0)
            return ic_error_wrap(err, "search: window %d", w);
    *loss = sum / (double)cnt;
    return 0;
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, n, "%.0fs", s);
}

static void ctx_free(search_ctx *x) {
    ic_dsa_state_free(&x->st);
    if (x->ctx) {
        ic_buf_free(x->ctx, x->hid);
        ic_buf_free(x->ctx, x->idx);
        ic_buf_free(x->ctx, x->cnt);
    }
}

static int ctx_init(search_ctx *x, ic_ctx *ctx, const ic_dsa_model *m, const int32_t *tokens,
                    const ic_search_opts *o, ic_error *err) {
    memset(x, 0, sizeof *x);
    x->ctx = ctx;
    x->m = m;
    x->tokens = tokens;
    x->L = o->seq_len;
    x->W = o->n_windows;
    x->n = m->w.cfg.n_layers;
    x->D = m->w.cfg.hidden_size;
    x->K = m->topk;
    size_t bytes;
    x->nb = ic_search_cache_plan(m, x->L, x->W, o->cache_bytes, &x->stride, &bytes);
    if (ic_dsa_state_init(&x->st, ctx, m, x->L, err) != 0) return -1;
    if (x->nb > 0) {
        size_t slots = (size_t)x->W * x->nb, L = (size_t)x->L;
        x->hid = ic_buf_alloc(ctx, sizeof(float) * slots * L * x->D);
        x->idx = ic_buf_alloc(ctx, sizeof(int32_t) * slots * L * x->K);
        x->cnt = ic_buf_alloc(ctx, sizeof(int32_t) * slots * L);
        if (!x->hid || !x->idx || !x->cnt) {
            ctx_free(x);
            return ic_error_set(err, "search: out of memory for the prefix cache (%.1f MB): "
                                "lower --cache-mb", (double)bytes / 1048576.0);
        }
    }
    if (x->nb == 0)
        ic_log_info("search: prefix cache off (budget %.1f MB < %.1f MB for one boundary of %d "
                    "window(s)): every candidate runs from layer 0", o->cache_bytes / 1048576.0,
                    boundary_bytes(m, x->L) * (double)x->W / 1048576.0, x->W);
    else
        ic_log_info("search: prefix cache %d boundar%s x %d window(s) = %.1f MB (every %d layer%s; "
                    "budget %.1f MB)", x->nb, x->nb == 1 ? "y" : "ies", x->W,
                    (double)bytes / 1048576.0, x->stride, x->stride == 1 ? "" : "s",
                    o->cache_bytes / 1048576.0);
    return 0;
}

static int check_inputs(const ic_dsa_model *m, const int32_t *tokens, const ic_search_opts *o,
                        const ic_search_trace *t, ic_error *err) {
    const int n = m->w.cfg.n_layers;
    if (o->seq_len < 1 || o->n_windows < 1)
        return ic_error_set(err, "search: need seq_len >= 1 and windows >= 1 (got %d, %d)",
                            o->seq_len, o->n_windows);
    if (t->n_layers != n)
        return ic_error_set(err, "search: the trace has %d layers, the model %d", t->n_layers, n);
    if (t->keep < 1 || t->keep > n)
        return ic_error_set(err, "search: keep %d must be in 1..%d", t->keep, n);
    for (int l = 0; l < n; l++)
        if (!ic_dsa_model_has_indexer(m, l))
            return ic_error_set(err, "search starts from all F, so every layer needs an indexer, "
                                "but layer %d has none (model.layers.%d.self_attn.indexer.*): "
                                "train them all F (`indexcache train --pattern uniform:1`) or "
                                "make them with `indexcache init-indexers --pattern uniform:1`",
                                l, l);
    size_t nt = (size_t)o->n_windows * o->seq_len + 1;
    for (size_t i = 0; i < nt; i++)
        if (tokens[i] < 0 || tokens[i] >= m->w.cfg.vocab_size)
            return ic_error_set(err, "search: calibration token %d at position %zu is outside "
                                "the model's vocabulary (%d)", tokens[i], i, m->w.cfg.vocab_size);
    return 0;
}

/* One step: every candidate's loss (this rank's share), the reductions,
 * the commit and the cache refresh. */
static int search_step(search_ctx *x, const ic_search_opts *o, ic_search_trace *t,
                       double t0, int64_t done0, ic_error *err) {
    const int n = x->n, world = comm_world(o->comm), rank = comm_rank(o->comm);
    const int step = t->n_steps + 1, n_steps = t->n_layers - t->keep;
    const double cur = t->n_steps ? t->steps[t->n_steps - 1].loss : t->start_loss;
    int cand[IC_MAX_LAYERS], nc = 0;
    for (int l = 1; l < n; l++)
        if (t->pattern.c[l] == 'F') cand[nc++] = l;
    /* buf: [n] candidate losses (0 where another rank has it), then this
     * rank's done / naive layer-forwards, summed over ranks in one call */
    double buf[IC_MAX_LAYERS + 2];
    memset(buf, 0, sizeof buf);
    double best = INFINITY;
    int best_layer = INT_MAX, ok = 1;
    int64_t done_before = x->done;
    for (int i = rank; i < nc && ok; i += world) {
        int c = cand[i], r = resume_at(x, c);
        ic_pattern p = t->pattern;
        p.c[c] = 'S';
        double tc = now_s(), loss;
        if (pattern_loss(x, &p, r, 0, &loss, err) != 0) {
            ok = 0;
            break;
        }
        buf[c] = loss;
        x->naive += (int64_t)n * x->W;
        if (loss < best) {   /* ascending c: ties keep the lower layer; NaN never wins */
            best = loss;
            best_layer = c;
        }
        if (o->progress) {
            /* ETA from this rank's speed: the rest of this step plus the
             * later steps, whose candidates cost about what these did */
            double per_fwd = (now_s() - t0) / (double)(x->done - done0);
            double mine_left = 0, mean = (double)(x->done - done_before) / ((i - rank) / world + 1);
            for (int j = i + world; j < nc; j += world) mine_left += (double)(n - resume_at(x, cand[j])) * x->W;
            for (int k = 1; k < n_steps - t->n_steps; k++) mine_left += mean * (nc - k) / world + mean;
            char eta[32];
            fmt_eta(per_fwd * mine_left, eta, sizeof eta);
            ic_log_info("search step %d/%d  candidate %d/%d (layer %d, from layer %d)  loss %.5f "
                        "(%+.5f)  %.2fs  ETA %s", step, n_steps, i + 1, nc, c, r, loss, loss - cur,
                        now_s() - tc, eta);
        }
    }
    if (!comm_all_ok(o->comm, ok)) {
        if (ok) ic_error_set(err, "search step %d: another rank failed", step);
        return -1;
    }
    for (int l = 0; l < n; l++)
        if (t->pattern.c[l] != 'F' || l == 0) buf[l] = 0.0;
    buf[n] = (double)(x->done - done_before);
    buf[n + 1] = (double)(x->naive);
    x->naive = 0;
    comm_sum(o->comm, buf, (size_t)n + 2);
    comm_minloc(o->comm, &best, &best_layer);
    if (!(best < INFINITY) || best_layer < 1 || best_layer >= n)
        return ic_error_set(err, "search step %d: no candidate has a finite loss (NaN or inf "
                            "everywhere): the model or the data is broken", step);
    double cand_loss[IC_MAX_LAYERS];
    for (int l = 0; l < n; l++) cand_loss[l] = NAN;
    for (int i = 0; i < nc; i++) cand_loss[cand[i]] = buf[cand[i]];
    /* the gathered losses must name the same winner as the reduction */
    for (int i = 0; i < nc; i++)
        if (cand_loss[cand[i]] < best || (cand_loss[cand[i]] == best && cand[i] < best_layer))
            return ic_error_set(err, "search step %d: reduction picked layer %d (%.9g) but layer "
                                "%d has %.9g: ranks disagree", step, best_layer, best, cand[i],
                                cand_loss[cand[i]]);
    if (ic_search_trace_push(t, best_layer, best, cand_loss, err) != 0) return -1;
    t->fwd_done += (int64_t)buf[n];
    t->fwd_naive += (int64_t)buf[n + 1];
    if (x->nb > 0) {   /* boundaries after r(c*) now belong to the new pattern */
        int64_t d0 = x->done;
        double loss;
        int rc = pattern_loss(x, &t->pattern, resume_at(x, best_layer), 1, &loss, err);
        if (!comm_all_ok(o->comm, rc == 0)) {
            if (rc == 0) ic_error_set(err, "search step %d: another rank failed", step);
            return -1;
        }
        t->fwd_done += (int64_t)(x->done - d0) * world;
        if (fabs(loss - best) > 1e-6 * fabs(best))
            ic_log_warn("search step %d: refreshed loss %.9g differs from the candidate's %.9g",
                        step, loss, best);
    }
    char pat[IC_MAX_LAYERS + 1];
    ic_log_info("search step %d/%d: layer %d -> S  loss %.5f (%+.5f vs all F)  %s", step,
                n_steps, best_layer, best, best - t->start_loss,
                ic_pattern_to_string(&t->pattern, pat, sizeof pat));
    return 0;
}

/* The callback may fail on one rank only (rank 0 writes the trace): every
 * rank takes the error path together. */
static int call_on_step(const ic_search_opts *o, const ic_search_trace *t, ic_error *err) {
    int ok = !o->on_step || o->on_step(o->on_step_ctx, t, err) == 0;
    if (comm_all_ok(o->comm, ok)) return 0;
    if (ok) ic_error_set(err, "search: another rank failed after step %d", t->n_steps);
    return -1;
}

int ic_search_run(ic_ctx *ctx, const ic_dsa_model *m, const int32_t *tokens,
                  const ic_search_opts *o, ic_search_trace *t, ic_error *err) {
    if (check_inputs(m, tokens, o, t, err) != 0) return -1;
    search_ctx x;
    if (ctx_init(&x, ctx, m, tokens, o, err) != 0) return -1;
    const int world = comm_world(o->comm);
    double t0 = now_s(), t_prev = t->seconds;
    int rc = 0;
    /* Forward of the current pattern from layer 0: the start loss, and the
     * cache of every boundary (on every rank: each keeps its own) */
    double loss;
    rc = pattern_loss(&x, &t->pattern, 0, x.nb > 0, &loss, err);
    if (!comm_all_ok(o->comm, rc == 0)) {
        if (rc == 0) ic_error_set(err, "search: another rank failed");
        rc = -1;
        goto out;
    }
    t->fwd_done += (int64_t)x.n * x.W * world;
    if (t->n_steps == 0) {
        t->start_loss = loss;
        t->fwd_naive += (int64_t)x.n * x.W;
        ic_log_info("search: all F loss %.5f over %d window(s) of %d tokens; %d step(s) to keep %d "
                    "of %d layers", loss, x.W, x.L, t->n_layers - t->keep, t->keep, t->n_layers);
    } else {
        double last = t->steps[t->n_steps - 1].loss;
        ic_log_info("search: resumed after step %d, loss %.5f (trace: %.5f)", t->n_steps, loss,
                    last);
        if (fabs(loss - last) > 1e-5 * fabs(last))
            ic_log_warn("search: the resumed pattern's loss %.9g differs from the trace's %.9g",
                        loss, last);
    }
    if ((rc = call_on_step(o, t, err)) != 0) goto out;
    int64_t done0 = x.done;
    double ts = now_s();
    while (ic_pattern_n_full(&t->pattern) > t->keep) {
        if ((rc = search_step(&x, o, t, ts, done0, err)) != 0) break;
        t->seconds = t_prev + (now_s() - t0);
        if ((rc = call_on_step(o, t, err)) != 0) break;
    }
out:
    t->seconds = t_prev + (now_s() - t0);
    ctx_free(&x);
    return rc ? -1 : 0;
}
