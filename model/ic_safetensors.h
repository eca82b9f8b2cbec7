/* safetensors reader (mmap, zero-copy) and writer (atomic).
 *
 * File layout: u64 little-endian header size N, N bytes of UTF-8 JSON
 * (an object: "__metadata__" -> {string: string}, and per tensor
 * {"dtype", "shape", "data_offsets": [begin, end]}), then the data section;
 * offsets are relative to the data section.
 *
 * The reader accepts what the reference Rust crate (`safetensors`, used by
 * the Python package) accepts, and reports the first fault as "FILE: fault"
 * in the ic_error. Deliberately stricter where the reference is loose:
 * duplicate JSON keys (serde keeps the last one silently), unknown keys
 * inside a tensor entry (serde ignores them), "\u0000" in names (ours are C
 * strings), integers above INT64_MAX (jansson cannot hold them; only a
 * zero-size tensor could carry one), and the dtypes added in crate 0.6
 * (F4, F6_E2M3, F6_E3M2, F8_E8M0, C64). jansson reads "-0" as 0 where
 * serde refuses it: that one file shape is accepted here and not there.
 * Zero-byte tensors may share an offset with their neighbour (the reference
 * and the Python writer produce that); non-empty tensors may not overlap.
 *
 * The writer orders tensors like the reference writer: by dtype alignment
 * descending (the reference's dtype order, so every tensor starts at a
 * multiple of its element size once the header is padded to 8), then by
 * name (bytewise). Without metadata its output is byte-identical to
 * `safetensors.numpy.save_file` for the same tensors. */
#ifndef IC_SAFETENSORS_H
#define IC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"
#include "ic_tensor.h"

#define IC_ST_MAX_HEADER 100000000ull   /* the reference's MAX_HEADER_SIZE */

/* Every dtype of the reference crate, in its order (increasing alignment):
 * the writer's sort relies on this order. */
typedef enum {
    IC_ST_BOOL = 0, IC_ST_U8, IC_ST_I8, IC_ST_F8_E5M2, IC_ST_F8_E4M3,
    IC_ST_I16, IC_ST_U16, IC_ST_F16, IC_ST_BF16,
    IC_ST_I32, IC_ST_U32, IC_ST_F32, IC_ST_F64, IC_ST_I64, IC_ST_U64,
    IC_ST_DTYPE_COUNT
} ic_st_dtype;

size_t      ic_st_dtype_size(ic_st_dtype dt);        /* bytes per element, 0 if invalid */
const char *ic_st_dtype_name(ic_st_dtype dt);        /* "F32", "F8_E4M3", ... */
int         ic_st_dtype_from_name(const char *name, ic_st_dtype *out);  /* 0 / -1 */
/* The core dtype with the same bytes (F32 BF16 F16 U32 I32 U8); -1 if none. */
int         ic_st_dtype_to_core(ic_st_dtype dt, ic_dtype *out);
ic_st_dtype ic_st_dtype_from_core(ic_dtype dt);

/* One tensor of a parsed file. */
typedef struct {
    const char *name;
    ic_st_dtype dtype;
    int         ndim;        /* 0 = scalar */
    int64_t    *shape;       /* [ndim] */
    int64_t     numel;       /* product of shape (1 for a scalar) */
    uint64_t    begin, end;  /* byte span in the data section: [begin, end) */
} ic_st_entry;

typedef struct {
    char          *path;       /* file name used in messages */
    const uint8_t *base;       /* the whole file: [size] */
    size_t         size;
    const uint8_t *data;       /* data section: base + 8 + header_len */
    uint64_t       header_len; /* N, including padding */
    int            n;          /* tensors */
    ic_st_entry   *entries;    /* [n] in file (offset) order */
    int           *by_name;    /* [n] entry indices sorted by name, for lookup */
    int64_t       *shape_block;/* owns every entry's shape */
    int            n_meta;
    char         **meta_keys;  /* [n_meta], sorted */
    char         **meta_vals;  /* [n_meta] */
    int            mapped;     /* 1: base is our mmap (munmap on close) */
} ic_safetensors;

