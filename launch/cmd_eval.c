/* indexcache eval --model DIR --data FILE.h5 [--pattern P ...]: mean
 * next-token loss and perplexity over N consecutive non-overlapping windows
 * of L tokens from the start of a split (deterministic; see
 * train/ic_eval.h), for the dense teacher and any number of DSA /
 * IndexCache patterns (model/ic_dsa.h), all on the same windows, printed
 * side by side. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ic_h5tokens.h"
#include "data/ic_sha256.h"
#include "ic_commands.h"
#include "kernels/ic_ctx.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "model/ic_dsa.h"
#include "train/ic_eval.h"

#define MAX_PATTERNS 256

static const char *model_dir, *data_path, *split_name, *patterns_file;
static long long seq_len, n_batches, topk, gpu_batch;
static int want_json;
static ic_strlist pattern_flags;

static const ic_arg_spec k_args[] = {
    {"--model", IC_ARG_STRING, &model_dir, "DIR", "model dir (config.json + *.safetensors)", 1, 0, 0},
    {"--data", IC_ARG_STRING, &data_path, "FILE.h5", "token dataset written by `indexcache prep`", 1, 0, 0},
    {"--split", IC_ARG_STRING, &split_name, "NAME", "train or val (default val)", 0, 0, 0},
    {"--seq-len", IC_ARG_INT, &seq_len, "L", "tokens per window (default 512)", 0, 1, 1 << 20},
    {"--batches", IC_ARG_INT, &n_batches, "N", "windows to evaluate (default: all that fit in the split)", 0, 0, 1e12},
    {"--pattern", IC_ARG_STRING_LIST, &pattern_flags, "P",
     "dense, a literal F/S string (one char per layer), uniform:R or freq:F[,offset:O]; may repeat (default: the "
     "model's index_topk_pattern, or dense for a model without one)", 0, 0, 0},
    {"--patterns-file", IC_ARG_STRING, &patterns_file, "FILE",
     "more patterns, one per line (blank lines and # comments skipped)", 0, 0, 0},
    {"--gpu-batch", IC_ARG_INT, &gpu_batch, "B",
     "windows per forward, dense pattern only (default: 32768 / L on the GPU, at least 1; "
     "one by one on the CPU; 1: one by one)", 0, 1, 1 << 20},
    {"--topk", IC_ARG_INT, &topk, "K", "keys per query for sparse attention (default: config index_topk)", 0, 1, 1 << 30},
    {"--json", IC_ARG_FLAG, &want_json, NULL,
     "print JSON: one object {loss, ppl, tokens, seq_len, pattern, ...} for one pattern, an array for several", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "eval", "--model DIR --data FILE.h5 [--split val] [--seq-len L] [--batches N] "
    "[--pattern P]... [--patterns-file FILE] [--topk K] [--gpu-batch B] [--json]",
    "Language-model loss: window i feeds tokens [i*L, i*L+L) of the split and scores the\n"
    "prediction of each next token; N windows score N*L tokens. Prints the mean loss\n"
    "(nats/token) and the perplexity exp(loss) of every pattern, all on the same windows.\n"
    "`dense` is the plain teacher; in a pattern an F layer runs its lightning indexer and\n"
    "attends to its top-k keys, an S layer reuses the keys of the nearest F layer above\n"
    "it. The F layers need indexers in DIR (`indexcache init-indexers` or `train`).",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), NULL, 0, 0,
};

/* Tokens made by another tokenizer would give a meaningless loss: say so. */
static void check_tokenizer(const ic_h5tokens *r) {
    char path[4096], hex[65];
    ic_error err;
    ic_error_clear(&err);
    snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
    if (strncmp(r->tokenizer, "sha256:", 7) != 0 || ic_sha256_file(path, hex, &err) != 0) return;
    if (strcmp(r->tokenizer + 7, hex) != 0)
        ic_log_warn("%s was tokenized with %s, but %s has sha256:%s: the loss may be meaningless",
                    data_path, r->tokenizer, path, hex);
}

typedef struct {
    int         n;
    const char *spec[MAX_PATTERNS];   /* as given (points into argv or file_buf) */
    ic_pattern  pat[MAX_PATTERNS];
    char       *file_buf;
} pattern_list;

static int add_spec(pattern_list *pl, const char *s, ic_error *err) {
    if (pl->n >= MAX_PATTERNS) return ic_error_set(err, "more than %d patterns", MAX_PATTERNS);
    pl->spec[pl->n++] = s;
    return 0;
}

