/* A tensor: dtype + shape + strides (in elements) + device + data.
 * Row-major and contiguous unless a view says otherwise. A tensor that owns
 * its data frees it in ic_tensor_free; views and mmapped tensors do not. */
#ifndef IC_TENSOR_H
#define IC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "ic_error.h"

typedef enum {
    IC_F32 = 0, IC_BF16, IC_F16, IC_U32, IC_I32, IC_U8,
    IC_DTYPE_COUNT
} ic_dtype;

typedef enum { IC_DEVICE_CPU = 0, IC_DEVICE_CUDA = 1 } ic_device;

#define IC_MAX_DIMS 8

typedef struct {
    ic_dtype  dtype;
    int       ndim;                  /* 0 = scalar (one element) */
    int64_t   shape[IC_MAX_DIMS];
    int64_t   strides[IC_MAX_DIMS];  /* in elements */
    ic_device device;
    void     *data;
    int       owns_data;             /* 1: ic_tensor_free releases data */
} ic_tensor;

size_t      ic_dtype_size(ic_dtype dt);
const char *ic_dtype_name(ic_dtype dt);           /* "F32", "BF16", ... (safetensors spelling) */
int         ic_dtype_from_name(const char *name, ic_dtype *out); /* 0 ok, -1 unknown */

/* Allocate a contiguous CPU tensor (64-byte aligned, zero-filled). */
int  ic_tensor_init(ic_tensor *t, ic_dtype dt, int ndim, const int64_t *shape, ic_error *err);
/* Describe existing memory without owning it. */
int  ic_tensor_view(ic_tensor *t, ic_dtype dt, int ndim, const int64_t *shape, void *data, ic_error *err);
void ic_tensor_free(ic_tensor *t);

int64_t ic_tensor_numel(const ic_tensor *t);
size_t  ic_tensor_nbytes(const ic_tensor *t);
int     ic_tensor_is_contiguous(const ic_tensor *t);
/* "[576, 49152]" into buf. */
const char *ic_shape_str(const ic_tensor *t, char *buf, size_t n);

/* Element count of a shape with overflow checking; -1 on overflow or a
 * negative dimension. */
int64_t ic_shape_numel_checked(int ndim, const int64_t *shape);

#endif
