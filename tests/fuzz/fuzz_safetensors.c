/* libFuzzer harness for ic_safetensors_parse (built by scripts/fuzz.sh,
 * not by CMake: it needs clang's -fsanitize=fuzzer).
 *
 * Beyond "no crash, no out-of-bounds read" (ASan + UBSan), every outcome is
 * checked: a rejection carries a one-line "fuzz: ..." message and leaves
 * nothing allocated; an accepted file has contiguous in-bounds spans that
 * match shape x dtype, finds every tensor by name, reads every byte, and
 * survives a write -> parse round trip unchanged. A broken invariant traps,
 * which libFuzzer reports as a crash with the input saved. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/ic_safetensors.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static volatile uint8_t g_sink;

static void check_same(const ic_safetensors *a, const ic_safetensors *b) {
    CHECK(a->n == b->n && a->n_meta == b->n_meta);
    for (int i = 0; i < a->n_meta; i++) {
        CHECK(strcmp(a->meta_keys[i], b->meta_keys[i]) == 0);
        CHECK(strcmp(a->meta_vals[i], b->meta_vals[i]) == 0);
    }
    for (int i = 0; i < a->n; i++) {
        const ic_st_entry *x = &a->entries[i];
        int j = ic_safetensors_find(b, x->name);
        CHECK(j >= 0);
        const ic_st_entry *y = &b->entries[j];
        CHECK(x->dtype == y->dtype && x->ndim == y->ndim && x->numel == y->numel);
        for (int d = 0; d < x->ndim; d++) CHECK(x->shape[d] == y->shape[d]);
        CHECK(x->end - x->begin == y->end - y->begin);
        CHECK(memcmp(ic_safetensors_entry_data(a, i), ic_safetensors_entry_data(b, j), x->end - x->begin) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ic_safetensors st;
    ic_error err;
    ic_error_clear(&err);
    if (ic_safetensors_parse(&st, data, size, "fuzz", &err) != 0) {
        CHECK(err.code != 0 && strncmp(err.msg, "fuzz: ", 6) == 0);
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(st.entries == NULL && st.path == NULL);
        return 0;
    }
    /* accepted: the layout must be exactly what the format promises */
    CHECK(st.header_len <= size - 8);
    uint64_t at = 0, data_len = size - 8 - st.header_len;
    for (int i = 0; i < st.n; i++) {
        const ic_st_entry *e = &st.entries[i];
        CHECK(e->begin == at && e->end >= e->begin && e->end <= data_len);
        CHECK((uint64_t)e->numel * ic_st_dtype_size(e->dtype) == e->end - e->begin);
        CHECK(ic_safetensors_find(&st, e->name) == i);
        const uint8_t *p = ic_safetensors_entry_data(&st, i);
        uint8_t acc = 0;
        for (uint64_t b = 0; b < e->end - e->begin; b++) acc ^= p[b];  /* ASan: in bounds */
        g_sink = acc;
        if ((e->dtype == IC_ST_F32 || e->dtype == IC_ST_F16 || e->dtype == IC_ST_BF16 ||
             e->dtype == IC_ST_F64) && e->numel <= 4096) {
            float buf[4096];
            CHECK(ic_safetensors_read_f32(&st, i, buf, e->numel, &err) == 0);
        }
        at = e->end;
    }
    CHECK(at == data_len);

    /* write it back (through our writer) and read that again: same content */
    ic_st_tensor_in *t = calloc((size_t)st.n + 1, sizeof *t);
    const char **meta = calloc(2 * (size_t)st.n_meta + 1, sizeof *meta);
    CHECK(t && meta);
    for (int i = 0; i < st.n; i++) {
        const ic_st_entry *e = &st.entries[i];
        t[i] = (ic_st_tensor_in){e->name, e->dtype, e->ndim, e->shape, ic_safetensors_entry_data(&st, i)};
    }
    for (int i = 0; i < st.n_meta; i++) { meta[2 * i] = st.meta_keys[i]; meta[2 * i + 1] = st.meta_vals[i]; }
    uint8_t *img;
    size_t len;
    CHECK(ic_safetensors_serialize(t, st.n, meta, st.n_meta, &img, &len, &err) == 0);
    ic_safetensors back;
    CHECK(ic_safetensors_parse(&back, img, len, "back", &err) == 0);
    CHECK(back.header_len % 8 == 0);
    check_same(&st, &back);
    ic_safetensors_close(&back);
    free(img);
    free(t);
    free(meta);
    ic_safetensors_close(&st);
    return 0;
}
