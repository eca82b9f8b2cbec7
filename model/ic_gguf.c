/* GGUF v3 parsing and validation. Layout (little-endian):
 *   "GGUF" u32 version u64 n_tensors u64 n_kv
 *   n_kv x { string key, u32 type, value }
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset }
 *   padding to general.alignment, then the data section.
 * A string is u64 length + bytes. Every read goes through the cursor below,
 * which refuses to step past the end, and every count is checked against
 * the bytes that remain before anything is allocated for it. */
#include "ic_gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ic_check.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_KEY_LEN 65535u      /* spec: keys are at most 2^16 - 1 bytes */
#define GGUF_MAX_ARRAY_DEPTH 8       /* nested arrays: bounded recursion */

typedef struct {
    const uint8_t *p;
    size_t size, pos;
    const char *name;     /* file name for messages */
    ic_error *err;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return ic_error_set(c->err, "%s: truncated: %s needs %llu bytes at offset %zu but only %zu remain",
                            c->name, what, (unsigned long long)n, c->pos, remaining(c));
    return 0;
}

static int rd_bytes(cursor *c, void *dst, size_t n, const char *what) {
    if (need(c, n, what)) return -1;
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}
static int rd_u32(cursor *c, uint32_t *v, const char *what) { return rd_bytes(c, v, 4, what); }
static int rd_u64(cursor *c, uint64_t *v, const char *what) { return rd_bytes(c, v, 8, what); }

static int rd_str(cursor *c, ic_gguf_str *s, const char *what) {
    uint64_t len;
    if (rd_u64(c, &len, what)) return -1;
    if (len > remaining(c))
        return ic_error_set(c->err, "%s: %s: string length %llu at offset %zu runs past the end of the file (%zu bytes remain)",
                            c->name, what, (unsigned long long)len, c->pos - 8, remaining(c));
    s->ptr = (const char *)c->p + c->pos;
    s->len = len;
    c->pos += len;
    return 0;
}

char *ic_gguf_strdup(ic_gguf_str s) {
    char *r = malloc(s.len + 1);
    if (!r) return NULL;
    memcpy(r, s.ptr, s.len);
    r[s.len] = '\0';
    return r;
}

