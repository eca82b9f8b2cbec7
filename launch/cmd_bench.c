/* indexcache bench --model DIR [...]: prefill and decode speed of the dense
 * teacher, all-F DSA and IndexCache patterns, per context length, on
 * whichever backend the context opens (the same ops and the same command on
 * the CPU and the GPU). Random tokens, the model's real weights. Results:
 * launch/ic_bench.h; the timed forward: model/ic_dsa_timed.h; decoding:
 * model/ic_dsa_decode.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ic_commands.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "kernels/ic_ctx.h"
#include "launch/ic_args.h"
#include "launch/ic_bench.h"
#include "model/ic_dsa_decode.h"
#include "model/ic_dsa_timed.h"

static const char *model_dir, *patterns_arg, *lens_arg, *dlens_arg, *png_path;
static long long decode_tokens, topk, batch, repeats, warmup, seed;
static int want_json;

static const ic_arg_spec k_args[] = {
    {"--model", IC_ARG_STRING, &model_dir, "DIR", "model dir with indexers for the F layers of every pattern", 1, 0, 0},
    {"--patterns", IC_ARG_STRING, &patterns_arg, "LIST",
     "comma-separated: dense, F (all F), uniform:R, a literal F/S string, or a FILE holding one "
     "(its first line that is not blank or a # comment) (default dense,F,uniform:2,uniform:4,uniform:8)", 0, 0, 0},
    {"--seq-lens", IC_ARG_STRING, &lens_arg, "LIST",
     "prefill lengths, comma-separated, K = 1024 (e.g. 2K,8K; 'none' skips the prefill) (default 2K,4K,8K)", 0, 0, 0},
    {"--decode-lens", IC_ARG_STRING, &dlens_arg, "LIST",
     "decode context lengths, as --seq-lens (default: the --seq-lens)", 0, 0, 0},
    {"--decode-tokens", IC_ARG_INT, &decode_tokens, "N",
     "tokens decoded per repeat and context length; 0 skips the decode (default 16)", 0, 0, 1 << 20},
    {"--topk", IC_ARG_INT, &topk, "K", "keys per query for sparse attention (default: config index_topk)", 0, 1, 1 << 30},
    {"--batch", IC_ARG_INT, &batch, "B", "sequences per timed prefill, run one after another (default 1)", 0, 1, 1 << 16},
    {"--repeats", IC_ARG_INT, &repeats, "R", "timed repeats; the median is reported (default 3)", 0, 1, 1000},
    {"--warmup", IC_ARG_INT, &warmup, "W", "untimed runs of each measurement first (default 1)", 0, 0, 1000},
    {"--seed", IC_ARG_INT, &seed, "S", "seed of the random tokens and cache fill (default 0)", 0, 0, 1e18},
    {"--json", IC_ARG_FLAG, &want_json, NULL, "print JSON instead of the tables", 0, 0, 0},
    {"--png", IC_ARG_STRING, &png_path, "FILE.png", "also plot the speed-ups against the context length", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "bench", "--model DIR [--patterns LIST] [--seq-lens LIST] [--decode-lens LIST] "
    "[--decode-tokens N] [--topk K] [--batch B] [--repeats R] [--warmup W] [--seed S] [--json] "
    "[--png FILE]",
    "Prefill: the wall time of a forward of L random tokens (embedding, every layer, the LM\n"
    "head of the last token) per pattern and length, split into the F layers' indexer\n"
    "projections (ix_proj), indexer scores (ix_scores), top-k, attention (sparse, or dense for\n"
    "`dense`) and the rest of the layers; each phase boundary syncs the backend's stream.\n"
    "Median of R repeats after W warm-ups, the patterns interleaved within each repeat; spread =\n"
    "(max - min) / median. `speedup` is all-F's time over the pattern's; `amdahl` the bound\n"
    "from all-F's phases, the indexer phases scaled by the pattern's F-layer count.\n"
    "Decode: tokens/s of N steps after a context of T tokens, from the KV cache plus an\n"
    "indexer-key cache of the F layers only (their bytes are printed); each step's indexer\n"
    "scores the new token against the cached keys (O(T) per F layer). For speed the caches\n"
    "are filled with random values, not by a prefill: the cost of a step does not depend on\n"
    "them. All F needs indexers at every layer (`indexcache init-indexers --pattern uniform:1`).",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), NULL, 0, 0,
};

/* "2048,8K" -> lens; "none" -> 0 entries. -1 naming the bad item. */
static int parse_lens(const char *flag, const char *s, int *out, int *n, ic_error *err) {
    *n = 0;
    if (strcmp(s, "none") == 0) return 0;
    const char *p = s;
    while (1) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) return ic_error_set(err, "%s: '%s' is not a list of lengths", flag, s);
        if (*end == 'K' || *end == 'k') { v *= 1024; end++; }
        if (v < 1 || v > (1 << 24))
            return ic_error_set(err, "%s: length %lld is outside 1..%d", flag, v, 1 << 24);
        if (*n >= IC_BENCH_MAX_LENS) return ic_error_set(err, "%s: more than %d lengths", flag, IC_BENCH_MAX_LENS);
        out[(*n)++] = (int)v;
        if (*end == '\0') return 0;
        if (*end != ',') return ic_error_set(err, "%s: '%s' is not a list of lengths", flag, s);
        p = end + 1;
    }
}

