/* indexcache export --model DIR --out DIR2: publish a trained DSA/IndexCache
 * model dir for inference engines (vLLM / SGLang / transformers). DIR2 holds
 * config.json (HF Llama keys + use_index_cache, the pattern as the literal
 * index_topk_pattern, as indexer_types and, when periodic, as
 * index_topk_freq + index_skip_topk_offset; index_n_heads, index_head_dim,
 * index_topk, index_rope_dim, indexer_rope_interleave = false),
 * model.safetensors (teacher tensors in their own dtype + the F layers'
 * indexers, F32, DeepSeek-V3.2 names) and the tokenizer / generation side
 * files. transformers' LlamaForCausalLM loads it and ignores the indexer
 * tensors. Our indexer's wq_b reads the normed hidden state, not a q-LoRA
 * latent as DeepSeek-V3.2's does (docs/FORMATS.md). Atomic: everything is
 * written into DIR2.tmp.<pid>, then renamed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ic_commands.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "launch/ic_args.h"
#include "model/ic_dsa.h"
#include "model/ic_model_write.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int rm_tree(const char *path) {
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int run(const char *model, const char *out, ic_error *err) {
    if (!ic_is_dir(model)) return ic_error_set(err, "--model %s: not a directory", model);
    if (ic_is_dir(out) && ic_same_dir(model, out))
        return ic_error_set(err, "--out %s is the --model dir; export to another dir", out);
    ic_dsa_model m;
    /* NULL pattern: the config's index_topk_pattern; its F layers must have indexers */
    if (ic_dsa_model_load(&m, model, NULL, 0, IC_DSA_LOAD_PRESENT, err) != 0) return -1;
    int rc = -1;
    char tmp[PATH_MAX], old[PATH_MAX], lit[IC_MAX_LAYERS + 8];
    tmp[0] = old[0] = '\0';
    if (!m.w.cfg.has_indexer_config || !m.w.cfg.index_topk_pattern[0]) {
        ic_error_set(err, "%s/config.json has no index_topk_pattern: train or init-indexers first",
                     model);
        goto done;
    }
    for (int l = 0; l < m.w.cfg.n_layers; l++)
        if (!ic_pattern_is_full(&m.pattern, l) && m.ix[l].data) {
            ic_indexer_free(&m.ix[l]);   /* only F layers carry indexers (docs/DESIGN.md s4) */
            memset(&m.ix[l], 0, sizeof m.ix[l]);
        }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    if (ic_path_exists(tmp)) rm_tree(tmp);
    if (ic_model_dir_write(model, tmp, &m.w.cfg, &m.pattern, m.topk, m.ix, err) != 0) goto done;
    if (ic_path_exists(out)) {
        snprintf(old, sizeof old, "%s.old.%ld", out, (long)getpid());
        if (rename(out, old) != 0) {
            ic_error_set(err, "--out %s exists and cannot be moved aside", out);
            goto done;
        }
    }
    if (rename(tmp, out) != 0) {
        ic_error_set(err, "cannot rename %s to %s", tmp, out);
        if (old[0]) rename(old, out);
        goto done;
    }
    tmp[0] = '\0';
    if (old[0]) rm_tree(old);
    printf("export: %s -> %s\n", model, out);
    printf("  pattern   %s (%d of %d layers F), index_topk %d\n",
           ic_pattern_to_string(&m.pattern, lit, sizeof lit), ic_pattern_n_full(&m.pattern),
           m.w.cfg.n_layers, m.topk);
    printf("  indexer   H_I=%d d_I=%d rope_dim=%d (F32, model.layers.{i}.self_attn.indexer.*)\n",
           m.idims.n_heads, m.idims.head_dim, m.idims.rope_dim);
    printf("  files     config.json, model.safetensors, tokenizer and generation files\n");
    rc = 0;
done:
    if (tmp[0] && ic_path_exists(tmp)) rm_tree(tmp);
    ic_dsa_model_free(&m);
    return rc;
}

int ic_cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    const ic_arg_spec args[] = {
        {"--model", IC_ARG_STRING, &model, "DIR", "trained model dir (train --out, or init-indexers)", 1, 0, 0},
        {"--out", IC_ARG_STRING, &out, "DIR2", "export dir (replaced atomically when it exists)", 1, 0, 0},
    };
    const ic_cmd_spec spec = {
        "export", "--model DIR --out DIR2",
        "Writes DIR2, a model dir that transformers (LlamaForCausalLM, ignoring the indexer "
        "tensors), vLLM/SGLang-style DSA loaders and the Python safetensors package read: "
        "config.json with use_index_cache, the pattern (index_topk_pattern, indexer_types, "
        "and index_topk_freq + index_skip_topk_offset when periodic), index_n_heads, "
        "index_head_dim, index_topk, index_rope_dim, indexer_rope_interleave; "
        "model.safetensors with the teacher tensors and the F layers' indexers (DeepSeek-V3.2 "
        "names; our wq_b reads the normed hidden state, not a q-LoRA latent); the tokenizer "
        "and generation files. The pattern comes from DIR's config.json and each of its F "
        "layers must have an indexer. Details: docs/FORMATS.md.",
        args, 2, NULL, 0, 0,
    };
    const char *pos[1];
    int npos = 0, status = 0;
    if (ic_args_run(&spec, argc, argv, pos, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    if (run(model, out, &err) != 0) {
        fprintf(stderr, "indexcache export: %s\n", err.msg);
        return 1;
    }
    return 0;
}