static const char *const vtype_names[IC_GGUF_VTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64"};

const char *ic_gguf_vtype_name(uint32_t t) { return t < IC_GGUF_VTYPE_COUNT ? vtype_names[t] : "?"; }

/* Bytes of one scalar of a fixed-size type; 0 for string/array/unknown. */
static size_t vtype_size(uint32_t t) {
    switch (t) {
    case IC_GGUF_UINT8: case IC_GGUF_INT8: case IC_GGUF_BOOL: return 1;
    case IC_GGUF_UINT16: case IC_GGUF_INT16: return 2;
    case IC_GGUF_UINT32: case IC_GGUF_INT32: case IC_GGUF_FLOAT32: return 4;
    case IC_GGUF_UINT64: case IC_GGUF_INT64: case IC_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Widen a little-endian scalar at p into the kv's union. */
static void load_scalar(ic_gguf_kv *kv, uint32_t t, const uint8_t *p) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    float f32; double f64;
    switch (t) {
    case IC_GGUF_UINT8:  memcpy(&u8, p, 1);  kv->v.u = u8; break;
    case IC_GGUF_BOOL:   memcpy(&u8, p, 1);  kv->v.u = u8 != 0; break;
    case IC_GGUF_INT8:   memcpy(&i8, p, 1);  kv->v.i = i8; break;
    case IC_GGUF_UINT16: memcpy(&u16, p, 2); kv->v.u = u16; break;
    case IC_GGUF_INT16:  memcpy(&i16, p, 2); kv->v.i = i16; break;
    case IC_GGUF_UINT32: memcpy(&u32, p, 4); kv->v.u = u32; break;
    case IC_GGUF_INT32:  memcpy(&i32, p, 4); kv->v.i = i32; break;
    case IC_GGUF_FLOAT32: memcpy(&f32, p, 4); kv->v.f = f32; break;
    case IC_GGUF_UINT64: memcpy(&kv->v.u, p, 8); break;
    case IC_GGUF_INT64:  memcpy(&kv->v.i, p, 8); break;
    case IC_GGUF_FLOAT64: memcpy(&f64, p, 8); kv->v.f = f64; break;
    default: break;
    }
}

/* Walk (validate) an array body without keeping it: used for nested arrays. */
static int skip_array(cursor *c, const char *key, int depth) {
    uint32_t et; uint64_t n;
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return ic_error_set(c->err, "%s: key '%s': arrays nested deeper than %d", c->name, key, GGUF_MAX_ARRAY_DEPTH);
    if (rd_u32(c, &et, "array element type") || rd_u64(c, &n, "array length")) return -1;
    size_t es = vtype_size(et);
    if (es) {
        if (n > remaining(c) / es)
            return ic_error_set(c->err, "%s: key '%s': array of %llu %s runs past the end of the file",
                                c->name, key, (unsigned long long)n, ic_gguf_vtype_name(et));
        c->pos += n * es;
        return 0;
    }
    if (et != IC_GGUF_STRING && et != IC_GGUF_ARRAY)
        return ic_error_set(c->err, "%s: key '%s': unknown array element type %u", c->name, key, et);
    /* a string takes >= 8 bytes and an array >= 12: bound n before looping */
    if (n > remaining(c) / (et == IC_GGUF_STRING ? 8 : 12))
        return ic_error_set(c->err, "%s: key '%s': array count %llu is larger than the rest of the file allows",
                            c->name, key, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        ic_gguf_str s;
        if (et == IC_GGUF_STRING ? rd_str(c, &s, key) : skip_array(c, key, depth + 1)) return -1;
    }
    return 0;
}

static int read_value(cursor *c, ic_gguf_kv *kv) {
    const char *key = kv->key;
    size_t es = vtype_size(kv->type);
    if (es) {
        if (need(c, es, key)) return -1;
        load_scalar(kv, kv->type, c->p + c->pos);
        c->pos += es;
        return 0;
    }
    if (kv->type == IC_GGUF_STRING) return rd_str(c, &kv->str, key);
    if (kv->type != IC_GGUF_ARRAY)
        return ic_error_set(c->err, "%s: key '%s': unknown value type %u", c->name, key, kv->type);

    size_t start = c->pos;
    if (rd_u32(c, &kv->arr_type, "array element type") || rd_u64(c, &kv->arr_n, "array length")) return -1;
    uint64_t n = kv->arr_n;
    es = vtype_size(kv->arr_type);
    if (es) {
        if (n > remaining(c) / es)
            return ic_error_set(c->err, "%s: key '%s': array of %llu %s runs past the end of the file",
                                c->name, key, (unsigned long long)n, ic_gguf_vtype_name(kv->arr_type));
        kv->arr_data = c->p + c->pos;
        c->pos += n * es;
        return 0;
    }
    if (kv->arr_type == IC_GGUF_STRING) {
        if (n > remaining(c) / 8)
            return ic_error_set(c->err, "%s: key '%s': string array count %llu is larger than the rest of the file allows",
                                c->name, key, (unsigned long long)n);
        kv->arr_strs = malloc((n ? n : 1) * sizeof *kv->arr_strs);
        if (!kv->arr_strs) return ic_error_set(c->err, "%s: key '%s': out of memory", c->name, key);
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(c, &kv->arr_strs[i], key)) return -1;
        return 0;
    }
    if (kv->arr_type == IC_GGUF_ARRAY) {
        c->pos = start;                  /* re-walk from the element type */
        kv->arr_data = c->p + start;
        return skip_array(c, key, 0);
    }
    return ic_error_set(c->err, "%s: key '%s': unknown array element type %u", c->name, key, kv->arr_type);
}

/* ---- ggml types ---------------------------------------------------------- */

typedef struct { uint32_t id; const char *name; int64_t blk, bytes; } type_info;

/* Block sizes from ggml's type traits (a format fact, not code). */
static const type_info ggml_types[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 40},    {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},
    {25, "I16", 1, 2},      {26, "I32", 1, 4},      {27, "I64", 1, 8},
    {28, "F64", 1, 8},      {30, "BF16", 1, 2},
};

