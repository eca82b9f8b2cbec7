/* safetensors reader: validation mirrors the reference crate's
 * SafeTensors::read_metadata (size checks, UTF-8, JSON object, per-entry
 * types, offsets sorted and contiguous from 0, span == numel x size, file
 * size == end of the last tensor), in that order, so the first fault we
 * report is the one the reference would hit first. */
#define _GNU_SOURCE  /* qsort_r: sorting with a context, no globals */
#include "ic_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ic_half.h"

static const struct { const char *name; size_t size; int core; } k_st_dtypes[IC_ST_DTYPE_COUNT] = {
    [IC_ST_BOOL] = {"BOOL", 1, -1},        [IC_ST_U8] = {"U8", 1, IC_U8},
    [IC_ST_I8] = {"I8", 1, -1},            [IC_ST_F8_E5M2] = {"F8_E5M2", 1, -1},
    [IC_ST_F8_E4M3] = {"F8_E4M3", 1, -1},  [IC_ST_I16] = {"I16", 2, -1},
    [IC_ST_U16] = {"U16", 2, -1},          [IC_ST_F16] = {"F16", 2, IC_F16},
    [IC_ST_BF16] = {"BF16", 2, IC_BF16},   [IC_ST_I32] = {"I32", 4, IC_I32},
    [IC_ST_U32] = {"U32", 4, IC_U32},      [IC_ST_F32] = {"F32", 4, IC_F32},
    [IC_ST_F64] = {"F64", 8, -1},          [IC_ST_I64] = {"I64", 8, -1},
    [IC_ST_U64] = {"U64", 8, -1},
};

size_t ic_st_dtype_size(ic_st_dtype dt) {
    return ((int)dt >= 0 && dt < IC_ST_DTYPE_COUNT) ? k_st_dtypes[dt].size : 0;
}

const char *ic_st_dtype_name(ic_st_dtype dt) {
    return ((int)dt >= 0 && dt < IC_ST_DTYPE_COUNT) ? k_st_dtypes[dt].name : "?";
}

int ic_st_dtype_from_name(const char *name, ic_st_dtype *out) {
    for (int i = 0; i < IC_ST_DTYPE_COUNT; i++)
        if (strcmp(name, k_st_dtypes[i].name) == 0) { *out = (ic_st_dtype)i; return 0; }
    return -1;
}

int ic_st_dtype_to_core(ic_st_dtype dt, ic_dtype *out) {
    if ((int)dt < 0 || dt >= IC_ST_DTYPE_COUNT || k_st_dtypes[dt].core < 0) return -1;
    *out = (ic_dtype)k_st_dtypes[dt].core;
    return 0;
}

ic_st_dtype ic_st_dtype_from_core(ic_dtype dt) {
    for (int i = 0; i < IC_ST_DTYPE_COUNT; i++)
        if (k_st_dtypes[i].core == (int)dt) return (ic_st_dtype)i;
    return IC_ST_DTYPE_COUNT;
}

/* ---- messages --------------------------------------------------------------- */

