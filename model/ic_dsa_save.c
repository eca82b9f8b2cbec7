/* ic_dsa_model_save (see ic_dsa.h): the teacher and the present indexers
 * as one F32 model.safetensors + config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "model/ic_dsa.h"
#include "model/ic_indexer_io.h"
#include "model/ic_safetensors.h"

int ic_dsa_model_save(const ic_dsa_model *m, const char *dir, ic_error *err) {
    const int n_layers = m->w.cfg.n_layers;
    /* a tool's in-memory model, on the host (ic_model_dir_write writes the
     * trained indexers of a model that went to a GPU) */
    if (m->w.ctx)
        return ic_error_set(err, "%s: ic_dsa_model_save writes a host model; this one was moved "
                            "to a device (ic_dsa_model_to_ctx)", dir);
    for (int l = 0; l < n_layers; l++)
        if (m->ix && m->ix[l].ctx)
            return ic_error_set(err, "%s: layer %d's indexer lives on a device: write it with "
                                "ic_model_dir_write", dir, l);
    const int nt = ic_weights_tensors(&m->w, NULL, 0);
    const int cap = nt + n_layers * IC_INDEXER_N_TENSORS;
    ic_weight_entry *we = calloc((size_t)nt, sizeof *we);
    ic_st_tensor_in *in = calloc((size_t)cap, sizeof *in);
    int64_t (*shapes)[2] = calloc((size_t)cap, sizeof *shapes);
    char (*names)[IC_INDEXER_NAME_MAX] = calloc((size_t)n_layers * IC_INDEXER_N_TENSORS,
                                                sizeof *names);
    int rc = -1, n = 0;
    char path[4096];
    if (!we || !in || !shapes || !names) {
        ic_error_set(err, "%s: out of memory", dir);
        goto done;
    }
    ic_weights_tensors(&m->w, we, nt);
    for (int i = 0; i < nt; i++, n++) {
        shapes[n][0] = we[i].shape[0];
        shapes[n][1] = we[i].shape[1];
        in[n] = (ic_st_tensor_in){ we[i].name, IC_ST_F32, we[i].ndim, shapes[n], we[i].dst };
    }
    for (int l = 0, k = 0; l < n_layers; l++) {
        if (!ic_dsa_model_has_indexer(m, l)) continue;
        ic_indexer_st_entries(&m->ix[l], l, in + n, names + (size_t)k * IC_INDEXER_N_TENSORS,
                              shapes + n);
        n += IC_INDEXER_N_TENSORS;
        k++;
    }
    if (ic_mkdir_p(dir, err)) goto done;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *meta[2] = { "format", "pt" };
    if (ic_safetensors_write(path, in, n, meta, 1, err)) goto done;
    ic_config cfg = m->w.cfg;
    cfg.has_indexer_config = 1;
    cfg.index_n_heads = m->idims.n_heads;
    cfg.index_head_dim = m->idims.head_dim;
    cfg.index_rope_dim = m->idims.rope_dim;
    cfg.index_topk = m->topk;
    if (m->pattern.dense) {
        cfg.index_topk_pattern[0] = '\0';
        cfg.use_index_cache = 0;
    } else {
        snprintf(cfg.index_topk_pattern, sizeof cfg.index_topk_pattern, "%s", m->pattern.c);
        cfg.use_index_cache = ic_pattern_n_full(&m->pattern) < n_layers;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (ic_config_save(&cfg, path, err)) goto done;
    rc = 0;
done:
    free(we);
    free(in);
    free(shapes);
    free(names);
    return rc;
}
