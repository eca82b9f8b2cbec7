#include "ic_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ic_fs.h"
#include "kernels/ic_ctx.h"
#include "model/ic_safetensors.h"

#define CKPT_FORMAT  "indexcache-checkpoint"
#define CKPT_VERSION 1
#define F_WEIGHTS    "weights.safetensors"
#define F_OPTIM      "optimizer.safetensors"
#define F_STATE      "state.json"
#define F_COMPLETE   "COMPLETE"
#define PATH_CAP     4096

/* ---- names and small file-system helpers ----------------------------------- */

/* "ckpt-<digits>" followed by `suffix` ("" for a checkpoint, ".tmp." or
 * ".old." for leftovers, then a pid). Returns the step or -1; *rest points
 * after the suffix. At most 18 digits, so the step fits int64. */
static int64_t parse_name(const char *name, const char *suffix, const char **rest) {
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5;
    int64_t v = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 19) { v = v * 10 + (*p - '0'); p++; nd++; }
    if (nd == 0 || nd > 18) return -1;
    size_t ls = strlen(suffix);
    if (strncmp(p, suffix, ls) != 0) return -1;
    p += ls;
    if (rest) *rest = p;
    else if (*p) return -1;
    return v;
}

static int join(char *out, const char *a, const char *b, ic_error *err) {
    if (snprintf(out, PATH_CAP, "%s/%s", a, b) >= PATH_CAP)
        return ic_error_set(err, "%s/%s: path too long", a, b);
    return 0;
}

static int fsync_dir(const char *path, ic_error *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return ic_error_set(err, "%s: cannot open directory: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return ic_error_set(err, "%s: fsync failed: %s", path, strerror(e));
    return 0;
}

/* Remove a directory of plain files (what we write). A subdirectory means
 * it is not ours: refuse rather than delete recursively. */
static int remove_flat_dir(const char *path, ic_error *err) {
    DIR *d = opendir(path);
    if (!d) return ic_error_set(err, "%s: cannot open directory: %s", path, strerror(errno));
    struct dirent *e;
    char p[PATH_CAP];
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (join(p, path, e->d_name, err)) { rc = -1; break; }
        if (ic_is_dir(p)) {
            rc = ic_error_set(err, "%s: holds a subdirectory %s; not removing it", path, e->d_name);
            break;
        }
        if (unlink(p) != 0) {
            rc = ic_error_set(err, "%s: cannot remove: %s", p, strerror(errno));
            break;
        }
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0)
        rc = ic_error_set(err, "%s: cannot remove directory: %s", path, strerror(errno));
    return rc;
}

static int is_complete(const char *dir, const char *name) {
    char p[PATH_CAP];
    if (snprintf(p, sizeof p, "%s/%s/%s", dir, name, F_COMPLETE) >= (int)sizeof p) return 0;
    return ic_path_exists(p) && ic_is_dir(p) == 0;
}

/* ---- listing ----------------------------------------------------------------- */

typedef struct { int64_t *steps; int n, cap; } step_list;

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Complete checkpoints of dir, newest first. A missing dir is an empty list. */
static int list_complete(const char *dir, step_list *out, ic_error *err) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return ic_error_set(err, "%s: cannot list checkpoints: %s", dir, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t s = parse_name(e->d_name, "", NULL);
        if (s < 0 || !is_complete(dir, e->d_name)) continue;
        if (out->n == out->cap) {
            int nc = out->cap ? 2 * out->cap : 16;
            int64_t *ns = realloc(out->steps, (size_t)nc * sizeof *ns);
            if (!ns) { closedir(d); free(out->steps); return ic_error_set(err, "out of memory"); }
            out->steps = ns;
            out->cap = nc;
        }
        out->steps[out->n++] = s;
    }
    closedir(d);
    if (out->n) qsort(out->steps, (size_t)out->n, sizeof *out->steps, cmp_desc);
    return 0;
}

