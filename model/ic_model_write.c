#include "model/ic_model_write.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "model/ic_indexer_io.h"
#include "model/ic_safetensors.h"

static const char *const k_aux_files[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model",
    "added_tokens.json", "chat_template.jinja",
};

static int is_indexer_tensor(const char *name) {
    return strncmp(name, "model.layers.", 13) == 0 && strstr(name, ".self_attn.indexer.") != NULL;
}

int ic_model_copy_aux_files(const char *src, const char *dst, ic_error *err) {
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

int ic_same_dir(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath(a, ra) || !realpath(b, rb)) return 0;
    return strcmp(ra, rb) == 0;
}

static int dir_write(const char *src_dir, const char *out_dir, const ic_config *cfg_in,
                     const ic_pattern *pat, int topk, const ic_indexer *ix, ic_error *err) {
    if (ic_is_dir(out_dir) && ic_same_dir(src_dir, out_dir))
        return ic_error_set(err, "%s is the source model dir; write the new model elsewhere", out_dir);
    ic_config cfg = *cfg_in;
    if (!cfg.has_indexer_config) ic_config_set_indexer_defaults(&cfg);
    if (topk > 0) cfg.index_topk = topk;
    int n_ix = 0;
    for (int l = 0; l < cfg.n_layers; l++) {
        if (ix[l].data) n_ix++;
        else if (!pat->dense && ic_pattern_is_full(pat, l))
            return ic_error_set(err, "F layer %d of the pattern has no indexer to write", l);
    }
    ic_model_files mf;
    if (ic_model_files_open(&mf, src_dir, err)) return -1;
    int rc = -1;
    const size_t n_in = (size_t)mf.n_tensors + (size_t)n_ix * IC_INDEXER_N_TENSORS;
    ic_st_tensor_in *in = calloc(n_in ? n_in : 1, sizeof *in);
    char (*names)[IC_INDEXER_NAME_MAX] = calloc((size_t)n_ix * IC_INDEXER_N_TENSORS + 1, sizeof *names);
    int64_t (*shapes)[2] = calloc((size_t)n_ix * IC_INDEXER_N_TENSORS + 1, sizeof *shapes);
    char path[PATH_MAX];
    if (!in || !names || !shapes) { ic_error_set(err, "out of memory"); goto done; }

    int n = 0;
    for (int i = 0; i < mf.n_tensors; i++) {
        if (is_indexer_tensor(mf.names[i])) continue;
        const ic_safetensors *st = &mf.shards[mf.shard_of[i]];
        const int e = mf.entry_of[i];
        const ic_st_entry *en = &st->entries[e];
        in[n++] = (ic_st_tensor_in){ en->name, en->dtype, en->ndim, en->shape,
                                     ic_safetensors_entry_data(st, e) };
    }
    for (int l = 0, k = 0; l < cfg.n_layers; l++) {
        if (!ix[l].data) continue;
        ic_indexer_st_entries(&ix[l], l, in + n, names + (size_t)k * IC_INDEXER_N_TENSORS,
                              shapes + (size_t)k * IC_INDEXER_N_TENSORS);
        n += IC_INDEXER_N_TENSORS;
        k++;
    }
    if (ic_mkdir_p(out_dir, err)) goto done;
    /* A sharded source would leave a stale index next to our single file. */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", out_dir);
    if (ic_path_exists(path) && remove(path) != 0) {
        ic_error_set(err, "%s: cannot remove the old shard index", path);
        goto done;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    const char *meta[2] = { "format", "pt" };  /* what transformers' save_pretrained writes */
    if (ic_safetensors_write(path, in, n, meta, 1, err)) goto done;

    if (pat->dense) {
        cfg.index_topk_pattern[0] = '\0';
        cfg.use_index_cache = 0;
    } else {
        snprintf(cfg.index_topk_pattern, sizeof cfg.index_topk_pattern, "%s", pat->c);
        cfg.use_index_cache = ic_pattern_n_full(pat) < cfg.n_layers;
    }
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    if (ic_config_save(&cfg, path, err)) goto done;
    if (ic_model_copy_aux_files(src_dir, out_dir, err)) goto done;
    rc = 0;
done:
    free(in);
    free(names);
    free(shapes);
    ic_model_files_close(&mf);
    return rc;
}

/* Indexers trained on a GPU are written from host copies. */
int ic_model_dir_write(const char *src_dir, const char *out_dir, const ic_config *cfg_in,
                       const ic_pattern *pat, int topk, const ic_indexer *ix, ic_error *err) {
    const ic_indexer *h;
    if (ic_indexers_on_host(ix, cfg_in->n_layers, &h, err) != 0) return -1;
    int rc = dir_write(src_dir, out_dir, cfg_in, pat, topk, h, err);
    ic_indexers_host_free(ix, h, cfg_in->n_layers);
    return rc;
}
