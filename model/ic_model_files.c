/* Model dir = model.safetensors, or model.safetensors.index.json + shards
 * (the layout transformers writes: {"metadata": {...}, "weight_map":
 * {tensor: shard file}}). A single file wins when both exist, as in
 * transformers. The index must describe the shards exactly: a tensor mapped
 * to a shard that lacks it, or a shard tensor the map does not send there,
 * is an error, since either way the loader would read the wrong weights. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "ic_safetensors.h"

void ic_model_files_close(ic_model_files *mf) {
    if (!mf) return;
    for (int i = 0; i < mf->n_shards; i++) {
        if (mf->shards) ic_safetensors_close(&mf->shards[i]);
        if (mf->shard_names) free(mf->shard_names[i]);
    }
    for (int i = 0; i < mf->n_tensors; i++) free(mf->names[i]);
    free(mf->shards);
    free(mf->shard_names);
    free(mf->names);
    free(mf->shard_of);
    free(mf->entry_of);
    free(mf->dir);
    memset(mf, 0, sizeof *mf);
}

static int join(char *buf, size_t n, const char *dir, const char *name, ic_error *err) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return ic_error_set(err, "%s/%s: path too long", dir, name);
    return 0;
}

static int alloc_tensors(ic_model_files *mf, int n, ic_error *err) {
    mf->names = calloc(n ? (size_t)n : 1, sizeof *mf->names);
    mf->shard_of = calloc(n ? (size_t)n : 1, sizeof *mf->shard_of);
    mf->entry_of = calloc(n ? (size_t)n : 1, sizeof *mf->entry_of);
    if (!mf->names || !mf->shard_of || !mf->entry_of) return ic_error_set(err, "%s: out of memory", mf->dir);
    return 0;
}

static int open_single(ic_model_files *mf, const char *path, ic_error *err) {
    mf->shards = calloc(1, sizeof *mf->shards);
    mf->shard_names = calloc(1, sizeof *mf->shard_names);
    if (!mf->shards || !mf->shard_names) return ic_error_set(err, "%s: out of memory", mf->dir);
    mf->shard_names[0] = strdup("model.safetensors");
    mf->n_shards = 1;
    if (!mf->shard_names[0] || ic_safetensors_open(&mf->shards[0], path, err)) return -1;
    const ic_safetensors *st = &mf->shards[0];
    if (alloc_tensors(mf, st->n, err)) return -1;
    for (int i = 0; i < st->n; i++) {   /* by_name is already sorted */
        int e = st->by_name[i];
        mf->names[i] = strdup(st->entries[e].name);
        if (!mf->names[i]) return ic_error_set(err, "%s: out of memory", mf->dir);
        mf->n_tensors++;
        mf->shard_of[i] = 0;
        mf->entry_of[i] = e;
    }
    return 0;
}

/* Shard names come from a file: only plain names in the model dir. */
static int plain_file_name(const char *s) {
    return s[0] && strchr(s, '/') == NULL && strcmp(s, ".") && strcmp(s, "..");
}