int ic_checkpoint_latest(const char *dir, int64_t *step, char *path, size_t path_len,
                         ic_error *err) {
    step_list l;
    if (list_complete(dir, &l, err)) return -1;
    if (l.n == 0) { free(l.steps); return 0; }
    *step = l.steps[0];
    free(l.steps);
    if (path && snprintf(path, path_len, "%s/ckpt-%" PRId64, dir, *step) >= (int)path_len)
        return ic_error_set(err, "%s: checkpoint path too long", dir);
    return 1;
}

/* A .tmp/.old directory whose writer is gone. The pid test only means
 * something on the host that wrote it; a live foreign pid keeps it. */
static int stale_leftover(const char *name) {
    const char *rest = NULL;
    if (parse_name(name, ".tmp.", &rest) < 0 && parse_name(name, ".old.", &rest) < 0) return 0;
    char *end = NULL;
    long pid = strtol(rest, &end, 10);
    if (!*rest || *end || pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int ic_checkpoint_prune(const char *dir, int keep, ic_error *err) {
    if (keep <= 0) keep = IC_CKPT_KEEP_DEFAULT;
    step_list l;
    if (list_complete(dir, &l, err)) return -1;
    char p[PATH_CAP];
    int rc = 0;
    for (int i = keep; i < l.n && rc == 0; i++) {
        /* Renamed aside first, so that a process killed half-way through
         * the deletion leaves a .old.<pid> directory (ignored by lookups,
         * swept below by a later save), never a ckpt-<step> that still
         * holds COMPLETE but lacks its tensors. */
        char aside[PATH_CAP];
        snprintf(p, sizeof p, "%s/ckpt-%" PRId64, dir, l.steps[i]);
        if (snprintf(aside, sizeof aside, "%s/ckpt-%" PRId64 ".old.%ld", dir, l.steps[i],
                     (long)getpid()) >= (int)sizeof aside)
            rc = ic_error_set(err, "%s: checkpoint path too long", dir);
        else if (ic_is_dir(aside) && remove_flat_dir(aside, err)) rc = -1;
        else if (rename(p, aside) != 0)
            rc = ic_error_set(err, "%s: cannot move aside for deletion: %s", p, strerror(errno));
        else rc = remove_flat_dir(aside, err);
    }
    free(l.steps);
    if (rc) return -1;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (!stale_leftover(e->d_name)) continue;
        if (join(p, dir, e->d_name, err)) rc = -1;
        else rc = remove_flat_dir(p, err);
    }
    closedir(d);
    return rc;
}

/* ---- save --------------------------------------------------------------------- */

/* ---- device staging ------------------------------------------------------------
 * Weights and optimizer state trained on a GPU live in device memory: a save
 * downloads them into one host block first, a load reads into one and
 * uploads. On the CPU (ctx NULL or a CPU context) the host buffers are used
 * as they are. */
static int on_device(const ic_ctx *ctx) { return ctx && ctx->backend != IC_BACKEND_CPU; }

/* Host twins of t[0..n-1]: same names and shapes, data in one new block
 * (*block, free it); downloaded when `download`. */
static ic_named_f32 *stage_views(ic_ctx *ctx, const ic_named_f32 *t, int n, int download,
                                 float **block) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)ic_named_f32_numel(&t[i]);
    ic_named_f32 *h = calloc((size_t)n + 1, sizeof *h);
    float *b = malloc(sizeof(float) * (total ? total : 1));
    if (!h || !b) { free(h); free(b); return NULL; }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const size_t k = (size_t)ic_named_f32_numel(&t[i]);
        h[i] = t[i];
        h[i].data = b + off;
        if (download) ic_buf_download(ctx, h[i].data, t[i].data, sizeof(float) * k);
        off += k;
    }
    *block = b;
    return h;
}

static int write_tensors_host(const char *path, const ic_named_f32 *t, int n, int64_t step,
                              ic_error *err);