static const type_info *find_type(uint32_t t) {
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].id == t) return &ggml_types[i];
    return NULL;
}

int ic_ggml_type_block(uint32_t type, int64_t *blk, int64_t *bytes) {
    const type_info *ti = find_type(type);
    if (!ti) return -1;
    *blk = ti->blk;
    *bytes = ti->bytes;
    return 0;
}

const char *ic_ggml_type_name(uint32_t type) {
    const type_info *ti = find_type(type);
    return ti ? ti->name : "?";
}

/* ---- tensor infos ---------------------------------------------------------- */

static int read_tensor_info(cursor *c, ic_gguf_tensor *t, uint64_t idx) {
    ic_gguf_str name;
    if (rd_str(c, &name, "tensor name")) return -1;
    if (memchr(name.ptr, '\0', name.len))
        return ic_error_set(c->err, "%s: tensor %llu: name contains a NUL byte", c->name, (unsigned long long)idx);
    if (!(t->name = ic_gguf_strdup(name))) return ic_error_set(c->err, "%s: out of memory", c->name);
    if (rd_u32(c, &t->n_dims, t->name)) return -1;
    if (t->n_dims < 1 || t->n_dims > IC_GGUF_MAX_DIMS)
        return ic_error_set(c->err, "%s: tensor '%s': %u dims (must be 1..%d)", c->name, t->name,
                            t->n_dims, IC_GGUF_MAX_DIMS);
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (rd_u64(c, &ne, t->name)) return -1;
        if (ne == 0 || ne > (uint64_t)INT64_MAX / (uint64_t)n)
            return ic_error_set(c->err, "%s: tensor '%s': dim %u = %llu is zero or overflows the element count",
                                c->name, t->name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        n *= (int64_t)ne;
    }
    for (uint32_t d = 0; d < t->n_dims; d++) t->shape[t->n_dims - 1 - d] = t->ne[d];
    t->n_elems = n;
    if (rd_u32(c, &t->type, t->name) || rd_u64(c, &t->offset, t->name)) return -1;
    const type_info *ti = find_type(t->type);
    if (!ti)
        return ic_error_set(c->err, "%s: tensor '%s': unknown or unsupported ggml type %u", c->name, t->name, t->type);
    if (t->ne[0] % ti->blk)
        return ic_error_set(c->err, "%s: tensor '%s': innermost dim %lld is not a multiple of the %s block size %lld",
                            c->name, t->name, (long long)t->ne[0], ti->name, (long long)ti->blk);
    /* n / blk * bytes cannot overflow uint64 when n <= INT64_MAX and bytes <= 292/blk... check anyway */
    uint64_t blocks = (uint64_t)(n / ti->blk);
    if (blocks > UINT64_MAX / (uint64_t)ti->bytes)
        return ic_error_set(c->err, "%s: tensor '%s': byte size overflows", c->name, t->name);
    t->n_bytes = blocks * (uint64_t)ti->bytes;
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const ic_gguf_tensor *x = *(const ic_gguf_tensor *const *)a, *y = *(const ic_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Offsets: aligned, inside the file, and no two tensors share a byte. */
static int check_tensor_layout(ic_gguf *g, ic_error *err) {
    uint64_t data_size = g->map_size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ic_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return ic_error_set(err, "%s: tensor '%s': data offset %llu is not a multiple of the alignment %llu",
                                g->path, t->name, (unsigned long long)t->offset, (unsigned long long)g->alignment);
        if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            return ic_error_set(err, "%s: tensor '%s': data [%llu, +%llu) runs past the end of the file (data section has %llu bytes)",
                                g->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                                (unsigned long long)data_size);
        t->data = g->map + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return 0;
    ic_gguf_tensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order) return ic_error_set(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_by_offset);
    int rc = 0;
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++) {
        const ic_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->n_bytes > b->offset)
            rc = ic_error_set(err, "%s: tensors '%s' [%llu, +%llu) and '%s' [%llu, +%llu) overlap",
                              g->path, a->name, (unsigned long long)a->offset, (unsigned long long)a->n_bytes,
                              b->name, (unsigned long long)b->offset, (unsigned long long)b->n_bytes);
    }
    free(order);
    return rc;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const ic_gguf_tensor *const *)a)->name, (*(const ic_gguf_tensor *const *)b)->name);
}

