/* indexcache init-indexers --model DIR --pattern P --seed S --out DIR2:
 * a copy of the model dir with freshly initialised lightning indexers
 * (model/ic_indexer.h, ic_indexer_init_random) for the F layers of P.
 * Teacher tensors are copied byte for byte in their own dtype; indexer
 * tensors already in DIR are dropped (every F layer gets a fresh one, S
 * layers get none); indexers are stored as F32. config.json gains the
 * indexer keys and the literal pattern; the tokenizer files come along so
 * DIR2 is a complete model dir. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_commands.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "model/ic_config.h"
#include "model/ic_indexer.h"
#include "model/ic_indexer_io.h"
#include "model/ic_pattern.h"
#include "model/ic_model_write.h"

typedef struct {
    const char *model, *pattern, *out;
    long long seed, n_heads, head_dim, rope_dim, topk;
} opts;

static int run(const opts *o, ic_error *err) {
    char path[PATH_MAX];
    if (!ic_is_dir(o->model)) return ic_error_set(err, "--model %s: not a directory", o->model);
    if (ic_is_dir(o->out) && ic_same_dir(o->model, o->out))
        return ic_error_set(err, "--out %s is the --model dir; write the new model to another dir", o->out);

    ic_config cfg;
    snprintf(path, sizeof path, "%s/config.json", o->model);
    if (ic_config_load(&cfg, path, err)) return -1;
    if (!cfg.has_indexer_config) ic_config_set_indexer_defaults(&cfg);
    if (o->n_heads) cfg.index_n_heads = (int)o->n_heads;
    if (o->head_dim) {
        cfg.index_head_dim = (int)o->head_dim;
        if (!o->rope_dim) cfg.index_rope_dim = cfg.index_head_dim / 2;
    }
    if (o->rope_dim) cfg.index_rope_dim = (int)o->rope_dim;
    if (o->topk) cfg.index_topk = (int)o->topk;
    ic_indexer_dims dims;
    if (ic_indexer_dims_from_config(&dims, &cfg, err)) return -1;

    ic_pattern pat;
    if (ic_pattern_parse(&pat, o->pattern, cfg.n_layers, err))
        return ic_error_wrap(err, "--pattern");
    if (pat.dense)
        return ic_error_set(err, "--pattern dense has no F layer, so there is no indexer to initialise");
    const int nf = ic_pattern_n_full(&pat);

    int rc = -1;
    ic_indexer *ix = calloc((size_t)cfg.n_layers, sizeof *ix);  /* [n_layers], F layers set */
    if (!ix) return ic_error_set(err, "out of memory");
    for (int l = 0; l < cfg.n_layers; l++) {
        if (!ic_pattern_is_full(&pat, l)) continue;
        if (ic_indexer_init(&ix[l], &dims, err)) goto done;
        ic_indexer_init_random(&ix[l], (uint64_t)o->seed, l);
    }
    /* config's index keys, the literal pattern, teacher tensors copied and
     * any old indexers dropped: the same writer as train's --out */
    if (ic_model_dir_write(o->model, o->out, &cfg, &pat, cfg.index_topk, ix, err)) goto done;

    printf("init-indexers: %s -> %s\n", o->model, o->out);
    printf("  pattern   %s (%d of %d layers F)\n", pat.c, nf, cfg.n_layers);
    printf("  indexer   H_I=%d d_I=%d rope_dim=%d topk=%d, %zu parameters per F layer (F32)\n",
           dims.n_heads, dims.head_dim, dims.rope_dim, dims.topk, ix[0].numel);
    printf("  init      seed %lld: wq_b, wk, weights_proj ~ N(0, 1/%d); k_norm weight 1, bias 0\n",
           o->seed, dims.dim);
    rc = 0;
done:
    for (int l = 0; l < cfg.n_layers; l++) ic_indexer_free(&ix[l]);
    free(ix);
    return rc;
}

int ic_cmd_init_indexers(int argc, char **argv) {
    opts o = { 0 };
    const ic_arg_spec args[] = {
        { "--model", IC_ARG_STRING, &o.model, "DIR", "model dir (config.json + safetensors)", 1, 0, 0 },
        { "--pattern", IC_ARG_STRING, &o.pattern, "P", "F/S string (one char per layer), uniform:R or freq:F[,offset:O]", 1, 0, 0 },
        { "--out", IC_ARG_STRING, &o.out, "DIR2", "output model dir (created; not DIR itself)", 1, 0, 0 },
        { "--seed", IC_ARG_INT, &o.seed, "S", "initialisation seed (default 0)", 0, 0, 9.2e18 },
        { "--index-n-heads", IC_ARG_INT, &o.n_heads, "N",
          "indexer heads H_I (default: config.json's, else 16)", 0, 1, 4096 },
        { "--index-head-dim", IC_ARG_INT, &o.head_dim, "D",
          "indexer head dim d_I (default: config.json's, else 64)", 0, 2, 4096 },
        { "--index-rope-dim", IC_ARG_INT, &o.rope_dim, "R",
          "roped dims of each indexer head (default: config.json's, else d_I / 2)", 0, 2, 4096 },
        { "--index-topk", IC_ARG_INT, &o.topk, "K",
          "tokens selected per query (default: config.json's, else 256)", 0, 1, 1 << 30 },
    };
    const ic_cmd_spec spec = {
        "init-indexers", "--model DIR --pattern P --out DIR2 [--seed S] [--index-* ...]",
        "Writes DIR2, a copy of the model dir DIR with a freshly initialised lightning "
        "indexer for every F layer of the pattern (DeepSeek-V3.2 tensor names, F32). The "
        "same seed gives the same weights on every machine; layer l's indexer depends only "
        "on (seed, l), not on the pattern. config.json gains index_n_heads, index_head_dim, "
        "index_rope_dim, index_topk, use_index_cache and the literal index_topk_pattern.",
        args, (int)(sizeof args / sizeof args[0]), NULL, 0, 0,
    };
    const char *pos[1];
    int npos = 0, status = 0;
    if (ic_args_run(&spec, argc, argv, pos, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    if (run(&o, &err)) {
        fprintf(stderr, "indexcache init-indexers: %s\n", err.msg);
        return 1;
    }
    return 0;
}
