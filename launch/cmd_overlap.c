/* indexcache overlap --model DIR --data FILE.h5 --out overlap.csv: the
 * cross-layer top-k overlap matrix of IndexCache Appendix A
 * (train/ic_overlap.h), with every layer running its own indexer, as CSV
 * and optionally a PNG heatmap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ic_h5tokens.h"
#include "ic_commands.h"
#include "kernels/ic_ctx.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "model/ic_dsa.h"
#include "train/ic_heatmap.h"
#include "train/ic_overlap.h"

static const char *model_dir, *data_path, *split_name, *out_csv, *out_png;
static long long seq_len, n_batches, topk;

static const ic_arg_spec k_args[] = {
    {"--model", IC_ARG_STRING, &model_dir, "DIR", "model dir with an indexer at every layer", 1, 0, 0},
    {"--data", IC_ARG_STRING, &data_path, "FILE.h5", "token dataset written by `indexcache prep`", 1, 0, 0},
    {"--split", IC_ARG_STRING, &split_name, "NAME", "train or val (default val)", 0, 0, 0},
    {"--seq-len", IC_ARG_INT, &seq_len, "L", "tokens per window, > k (default 2048)", 0, 2, 1 << 20},
    {"--batches", IC_ARG_INT, &n_batches, "N", "windows (default 4)", 0, 1, 1e9},
    {"--topk", IC_ARG_INT, &topk, "K", "keys per query (default: config index_topk)", 0, 1, 1 << 30},
    {"--out", IC_ARG_STRING, &out_csv, "FILE.csv", "the N x N matrix, with a header row", 1, 0, 0},
    {"--png", IC_ARG_STRING, &out_png, "FILE.png", "also a heatmap (colour scale 0..1)", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "overlap", "--model DIR --data FILE.h5 [--split val] [--seq-len L] [--batches N] [--topk K] "
    "--out overlap.csv [--png overlap.png]",
    "Runs the DSA model with every layer's own lightning indexer (all F, sparse attention\n"
    "over each layer's own top-k) on N windows of L tokens, and writes M[i][j] = mean over\n"
    "queries t >= k of |T_i(t) ∩ T_j(t)| / k (IndexCache Appendix A). High overlap between\n"
    "neighbouring layers is what makes reusing indices (S layers) cheap in quality.\n"
    "DIR needs an indexer at every layer: `indexcache init-indexers --pattern uniform:1`.",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), NULL, 0, 0,
};

static void print_summary(const double *m, int n, int64_t nq, int K) {
    double off = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double v = m[(size_t)i * n + j];
            off += v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    printf("overlap: %d layers, k = %d, %lld queries (t >= k) per layer\n", n, K, (long long)nq);
    printf("  adjacent layers l, l+1:");
    for (int l = 0; l + 1 < n; l++) printf("%s%.3f", l % 10 ? " " : "\n    ", m[(size_t)l * n + l + 1]);
    printf("\n");
    printf("  mean adjacent-layer overlap  %.4f\n", ic_overlap_adjacent_mean(m, n));
    if (n > 1)
        printf("  off-diagonal mean %.4f, min %.4f, max %.4f\n", off / ((double)n * (n - 1)), lo, hi);
}

int ic_cmd_overlap(int argc, char **argv) {
    int status = 0, npos = 0;
    model_dir = data_path = out_csv = out_png = NULL;
    split_name = "val";
    seq_len = 2048;
    n_batches = 4;
    topk = 0;
    if (ic_args_run(&k_cmd, argc, argv, NULL, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    ic_split split;
    if (ic_split_from_name(split_name, &split, &err) != 0) {
        fprintf(stderr, "indexcache overlap: --split: %s\n", err.msg);
        return 2;
    }
    ic_h5tokens r;
    if (ic_h5tokens_open(&r, data_path, &err) != 0) {
        fprintf(stderr, "indexcache overlap: %s\n", err.msg);
        return 1;
    }
    ic_dsa_model m;
    memset(&m, 0, sizeof m);
    double *mat = NULL;
    int rc = 1;
    if (ic_dsa_model_load(&m, model_dir, "uniform:1", (int)topk, IC_DSA_LOAD_ALL, &err) != 0) goto out;
    if (r.vocab_size > (uint32_t)m.w.cfg.vocab_size) {
        ic_error_set(&err, "%s has vocab_size %u, larger than the model's %d (%s)", data_path,
                     r.vocab_size, m.w.cfg.vocab_size, model_dir);
        goto out;
    }
    const int n = m.w.cfg.n_layers;
    mat = malloc(sizeof(double) * (size_t)n * n);
    if (!mat) {
        ic_error_set(&err, "out of memory");
        goto out;
    }
    ic_h5tokens_source src = {&r, split};
    ic_overlap_opts o = {.seq_len = (int)seq_len, .n_windows = (long)n_batches, .progress = 1};
    int64_t nq = 0;
    ic_log_info("overlap: %s split '%s', %lld window(s) of %lld tokens, k = %d, %d layers",
                data_path, split_name, n_batches, seq_len, m.topk, n);
    /* the GPU when one answers and the DSA ops have CUDA kernels; the model
     * moves to its device (bf16 teacher, fp32 indexers) */
    ic_ctx *ctx = ic_cmd_ctx_for(IC_NEED_TEACHER | IC_NEED_DSA);
    if (ic_dsa_model_to_ctx(&m, ctx, &err) != 0) goto out;
    if (ic_overlap_run(ctx, &m, ic_h5tokens_source_read, &src, ic_h5tokens_len(&r, split), &o,
                       mat, &nq, &err) != 0)
        goto out;
    if (ic_overlap_write_csv(out_csv, mat, n, &err) != 0) goto out;
    if (out_png && ic_heatmap_write_png(out_png, mat, n, 0.0, 1.0, &err) != 0) goto out;
    print_summary(mat, n, nq, m.topk);
    printf("  wrote %s%s%s\n", out_csv, out_png ? " and " : "", out_png ? out_png : "");
    rc = 0;
out:
    if (rc) fprintf(stderr, "indexcache overlap: %s\n", err.msg);
    free(mat);
    ic_dsa_model_free(&m);
    ic_h5tokens_close(&r);
    return rc;
}