static int check_unique_names(ic_gguf *g, ic_error *err) {
    if (g->n_tensors < 2) return 0;
    ic_gguf_tensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order) return ic_error_set(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_by_name);
    int rc = 0;
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
        if (!strcmp(order[i - 1]->name, order[i]->name))
            rc = ic_error_set(err, "%s: duplicate tensor name '%s'", g->path, order[i]->name);
    free(order);
    return rc;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const ic_gguf_kv *const *)a)->key, (*(const ic_gguf_kv *const *)b)->key);
}

/* Sorted, so a file with millions of tiny keys costs n log n, not n^2. */
static int check_unique_keys(ic_gguf *g, ic_error *err) {
    if (g->n_kv < 2) return 0;
    ic_gguf_kv **order = malloc(g->n_kv * sizeof *order);
    if (!order) return ic_error_set(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++) order[i] = &g->kv[i];
    qsort(order, g->n_kv, sizeof *order, cmp_key);
    int rc = 0;
    for (uint64_t i = 1; i < g->n_kv && !rc; i++)
        if (!strcmp(order[i - 1]->key, order[i]->key))
            rc = ic_error_set(err, "%s: duplicate metadata key '%s'", g->path, order[i]->key);
    free(order);
    return rc;
}

/* ---- open -------------------------------------------------------------- */

