/* indexcache search: training-free greedy search for the F/S pattern
 * (IndexCache Algorithm 1; train/ic_search.h), distributed over MPI ranks
 * by candidate, resumable from its JSON trace. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ic_h5tokens.h"
#include "ic_commands.h"
#include "kernels/ic_ctx.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "ic_preempt.h"
#include "launch/ic_args.h"
#include "launch/ic_dist.h"
#include "model/ic_dsa.h"
#include "train/ic_search.h"

typedef struct {
    const char *model, *data, *split, *out, *trace;
    long long keep, seq_len, batches, topk, cache_mb, stop_after;
    double retain;
    int json, resume;
} search_args;

/* ---- collectives for the library --------------------------------------- */

static void dist_sum(void *ctx, double *buf, size_t n) {
    (void)ctx;
    ic_dist_allreduce_sum_f64(buf, n);
}
static void dist_minloc(void *ctx, double *v, int *i) {
    (void)ctx;
    ic_dist_minloc_pair p = ic_dist_minloc(*v, *i);
    *v = p.value;
    *i = p.index;
}
static int dist_all_ok(void *ctx, int ok) {
    (void)ctx;
    return ic_dist_all_ok(ok);
}

/* ---- trace writing after every step (rank 0) -------------------------- */

typedef struct {
    const search_args *a;
    const ic_search_meta *meta;
    const char *trace_path;   /* NULL: no trace */
    int rank;
    int stopped;              /* --stop-after reached */
} step_ctx;

static int on_step(void *vctx, const ic_search_trace *t, ic_error *err) {
    step_ctx *c = vctx;
    int done = ic_pattern_n_full(&t->pattern) <= t->keep;
    int saved = !(c->trace_path && c->rank == 0 &&
                  ic_search_trace_save(t, c->meta, done, c->trace_path, err) != 0);
    /* preemption (core/ic_preempt.h): every rank calls on_step in the same
     * order and reaches this collective (also when rank 0's write failed),
     * so all agree; the trace of this step is already written */
    int sig = ic_preempt_pending();
    int stop = !done && !ic_dist_all_ok(!sig);
    if (!saved) return ic_error_wrap(err, "writing the trace");
    if (stop) {
        if (!c->trace_path)
            return ic_error_set(err, "%s received after step %d: stopped, and nothing was "
                                "saved (without --json or --trace there is no trace to resume)",
                                sig ? ic_preempt_name(sig) : "SIGTERM / SIGUSR1 on another rank",
                                t->n_steps);
        c->stopped = 1;
        if (c->rank == 0)   /* a warning: shown under --quiet too */
            ic_log_warn("search: %s received: stopped after step %d with the trace in %s; "
                        "continue with --resume",
                        sig ? ic_preempt_name(sig) : "SIGTERM / SIGUSR1 on another rank",
                        t->n_steps, c->trace_path);
        return ic_error_set(err, "stopped after step %d (%s)", t->n_steps,
                            sig ? ic_preempt_name(sig) : "signal");
    }
    if (c->a->stop_after > 0 && t->n_steps >= c->a->stop_after && !done) {
        c->stopped = 1;
        return ic_error_set(err, "stopped after step %d (--stop-after)", t->n_steps);
    }
    return 0;
}

/* ---- summary ---------------------------------------------------------- */