static int write_tensors(ic_ctx *ctx, const char *path, const ic_named_f32 *t, int n,
                         int64_t step, ic_error *err) {
    if (!on_device(ctx)) return write_tensors_host(path, t, n, step, err);
    float *block = NULL;
    ic_named_f32 *h = stage_views(ctx, t, n, 1, &block);
    if (!h) return ic_error_set(err, "%s: out of host memory for the device tensors", path);
    int rc = write_tensors_host(path, h, n, step, err);
    free(h);
    free(block);
    return rc;
}

static int write_tensors_host(const char *path, const ic_named_f32 *t, int n, int64_t step,
                              ic_error *err) {
    ic_st_tensor_in *in = calloc((size_t)n + 1, sizeof *in);
    if (!in) return ic_error_set(err, "%s: out of memory", path);
    for (int i = 0; i < n; i++)
        in[i] = (ic_st_tensor_in){t[i].name, IC_ST_F32, t[i].ndim, t[i].shape, t[i].data};
    char step_s[32];
    snprintf(step_s, sizeof step_s, "%" PRId64, step);
    const char *meta[4] = {"format", CKPT_FORMAT, "step", step_s};
    int rc = ic_safetensors_write(path, in, n, meta, 2, err);
    free(in);
    return rc;
}

static json_t *state_json(const ic_checkpoint *ck) {
    char rng[32];
    snprintf(rng, sizeof rng, "0x%016" PRIx64, ck->rng);
    json_t *j = json_pack("{s:s, s:i, s:I, s:s}", "format", CKPT_FORMAT, "version", CKPT_VERSION,
                          "step", (json_int_t)ck->step, "rng", rng);
    if (!j) return NULL;
    json_object_set_new(j, "sampler", ck->sampler ? ic_sampler_state_to_json(ck->sampler)
                                                  : json_null());
    if (ck->opt) {
        const ic_adamw_hparams *hp = &ck->opt->hp;
        json_object_set_new(j, "optimizer",
                            json_pack("{s:s, s:I, s:f, s:f, s:f, s:f}", "name", "adamw",
                                      "step", (json_int_t)ck->opt->step, "beta1", hp->beta1,
                                      "beta2", hp->beta2, "eps", hp->eps,
                                      "weight_decay", hp->weight_decay));
    } else {
        json_object_set_new(j, "optimizer", json_null());
    }
    json_object_set(j, "config", ck->config ? ck->config : json_null());
    return j;
}

/* Everything except the final rename, into `tmp`. */
static int write_contents(const char *tmp, const ic_checkpoint *ck, ic_error *err) {
    char p[PATH_CAP];
    if (join(p, tmp, F_WEIGHTS, err) ||
        write_tensors(ck->ctx, p, ck->weights, ck->n_weights, ck->step, err))
        return -1;
    if (ck->opt) {
        int ns = ic_adamw_state_count(ck->opt);
        ic_named_f32 *views = calloc((size_t)ns + 1, sizeof *views);
        if (!views) return ic_error_set(err, "%s: out of memory", tmp);
        ic_adamw_state_views(ck->opt, views);
        int rc = join(p, tmp, F_OPTIM, err) ||
                 write_tensors(ck->ctx, p, views, ns, ck->step, err);
        free(views);
        if (rc) return -1;
    }
    json_t *j = state_json(ck);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    if (!text) return ic_error_set(err, "%s: cannot encode %s", tmp, F_STATE);
    int rc = join(p, tmp, F_STATE, err) || ic_write_file_atomic(p, text, strlen(text), err);
    free(text);
    if (rc) return -1;
    char marker[64];
    int n = snprintf(marker, sizeof marker, "indexcache checkpoint step %" PRId64 "\n", ck->step);
    if (join(p, tmp, F_COMPLETE, err) || ic_write_file_atomic(p, marker, (size_t)n, err)) return -1;
    return fsync_dir(tmp, err);
}

