#include "ic_tensor.h"

#include <stdio.h>
#include <string.h>

#include "ic_alloc.h"

static const struct { const char *name; size_t size; } k_dtypes[IC_DTYPE_COUNT] = {
    [IC_F32] = {"F32", 4}, [IC_BF16] = {"BF16", 2}, [IC_F16] = {"F16", 2},
    [IC_U32] = {"U32", 4}, [IC_I32] = {"I32", 4},   [IC_U8] = {"U8", 1},
};

size_t ic_dtype_size(ic_dtype dt) {
    return (dt >= 0 && dt < IC_DTYPE_COUNT) ? k_dtypes[dt].size : 0;
}

const char *ic_dtype_name(ic_dtype dt) {
    return (dt >= 0 && dt < IC_DTYPE_COUNT) ? k_dtypes[dt].name : "?";
}

int ic_dtype_from_name(const char *name, ic_dtype *out) {
    for (int i = 0; i < IC_DTYPE_COUNT; i++)
        if (strcmp(name, k_dtypes[i].name) == 0) { *out = (ic_dtype)i; return 0; }
    return -1;
}

int64_t ic_shape_numel_checked(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

static int fill_shape(ic_tensor *t, ic_dtype dt, int ndim, const int64_t *shape, ic_error *err) {
    if (ndim < 0 || ndim > IC_MAX_DIMS)
        return ic_error_set(err, "tensor rank %d outside 0..%d", ndim, IC_MAX_DIMS);
    if (ic_dtype_size(dt) == 0) return ic_error_set(err, "unknown dtype %d", (int)dt);
    if (ic_shape_numel_checked(ndim, shape) < 0)
        return ic_error_set(err, "tensor shape has a negative dimension or overflows");
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    t->device = IC_DEVICE_CPU;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->strides[i] = stride;
        stride *= shape[i];
    }
    return 0;
}

int ic_tensor_init(ic_tensor *t, ic_dtype dt, int ndim, const int64_t *shape, ic_error *err) {
    if (fill_shape(t, dt, ndim, shape, err)) return -1;
    size_t nbytes = ic_tensor_nbytes(t);
    t->data = ic_aligned_calloc(nbytes ? nbytes : 1);
    if (!t->data) return ic_error_set(err, "out of memory allocating %zu bytes", nbytes);
    t->owns_data = 1;
    return 0;
}

int ic_tensor_view(ic_tensor *t, ic_dtype dt, int ndim, const int64_t *shape, void *data, ic_error *err) {
    if (fill_shape(t, dt, ndim, shape, err)) return -1;
    t->data = data;
    t->owns_data = 0;
    return 0;
}

void ic_tensor_free(ic_tensor *t) {
    if (!t) return;
    if (t->owns_data && t->device == IC_DEVICE_CPU) ic_aligned_free(t->data);
    memset(t, 0, sizeof *t);
}

int64_t ic_tensor_numel(const ic_tensor *t) { return ic_shape_numel_checked(t->ndim, t->shape); }

size_t ic_tensor_nbytes(const ic_tensor *t) {
    return (size_t)ic_tensor_numel(t) * ic_dtype_size(t->dtype);
}

int ic_tensor_is_contiguous(const ic_tensor *t) {
    int64_t stride = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != stride) return 0;
        stride *= t->shape[i];
    }
    return 1;
}

const char *ic_shape_str(const ic_tensor *t, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}
