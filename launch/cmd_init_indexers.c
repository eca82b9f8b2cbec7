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
#include "model/ic_safetensors.h"

static const char *const k_aux_files[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model",
    "added_tokens.json", "chat_template.jinja",
};

static int is_indexer_tensor(const char *name) {
    return strncmp(name, "model.layers.", 13) == 0 && strstr(name, ".self_attn.indexer.") != NULL;
}

static int copy_aux_files(const char *src, const char *dst, ic_error *err) {
    for (size_t i = 0; i < sizeof k_aux_files / sizeof k_aux_files[0]; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        snprintf(a, sizeof a, "%s/%s", src, k_aux_files[i]);
        snprintf(b, sizeof b, "%s/%s", dst, k_aux_files[i]);
        if (!ic_path_exists(a)) continue;
        size_t len = 0;
        char *buf = ic_read_file(a, &len, err);
        if (!buf) return -1;
        int rc = ic_write_file_atomic(b, buf, len, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

/* Two paths naming the same existing directory. */
static int same_dir(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath(a, ra) || !realpath(b, rb)) return 0;
    return strcmp(ra, rb) == 0;
}

typedef struct {
    const char *model, *pattern, *out;
    long long seed, n_heads, head_dim, rope_dim, topk;
} opts;

static int run(const opts *o, ic_error *err) {
    char path[PATH_MAX];
    if (!ic_is_dir(o->model)) return ic_error_set(err, "--model %s: not a directory", o->model);
    if (ic_is_dir(o->out) && same_dir(o->model, o->out))
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

    ic_model_files mf;
    if (ic_model_files_open(&mf, o->model, err)) return -1;
    int rc = -1;
    ic_indexer *ix = calloc((size_t)nf, sizeof *ix);
    ic_st_tensor_in *in = calloc((size_t)mf.n_tensors + (size_t)nf * IC_INDEXER_N_TENSORS, sizeof *in);
    char (*names)[IC_INDEXER_NAME_MAX] = calloc((size_t)nf * IC_INDEXER_N_TENSORS, sizeof *names);
    int64_t (*shapes)[2] = calloc((size_t)nf * IC_INDEXER_N_TENSORS, sizeof *shapes);
    if (!ix || !in || !names || !shapes) { ic_error_set(err, "out of memory"); goto done; }

    int n = 0, dropped = 0;
    for (int i = 0; i < mf.n_tensors; i++) {
        if (is_indexer_tensor(mf.names[i])) { dropped++; continue; }
        const ic_safetensors *st = &mf.shards[mf.shard_of[i]];
        const int e = mf.entry_of[i];
        const ic_st_entry *en = &st->entries[e];
        in[n++] = (ic_st_tensor_in){ en->name, en->dtype, en->ndim, en->shape,
                                     ic_safetensors_entry_data(st, e) };
    }
    const int n_teacher = n;
    for (int l = 0, k = 0; l < cfg.n_layers; l++) {
        if (!ic_pattern_is_full(&pat, l)) continue;
        if (ic_indexer_init(&ix[k], &dims, err)) goto done;
        ic_indexer_init_random(&ix[k], (uint64_t)o->seed, l);
        ic_indexer_st_entries(&ix[k], l, in + n, names + (size_t)k * IC_INDEXER_N_TENSORS,
                              shapes + (size_t)k * IC_INDEXER_N_TENSORS);
        n += IC_INDEXER_N_TENSORS;
        k++;
    }

    if (ic_mkdir_p(o->out, err)) goto done;
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    const char *meta[2] = { "format", "pt" };  /* what transformers' save_pretrained writes */
    if (ic_safetensors_write(path, in, n, meta, 1, err)) goto done;

    snprintf(cfg.index_topk_pattern, sizeof cfg.index_topk_pattern, "%s", pat.c);
    cfg.use_index_cache = nf < cfg.n_layers;
    snprintf(path, sizeof path, "%s/config.json", o->out);
    if (ic_config_save(&cfg, path, err)) goto done;
    if (copy_aux_files(o->model, o->out, err)) goto done;

    printf("init-indexers: %s -> %s\n", o->model, o->out);
    printf("  pattern   %s (%d of %d layers F)\n", pat.c, nf, cfg.n_layers);
    printf("  indexer   H_I=%d d_I=%d rope_dim=%d topk=%d, %zu parameters per F layer (F32)\n",
           dims.n_heads, dims.head_dim, dims.rope_dim, dims.topk, ix[0].numel);
    printf("  init      seed %lld: wq_b, wk, weights_proj ~ N(0, 1/%d); k_norm weight 1, bias 0\n",
           o->seed, dims.dim);
    printf("  tensors   %d teacher copied, %d indexer written, %d old indexer dropped\n",
           n_teacher, n - n_teacher, dropped);
    rc = 0;
done:
    if (ix)
        for (int k = 0; k < nf; k++) ic_indexer_free(&ix[k]);
    free(ix);
    free(in);
    free(names);
    free(shapes);
    ic_model_files_close(&mf);
    return rc;
}

int ic_cmd_init_indexers(int argc, char **argv) {
    opts o = { 0 };
    const ic_arg_spec args[] = {
        { "--model", IC_ARG_STRING, &o.model, "DIR", "model dir (config.json + safetensors)", 1, 0, 0 },
        { "--pattern", IC_ARG_STRING, &o.pattern, "P", "F/S string (one char per layer), uniform:R", 1, 0, 0 },
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