int ic_checkpoint_save(const char *dir, const ic_checkpoint *ck, int keep, ic_error *err) {
    if (ck->step < 0) return ic_error_set(err, "checkpoint: negative step %" PRId64, ck->step);
    if (ic_mkdir_p(dir, err)) return -1;
    char tmp[PATH_CAP], fin[PATH_CAP], old[PATH_CAP];
    long pid = (long)getpid();
    if (snprintf(tmp, sizeof tmp, "%s/ckpt-%" PRId64 ".tmp.%ld", dir, ck->step, pid) >= PATH_CAP ||
        snprintf(fin, sizeof fin, "%s/ckpt-%" PRId64, dir, ck->step) >= PATH_CAP ||
        snprintf(old, sizeof old, "%s/ckpt-%" PRId64 ".old.%ld", dir, ck->step, pid) >= PATH_CAP)
        return ic_error_set(err, "%s: checkpoint path too long", dir);
    if (ic_is_dir(tmp) && remove_flat_dir(tmp, err)) return -1;
    if (mkdir(tmp, 0755) != 0)
        return ic_error_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    if (write_contents(tmp, ck, err)) {
        ic_error scratch;  /* cleanup after a failure: the first error is the one to report */
        ic_error_clear(&scratch);
        remove_flat_dir(tmp, &scratch);
        return ic_error_wrap(err, "writing checkpoint %s", fin);
    }
    /* rename(2) cannot replace a non-empty directory: move an existing
     * checkpoint of this step aside, and delete it only once the new one
     * is in place. */
    if (ic_is_dir(old) && remove_flat_dir(old, err)) return -1;  /* from a failed save of ours */
    int had_old = ic_is_dir(fin);
    if (had_old && rename(fin, old) != 0) {
        int e = errno;
        ic_error scratch;  /* cleanup after a failure: the first error is the one to report */
        ic_error_clear(&scratch);
        remove_flat_dir(tmp, &scratch);
        return ic_error_set(err, "%s: cannot move the old checkpoint aside: %s", fin, strerror(e));
    }
    if (rename(tmp, fin) != 0) {
        int e = errno;
        ic_error scratch;  /* cleanup after a failure: the first error is the one to report */
        ic_error_clear(&scratch);
        remove_flat_dir(tmp, &scratch);
        if (had_old) rename(old, fin);
        return ic_error_set(err, "%s: rename failed: %s", fin, strerror(e));
    }
    if (fsync_dir(dir, err)) return -1;
    if (had_old && remove_flat_dir(old, err)) return -1;
    return ic_checkpoint_prune(dir, keep, err);
}

/* ---- load --------------------------------------------------------------------- */

/* Phase 1: every wanted tensor is in the file as F32 with the same shape and
 * the file has no others; idx[i] = its entry. */
static int match_tensors(const ic_safetensors *st, const ic_named_f32 *t, int n, int *idx,
                         ic_error *err) {
    if (st->n != n)
        return ic_error_set(err, "%s: holds %d tensors, this run has %d (different pattern or "
                            "model?)", st->path, st->n, n);
    for (int i = 0; i < n; i++) {
        int k = ic_safetensors_find(st, t[i].name);
        if (k < 0) return ic_error_set(err, "%s: tensor %s missing", st->path, t[i].name);
        for (int j = 0; j < i; j++)
            if (idx[j] == k) return ic_error_set(err, "tensor name %s given twice", t[i].name);
        const ic_st_entry *e = &st->entries[k];
        if (e->dtype != IC_ST_F32)
            return ic_error_set(err, "%s: tensor %s is %s, expected F32", st->path, t[i].name,
                                ic_st_dtype_name(e->dtype));
        int same = e->ndim == t[i].ndim;
        for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == t[i].shape[d];
        if (!same) {
            char want[128] = "[", have[128] = "[";
            for (int d = 0; d < t[i].ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%" PRId64,
                         d ? ", " : "", t[i].shape[d]);
            for (int d = 0; d < e->ndim; d++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%" PRId64,
                         d ? ", " : "", e->shape[d]);
            return ic_error_set(err, "%s: tensor %s has shape %s], this run has %s]", st->path,
                                t[i].name, have, want);
        }
        idx[i] = k;
    }
    return 0;
}