/* "FILE: fault", with the first fault kept (ic_error_set semantics). */
static int st_fault(ic_error *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int st_fault(ic_error *err, const char *file, const char *fmt, ...) {
    char msg[IC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ic_error_set(err, "%.400s: %s", file, msg);
}

/* Tensor names come from the file: escape what would break a one-line
 * message and cut very long ones. */
static const char *quoted(const char *s, char *buf, size_t n) {
    size_t o = 0;
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < n; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        else buf[o++] = (char)*p;
        if (o > 160 && p[1]) { o += (size_t)snprintf(buf + o, n - o, "..."); break; }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Strict UTF-8 (what Rust's str::from_utf8 accepts): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Returns the offset of the first bad
 * byte, or len when valid. */
static size_t utf8_bad_at(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return i;
        if (len - i - 1 < need) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}

/* ---- parsing ------------------------------------------------------------------ */

void ic_safetensors_close(ic_safetensors *st) {
    if (!st) return;
    if (st->entries) {
        for (int i = 0; i < st->n; i++) free((char *)st->entries[i].name);
    }
    free(st->entries);
    free(st->shape_block);
    free(st->by_name);
    for (int i = 0; i < st->n_meta; i++) { free(st->meta_keys[i]); free(st->meta_vals[i]); }
    free(st->meta_keys);
    free(st->meta_vals);
    if (st->mapped && st->base) munmap((void *)st->base, st->size);
    free(st->path);
    memset(st, 0, sizeof *st);
}

static int json_uint(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_metadata(ic_safetensors *st, const json_t *m, ic_error *err) {
    if (json_is_null(m)) return 0;  /* serde reads null as "no metadata" */
    if (!json_is_object(m))
        return st_fault(err, st->path, "__metadata__ is not an object of strings");
    size_t n = json_object_size(m);
    st->meta_keys = calloc(n ? n : 1, sizeof(char *));
    st->meta_vals = calloc(n ? n : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_vals) return st_fault(err, st->path, "out of memory");
    const char *k;
    json_t *v;
    char q[256];
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return st_fault(err, st->path, "__metadata__ value of key %s is not a string",
                            quoted(k, q, sizeof q));
        st->meta_keys[st->n_meta] = strdup(k);
        st->meta_vals[st->n_meta] = strdup(json_string_value(v));
        st->n_meta++;
        if (!st->meta_keys[st->n_meta - 1] || !st->meta_vals[st->n_meta - 1])
            return st_fault(err, st->path, "out of memory");
    }
    /* sort by key (insertion sort: metadata maps are small) */
    for (int i = 1; i < st->n_meta; i++)
        for (int j = i; j > 0 && strcmp(st->meta_keys[j - 1], st->meta_keys[j]) > 0; j--) {
            char *t = st->meta_keys[j]; st->meta_keys[j] = st->meta_keys[j - 1]; st->meta_keys[j - 1] = t;
            t = st->meta_vals[j]; st->meta_vals[j] = st->meta_vals[j - 1]; st->meta_vals[j - 1] = t;
        }
    return 0;
}

/* Types of one entry; shapes go to *dims (advanced). */
static int parse_entry(ic_safetensors *st, const char *name, const json_t *e, ic_st_entry *out,
                       int64_t **dims, ic_error *err) {
    char q[256];
    quoted(name, q, sizeof q);
    if (!json_is_object(e)) return st_fault(err, st->path, "tensor %s: entry is not an object", q);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char qk[256];
            return st_fault(err, st->path, "tensor %s: unknown key %s", q, quoted(k, qk, sizeof qk));
        }
    }
    const json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape"),
                 *jo = json_object_get(e, "data_offsets");
    if (!jd) return st_fault(err, st->path, "tensor %s: missing \"dtype\"", q);
    if (!js) return st_fault(err, st->path, "tensor %s: missing \"shape\"", q);
    if (!jo) return st_fault(err, st->path, "tensor %s: missing \"data_offsets\"", q);
    if (!json_is_string(jd)) return st_fault(err, st->path, "tensor %s: dtype is not a string", q);
    if (ic_st_dtype_from_name(json_string_value(jd), &out->dtype)) {
        char qd[256];
        return st_fault(err, st->path, "tensor %s: unknown dtype %s", q,
                        quoted(json_string_value(jd), qd, sizeof qd));
    }
    if (!json_is_array(js)) return st_fault(err, st->path, "tensor %s: shape is not an array", q);
    out->ndim = (int)json_array_size(js);
    out->shape = *dims;
    for (int d = 0; d < out->ndim; d++) {
        uint64_t x;
        if (json_uint(json_array_get(js, (size_t)d), &x))
            return st_fault(err, st->path, "tensor %s: shape[%d] is not a non-negative integer", q, d);
        out->shape[d] = (int64_t)x;
    }
    *dims += out->ndim;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        json_uint(json_array_get(jo, 0), &out->begin) || json_uint(json_array_get(jo, 1), &out->end))
        return st_fault(err, st->path,
                        "tensor %s: data_offsets is not [begin, end] of non-negative integers", q);
    return 0;
}

static int by_offset(const void *a, const void *b) {
    const ic_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_name_idx(const void *a, const void *b, void *ctx) {
    const ic_st_entry *e = ctx;
    return strcmp(e[*(const int *)a].name, e[*(const int *)b].name);
}

static void shape_text(const ic_st_entry *e, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < e->ndim && o + 24 < n; d++)
        o += (size_t)snprintf(buf + o, n - o, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (o + 2 < n) snprintf(buf + o, n - o, "]");
}

/* Offsets sorted, contiguous from 0, sizes consistent; returns the data end. */
static int validate_layout(ic_safetensors *st, uint64_t *data_end, ic_error *err) {
    uint64_t start = 0;
    char q[256], q2[256], sh[256];
    for (int i = 0; i < st->n; i++) {
        ic_st_entry *e = &st->entries[i];
        quoted(e->name, q, sizeof q);
        if (e->end < e->begin)
            return st_fault(err, st->path, "tensor %s: data_offsets [%llu, %llu] end before they begin",
                            q, (unsigned long long)e->begin, (unsigned long long)e->end);
        if (e->begin > start)
            return st_fault(err, st->path,
                            "tensor %s: data_offsets [%llu, %llu] leave a hole: the previous tensor ends at %llu",
                            q, (unsigned long long)e->begin, (unsigned long long)e->end,
                            (unsigned long long)start);
        if (e->begin < start)
            return st_fault(err, st->path,
                            "tensor %s: data_offsets [%llu, %llu] overlap tensor %s which ends at %llu",
                            q, (unsigned long long)e->begin, (unsigned long long)e->end,
                            quoted(st->entries[i - 1].name, q2, sizeof q2), (unsigned long long)start);
        start = e->end;
        uint64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            uint64_t x = (uint64_t)e->shape[d];
            if (x != 0 && numel > UINT64_MAX / x) {
                shape_text(e, sh, sizeof sh);
                return st_fault(err, st->path, "tensor %s: element count of shape %s overflows", q, sh);
            }
            numel *= x;
        }
        size_t es = ic_st_dtype_size(e->dtype);
        if (numel > UINT64_MAX / es) {
            shape_text(e, sh, sizeof sh);
            return st_fault(err, st->path, "tensor %s: byte size of shape %s x %s overflows", q, sh,
                            ic_st_dtype_name(e->dtype));
        }
        if (numel * es != e->end - e->begin) {
            shape_text(e, sh, sizeof sh);
            return st_fault(err, st->path,
                            "tensor %s: shape %s of %s needs %llu bytes but data_offsets [%llu, %llu] span %llu",
                            q, sh, ic_st_dtype_name(e->dtype), (unsigned long long)(numel * es),
                            (unsigned long long)e->begin, (unsigned long long)e->end,
                            (unsigned long long)(e->end - e->begin));
        }
        e->numel = (int64_t)numel;  /* <= span <= file size, so it fits */
    }
    *data_end = start;
    return 0;
}

static int parse_header(ic_safetensors *st, const uint8_t *hdr, size_t n, ic_error *err) {
    size_t bad = utf8_bad_at(hdr, n);
    if (bad < n) return st_fault(err, st->path, "header is not valid UTF-8 (header byte %zu)", bad);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)hdr, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        for (char *p = jerr.text; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
        return st_fault(err, st->path, "header is not valid JSON: %s (header byte %d)", jerr.text,
                        jerr.position);
    }
    int rc = -1;
    if (!json_is_object(root)) {  /* jansson also takes a top-level array */
        st_fault(err, st->path, "header is not a JSON object");
        goto done;
    }
    size_t nkeys = json_object_size(root), ndims = 0;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
        if (strcmp(k, "__metadata__") && json_is_object(v) && json_is_array(json_object_get(v, "shape")))
            ndims += json_array_size(json_object_get(v, "shape"));
    st->entries = calloc(nkeys ? nkeys : 1, sizeof *st->entries);
    st->shape_block = malloc((ndims ? ndims : 1) * sizeof *st->shape_block);
    if (!st->entries || !st->shape_block) { st_fault(err, st->path, "out of memory"); goto done; }
    int64_t *dims_next = st->shape_block;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "__metadata__") == 0) {
            if (parse_metadata(st, v, err)) goto done;
            continue;
        }
        ic_st_entry *e = &st->entries[st->n];
        e->name = strdup(k);
        if (!e->name) { st_fault(err, st->path, "out of memory"); goto done; }
        st->n++;  /* counted before parsing so that close() frees the name */
        if (parse_entry(st, k, v, e, &dims_next, err)) goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int ic_safetensors_parse(ic_safetensors *st, const void *buf, size_t len, const char *name,
                         ic_error *err) {
    memset(st, 0, sizeof *st);
    st->path = strdup(name ? name : "<buffer>");
    if (!st->path) return ic_error_set(err, "out of memory");
    const uint8_t *b = buf;
    if (len < 8) {
        st_fault(err, st->path, "file is %zu bytes, shorter than the 8-byte header size", len);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > IC_ST_MAX_HEADER) {
        st_fault(err, st->path, "header size %llu exceeds the limit of %llu bytes",
                 (unsigned long long)n, IC_ST_MAX_HEADER);
        goto fail;
    }
    if (n > len - 8) {
        st_fault(err, st->path, "header size %llu runs past the end of the file (%zu bytes)",
                 (unsigned long long)n, len);
        goto fail;
    }
    st->base = b;
    st->size = len;
    st->header_len = n;
    st->data = b + 8 + n;
    if (parse_header(st, b + 8, (size_t)n, err)) goto fail;

    qsort(st->entries, (size_t)st->n, sizeof *st->entries, by_offset);
    uint64_t data_end = 0, data_len = len - 8 - n;
    if (validate_layout(st, &data_end, err)) goto fail;
    if (data_end > data_len) {
        st_fault(err, st->path,
                 "tensors end at data byte %llu, past the end of the file (data section %llu bytes)",
                 (unsigned long long)data_end, (unsigned long long)data_len);
        goto fail;
    }
    if (data_end < data_len) {
        st_fault(err, st->path, "%llu trailing bytes after the last tensor (which ends at data byte %llu)",
                 (unsigned long long)(data_len - data_end), (unsigned long long)data_end);
        goto fail;
    }
    st->by_name = malloc((st->n ? (size_t)st->n : 1) * sizeof *st->by_name);
    if (!st->by_name) { st_fault(err, st->path, "out of memory"); goto fail; }
    for (int i = 0; i < st->n; i++) st->by_name[i] = i;
    qsort_r(st->by_name, (size_t)st->n, sizeof *st->by_name, by_name_idx, st->entries);
    return 0;
fail:
    if (err && !err->code) ic_error_set(err, "%s: invalid safetensors file", st->path);
    ic_safetensors_close(st);
    return -1;
}

