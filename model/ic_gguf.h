/* GGUF v3 reader (import only): header, metadata, tensor infos, the
 * dequantisation of F32/F16/BF16/Q8_0/Q4_0/Q4_1 to f32, the inverse of
 * llama.cpp's q/k row permutation, the GGUF -> Hugging Face Llama tensor
 * names and the BPE tokenizer arrays.
 *
 * The file is mmapped read-only. Every count, length, size and offset is
 * checked against the file size before it is used, so a malformed or
 * truncated file gives an ic_error naming the file and the fault, never a
 * crash or an allocation larger than a small multiple of the file size.
 *
 * GGUF lists tensor dims innermost-first: a GGUF tensor with dims
 * {576, 49152} is the row-major [49152, 576] matrix of numpy / HF. The
 * `shape` fields below are already reversed to the numpy order. */
#ifndef IC_GGUF_H
#define IC_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"

#define IC_GGUF_MAX_DIMS 4
#define IC_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types (GGUF spec numbering). */
typedef enum {
    IC_GGUF_UINT8 = 0, IC_GGUF_INT8 = 1, IC_GGUF_UINT16 = 2, IC_GGUF_INT16 = 3,
    IC_GGUF_UINT32 = 4, IC_GGUF_INT32 = 5, IC_GGUF_FLOAT32 = 6, IC_GGUF_BOOL = 7,
    IC_GGUF_STRING = 8, IC_GGUF_ARRAY = 9, IC_GGUF_UINT64 = 10, IC_GGUF_INT64 = 11,
    IC_GGUF_FLOAT64 = 12,
    IC_GGUF_VTYPE_COUNT
} ic_gguf_vtype;

/* ggml tensor types (ggml.h numbering). Only the ones whose block layout we
 * know are accepted by the reader; only F32/F16/BF16/Q8_0/Q4_0/Q4_1 can be
 * dequantised. */
typedef enum {
    IC_GGML_F32 = 0, IC_GGML_F16 = 1, IC_GGML_Q4_0 = 2, IC_GGML_Q4_1 = 3,
    IC_GGML_Q5_0 = 6, IC_GGML_Q5_1 = 7, IC_GGML_Q8_0 = 8, IC_GGML_Q8_1 = 9,
    IC_GGML_Q2_K = 10, IC_GGML_Q3_K = 11, IC_GGML_Q4_K = 12, IC_GGML_Q5_K = 13,
    IC_GGML_Q6_K = 14, IC_GGML_Q8_K = 15,
    IC_GGML_I8 = 24, IC_GGML_I16 = 25, IC_GGML_I32 = 26, IC_GGML_I64 = 27,
    IC_GGML_F64 = 28, IC_GGML_BF16 = 30,
} ic_ggml_type;

/* Block geometry of a ggml type: elements per block and bytes per block.
 * Returns 0 and fills both, or -1 for a type id we do not know. */
int         ic_ggml_type_block(uint32_t type, int64_t *block_elems, int64_t *block_bytes);
const char *ic_ggml_type_name(uint32_t type);      /* "Q4_1", or "?" */
const char *ic_gguf_vtype_name(uint32_t vtype);    /* "uint32", or "?" */

/* A string inside the mapped file: not NUL-terminated. */
typedef struct {
    const char *ptr;
    uint64_t    len;
} ic_gguf_str;

typedef struct {
    char    *key;            /* NUL-terminated copy */
    uint32_t type;           /* ic_gguf_vtype */
    union {                  /* scalars, widened */
        uint64_t u;          /* UINT8..UINT64, BOOL (0/1) */
        int64_t  i;          /* INT8..INT64 */
        double   f;          /* FLOAT32 / FLOAT64 */
    } v;
    ic_gguf_str str;         /* STRING */
    /* ARRAY: element type and count. Numeric elements start at arr_data
     * (unaligned, little-endian: read them with ic_gguf_arr_* below). For
     * string arrays, arr_strs[arr_n] points at each string. Nested arrays
     * are validated but only their raw bytes are kept. */
    uint32_t     arr_type;
    uint64_t     arr_n;
    const void  *arr_data;
    ic_gguf_str *arr_strs;
} ic_gguf_kv;

typedef struct {
    char    *name;                        /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t  ne[IC_GGUF_MAX_DIMS];        /* GGUF order: ne[0] innermost */
    int64_t  shape[IC_GGUF_MAX_DIMS];     /* numpy / HF order: shape[n_dims-1] = ne[0] */
    uint32_t type;                        /* ic_ggml_type */
    uint64_t offset;                      /* from the start of the data section */
    int64_t  n_elems;
    uint64_t n_bytes;
    const uint8_t *data;                  /* inside the mapping */
} ic_gguf_tensor;

typedef struct {
    char      path[4096];
    uint8_t  *map;            /* whole file, read-only */
    size_t    map_size;
    int       owns_map;       /* 1: mmapped by ic_gguf_open, unmapped by free */
    uint32_t  version;
    uint64_t  n_kv;
    ic_gguf_kv *kv;           /* [n_kv] */
    uint64_t  n_tensors;
    ic_gguf_tensor *tensors;  /* [n_tensors], file order */
    uint64_t  alignment;
    uint64_t  data_offset;    /* file offset of the data section */
} ic_gguf;