/* Phase 2: copy (cannot fail for validated F32 entries, but report anyway). */
static int read_tensors_host(const ic_safetensors *st, ic_named_f32 *t, int n, const int *idx,
                             ic_error *err) {
    for (int i = 0; i < n; i++)
        if (ic_safetensors_read_f32(st, idx[i], t[i].data, ic_named_f32_numel(&t[i]), err))
            return -1;
    return 0;
}

static int read_tensors(ic_ctx *ctx, const ic_safetensors *st, ic_named_f32 *t, int n,
                        const int *idx, ic_error *err) {
    if (!on_device(ctx)) return read_tensors_host(st, t, n, idx, err);
    float *block = NULL;
    ic_named_f32 *h = stage_views(ctx, t, n, 0, &block);
    if (!h) return ic_error_set(err, "%s: out of host memory for the device tensors", st->path);
    int rc = read_tensors_host(st, h, n, idx, err);
    for (int i = 0; rc == 0 && i < n; i++)
        ic_buf_upload(ctx, t[i].data, h[i].data, sizeof(float) * (size_t)ic_named_f32_numel(&t[i]));
    free(h);
    free(block);
    return rc;
}

static int parse_hex64(const char *s, uint64_t *out) {
    if (!s || strncmp(s, "0x", 2) != 0 || strlen(s) < 3 || strlen(s) > 18) return -1;
    if (strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2)) return -1;
    *out = (uint64_t)strtoull(s + 2, NULL, 16);
    return 0;
}

static int check_hparam(const json_t *o, const char *key, double have, const char *file,
                        ic_error *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return ic_error_set(err, "%s: optimizer.%s missing", file, key);
    if (json_number_value(v) != have)
        return ic_error_set(err, "--resume: the checkpoint's AdamW %s is %.17g, this run has %.17g",
                            key, json_number_value(v), have);
    return 0;
}