static int parse(ic_gguf *g, ic_error *err) {
    cursor c = {g->map, g->map_size, 0, g->path, err};
    char magic[4];
    if (g->map_size < 24)
        return ic_error_set(err, "%s: truncated header: %zu bytes, a GGUF header is 24", g->path, g->map_size);
    rd_bytes(&c, magic, 4, "magic");
    if (memcmp(magic, GGUF_MAGIC, 4))
        return ic_error_set(err, "%s: not a GGUF file (magic %02x %02x %02x %02x, expected \"GGUF\")", g->path,
                            (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    rd_u32(&c, &g->version, "version");
    if (g->version != 3) {
        if (g->version == 0x03000000u)
            return ic_error_set(err, "%s: big-endian GGUF is not supported", g->path);
        return ic_error_set(err, "%s: GGUF version %u is not supported (only version 3)", g->path, g->version);
    }
    rd_u64(&c, &g->n_tensors, "tensor count");
    rd_u64(&c, &g->n_kv, "metadata count");
    /* A kv takes >= 13 bytes (key length, type, 1-byte value), a tensor
     * info >= 32: refuse counts the file cannot hold before allocating. */
    if (g->n_kv > remaining(&c) / 13)
        return ic_error_set(err, "%s: absurd metadata count %llu for a file of %zu bytes", g->path,
                            (unsigned long long)g->n_kv, g->map_size);
    if (g->n_tensors > remaining(&c) / 32)
        return ic_error_set(err, "%s: absurd tensor count %llu for a file of %zu bytes", g->path,
                            (unsigned long long)g->n_tensors, g->map_size);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return ic_error_set(err, "%s: out of memory", g->path);

    for (uint64_t i = 0; i < g->n_kv; i++) {
        ic_gguf_kv *kv = &g->kv[i];
        ic_gguf_str key;
        if (rd_str(&c, &key, "metadata key")) return -1;
        if (key.len == 0 || key.len > GGUF_MAX_KEY_LEN || memchr(key.ptr, '\0', key.len))
            return ic_error_set(err, "%s: metadata entry %llu: key is empty, too long (%llu bytes) or has a NUL byte",
                                g->path, (unsigned long long)i, (unsigned long long)key.len);
        if (!(kv->key = ic_gguf_strdup(key))) return ic_error_set(err, "%s: out of memory", g->path);
        if (rd_u32(&c, &kv->type, kv->key) || read_value(&c, kv)) return -1;
    }
    if (check_unique_keys(g, err)) return -1;

    g->alignment = IC_GGUF_DEFAULT_ALIGNMENT;
    const ic_gguf_kv *al = ic_gguf_find_kv(g, "general.alignment");
    if (al) {
        if (al->type != IC_GGUF_UINT32)
            return ic_error_set(err, "%s: general.alignment has type %s, expected uint32", g->path,
                                ic_gguf_vtype_name(al->type));
        if (al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return ic_error_set(err, "%s: general.alignment = %llu is not a power of two", g->path,
                                (unsigned long long)al->v.u);
        g->alignment = al->v.u;
    }

    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(&c, &g->tensors[i], i)) return -1;
    if (check_unique_names(g, err)) return -1;

    uint64_t off = c.pos, pad = (g->alignment - off % g->alignment) % g->alignment;
    if (g->n_tensors && pad > g->map_size - off)
        return ic_error_set(err, "%s: truncated: the data section would start at %llu, past the end (%zu bytes)",
                            g->path, (unsigned long long)(off + pad), g->map_size);
    g->data_offset = g->n_tensors ? off + pad : g->map_size;
    return check_tensor_layout(g, err);
}

static void set_path(ic_gguf *g, const char *path) {
    snprintf(g->path, sizeof g->path, "%s", path ? path : "(buffer)");
}

int ic_gguf_open_buffer(ic_gguf *g, const void *buf, size_t size, const char *name, ic_error *err) {
    memset(g, 0, sizeof *g);
    set_path(g, name);
    g->map = (uint8_t *)buf;
    g->map_size = size;
    g->owns_map = 0;
    if (parse(g, err)) {
        ic_gguf_free(g);
        return -1;
    }
    return 0;
}

int ic_gguf_open(ic_gguf *g, const char *path, ic_error *err) {
    memset(g, 0, sizeof *g);
    set_path(g, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ic_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return ic_error_set(err, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return ic_error_set(err, "%s: truncated header: %lld bytes, a GGUF header is 24", path,
                            (long long)st.st_size);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return ic_error_set(err, "%s: mmap failed: %s", path, strerror(errno));
    g->map = m;
    g->map_size = (size_t)st.st_size;
    g->owns_map = 1;
    if (parse(g, err)) {
        ic_gguf_free(g);
        return -1;
    }
    return 0;
}

void ic_gguf_free(ic_gguf *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].arr_strs);
    }
    for (uint64_t i = 0; g->tensors && i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->map && g->owns_map) munmap(g->map, g->map_size);
    memset(g, 0, sizeof *g);
}

/* ---- lookups ------------------------------------------------------------- */

const ic_gguf_kv *ic_gguf_find_kv(const ic_gguf *g, const char *key) {
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const ic_gguf_tensor *ic_gguf_find_tensor(const ic_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int is_unsigned(uint32_t t) {
    return t == IC_GGUF_UINT8 || t == IC_GGUF_UINT16 || t == IC_GGUF_UINT32 || t == IC_GGUF_UINT64;
}
static int is_signed(uint32_t t) {
    return t == IC_GGUF_INT8 || t == IC_GGUF_INT16 || t == IC_GGUF_INT32 || t == IC_GGUF_INT64;
}

static const ic_gguf_kv *need_kv(const ic_gguf *g, const char *key, ic_error *err) {
    const ic_gguf_kv *kv = ic_gguf_find_kv(g, key);
    if (!kv) ic_error_set(err, "%s: metadata key '%s' is missing", g->path, key);
    return kv;
}

int ic_gguf_get_i64(const ic_gguf *g, const char *key, int64_t *out, ic_error *err) {
    const ic_gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (is_signed(kv->type)) { *out = kv->v.i; return 0; }
    if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) { *out = (int64_t)kv->v.u; return 0; }
    return ic_error_set(err, "%s: metadata key '%s' has type %s, expected an integer that fits int64", g->path,
                        key, ic_gguf_vtype_name(kv->type));
}

int ic_gguf_get_u64(const ic_gguf *g, const char *key, uint64_t *out, ic_error *err) {
    const ic_gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (is_unsigned(kv->type)) { *out = kv->v.u; return 0; }
    if (is_signed(kv->type) && kv->v.i >= 0) { *out = (uint64_t)kv->v.i; return 0; }
    return ic_error_set(err, "%s: metadata key '%s' has type %s, expected a non-negative integer", g->path, key,
                        ic_gguf_vtype_name(kv->type));
}

int ic_gguf_get_f64(const ic_gguf *g, const char *key, double *out, ic_error *err) {
    const ic_gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type == IC_GGUF_FLOAT32 || kv->type == IC_GGUF_FLOAT64) *out = kv->v.f;
    else if (is_unsigned(kv->type)) *out = (double)kv->v.u;
    else if (is_signed(kv->type)) *out = (double)kv->v.i;
    else return ic_error_set(err, "%s: metadata key '%s' has type %s, expected a number", g->path, key,
                             ic_gguf_vtype_name(kv->type));
    return 0;
}

int ic_gguf_get_bool(const ic_gguf *g, const char *key, int *out, ic_error *err) {
    const ic_gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type != IC_GGUF_BOOL)
        return ic_error_set(err, "%s: metadata key '%s' has type %s, expected bool", g->path, key,
                            ic_gguf_vtype_name(kv->type));
    *out = (int)kv->v.u;
    return 0;
}