int ic_safetensors_open(ic_safetensors *st, const char *path, ic_error *err) {
    memset(st, 0, sizeof *st);
    /* O_NONBLOCK: a FIFO given by mistake must not hang the open; the
     * regular-file check below refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ic_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ic_error_set(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ic_error_set(err, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {  /* mmap of 0 bytes is EINVAL; parse reports the short file */
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ic_error_set(err, "%s: cannot mmap %zu bytes: %s", path, len, strerror(e));
        }
    }
    close(fd);  /* the mapping stays valid */
    if (ic_safetensors_parse(st, map, len, path, err)) {
        if (map) munmap(map, len);
        return -1;
    }
    st->mapped = map != NULL;
    return 0;
}

int ic_safetensors_find(const ic_safetensors *st, const char *name) {
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[st->by_name[mid]].name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

const void *ic_safetensors_entry_data(const ic_safetensors *st, int i) {
    return st->data + st->entries[i].begin;
}

const char *ic_safetensors_meta(const ic_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_vals[i];
    return NULL;
}

int ic_safetensors_view(const ic_safetensors *st, int i, ic_tensor *out, ic_error *err) {
    const ic_st_entry *e = &st->entries[i];
    char q[256];
    ic_dtype dt;
    if (ic_st_dtype_to_core(e->dtype, &dt))
        return st_fault(err, st->path, "tensor %s: dtype %s has no in-memory tensor type",
                        quoted(e->name, q, sizeof q), ic_st_dtype_name(e->dtype));
    if (e->ndim > IC_MAX_DIMS)
        return st_fault(err, st->path, "tensor %s: rank %d above the supported %d",
                        quoted(e->name, q, sizeof q), e->ndim, IC_MAX_DIMS);
    const uint8_t *p = st->data + e->begin;
    if ((uintptr_t)p % ic_st_dtype_size(e->dtype) != 0)
        return st_fault(err, st->path, "tensor %s: data not aligned to its %zu-byte elements",
                        quoted(e->name, q, sizeof q), ic_st_dtype_size(e->dtype));
    if (ic_tensor_view(out, dt, e->ndim, e->shape, (void *)p, err))
        return ic_error_wrap(err, "%s: tensor %s", st->path, quoted(e->name, q, sizeof q));
    return 0;
}

int ic_safetensors_read_f32(const ic_safetensors *st, int i, float *dst, int64_t n, ic_error *err) {
    const ic_st_entry *e = &st->entries[i];
    char q[256];
    if (n != e->numel)
        return st_fault(err, st->path, "tensor %s: has %lld elements, caller expects %lld",
                        quoted(e->name, q, sizeof q), (long long)e->numel, (long long)n);
    const uint8_t *p = st->data + e->begin;
    switch (e->dtype) {
    case IC_ST_F32:
        if (n) memcpy(dst, p, (size_t)n * 4);
        return 0;
    case IC_ST_F16:
    case IC_ST_BF16:
        for (int64_t j = 0; j < n; j++) {
            uint16_t h = (uint16_t)(p[2 * j] | (p[2 * j + 1] << 8));
            dst[j] = e->dtype == IC_ST_F16 ? ic_f16_to_f32(h) : ic_bf16_to_f32(h);
        }
        return 0;
    case IC_ST_F64:
        for (int64_t j = 0; j < n; j++) {
            double d;
            memcpy(&d, p + 8 * j, 8);
            dst[j] = (float)d;
        }
        return 0;
    default:
        return st_fault(err, st->path, "tensor %s: dtype %s is not a floating-point type",
                        quoted(e->name, q, sizeof q), ic_st_dtype_name(e->dtype));
    }
}