int ic_checkpoint_load(const char *path, ic_checkpoint *ck, json_t **saved_config,
                       ic_error *err) {
    if (saved_config) *saved_config = NULL;
    char p[PATH_CAP];
    if (join(p, path, F_STATE, err)) return -1;
    size_t len = 0;
    char *text = ic_read_file(p, &len, err);
    if (!text) return -1;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!j) return ic_error_set(err, "%s: line %d: %s", p, je.line, je.text);
    int rc = -1;
    ic_safetensors sw, so;
    memset(&sw, 0, sizeof sw);
    memset(&so, 0, sizeof so);
    int *iw = NULL, *io = NULL;
    ic_named_f32 *views = NULL;
    const char *fmt = json_string_value(json_object_get(j, "format"));
    json_t *jstep = json_object_get(j, "step"), *jopt = json_object_get(j, "optimizer");
    uint64_t rng = 0;
    ic_sampler_state smp;
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) { ic_error_set(err, "%s: not a checkpoint", p); goto out; }
    if (json_integer_value(json_object_get(j, "version")) != CKPT_VERSION) {
        ic_error_set(err, "%s: unsupported checkpoint version", p);
        goto out;
    }
    if (!json_is_integer(jstep) || json_integer_value(jstep) < 0) {
        ic_error_set(err, "%s: \"step\" must be a non-negative integer", p);
        goto out;
    }
    if (parse_hex64(json_string_value(json_object_get(j, "rng")), &rng)) {
        ic_error_set(err, "%s: \"rng\" must be a hex string", p);
        goto out;
    }
    if (ck->sampler) {
        json_t *js = json_object_get(j, "sampler");
        if (!json_is_object(js)) { ic_error_set(err, "%s: no sampler cursor", p); goto out; }
        if (ic_sampler_state_from_json(js, &smp, err)) { ic_error_wrap(err, "%s", p); goto out; }
    }
    /* Validate both tensor files before writing into any caller buffer. */
    if (join(p, path, F_WEIGHTS, err) || ic_safetensors_open(&sw, p, err)) goto out;
    iw = calloc((size_t)ck->n_weights + 1, sizeof *iw);
    if (!iw) { ic_error_set(err, "out of memory"); goto out; }
    if (match_tensors(&sw, ck->weights, ck->n_weights, iw, err)) goto out;
    int ns = 0;
    if (ck->opt) {
        if (!json_is_object(jopt)) { ic_error_set(err, "%s: no optimizer state", path); goto out; }
        const ic_adamw_hparams *hp = &ck->opt->hp;
        if (check_hparam(jopt, "beta1", hp->beta1, path, err) ||
            check_hparam(jopt, "beta2", hp->beta2, path, err) ||
            check_hparam(jopt, "eps", hp->eps, path, err) ||
            check_hparam(jopt, "weight_decay", hp->weight_decay, path, err))
            goto out;
        json_t *os = json_object_get(jopt, "step");
        if (!json_is_integer(os) || json_integer_value(os) < 0) {
            ic_error_set(err, "%s: optimizer.step must be a non-negative integer", path);
            goto out;
        }
        ns = ic_adamw_state_count(ck->opt);
        views = calloc((size_t)ns + 1, sizeof *views);
        io = calloc((size_t)ns + 1, sizeof *io);
        if (!views || !io) { ic_error_set(err, "out of memory"); goto out; }
        ic_adamw_state_views(ck->opt, views);
        if (join(p, path, F_OPTIM, err) || ic_safetensors_open(&so, p, err) ||
            match_tensors(&so, views, ns, io, err))
            goto out;
    }
    if (read_tensors(ck->ctx, &sw, ck->weights, ck->n_weights, iw, err)) goto out;
    if (ck->opt) {
        if (read_tensors(ck->ctx, &so, views, ns, io, err)) goto out;
        ck->opt->step = (int64_t)json_integer_value(json_object_get(jopt, "step"));
    }
    if (ck->sampler) *ck->sampler = smp;
    ck->step = (int64_t)json_integer_value(jstep);
    ck->rng = rng;
    if (saved_config) {
        json_t *c = json_object_get(j, "config");
        *saved_config = json_is_null(c) ? NULL : json_incref(c);
    }
    rc = 0;
out:
    ic_safetensors_close(&sw);
    ic_safetensors_close(&so);
    free(iw); free(io); free(views);
    json_decref(j);
    return rc;
}

/* ---- --resume guard --------------------------------------------------------------- */

static int describe_diff(const char *key, const json_t *a, const json_t *b, ic_error *err) {
    char *sa = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    char *sb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    ic_error_set(err, "--resume: the checkpoint was made with %s = %s, this run has %s", key,
                 sa ? sa : "(unset)", sb ? sb : "(unset)");
    free(sa); free(sb);
    return -1;
}

int ic_checkpoint_config_check(const json_t *saved, const json_t *current, ic_error *err) {
    const char *key;
    json_t *v;
    /* json_object_foreach needs a non-const object; it does not modify it. */
    json_t *s = (json_t *)saved, *c = (json_t *)current;
    if (s && !json_is_object(s)) return ic_error_set(err, "--resume: saved config is not an object");
    if (c && !json_is_object(c)) return ic_error_set(err, "--resume: run config is not an object");
    if (s) json_object_foreach(s, key, v) {
        json_t *w = c ? json_object_get(c, key) : NULL;
        if (!w || !json_equal(v, w)) return describe_diff(key, v, w, err);
    }
    if (c) json_object_foreach(c, key, v) {
        if (!s || !json_object_get(s, key)) return describe_diff(key, NULL, v, err);
    }
    return 0;
}