static void print_summary(const ic_search_trace *t, const search_args *a, int K) {
    char pat[IC_MAX_LAYERS + 1];
    ic_pattern p;
    ic_pattern_parse(&p, "uniform:1", t->n_layers, NULL);
    printf("\n%4s  %5s  %4s  %9s  %9s  %9s  %s\n", "step", "layer", "F", "loss", "vs all F",
           "runner-up", "pattern");
    printf("%4d  %5s  %4d  %9.5f  %+9.5f  %9s  %s\n", 0, "-", t->n_layers, t->start_loss, 0.0, "-",
           ic_pattern_to_string(&p, pat, sizeof pat));
    for (int i = 0; i < t->n_steps; i++) {
        const ic_search_step *s = &t->steps[i];
        /* how close the choice was: the second-best candidate's loss */
        double second = INFINITY;
        for (int l = 1; l < t->n_layers; l++)
            if (l != s->layer && s->cand_loss[l] < second) second = s->cand_loss[l];
        char sec[32];
        snprintf(sec, sizeof sec, isfinite(second) ? "%+.5f" : "-", second - s->loss);
        p.c[s->layer] = 'S';
        printf("%4d  %5d  %4d  %9.5f  %+9.5f  %9s  %s\n", i + 1, s->layer, ic_pattern_n_full(&p),
               s->loss, s->loss - t->start_loss, sec, ic_pattern_to_string(&p, pat, sizeof pat));
    }
    double saved = t->fwd_naive > 0 ? 1.0 - (double)t->fwd_done / (double)t->fwd_naive : 0.0;
    printf("(%d layers, top-k %d, %lld window(s) of %lld tokens from '%s'; runner-up: the next "
           "best candidate's loss minus the chosen one)\n", t->n_layers, K, a->batches,
           a->seq_len, a->split);
    printf("layer-forwards: %lld run with the prefix cache vs %lld naive (every candidate from "
           "layer 0): %lld saved (%.1f%%), %.0f s\n", (long long)t->fwd_done,
           (long long)t->fwd_naive, (long long)(t->fwd_naive - t->fwd_done), 100.0 * saved,
           t->seconds);
    printf("searched pattern (%d F): %s\n", ic_pattern_n_full(&t->pattern),
           ic_pattern_to_string(&t->pattern, pat, sizeof pat));
}

/* ---- argument checks that need only config.json ----------------------- */

static int resolve_keep(const search_args *a, int n_layers, int *keep, ic_error *err) {
    int has_keep = a->keep != LLONG_MIN, has_ret = !isnan(a->retain);
    if (has_keep == has_ret)
        return ic_error_set(err, "give exactly one of --keep N (layers that keep indexers) and "
                            "--retain R (their fraction, rounded up)");
    if (has_keep) {
        if (a->keep < 1 || a->keep > n_layers)
            return ic_error_set(err, "--keep %lld: must be between 1 (layer 0 always keeps its "
                                "indexer) and the model's %d layers", a->keep, n_layers);
        *keep = (int)a->keep;
    } else {
        if (!(a->retain > 0.0 && a->retain <= 1.0))
            return ic_error_set(err, "--retain %g: must be in (0, 1]", a->retain);
        /* the small epsilon keeps 0.5 * 30 at 15 despite binary rounding */
        *keep = (int)ceil(a->retain * n_layers - 1e-9);
        if (*keep < 1) *keep = 1;
    }
    return 0;
}

static int read_tokens(const search_args *a, int vocab, int32_t **out, ic_error *err) {
    ic_h5tokens r;
    ic_split split;
    if (ic_split_from_name(a->split, &split, err) != 0) return -1;
    if (ic_h5tokens_open(&r, a->data, err) != 0) return -1;
    size_t n = (size_t)a->batches * (size_t)a->seq_len + 1;
    uint64_t have = ic_h5tokens_len(&r, split);
    uint32_t *raw = NULL;
    int32_t *tok = NULL;
    int rc = -1;
    if (have < n) {
        ic_error_set(err, "%s split '%s' holds %llu tokens: %llu window(s) of %lld fit, --batches "
                     "%lld asked", a->data, a->split, (unsigned long long)have,
                     have > 0 ? (unsigned long long)((have - 1) / (uint64_t)a->seq_len) : 0ULL,
                     a->seq_len, a->batches);
        goto out;
    }
    raw = malloc(sizeof *raw * n);
    tok = malloc(sizeof *tok * n);
    if (!raw || !tok) {
        ic_error_set(err, "out of memory for %zu calibration tokens", n);
        goto out;
    }
    if (ic_h5tokens_read(&r, split, 0, n, raw, err) != 0) goto out;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] >= (uint32_t)vocab) {
            ic_error_set(err, "%s: token %u at offset %zu of '%s' is outside the model's "
                         "vocabulary (%d): data and model do not match", a->data, raw[i], i,
                         a->split, vocab);
            goto out;
        }
        tok[i] = (int32_t)raw[i];
    }
    *out = tok;
    tok = NULL;
    rc = 0;
out:
    free(raw);
    free(tok);
    ic_h5tokens_close(&r);
    return rc;
}

