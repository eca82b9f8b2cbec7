/* safetensors writer. The header is built with jansson (compact, keys in
 * insertion order: "__metadata__" first with its keys sorted, then the
 * tensors in data order), padded with spaces to a multiple of 8 so that the
 * data section starts 8-aligned; tensors are ordered like the reference
 * writer (dtype alignment descending, then name) so each one is aligned to
 * its element size. */
#define _GNU_SOURCE  /* qsort_r: sorting with a context, no globals */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "ic_safetensors.h"

typedef struct {
    char    *header;    /* [hlen] JSON + padding */
    size_t   hlen;
    int     *order;     /* [n] tensor indices in file order */
    uint64_t *nbytes;   /* [n] per input tensor */
    uint64_t total;     /* data section bytes */
} st_plan;

static void plan_free(st_plan *p) {
    free(p->header);
    free(p->order);
    free(p->nbytes);
    memset(p, 0, sizeof *p);
}

static int write_order(const void *a, const void *b, void *ctx) {
    const ic_st_tensor_in *t = ctx;
    const ic_st_tensor_in *x = &t[*(const int *)a], *y = &t[*(const int *)b];
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int name_cmp(const void *a, const void *b, void *ctx) {
    const ic_st_tensor_in *t = ctx;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}

static int plan_build(st_plan *p, const ic_st_tensor_in *t, int n, const char *const *meta,
                      int n_meta, const char *what, ic_error *err) {
    memset(p, 0, sizeof *p);
    json_t *root = NULL;
    int rc = -1;
    if (n < 0 || n_meta < 0) return ic_error_set(err, "%s: negative tensor or metadata count", what);
    p->order = malloc((n ? (size_t)n : 1) * sizeof *p->order);
    p->nbytes = malloc((n ? (size_t)n : 1) * sizeof *p->nbytes);
    root = json_object();
    if (!p->order || !p->nbytes || !root) { ic_error_set(err, "%s: out of memory", what); goto done; }

    for (int i = 0; i < n; i++) {
        const ic_st_tensor_in *x = &t[i];
        size_t es = ic_st_dtype_size(x->dtype);
        if (!x->name) { ic_error_set(err, "%s: tensor %d has no name", what, i); goto done; }
        if (strcmp(x->name, "__metadata__") == 0) {
            ic_error_set(err, "%s: \"__metadata__\" is reserved, not a tensor name", what);
            goto done;
        }
        if (es == 0) { ic_error_set(err, "%s: tensor \"%s\": unknown dtype %d", what, x->name, (int)x->dtype); goto done; }
        if (x->ndim < 0 || (x->ndim > 0 && !x->shape)) {
            ic_error_set(err, "%s: tensor \"%s\": bad rank %d", what, x->name, x->ndim);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < x->ndim; d++) {
            if (x->shape[d] < 0) {
                ic_error_set(err, "%s: tensor \"%s\": negative dimension %lld", what, x->name,
                             (long long)x->shape[d]);
                goto done;
            }
            uint64_t s = (uint64_t)x->shape[d];
            if (s && numel > UINT64_MAX / s) { ic_error_set(err, "%s: tensor \"%s\": size overflows", what, x->name); goto done; }
            numel *= s;
        }
        if (numel > UINT64_MAX / es) { ic_error_set(err, "%s: tensor \"%s\": size overflows", what, x->name); goto done; }
        p->nbytes[i] = numel * es;
        if (p->nbytes[i] && !x->data) {
            ic_error_set(err, "%s: tensor \"%s\": no data", what, x->name);
            goto done;
        }
        p->order[i] = i;
    }
    /* duplicates: sort by name, compare neighbours */
    qsort_r(p->order, (size_t)n, sizeof *p->order, name_cmp, (void *)t);
    for (int i = 1; i < n; i++)
        if (strcmp(t[p->order[i - 1]].name, t[p->order[i]].name) == 0) {
            ic_error_set(err, "%s: tensor name \"%s\" given twice", what, t[p->order[i]].name);
            goto done;
        }
    qsort_r(p->order, (size_t)n, sizeof *p->order, write_order, (void *)t);

    if (n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m)) { ic_error_set(err, "%s: out of memory", what); goto done; }
        /* keys in sorted order, so the same metadata always gives the same bytes */
        int *mo = malloc((size_t)n_meta * sizeof *mo);
        if (!mo) { ic_error_set(err, "%s: out of memory", what); goto done; }
        for (int i = 0; i < n_meta; i++) mo[i] = i;
        for (int i = 1; i < n_meta; i++)
            for (int j = i; j > 0 && strcmp(meta[2 * mo[j - 1]], meta[2 * mo[j]]) > 0; j--) {
                int tmp = mo[j]; mo[j] = mo[j - 1]; mo[j - 1] = tmp;
            }
        int bad = 0;
        for (int i = 0; i < n_meta && !bad; i++) {
            const char *k = meta[2 * mo[i]], *v = meta[2 * mo[i] + 1];
            if (!k || !v) { ic_error_set(err, "%s: metadata entry %d is NULL", what, mo[i]); bad = 1; break; }
            if (json_object_get(m, k)) { ic_error_set(err, "%s: metadata key \"%s\" given twice", what, k); bad = 1; break; }
            json_t *js = json_string(v);
            if (!js || json_object_set_new(m, k, js)) {
                ic_error_set(err, "%s: metadata \"%s\": key or value is not valid UTF-8", what, k);
                bad = 1;
            }
        }
        free(mo);
        if (bad) goto done;
    }

    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const ic_st_tensor_in *x = &t[p->order[i]];
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        int bad = !e || !shape || !offs;
        for (int d = 0; d < x->ndim && !bad; d++)
            bad = json_array_append_new(shape, json_integer(x->shape[d])) != 0;
        bad = bad || json_array_append_new(offs, json_integer((json_int_t)off)) ||
              json_array_append_new(offs, json_integer((json_int_t)(off + p->nbytes[p->order[i]])));
        bad = bad || json_object_set_new(e, "dtype", json_string(ic_st_dtype_name(x->dtype)));
        if (bad) {
            json_decref(e); json_decref(shape); json_decref(offs);
            ic_error_set(err, "%s: out of memory", what);
            goto done;
        }
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        if (json_object_set_new(root, x->name, e)) {
            ic_error_set(err, "%s: tensor name \"%s\" is not valid UTF-8", what, x->name);
            goto done;
        }
        off += p->nbytes[p->order[i]];
    }
    p->total = off;

    char *js = json_dumps(root, JSON_COMPACT);
    if (!js) { ic_error_set(err, "%s: cannot encode the header", what); goto done; }
    size_t jl = strlen(js), pad = (8 - jl % 8) % 8;
    if (jl + pad > IC_ST_MAX_HEADER) {
        free(js);
        ic_error_set(err, "%s: header of %zu bytes exceeds the 100000000-byte limit", what, jl + pad);
        goto done;
    }
    p->header = malloc(jl + pad);
    if (!p->header) { free(js); ic_error_set(err, "%s: out of memory", what); goto done; }
    memcpy(p->header, js, jl);
    memset(p->header + jl, ' ', pad);
    p->hlen = jl + pad;
    free(js);
    rc = 0;