/* Open and validate. On failure *g is left freed (ic_gguf_free is safe). */
int  ic_gguf_open(ic_gguf *g, const char *path, ic_error *err);
/* Same, on a caller-owned buffer (tests, fuzzing); buf must outlive g.
 * `name` is used in error messages. */
int  ic_gguf_open_buffer(ic_gguf *g, const void *buf, size_t size, const char *name,
                         ic_error *err);
void ic_gguf_free(ic_gguf *g);

/* ---- metadata ---------------------------------------------------------- */
const ic_gguf_kv     *ic_gguf_find_kv(const ic_gguf *g, const char *key);     /* NULL if absent */
const ic_gguf_tensor *ic_gguf_find_tensor(const ic_gguf *g, const char *name);

/* Typed getters: -1 with a message naming the key when absent or of an
 * incompatible type. get_u64 accepts any non-negative integer type, get_f64
 * any integer or float type. */
int ic_gguf_get_u64(const ic_gguf *g, const char *key, uint64_t *out, ic_error *err);
int ic_gguf_get_i64(const ic_gguf *g, const char *key, int64_t *out, ic_error *err);
int ic_gguf_get_f64(const ic_gguf *g, const char *key, double *out, ic_error *err);
int ic_gguf_get_bool(const ic_gguf *g, const char *key, int *out, ic_error *err);
int ic_gguf_get_str(const ic_gguf *g, const char *key, ic_gguf_str *out, ic_error *err);
/* malloc'd NUL-terminated copy; NULL (err set) if absent or not a string. */
char *ic_gguf_strdup(ic_gguf_str s);

/* Element i of a numeric array, widened (bounds-checked by IC_ASSERT);
 * ic_gguf_arr_i64 of a float truncates toward zero, saturates outside int64
 * and gives 0 for NaN. */
int64_t ic_gguf_arr_i64(const ic_gguf_kv *kv, uint64_t i);
double  ic_gguf_arr_f64(const ic_gguf_kv *kv, uint64_t i);

/* ---- dequantisation ---------------------------------------------------- */
/* n elements of `type` at src (src_bytes long) to f32. n must be a multiple
 * of the block size and fit in src_bytes. */
int ic_gguf_dequantize(uint32_t type, const void *src, size_t src_bytes, float *dst,
                       int64_t n, ic_error *err);
/* A whole tensor to f32, dst holding t->n_elems floats, numpy order. */
int ic_gguf_tensor_to_f32(const ic_gguf *g, const ic_gguf_tensor *t, float *dst,
                          ic_error *err);

/* ---- llama.cpp q/k row permutation -------------------------------------- */
/* convert_hf_to_gguf.py stores attn_q / attn_k of llama with the rows of each
 * head interleaved (rotary pairs adjacent, for ggml's "normal" RoPE):
 *   gguf row h*hd + 2*j + i  =  HF row h*hd + i*(hd/2) + j,   i in {0,1}.
 * w is [n_head * hd, n_cols] row-major; hd (head dim) must be even.
 * permute is HF -> GGUF (what the converter does), unpermute GGUF -> HF. */
void ic_gguf_permute_qk(const float *src, float *dst, int64_t n_head, int64_t hd,
                        int64_t n_cols);
void ic_gguf_unpermute_qk(const float *src, float *dst, int64_t n_head, int64_t hd,
                          int64_t n_cols);

/* ---- Llama names ------------------------------------------------------- */
typedef enum { IC_GGUF_ROLE_OTHER = 0, IC_GGUF_ROLE_Q, IC_GGUF_ROLE_K } ic_gguf_role;
/* "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight" and role
 * Q (rows to unpermute with n_head), K (with n_kv_head) or OTHER. Returns -1
 * for a name with no HF Llama counterpart. */
int ic_gguf_llama_hf_name(const char *gguf_name, char *out, size_t out_size,
                          ic_gguf_role *role);

/* ---- tokenizer --------------------------------------------------------- */
/* llama.cpp token types */
enum { IC_GGUF_TOKEN_NORMAL = 1, IC_GGUF_TOKEN_UNKNOWN = 2, IC_GGUF_TOKEN_CONTROL = 3,
       IC_GGUF_TOKEN_USER_DEFINED = 4, IC_GGUF_TOKEN_UNUSED = 5, IC_GGUF_TOKEN_BYTE = 6 };

typedef struct {
    char    *model;          /* tokenizer.ggml.model, "gpt2" for byte-level BPE */
    char    *pre;            /* tokenizer.ggml.pre, "" when absent */
    int64_t  n_tokens;
    char   **tokens;         /* [n_tokens], NUL-terminated copies */
    int32_t *token_type;     /* [n_tokens]; all NORMAL when the key is absent */
    int64_t  n_merges;
    char   **merges;         /* [n_merges], "left right" */
    int64_t  bos_id, eos_id, unk_id, pad_id;   /* -1 when absent */
    int      add_bos, add_eos;                 /* 0 when absent */
} ic_gguf_tokenizer;

int  ic_gguf_tokenizer_load(ic_gguf_tokenizer *tok, const ic_gguf *g, ic_error *err);
void ic_gguf_tokenizer_free(ic_gguf_tokenizer *tok);

#endif