static int run(const search_args *a, ic_error *err) {
    const ic_dist *d = ic_dist_get();
    char path[4096], trace_buf[4200];
    ic_config cfg;
    snprintf(path, sizeof path, "%s/config.json", a->model);
    if (ic_config_load(&cfg, path, err) != 0) return 1;   /* a bad file, not a bad flag */
    int keep = 0;
    ic_split split;
    if (resolve_keep(a, cfg.n_layers, &keep, err) != 0) return 2;
    if (ic_split_from_name(a->split, &split, err) != 0) {
        ic_error_wrap(err, "--split");
        return 2;
    }
    const char *trace_path = a->trace;
    if (!trace_path && a->json) {
        snprintf(trace_buf, sizeof trace_buf, "%s.json", a->out);
        trace_path = trace_buf;
    }
    if (a->resume && !trace_path) {
        ic_error_set(err, "--resume continues from the trace: give --json (trace at %s.json) or "
                     "--trace FILE", a->out);
        return 2;
    }

    ic_dsa_model m;
    if (ic_dsa_model_load(&m, a->model, "uniform:1", (int)a->topk, IC_DSA_LOAD_ALL, err) != 0) {
        char inner[IC_ERROR_MSG_MAX];
        snprintf(inner, sizeof inner, "%s", err->msg);
        ic_error_clear(err);
        ic_error_set(err, "%.900s (search starts from all F, so every layer needs an indexer)",
                     inner);
        return 1;
    }
    int32_t *tokens = NULL;
    ic_search_trace t;
    memset(&t, 0, sizeof t);
    int rc = 1;
    if (read_tokens(a, m.w.cfg.vocab_size, &tokens, err) != 0) goto out;
    if (ic_search_trace_init(&t, cfg.n_layers, keep, err) != 0) goto out;
    size_t nt = (size_t)a->batches * a->seq_len + 1;
    ic_search_meta meta = {
        .model_dir = a->model, .model_hash = ic_search_model_hash(&m), .data_path = a->data,
        .split = a->split, .data_hash = ic_search_hash_bytes(tokens, sizeof *tokens * nt,
                                                             0xcbf29ce484222325ULL),
        .seq_len = (int)a->seq_len, .n_windows = (int)a->batches, .topk = m.topk,
    };
    if (a->resume && ic_path_exists(trace_path)) {
        int cut = 0;
        if (ic_search_trace_load(&t, &meta, trace_path, &cut, err) != 0) goto out;
        ic_log_info("search: --resume: %s holds %d step(s)%s", trace_path, t.n_steps + cut,
                    cut ? ", more than --keep needs: the first ones are the answer" : "");
    } else if (a->resume) {
        ic_log_info("search: --resume: no trace at %s yet, starting from all F", trace_path);
    }
    ic_log_info("search: %s (%d layers, K = %d), %s split '%s': %lld window(s) x %lld tokens, "
                "keep %d F layer(s), %d rank(s)", a->model, cfg.n_layers, m.topk, a->data,
                a->split, a->batches, a->seq_len, keep, d->world);
    ic_search_comm comm = {d->rank, d->world, NULL, dist_sum, dist_minloc, dist_all_ok};
    step_ctx sc = {a, &meta, trace_path, d->rank, 0};
    ic_search_opts o = {
        .seq_len = (int)a->seq_len, .n_windows = (int)a->batches,
        .cache_bytes = (size_t)a->cache_mb << 20, .progress = 1, .comm = &comm,
        .on_step = on_step, .on_step_ctx = &sc,
    };
    /* search's driver hashes and caches host tensors: the CPU until it is ported */
    if (ic_search_run(ic_cmd_ctx_for(IC_NEED_ALL | IC_NEED_HOST), &m, tokens, &o, &t, err) != 0) {
        if (sc.stopped) {
            ic_log_info("search: %s; continue with --resume", err->msg);
            rc = 0;
        }
        goto out;
    }
    if (d->rank == 0) {
        char pat[IC_MAX_LAYERS + 2];
        ic_pattern_to_string(&t.pattern, pat, sizeof pat - 1);
        strcat(pat, "\n");
        if (ic_write_file_atomic(a->out, pat, strlen(pat), err) != 0) goto out;
        /* a trace cut by a smaller --keep is rewritten to this search */
        if (trace_path && ic_search_trace_save(&t, &meta, 1, trace_path, err) != 0) goto out;
        print_summary(&t, a, m.topk);
        printf("wrote %s%s%s\n", a->out, trace_path ? " and " : "", trace_path ? trace_path : "");
    }
    rc = 0;
out:
    ic_search_trace_free(&t);
    free(tokens);
    ic_dsa_model_free(&m);
    return rc;
}

