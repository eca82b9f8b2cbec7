/* libFuzzer harness for the token file's layout checks and attributes
 * (data/ic_h5tokens.c: ic_h5tokens_open, ic_h5tokens_read). Fuzzing the
 * HDF5 library's own byte format is not our job; what is ours is the trust
 * we put in a file HDF5 can open: the attributes' types, shapes, sizes and
 * values, the datasets' types and ranks. So the input describes such a file
 * (each attribute absent, of a fuzzed type and shape, with fuzzed bytes;
 * each split's dataset of a fuzzed type, rank and length), the harness
 * writes it with HDF5 and opens it: either a one-line refusal, or a reader
 * whose reads stay inside the splits. */
#include <hdf5.h>

#include "data/ic_h5tokens.h"
#include "fuzz_common.h"

typedef struct { const uint8_t *p; size_t n; } cursor;

static uint8_t take(cursor *c) {
    if (!c->n) return 0;
    c->n--;
    return *c->p++;
}

static hid_t pick_type(uint8_t b) {
    switch (b % 8) {
    case 0: return H5T_STD_U32LE;
    case 1: return H5T_STD_I32LE;
    case 2: return H5T_STD_U64LE;
    case 3: return H5T_STD_U8LE;
    case 4: return H5T_IEEE_F64LE;
    case 5: return H5T_STD_U32BE;
    case 6: return H5T_STD_I64LE;
    default: return H5T_STD_U16LE;
    }
}

/* One attribute: absent, numeric (scalar or 1-D), fixed or variable string. */
static void put_attr(hid_t file, const char *name, cursor *c) {
    uint8_t kind = take(c);
    if (kind % 5 == 0) return;
    hid_t type = -1, space;
    uint8_t buf[256];
    memset(buf, 0, sizeof buf);
    if (kind % 5 == 1 || kind % 5 == 2) {         /* numeric */
        hsize_t n = (hsize_t)(take(c) % 4);
        space = (kind % 5 == 1 || n == 0) ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
        type = H5Tcopy(pick_type(take(c)));
        for (size_t i = 0; i < 32; i++) buf[i] = take(c);
        hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) { H5Awrite(a, type, buf); H5Aclose(a); }
    } else if (kind % 5 == 3) {                   /* fixed-length string */
        size_t len = 1 + take(c) % 200;
        for (size_t i = 0; i < len && i < sizeof buf; i++) buf[i] = take(c);
        space = H5Screate(H5S_SCALAR);
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, len);
        if (take(c) & 1) H5Tset_strpad(type, H5T_STR_NULLPAD);
        hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) { H5Awrite(a, type, buf); H5Aclose(a); }
    } else {                                      /* variable-length string */
        size_t len = take(c) % 200;
        char s[256];
        for (size_t i = 0; i < len; i++) s[i] = (char)take(c);
        s[len] = '\0';
        const char *sp = s;
        space = H5Screate(H5S_SCALAR);
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) { H5Awrite(a, type, &sp); H5Aclose(a); }
    }
    H5Tclose(type);
    H5Sclose(space);
}

static void put_split(hid_t file, const char *name, cursor *c) {
    uint8_t kind = take(c);
    if (kind % 6 == 0) return;                    /* absent */
    hsize_t dims[2] = { (hsize_t)(take(c) % 64), 1 + (hsize_t)(take(c) % 3) };
    int rank = kind % 6 == 5 ? 2 : 1;
    hid_t type = kind % 6 == 4 ? pick_type(take(c)) : H5T_STD_U32LE;
    hid_t space = kind % 6 == 3 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        uint32_t v[192];
        for (size_t i = 0; i < 192; i++) v[i] = take(c);
        if (kind % 6 != 3) H5Dwrite(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
    }
    H5Sclose(space);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); quiet = 1; }
    const char *path = fuzz_scratch_file("tokens.h5", (const uint8_t *)"", 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    cursor c = { data, size };
    const char *attrs[] = { "vocab_size", "format_version", "tokenizer", "tokenizer_source" };
    for (int i = 0; i < 4; i++) put_attr(f, attrs[i], &c);
    put_split(f, "train", &c);
    put_split(f, "val", &c);
    CHECK(H5Fclose(f) >= 0);

    ic_h5tokens r;
    ic_error err;
    ic_error_clear(&err);
    if (ic_h5tokens_open(&r, path, &err) != 0) {
        fuzz_check_message(&err);
        return 0;
    }
    CHECK(strlen(r.tokenizer) < sizeof r.tokenizer);
    for (int s = 0; s < IC_SPLIT_COUNT; s++) {
        uint64_t n = ic_h5tokens_len(&r, (ic_split)s);
        uint32_t buf[64];
        ic_error e;
        ic_error_clear(&e);
        if (n > 0) {
            size_t k = n < 64 ? (size_t)n : 64;
            if (ic_h5tokens_read(&r, (ic_split)s, n - k, k, buf, &e) != 0) fuzz_check_message(&e);
        }
        ic_error_clear(&e);
        CHECK(ic_h5tokens_read(&r, (ic_split)s, n, 1, buf, &e) != 0);   /* past the end */
        fuzz_check_message(&e);
    }
    ic_h5tokens_close(&r);
    return 0;
}
