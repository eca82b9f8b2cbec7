/* Loading teacher weights from a model dir (config.json + safetensors,
 * single file or shards), every tensor converted to fp32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_safetensors.h"
#include "model/ic_weights.h"

/* Copy every tensor of the table from the open files, checking shapes. */
static int load_all(ic_weights *w, const ic_model_files *mf, const char *dir, ic_error *err) {
    int n = ic_weights_tensors(w, NULL, 0);
    ic_weight_entry *tab = calloc((size_t)n, sizeof *tab);
    if (!tab) return ic_error_set(err, "%s: out of memory", dir);
    ic_weights_tensors(w, tab, n);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const ic_weight_entry *e = &tab[i];
        const ic_safetensors *st;
        int ei;
        if (ic_model_files_find(mf, e->name, &st, &ei, err) != 0) { rc = -1; break; }
        const ic_st_entry *se = &st->entries[ei];
        int ok = se->ndim == e->ndim;
        for (int k = 0; ok && k < e->ndim; k++) ok = se->shape[k] == e->shape[k];
        if (!ok) {
            char got[128] = "", want[64];
            for (int k = 0, o = 0; k < se->ndim && o < (int)sizeof got - 24; k++)
                o += snprintf(got + o, sizeof got - o, k ? ", %lld" : "%lld", (long long)se->shape[k]);
            if (e->ndim == 2) snprintf(want, sizeof want, "[%lld, %lld]", e->shape[0], e->shape[1]);
            else snprintf(want, sizeof want, "[%lld]", e->shape[0]);
            rc = ic_error_set(err, "%s: tensor %s has shape [%s], config.json implies %s",
                              st->path, e->name, got, want);
            break;
        }
        if (se->dtype != IC_ST_F32 && se->dtype != IC_ST_BF16 && se->dtype != IC_ST_F16) {
            rc = ic_error_set(err, "%s: tensor %s has dtype %s; the teacher reads F32, BF16 or F16",
                              st->path, e->name, ic_st_dtype_name(se->dtype));
            break;
        }
        rc = ic_safetensors_read_f32(st, ei, e->dst, se->numel, err);
    }
    free(tab);
    return rc;
}

int ic_weights_load_files(ic_weights *w, const ic_config *cfg, const char *model_dir,
                          ic_error *err) {
    if (ic_weights_init(w, cfg, err) != 0) return -1;
    ic_model_files mf;
    if (ic_model_files_open(&mf, model_dir, err) != 0) {
        ic_weights_free(w);
        return -1;
    }
    int rc = load_all(w, &mf, model_dir, err);
    ic_model_files_close(&mf);
    if (rc != 0) ic_weights_free(w);
    return rc;
}