int ic_gguf_get_str(const ic_gguf *g, const char *key, ic_gguf_str *out, ic_error *err) {
    const ic_gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type != IC_GGUF_STRING)
        return ic_error_set(err, "%s: metadata key '%s' has type %s, expected string", g->path, key,
                            ic_gguf_vtype_name(kv->type));
    *out = kv->str;
    return 0;
}

int64_t ic_gguf_arr_i64(const ic_gguf_kv *kv, uint64_t i) {
    IC_ASSERT(kv->type == IC_GGUF_ARRAY && i < kv->arr_n && vtype_size(kv->arr_type));
    ic_gguf_kv tmp;
    size_t es = vtype_size(kv->arr_type);
    load_scalar(&tmp, kv->arr_type, (const uint8_t *)kv->arr_data + i * es);
    if (is_signed(kv->arr_type)) return tmp.v.i;
    if (kv->arr_type == IC_GGUF_FLOAT32 || kv->arr_type == IC_GGUF_FLOAT64) {
        /* a float outside int64 (or NaN) has no defined conversion: a file's
         * token_type array of floats must not make one (found by fuzz_gguf) */
        const double f = tmp.v.f;
        if (f != f) return 0;
        if (f >= 9223372036854775807.0) return INT64_MAX;
        if (f <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)f;
    }
    return (int64_t)tmp.v.u;
}

double ic_gguf_arr_f64(const ic_gguf_kv *kv, uint64_t i) {
    IC_ASSERT(kv->type == IC_GGUF_ARRAY && i < kv->arr_n && vtype_size(kv->arr_type));
    ic_gguf_kv tmp;
    size_t es = vtype_size(kv->arr_type);
    load_scalar(&tmp, kv->arr_type, (const uint8_t *)kv->arr_data + i * es);
    if (is_signed(kv->arr_type)) return (double)tmp.v.i;
    if (kv->arr_type == IC_GGUF_FLOAT32 || kv->arr_type == IC_GGUF_FLOAT64) return tmp.v.f;
    return (double)tmp.v.u;
}