static int find_name(const ic_model_files *mf, const char *name) {
    int lo = 0, hi = mf->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(mf->names[mid], name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int open_index(ic_model_files *mf, const char *ipath, ic_error *err) {
    size_t len;
    char *text = ic_read_file(ipath, &len, err);
    if (!text) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return ic_error_set(err, "%s: not valid JSON: %s (line %d, column %d)", ipath, jerr.text,
                            jerr.line, jerr.column);
    int rc = -1;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(root) || !json_is_object(wm)) {
        ic_error_set(err, "%s: no \"weight_map\" object", ipath);
        goto done;
    }
    int n = (int)json_object_size(wm);
    if (alloc_tensors(mf, n, err)) goto done;
    mf->shards = calloc(n ? (size_t)n : 1, sizeof *mf->shards);
    mf->shard_names = calloc(n ? (size_t)n : 1, sizeof *mf->shard_names);
    if (!mf->shards || !mf->shard_names) { ic_error_set(err, "%s: out of memory", ipath); goto done; }

    /* names sorted for lookup; shard names deduplicated in first-seen order */
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        if (!json_is_string(v) || !plain_file_name(json_string_value(v))) {
            ic_error_set(err, "%s: weight_map[\"%.200s\"] is not a file name in the model dir", ipath, k);
            goto done;
        }
        if (!(mf->names[mf->n_tensors] = strdup(k))) { ic_error_set(err, "%s: out of memory", ipath); goto done; }
        mf->n_tensors++;
    }
    qsort(mf->names, (size_t)mf->n_tensors, sizeof *mf->names, cmp_str);
    /* distinct shard names, sorted, so shard i is the i-th file of the set */
    json_object_foreach(wm, k, v) {
        const char *shard = json_string_value(v);
        int s = 0;
        while (s < mf->n_shards && strcmp(mf->shard_names[s], shard)) s++;
        if (s < mf->n_shards) continue;
        if (!(mf->shard_names[s] = strdup(shard))) { ic_error_set(err, "%s: out of memory", ipath); goto done; }
        mf->n_shards++;
    }
    qsort(mf->shard_names, (size_t)mf->n_shards, sizeof *mf->shard_names, cmp_str);
    for (int s = 0; s < mf->n_shards; s++) {
        char sp[4096];
        if (join(sp, sizeof sp, mf->dir, mf->shard_names[s], err)) goto done;
        if (!ic_path_exists(sp)) {
            ic_error_set(err, "%s: weight_map names shard %s, which does not exist", ipath, sp);
            goto done;
        }
        if (ic_safetensors_open(&mf->shards[s], sp, err)) goto done;
    }
    for (int i = 0; i < mf->n_tensors; i++) {
        const char *shard = json_string_value(json_object_get(wm, mf->names[i]));
        int s = 0;
        while (strcmp(mf->shard_names[s], shard)) s++;
        mf->shard_of[i] = s;
        mf->entry_of[i] = ic_safetensors_find(&mf->shards[s], mf->names[i]);
        if (mf->entry_of[i] < 0) {
            ic_error_set(err, "%s: weight_map sends \"%.200s\" to shard %s, which has no such tensor",
                         ipath, mf->names[i], shard);
            goto done;
        }
    }
    for (int s = 0; s < mf->n_shards; s++) {
        const ic_safetensors *st = &mf->shards[s];
        for (int e = 0; e < st->n; e++) {
            int t = find_name(mf, st->entries[e].name);
            if (t < 0 || mf->shard_of[t] != s) {
                ic_error_set(err, "%s: shard %s holds tensor \"%.200s\" but weight_map %s", ipath,
                             mf->shard_names[s], st->entries[e].name,
                             t < 0 ? "does not list it" : "sends it to another shard");
                goto done;
            }
        }
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int ic_model_files_open(ic_model_files *mf, const char *dir, ic_error *err) {
    memset(mf, 0, sizeof *mf);
    if (!ic_is_dir(dir)) return ic_error_set(err, "%s: not a directory", dir);
    if (!(mf->dir = strdup(dir))) return ic_error_set(err, "%s: out of memory", dir);
    char single[4096], index[4096];
    if (join(single, sizeof single, dir, "model.safetensors", err) ||
        join(index, sizeof index, dir, "model.safetensors.index.json", err)) goto fail;
    if (ic_path_exists(single)) {
        if (open_single(mf, single, err)) goto fail;
    } else if (ic_path_exists(index)) {
        if (open_index(mf, index, err)) goto fail;
    } else {
        ic_error_set(err, "%s: has neither model.safetensors nor model.safetensors.index.json", dir);
        goto fail;
    }
    return 0;
fail:
    ic_model_files_close(mf);
    return -1;
}

int ic_model_files_find(const ic_model_files *mf, const char *name, const ic_safetensors **st,
                        int *entry, ic_error *err) {
    int t = find_name(mf, name);
    if (t < 0) return ic_error_set(err, "%s: no tensor \"%.200s\" in the model", mf->dir, name);
    *st = &mf->shards[mf->shard_of[t]];
    *entry = mf->entry_of[t];
    return 0;
}