/* A FILE item: its first line that is not blank or a comment, trimmed. */
static int read_pattern_file(const char *path, char *out, size_t cap, ic_error *err) {
    size_t len;
    char *buf = ic_read_file(path, &len, err);
    if (!buf) return -1;
    int rc = ic_error_set(err, "pattern file %s holds no pattern", path);
    for (char *p = buf; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        char *hash = strchr(p, '#');
        if (hash) *hash = '\0';
        while (isspace((unsigned char)*p)) p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
        if (*p) {
            snprintf(out, cap, "%s", p);
            rc = 0;
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(buf);
    return rc;
}

static char g_spec_buf[IC_BENCH_MAX_PATTERNS][IC_MAX_LAYERS + 64];

static int parse_patterns(ic_bench_results *r, const char *list, int n_layers, ic_error *err) {
    char *dup = strdup(list);
    if (!dup) return ic_error_set(err, "out of memory");
    int rc = 0;
    r->n_pat = 0;
    r->allf = -1;
    for (char *save = NULL, *it = strtok_r(dup, ",", &save); it && rc == 0;
         it = strtok_r(NULL, ",", &save)) {
        if (r->n_pat >= IC_BENCH_MAX_PATTERNS) {
            rc = ic_error_set(err, "--patterns: more than %d patterns", IC_BENCH_MAX_PATTERNS);
            break;
        }
        const int i = r->n_pat;
        snprintf(g_spec_buf[i], sizeof g_spec_buf[i], "%s", it);
        const char *spec = strcmp(it, "F") == 0 ? "uniform:1" : it;
        char from_file[IC_MAX_LAYERS + 64];
        int literal = strspn(it, "FS") == strlen(it);
        if (!literal && strcmp(it, "dense") != 0 && strncmp(it, "uniform:", 8) != 0) {
            if (access(it, R_OK) != 0) {
                rc = ic_error_set(err, "--patterns: '%s' is neither dense, F, uniform:R, a "
                                  "literal F/S string nor a file", it);
                break;
            }
            if (read_pattern_file(it, from_file, sizeof from_file, err) != 0) {
                rc = ic_error_wrap(err, "--patterns");
                break;
            }
            spec = from_file;
        }
        if (ic_pattern_parse(&r->pat[i], spec, n_layers, err) != 0) {
            rc = ic_error_wrap(err, "--patterns: pattern '%s'", it);
            break;
        }
        r->spec[i] = g_spec_buf[i];
        if (!r->pat[i].dense && ic_pattern_n_full(&r->pat[i]) == n_layers && r->allf < 0)
            r->allf = i;
        r->n_pat++;
    }
    free(dup);
    if (rc == 0 && r->n_pat == 0) rc = ic_error_set(err, "--patterns: the list is empty");
    return rc;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* index of the median of v[0..n) (the lower one for even n) */
static int median_index(const double *v, int n) {
    double s[1000];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_dbl);
    const double med = s[(n - 1) / 2];
    for (int i = 0; i < n; i++)
        if (v[i] == med) return i;
    return 0;
}

static double spread_of(const double *v, int n, double med) {
    double lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    return med > 0 ? (hi - lo) / med : 0;
}

static void random_tokens(int32_t *t, int n, int V, uint64_t *s) {
    for (int i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int32_t)((*s >> 33) % (uint64_t)V);
    }
}

/* One timed prefill repeat of B sequences: the phases summed over them. */
static int prefill_once(const ic_dsa_model *m, const ic_weights *w, ic_dsa_state *st,
                        const ic_pattern *p, int32_t *tok, int L, void *logits, double *ph,
                        double *total, uint64_t *rs, ic_error *err) {
    memset(ph, 0, sizeof(double) * IC_DSA_N_PHASES);
    *total = 0;
    for (int b = 0; b < batch; b++) {
        random_tokens(tok, L, w->cfg.vocab_size, rs);
        ic_phase_timer t;
        if (ic_dsa_prefill_timed(m, w, st, p, tok, L, logits, &t, err) != 0) return -1;
        for (int k = 0; k < IC_DSA_N_PHASES; k++) ph[k] += t.acc[k];
        *total += t.total;
    }
    return 0;
}

static int run_prefill(ic_bench_results *r, ic_ctx *ctx, const ic_dsa_model *m,
                       const ic_weights *w, ic_error *err) {
    const int R = (int)repeats, P = r->n_pat;
    double (*tot)[IC_BENCH_MAX_PATTERNS] = calloc((size_t)R, sizeof *tot);
    double (*ph)[IC_BENCH_MAX_PATTERNS][IC_DSA_N_PHASES] = calloc((size_t)R, sizeof *ph);
    int rc = -1;
    if (!tot || !ph) { ic_error_set(err, "out of memory"); goto out; }
    for (int li = 0; li < r->n_len; li++) {
        const int L = r->len[li];
        ic_dsa_state st;
        int32_t *tok = malloc(sizeof(int32_t) * (size_t)L);
        void *logits = ic_buf_alloc(ctx, sizeof(float) * (size_t)w->cfg.vocab_size);
        if (!tok || !logits) { free(tok); ic_buf_free(ctx, logits); ic_error_set(err, "out of memory"); goto out; }
        if (ic_dsa_state_init(&st, ctx, m, L, err) != 0) {
            free(tok);
            ic_buf_free(ctx, logits);
            ic_error_wrap(err, "prefill at L = %d", L);
            goto out;
        }
        uint64_t rs = (uint64_t)seed * 0x9E3779B97F4A7C15ull + (uint64_t)L;
        int bad = 0;
        /* warm-ups, then the repeats with the patterns interleaved, so that a
         * slow spell of a shared machine hits every pattern alike */
        for (int rep = -(int)warmup; rep < R && !bad; rep++)
            for (int pi = 0; pi < P && !bad; pi++) {
                double pht[IC_DSA_N_PHASES], t;
                if (prefill_once(m, w, &st, &r->pat[pi], tok, L, logits, pht, &t, &rs, err) != 0) {
                    ic_error_wrap(err, "prefill of pattern %s at L = %d", r->spec[pi], L);
                    bad = 1;
                    break;
                }
                if (rep < 0) continue;
                tot[rep][pi] = t;
                memcpy(ph[rep][pi], pht, sizeof pht);
                if (!want_json)
                    ic_log_info("prefill L = %d, repeat %d/%d, %-12s %9.1f ms", L, rep + 1, R,
                                r->spec[pi], 1e3 * t);
            }
        ic_dsa_state_free(&st);
        free(tok);
        ic_buf_free(ctx, logits);
        if (bad) goto out;
        for (int pi = 0; pi < P; pi++) {
            double v[1000];
            for (int rep = 0; rep < R; rep++) v[rep] = tot[rep][pi];
            int mi = median_index(v, R);
            ic_bench_prefill *c = &r->pre[li][pi];
            c->ok = 1;
            c->total = v[mi];
            c->spread = spread_of(v, R, v[mi]);
            memcpy(c->ph, ph[mi][pi], sizeof c->ph);
        }
        for (int pi = 0; pi < P; pi++)
            r->pre[li][pi].pred_speedup =
                r->allf >= 0 ? ic_bench_amdahl(&r->pre[li][r->allf], &r->pat[pi]) : 0;
    }
    rc = 0;
out:
    free(tot);
    free(ph);
    return rc;
}

static int run_decode(ic_bench_results *r, ic_ctx *ctx, const ic_dsa_model *m,
                      const ic_weights *w, ic_error *err) {
    const int R = (int)repeats, N = (int)decode_tokens;
    for (int li = 0; li < r->n_dlen; li++) {
        const int T0 = r->dlen[li];
        for (int pi = 0; pi < r->n_pat; pi++) {
            ic_dsa_cache c;
            uint64_t rs = (uint64_t)seed * 0x2545F4914F6CDD1Dull + (uint64_t)T0;
            if (ic_dsa_cache_init(&c, ctx, m, w, &r->pat[pi], T0 + N, err) != 0 ||
                ic_dsa_cache_fill_random(&c, T0, rs, err) != 0) {
                ic_dsa_cache_free(&c);
                return ic_error_wrap(err, "decode of pattern %s after %d tokens", r->spec[pi], T0);
            }
            double v[1000];
            int32_t tok;
            for (int rep = -(int)warmup; rep < R; rep++) {
                c.kv.T = T0;
                random_tokens(&tok, 1, w->cfg.vocab_size, &rs);
                ic_ctx_sync(ctx);
                const double t0 = ic_time_now();
                for (int i = 0; i < N; i++)
                    if (ic_dsa_decode_step(&c, tok, NULL, err) != 0) {
                        ic_dsa_cache_free(&c);
                        return ic_error_wrap(err, "decode of pattern %s", r->spec[pi]);
                    }
                ic_ctx_sync(ctx);
                const double dt = (ic_time_now() - t0) / N;
                if (rep < 0) continue;
                v[rep] = dt;
                if (!want_json)
                    ic_log_info("decode T = %d, repeat %d/%d, %-12s %8.2f ms/token", T0, rep + 1,
                                R, r->spec[pi], 1e3 * dt);
            }
            ic_bench_decode *d = &r->dec[li][pi];
            const int mi = median_index(v, R);
            d->ok = 1;
            d->step = v[mi];
            d->spread = spread_of(v, R, v[mi]);
            ic_dsa_cache_bytes(&c, T0, &d->kv_bytes, &d->ix_bytes);
            ic_dsa_cache_free(&c);
        }
    }
    return 0;
}

int ic_cmd_bench(int argc, char **argv) {
    int status = 0, npos = 0;
    model_dir = png_path = NULL;
    patterns_arg = "dense,F,uniform:2,uniform:4,uniform:8";
    lens_arg = "2K,4K,8K";
    dlens_arg = NULL;
    decode_tokens = 16;
    topk = 0;
    batch = 1;
    repeats = 3;
    warmup = 1;
    seed = 0;
    want_json = 0;
    if (ic_args_run(&k_cmd, argc, argv, NULL, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    ic_bench_results *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "indexcache bench: out of memory\n");
        return 1;
    }
    /* the command line first (2), then the model (1) */
    ic_config cfg;
    char path[4096];
    int bad = 0;
    if (parse_lens("--seq-lens", lens_arg, r->len, &r->n_len, &err) != 0 ||
        parse_lens("--decode-lens", dlens_arg ? dlens_arg : lens_arg, r->dlen, &r->n_dlen, &err) != 0)
        bad = 2;
    else if (snprintf(path, sizeof path, "%s/config.json", model_dir) >= (int)sizeof path ||
             ic_config_load(&cfg, path, &err) != 0)
        bad = 1;
    else if (parse_patterns(r, patterns_arg, cfg.n_layers, &err) != 0)
        bad = 2;
    if (decode_tokens == 0) r->n_dlen = 0;
    if (!bad && r->n_len == 0 && r->n_dlen == 0) {
        ic_error_set(&err, "nothing to measure: no prefill length and no decode");
        bad = 2;
    }
    if (bad) {
        fprintf(stderr, "indexcache bench: %s%s\n", err.msg,
                bad == 2 ? " (see 'indexcache bench --help')" : "");
        free(r);
        return bad;
    }
    int any_sparse = 0;
    for (int i = 0; i < r->n_pat; i++) any_sparse |= !r->pat[i].dense;
    ic_ctx *ctx = ic_cmd_ctx_for(IC_NEED_TEACHER | (any_sparse ? IC_NEED_DSA : 0u));
    ic_dsa_model m;
    ic_weights wdev;
    const ic_weights *w = NULL;
    memset(&wdev, 0, sizeof wdev);
    int rc = 1;
    if (ic_dsa_model_load(&m, model_dir, "dense", (int)topk, IC_DSA_LOAD_PRESENT, &err) != 0) {
        fprintf(stderr, "indexcache bench: %s\n", err.msg);
        free(r);
        return 1;
    }
    for (int i = 0; i < r->n_pat; i++)
        if (ic_dsa_model_check_pattern(&m, &r->pat[i], model_dir, &err) != 0) {
            ic_error_wrap(&err, "pattern '%s'", r->spec[i]);
            goto out;
        }
    if (ic_weights_on_ctx(&m.w, ctx, &wdev, &w, &err) != 0) goto out;
    /* the indexers live where the ops run (fp32; a no-op on the CPU) */
    for (int l = 0; l < m.w.cfg.n_layers; l++)
        if (m.ix[l].data && ic_indexer_to_ctx(&m.ix[l], ctx, &err) != 0) goto out;
    r->backend = ctx->desc;
    r->model_dir = model_dir;
    r->n_layers = m.w.cfg.n_layers;
    r->topk = m.topk;
    r->batch = (int)batch;
    r->repeats = (int)repeats;
    r->warmup = (int)warmup;
    r->decode_tokens = (int)decode_tokens;
    if (run_prefill(r, ctx, &m, w, &err) != 0) goto out;
    if (run_decode(r, ctx, &m, w, &err) != 0) goto out;
    if (want_json) ic_bench_print_json(r);
    else ic_bench_print_table(r);
    if (png_path && ic_bench_write_png(r, png_path, &err) != 0) goto out;
    rc = 0;
out:
    if (rc) fprintf(stderr, "indexcache bench: %s\n", err.msg);
    ic_weights_free(&wdev);
    ic_dsa_model_free(&m);
    free(r);
    return rc;
}