int ic_cmd_search(int argc, char **argv) {
    search_args a = {.split = "val", .keep = LLONG_MIN, .retain = NAN, .seq_len = 512,
                     .batches = 4, .cache_mb = 2048};
    const ic_arg_spec args[] = {
        {"--model", IC_ARG_STRING, &a.model, "DIR", "model dir with an indexer at every layer (trained all F)", 1, 0, 0},
        {"--data", IC_ARG_STRING, &a.data, "FILE.h5", "token dataset from `indexcache prep`", 1, 0, 0},
        {"--split", IC_ARG_STRING, &a.split, "NAME", "calibration split: val or train (default val)", 0, 0, 0},
        {"--keep", IC_ARG_INT, &a.keep, "N", "stop when N layers keep indexers (1..n_layers)", 0, 0, 0},
        {"--retain", IC_ARG_DOUBLE, &a.retain, "R", "or keep the fraction R of the layers, rounded up (0 < R <= 1)", 0, 0, 0},
        {"--seq-len", IC_ARG_INT, &a.seq_len, "L", "tokens per calibration window (default 512)", 0, 1, 1 << 24},
        {"--batches", IC_ARG_INT, &a.batches, "B", "calibration windows, the first B of the split (default 4)", 0, 1, 1 << 20},
        {"--topk", IC_ARG_INT, &a.topk, "K", "keys per query (default: config index_topk)", 0, 1, 1 << 30},
        {"--out", IC_ARG_STRING, &a.out, "FILE", "where the searched pattern string is written", 1, 0, 0},
        {"--json", IC_ARG_FLAG, &a.json, NULL, "write the trace (every step, every candidate's loss) to FILE.json", 0, 0, 0},
        {"--trace", IC_ARG_STRING, &a.trace, "PATH", "write the trace here instead (implies --json)", 0, 0, 0},
        {"--resume", IC_ARG_FLAG, &a.resume, NULL, "continue the search in the trace (same model, data, L, B, K)", 0, 0, 0},
        {"--cache-mb", IC_ARG_INT, &a.cache_mb, "MB", "prefix-cache budget per rank; 0 = no cache (default 2048)", 0, 0, 1 << 30},
        {"--stop-after", IC_ARG_INT, &a.stop_after, "N", "stop after step N as if interrupted (tests of --resume)", 0, 0, 1 << 20},
    };
    const ic_cmd_spec spec = {
        "search",
        "--model DIR --data FILE.h5 (--keep N | --retain R) --out FILE [--split val] "
        "[--seq-len L] [--batches B] [--topk K] [--json | --trace PATH] [--resume] [--cache-mb MB]",
        "IndexCache's training-free greedy search (Algorithm 1). Starts from all F; each step\n"
        "scores every F layer but layer 0 flipped to S by the LM loss on the same B windows of\n"
        "L tokens (the first B*L + 1 tokens of the split) and commits the flip with the lowest\n"
        "loss (ties to the lower layer), until N layers keep indexers. Each candidate resumes\n"
        "from cached hidden states and index buffers at the layer boundaries of the current\n"
        "pattern (memory: B * (layers-1) * L * (4*D + 4*(K+1)) bytes; with less --cache-mb every\n"
        "s-th boundary, or none). Under mpirun -np N, rank r scores candidates r, r+N, ...\n"
        "Writes the pattern to FILE; the trace (JSON) is rewritten after every step and\n"
        "--resume continues from it. Set OMP_NUM_THREADS per rank. Several GPUs or hosts:\n"
        "launch/scripts/mpirun.sh or launch/scripts/indexcache.sbatch (Slurm), one rank per GPU.",
        args, (int)(sizeof args / sizeof args[0]), NULL, 0, 0,
    };
    int npos = 0, status = 0;
    if (ic_args_run(&spec, argc, argv, NULL, &npos, &status)) return status;
    if (a.trace) a.json = 1;
    ic_error err;
    ic_error_clear(&err);
    ic_cmd_preempt_install();   /* SIGTERM / SIGUSR1: stop after the step, trace written */
    int rc = run(&a, &err);
    if (rc == 0) return 0;
    if (ic_dist_get()->world > 1 && rc != 2)
        ic_dist_fail("%s%s", strncmp(err.msg, "search", 6) == 0 ? "" : "search: ", err.msg);
    fprintf(stderr, "indexcache search: %s\n", err.msg);
    if (rc == 2) fprintf(stderr, "(see indexcache search --help)\n");
    return rc;
}
