/* Indexer load/store against a model dir (model/ic_indexer_io.h). */
#include <inttypes.h>
#include <stdio.h>

#include "ic_check.h"
#include "model/ic_indexer_io.h"

int ic_indexer_present(const ic_model_files *mf, int layer) {
    IC_ASSERT(mf != NULL && layer >= 0);
    for (int i = 0; i < IC_INDEXER_N_TENSORS; i++) {
        char name[IC_INDEXER_NAME_MAX];
        const ic_safetensors *st;
        int e;
        ic_indexer_tensor_name(name, sizeof name, layer, ic_indexer_tensor_suffixes[i]);
        if (ic_model_files_find(mf, name, &st, &e, NULL) == 0) return 1;
    }
    return 0;
}

int ic_indexer_load(ic_indexer *ix, const ic_model_files *mf, int layer, ic_error *err) {
    IC_ASSERT(ix != NULL && ix->data != NULL && mf != NULL && layer >= 0);
    IC_ASSERT(ix->ctx == NULL);   /* read on the host, before ic_indexer_to_ctx */
    ic_indexer_tensor t[IC_INDEXER_N_TENSORS];
    ic_indexer_tensors(ix, t);
    for (int i = 0; i < IC_INDEXER_N_TENSORS; i++) {
        char name[IC_INDEXER_NAME_MAX];
        const ic_safetensors *st;
        int e;
        ic_indexer_tensor_name(name, sizeof name, layer, t[i].suffix);
        if (ic_model_files_find(mf, name, &st, &e, err)) return -1;
        const ic_st_entry *en = &st->entries[e];
        int ok = en->ndim == t[i].ndim;
        for (int k = 0; ok && k < t[i].ndim; k++) ok = en->shape[k] == t[i].shape[k];
        if (!ok) {
            char want[64], got[128];
            if (t[i].ndim == 2) snprintf(want, sizeof want, "[%" PRId64 ", %" PRId64 "]", t[i].shape[0], t[i].shape[1]);
            else snprintf(want, sizeof want, "[%" PRId64 "]", t[i].shape[0]);
            int n = snprintf(got, sizeof got, "[");
            for (int k = 0; k < en->ndim && n < (int)sizeof got - 24; k++)
                n += snprintf(got + n, sizeof got - n, "%s%" PRId64, k ? ", " : "", en->shape[k]);
            snprintf(got + n, sizeof got - n, "]");
            return ic_error_set(err, "%s: tensor %s has shape %s, the config (index_n_heads, "
                                "index_head_dim, hidden_size) wants %s", mf->dir, name, got, want);
        }
        const int64_t numel = t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
        if (ic_safetensors_read_f32(st, e, t[i].data, numel, err)) {
            return ic_error_wrap(err, "%s: tensor %s", mf->dir, name);
        }
    }
    return 0;
}

void ic_indexer_st_entries(const ic_indexer *ix, int layer, ic_st_tensor_in *out,
                           char names[][IC_INDEXER_NAME_MAX], int64_t shapes[][2]) {
    IC_ASSERT(ix != NULL && out != NULL && names != NULL && shapes != NULL);
    IC_ASSERT(ix->ctx == NULL);   /* writers take host copies (ic_indexers_on_host) */
    ic_indexer_tensor t[IC_INDEXER_N_TENSORS];
    ic_indexer_tensors(ix, t);
    for (int i = 0; i < IC_INDEXER_N_TENSORS; i++) {
        ic_indexer_tensor_name(names[i], IC_INDEXER_NAME_MAX, layer, t[i].suffix);
        shapes[i][0] = t[i].shape[0];
        shapes[i][1] = t[i].shape[1];
        out[i] = (ic_st_tensor_in){ names[i], IC_ST_F32, t[i].ndim, shapes[i], t[i].data };
    }
}
