/* indexcache eval --model DIR --data FILE.h5: mean next-token loss and
 * perplexity of the model over N consecutive non-overlapping windows of L
 * tokens from the start of a split (deterministic; see train/ic_eval.h). */
#include <stdio.h>
#include <string.h>

#include "data/ic_h5tokens.h"
#include "data/ic_sha256.h"
#include "ic_commands.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "train/ic_eval.h"

static const char *model_dir, *data_path, *split_name;
static long long seq_len, n_batches;
static int want_json;

static const ic_arg_spec k_args[] = {
    {"--model", IC_ARG_STRING, &model_dir, "DIR", "model dir (config.json + *.safetensors)", 1, 0, 0},
    {"--data", IC_ARG_STRING, &data_path, "FILE.h5", "token dataset written by `indexcache prep`", 1, 0, 0},
    {"--split", IC_ARG_STRING, &split_name, "NAME", "train or val (default val)", 0, 0, 0},
    {"--seq-len", IC_ARG_INT, &seq_len, "L", "tokens per window (default 512)", 0, 1, 1 << 20},
    {"--batches", IC_ARG_INT, &n_batches, "N", "windows to evaluate (default: all that fit in the split)", 0, 0, 1e12},
    {"--json", IC_ARG_FLAG, &want_json, NULL, "print one JSON object {loss, ppl, tokens, seq_len, pattern}", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "eval", "--model DIR --data FILE.h5 [--split val] [--seq-len L] [--batches N] [--json]",
    "Language-model loss of the dense teacher: window i feeds tokens [i*L, i*L+L) of the split\n"
    "and scores the prediction of each next token; N windows score N*L tokens. Prints the\n"
    "mean loss (nats/token) and the perplexity exp(loss). Deterministic.",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), NULL, 0, 0,
};

typedef struct { const ic_h5tokens *r; ic_split split; } h5_src;

static int h5_read(void *ctx, uint64_t off, size_t n, uint32_t *dst, ic_error *err) {
    const h5_src *s = ctx;
    return ic_h5tokens_read(s->r, s->split, off, n, dst, err);
}

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

int ic_cmd_eval(int argc, char **argv) {
    int status = 0, npos = 0;
    model_dir = data_path = NULL;
    split_name = "val";
    seq_len = 512;
    n_batches = 0;
    want_json = 0;
    if (ic_args_run(&k_cmd, argc, argv, NULL, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    ic_split split;
    if (ic_split_from_name(split_name, &split, &err) != 0) {
        fprintf(stderr, "indexcache eval: --split: %s\n", err.msg);
        return 2;
    }
    ic_h5tokens r;
    ic_weights w;
    memset(&w, 0, sizeof w);
    if (ic_h5tokens_open(&r, data_path, &err) != 0) {
        fprintf(stderr, "indexcache eval: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    if (ic_weights_load(&w, model_dir, &err) != 0) goto out;
    if (r.vocab_size > (uint32_t)w.cfg.vocab_size) {
        ic_error_set(&err, "%s has vocab_size %u, larger than the model's %d (%s)", data_path,
                     r.vocab_size, w.cfg.vocab_size, model_dir);
        goto out;
    }
    check_tokenizer(&r);
    h5_src src = {&r, split};
    ic_eval_opts o = {.seq_len = (int)seq_len, .n_windows = (long)n_batches,
                      .progress = !want_json || ic_log_get_level() >= IC_LOG_VERBOSE};
    ic_eval_result res;
    uint64_t n_total = ic_h5tokens_len(&r, split);
    if (!want_json)   /* --json: stdout carries the one object only */
        ic_log_info("eval: %s split '%s' (%llu tokens), L = %lld, dense teacher %s", data_path,
                    split_name, (unsigned long long)n_total, seq_len, model_dir);
    if (ic_eval_run(&w, h5_read, &src, n_total, &o, &res, &err) != 0) goto out;
    if (want_json) {
        printf("{\"loss\": %.8f, \"ppl\": %.8f, \"tokens\": %ld, \"seq_len\": %d, \"pattern\": \"dense\", "
               "\"windows\": %ld, \"split\": \"%s\", \"tok_per_s\": %.1f}\n",
               res.loss, res.ppl, res.tokens, res.seq_len, res.n_windows, split_name, res.tok_per_s);
    } else {
        printf("%-8s %-8s %-8s %-10s %-10s %-10s\n", "pattern", "seq_len", "windows", "tokens", "loss", "ppl");
        printf("%-8s %-8d %-8ld %-10ld %-10.4f %-10.3f\n", "dense", res.seq_len, res.n_windows,
               res.tokens, res.loss, res.ppl);
        printf("(%.1f s, %.1f tok/s)\n", res.seconds, res.tok_per_s);
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "indexcache eval: %s\n", err.msg);
    ic_weights_free(&w);
    ic_h5tokens_close(&r);
    return rc;
}