done:
    json_decref(root);
    if (rc) plan_free(p);
    return rc;
}

static void put_le64(uint8_t *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

int ic_safetensors_serialize(const ic_st_tensor_in *tensors, int n, const char *const *meta,
                             int n_meta, uint8_t **out, size_t *len, ic_error *err) {
    st_plan p;
    *out = NULL;
    *len = 0;
    if (plan_build(&p, tensors, n, meta, n_meta, "safetensors", err)) return -1;
    size_t total = 8 + p.hlen + (size_t)p.total;
    uint8_t *b = malloc(total ? total : 1);
    if (!b) { plan_free(&p); return ic_error_set(err, "safetensors: out of memory (%zu bytes)", total); }
    put_le64(b, p.hlen);
    memcpy(b + 8, p.header, p.hlen);
    size_t o = 8 + p.hlen;
    for (int i = 0; i < n; i++) {
        uint64_t nb = p.nbytes[p.order[i]];
        if (nb) memcpy(b + o, tensors[p.order[i]].data, (size_t)nb);
        o += (size_t)nb;
    }
    plan_free(&p);
    *out = b;
    *len = total;
    return 0;
}

int ic_safetensors_write(const char *path, const ic_st_tensor_in *tensors, int n,
                         const char *const *meta, int n_meta, ic_error *err) {
    st_plan p;
    if (plan_build(&p, tensors, n, meta, n_meta, path, err)) return -1;
    ic_atomic_file af;
    if (ic_atomic_open(&af, path, err)) { plan_free(&p); return -1; }
    uint8_t hs[8];
    put_le64(hs, p.hlen);
    int bad = fwrite(hs, 1, 8, af.f) != 8 || fwrite(p.header, 1, p.hlen, af.f) != p.hlen;
    /* data streams from the caller's buffers: no second copy of the model */
    for (int i = 0; i < n && !bad; i++) {
        uint64_t nb = p.nbytes[p.order[i]];
        if (nb) bad = fwrite(tensors[p.order[i]].data, 1, (size_t)nb, af.f) != (size_t)nb;
    }
    int e = errno;   /* ENOSPC, EIO, ...: before the cleanup can change it */
    plan_free(&p);
    if (bad) {
        ic_atomic_abort(&af);
        return ic_error_set(err, "%s: write failed: %s", path, strerror(e));
    }
    return ic_atomic_commit(&af, err);
}