/* --pattern flags, then --patterns-file lines, then the default. */
/* -1: a bad pattern (command line); -2: the patterns file cannot be read */
static int collect_patterns(pattern_list *pl, const ic_config *cfg, ic_error *err) {
    for (int i = 0; i < pattern_flags.n; i++)
        if (add_spec(pl, pattern_flags.items[i], err)) return -1;
    if (patterns_file) {
        size_t len;
        pl->file_buf = ic_read_file(patterns_file, &len, err);
        /* an unreadable file is a failed run (1), not a bad command line */
        if (!pl->file_buf) return ic_error_wrap(err, "--patterns-file"), -2;
        for (char *p = pl->file_buf; p && *p;) {
            char *nl = strchr(p, '\n');
            if (nl) *nl = '\0';
            char *hash = strchr(p, '#');
            if (hash) *hash = '\0';
            while (isspace((unsigned char)*p)) p++;
            char *e = p + strlen(p);
            while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
            if (*p && add_spec(pl, p, err)) return -1;
            p = nl ? nl + 1 : NULL;
        }
        if (pl->n == pattern_flags.n)
            return ic_error_set(err, "--patterns-file %s holds no pattern", patterns_file);
    }
    if (pl->n == 0 && add_spec(pl, cfg->index_topk_pattern[0] ? cfg->index_topk_pattern : "dense", err))
        return -1;
    for (int i = 0; i < pl->n; i++)
        if (ic_pattern_parse(&pl->pat[i], pl->spec[i], cfg->n_layers, err))
            return ic_error_wrap(err, "pattern '%s'", pl->spec[i]);
    return 0;
}

static void print_table(const pattern_list *pl, const ic_eval_result *res, int n_layers, int K) {
    int w = 7, dense_at = -1;
    char lit[IC_MAX_LAYERS + 1];
    for (int i = 0; i < pl->n; i++) {
        int l = (int)strlen(ic_pattern_to_string(&pl->pat[i], lit, sizeof lit));
        if (l > w) w = l;
        if (pl->pat[i].dense && dense_at < 0) dense_at = i;
    }
    /* "Δloss" is 6 bytes for 5 columns: its field is one wider */
    printf("%-*s  %5s  %7s  %7s  %9s  %8s  %9s  %9s  %8s\n", w, "pattern", "F", "top-k",
           "seq_len", "tokens", "loss", "ppl", "Δloss", "tok/s");
    for (int i = 0; i < pl->n; i++) {
        const ic_pattern *p = &pl->pat[i];
        char nf[16], k[16], dl[16];
        snprintf(nf, sizeof nf, p->dense ? "-" : "%d", ic_pattern_n_full(p));
        snprintf(k, sizeof k, p->dense ? "-" : "%d", K);
        if (dense_at >= 0) snprintf(dl, sizeof dl, "%+.4f", res[i].loss - res[dense_at].loss);
        else snprintf(dl, sizeof dl, "-");
        printf("%-*s  %5s  %7s  %7d  %9ld  %8.4f  %9.3f  %8s  %8.0f\n", w,
               ic_pattern_to_string(p, lit, sizeof lit), nf, k, res[i].seq_len, res[i].tokens,
               res[i].loss, res[i].ppl, dl, res[i].tok_per_s);
        if (strcmp(pl->spec[i], lit) != 0) printf("%-*s    (= %s)\n", w, "", pl->spec[i]);
    }
    printf("(%d layers; Δloss against dense%s)\n", n_layers, dense_at < 0 ? ", not evaluated" : "");
}

static void print_json(const pattern_list *pl, const ic_eval_result *res, int K) {
    char lit[IC_MAX_LAYERS + 1];
    if (pl->n > 1) printf("[\n");
    for (int i = 0; i < pl->n; i++) {
        const ic_pattern *p = &pl->pat[i];
        printf("%s{\"loss\": %.8f, \"ppl\": %.8f, \"tokens\": %ld, \"seq_len\": %d, "
               "\"pattern\": \"%s\", \"spec\": \"%s\", \"n_full\": %d, \"topk\": %d, "
               "\"windows\": %ld, \"split\": \"%s\", \"tok_per_s\": %.1f}%s\n",
               pl->n > 1 ? "  " : "", res[i].loss, res[i].ppl, res[i].tokens, res[i].seq_len,
               ic_pattern_to_string(p, lit, sizeof lit), pl->spec[i], ic_pattern_n_full(p),
               p->dense ? 0 : K, res[i].n_windows, split_name, res[i].tok_per_s,
               i + 1 < pl->n ? "," : "");
    }
    if (pl->n > 1) printf("]\n");
}