/* Parse a file image held in memory. The buffer is not copied: it must
 * outlive st. `name` is the file name used in messages. On failure st is
 * left empty (ic_safetensors_close is still safe). */
int  ic_safetensors_parse(ic_safetensors *st, const void *buf, size_t len,
                          const char *name, ic_error *err);
/* mmap a file read-only and parse it. */
int  ic_safetensors_open(ic_safetensors *st, const char *path, ic_error *err);
void ic_safetensors_close(ic_safetensors *st);

/* Entry index of a tensor name, -1 when absent. */
int  ic_safetensors_find(const ic_safetensors *st, const char *name);
/* Bytes of entry i: [end - begin]. */
const void *ic_safetensors_entry_data(const ic_safetensors *st, int i);
/* Metadata value, NULL when absent. */
const char *ic_safetensors_meta(const ic_safetensors *st, const char *key);

/* A CPU view of entry i into the file's memory (not owned, read-only in
 * spirit). Fails for dtypes without a core equivalent, rank > IC_MAX_DIMS,
 * and data not aligned to the element size (files from old writers). */
int  ic_safetensors_view(const ic_safetensors *st, int i, ic_tensor *out, ic_error *err);
/* Copy entry i as fp32 into dst[n] (F32, F16, BF16, F64 converted; other
 * dtypes refused). n must equal the entry's numel. Alignment-free. */
int  ic_safetensors_read_f32(const ic_safetensors *st, int i, float *dst, int64_t n,
                             ic_error *err);

/* ---- writer --------------------------------------------------------------- */

typedef struct {
    const char    *name;
    ic_st_dtype    dtype;
    int            ndim;
    const int64_t *shape;  /* [ndim] */
    const void    *data;   /* numel * dtype size bytes, little-endian */
} ic_st_tensor_in;

/* The complete file image in a malloc'd buffer (*out, *len). meta is
 * n_meta key/value pairs: meta[2*i] key, meta[2*i+1] value (NULL/0: none).
 * Refuses duplicate names, the name "__metadata__", negative dims,
 * overflowing sizes and NULL data for non-empty tensors. */
int  ic_safetensors_serialize(const ic_st_tensor_in *tensors, int n,
                              const char *const *meta, int n_meta,
                              uint8_t **out, size_t *len, ic_error *err);
/* The same, written to path via temp file + fsync + rename. */
int  ic_safetensors_write(const char *path, const ic_st_tensor_in *tensors, int n,
                          const char *const *meta, int n_meta, ic_error *err);

/* ---- model directories ---------------------------------------------------- */

/* A Hugging Face model dir: model.safetensors, or (when absent)
 * model.safetensors.index.json whose "weight_map" maps each tensor name to a
 * shard file in the same dir. Every shard is opened (mmapped) once; every
 * weight_map entry must exist in its shard, every shard tensor must be
 * listed for that shard, shard names must be plain file names. */
typedef struct {
    char            *dir;
    int              n_shards;
    char           **shard_names;  /* [n_shards] file names relative to dir */
    ic_safetensors  *shards;       /* [n_shards] */
    int              n_tensors;    /* over all shards */
    char           **names;        /* [n_tensors] sorted */
    int             *shard_of;     /* [n_tensors] */
    int             *entry_of;     /* [n_tensors] entry index in that shard */
} ic_model_files;

int  ic_model_files_open(ic_model_files *mf, const char *dir, ic_error *err);
void ic_model_files_close(ic_model_files *mf);
/* Finds a tensor across shards: 0 with *st and *entry set, -1 with an error
 * naming the tensor and the dir when absent. */
int  ic_model_files_find(const ic_model_files *mf, const char *name,
                         const ic_safetensors **st, int *entry, ic_error *err);

#endif