int ic_cmd_eval(int argc, char **argv) {
    int status = 0, npos = 0;
    model_dir = data_path = patterns_file = NULL;
    split_name = "val";
    seq_len = 512;
    n_batches = 0;
    topk = 0;
    gpu_batch = 0;
    want_json = 0;
    memset(&pattern_flags, 0, sizeof pattern_flags);
    if (ic_args_run(&k_cmd, argc, argv, NULL, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    ic_split split;
    if (ic_split_from_name(split_name, &split, &err) != 0) {
        fprintf(stderr, "indexcache eval: --split: %s\n", err.msg);
        return 2;
    }
    /* patterns are checked against config.json before anything heavy loads */
    pattern_list *pl = calloc(1, sizeof *pl);
    ic_eval_result *res = calloc(MAX_PATTERNS, sizeof *res);
    ic_config cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    if (!pl || !res) {
        fprintf(stderr, "indexcache eval: out of memory\n");
        free(pl);
        free(res);
        return 1;
    }
    /* an unreadable model is a failed run (1); a bad --pattern a bad command line (2) */
    int bad = ic_config_load(&cfg, path, &err) != 0 ? 1 : 0;
    if (!bad) {
        int c = collect_patterns(pl, &cfg, &err);
        bad = c == -2 ? 1 : c != 0 ? 2 : 0;
    }
    if (bad) {
        fprintf(stderr, "indexcache eval: %s\n", err.msg);
        free(pl->file_buf);
        free(pl);
        free(res);
        return bad;
    }
    /* The context: the GPU when one answers and every op the patterns need
     * has a CUDA kernel (ic_cuda_missing_ops says which do not yet). */
    int any_sparse = 0;
    for (int i = 0; i < pl->n; i++) any_sparse |= !pl->pat[i].dense;
    ic_ctx *ctx = ic_cmd_ctx_for(IC_NEED_TEACHER | (any_sparse ? IC_NEED_DSA : 0u));
    ic_h5tokens r;
    ic_dsa_model m;
    ic_dsa_selector sel;
    const ic_weights *w = NULL;
    memset(&m, 0, sizeof m);
    memset(&sel, 0, sizeof sel);
    if (ic_h5tokens_open(&r, data_path, &err) != 0) {
        fprintf(stderr, "indexcache eval: %s\n", err.msg);
        free(pl->file_buf);
        free(pl);
        free(res);
        return 1;
    }
    int rc = 1;
    if (ic_dsa_model_load(&m, model_dir, "dense", (int)topk, IC_DSA_LOAD_PRESENT, &err) != 0) goto out;
    for (int i = 0; i < pl->n; i++)
        if (ic_dsa_model_check_pattern(&m, &pl->pat[i], model_dir, &err) != 0) goto out;
    /* the teacher (bf16 on CUDA) and the indexers (fp32) onto the context's device */
    if (ic_dsa_model_to_ctx(&m, ctx, &err) != 0) goto out;
    w = &m.w;
    if (r.vocab_size > (uint32_t)m.w.cfg.vocab_size) {
        ic_error_set(&err, "%s has vocab_size %u, larger than the model's %d (%s)", data_path,
                     r.vocab_size, m.w.cfg.vocab_size, model_dir);
        goto out;
    }
    check_tokenizer(&r);
    if (any_sparse && ic_dsa_selector_init(&sel, ctx, &m, (int)seq_len, &err) != 0) goto out;
    ic_h5tokens_source src = {&r, split};
    uint64_t n_total = ic_h5tokens_len(&r, split);
    for (int i = 0; i < pl->n; i++) {
        ic_teacher_opts topts;
        ic_eval_opts o = {.seq_len = (int)seq_len, .n_windows = (long)n_batches,
                          .batch = (int)gpu_batch,
                          .progress = !want_json || ic_log_get_level() >= IC_LOG_VERBOSE};
        if (!pl->pat[i].dense) {
            if (ic_dsa_selector_opts(&sel, &pl->pat[i], IC_DSA_MODE_PATTERN, NULL, NULL, &topts,
                                     &err) != 0)
                goto out;
            o.topts = &topts;
        }
        if (!want_json)   /* --json: stdout carries the JSON only */
            ic_log_info("eval %d/%d: pattern %s%s, %s split '%s' (%llu tokens), L = %lld, K = %d",
                        i + 1, pl->n, pl->spec[i], pl->pat[i].dense ? " (dense teacher)" : "",
                        data_path, split_name, (unsigned long long)n_total, seq_len, m.topk);
        if (ic_eval_run(ctx, w, ic_h5tokens_source_read, &src, n_total, &o, &res[i], &err) != 0) {
            ic_error_wrap(&err, "pattern %s", pl->spec[i]);
            goto out;
        }
    }
    if (want_json) print_json(pl, res, m.topk);
    else print_table(pl, res, m.w.cfg.n_layers, m.topk);
    rc = 0;
out:
    if (rc) fprintf(stderr, "indexcache eval: %s\n", err.msg);
    ic_dsa_selector_free(&sel);
    ic_dsa_model_free(&m);
    ic_h5tokens_close(&r);
    free(pl->file_buf);
    free(pl);
    free(res);
    return rc;
}
