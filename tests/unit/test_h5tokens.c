/* data/ic_h5tokens: what the writer streams in comes back from the reader
 * (whole and across chunk boundaries), 64-bit offsets on a sparse dataset of
 * more than 2^32 tokens, and files with a wrong layout are refused with a
 * message naming the file and the fault. Files that are not ours are built
 * with the plain HDF5 API, independent of the writer. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/ic_h5tokens.h"
#include "testutil.h"

#define VOCAB 49152u

/* One scratch dir per process (ic_test_tmpdir's buffer lives until exit). */
static const char *scratch_dir(void) {
    static const char *dir = NULL;
    if (!dir) dir = ic_test_tmpdir("h5tok");
    return dir;
}

static uint32_t *random_ids(ic_rng *r, size_t n) {
    uint32_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (uint32_t)(ic_rng_next(r) % VOCAB);
    return v;
}

START_TEST(test_write_read_back) {
    ic_rng r;
    ic_rng_seed(&r, (uint64_t)getpid());
    const size_t n_train = 2 * IC_H5TOKENS_CHUNK + 777777, n_val = 12345;
    uint32_t *train = random_ids(&r, n_train), *val = random_ids(&r, n_val);
    char path[4200];
    snprintf(path, sizeof path, "%s/tok.h5", scratch_dir());
    ic_h5tokens_writer w;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_h5tokens_writer_init(&w, path, VOCAB, "sha256:abc", "x/tokenizer.json", &err) == 0,
                  "%s", err.msg);
    /* interleaved appends of random sizes, as prep does */
    size_t it = 0, iv = 0;
    while (it < n_train || iv < n_val) {
        size_t k = 1 + ic_rng_next(&r) % 300000;
        if (it < n_train) {
            if (k > n_train - it) k = n_train - it;
            ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_TRAIN, train + it, k, &err), 0);
            it += k;
        }
        k = 1 + ic_rng_next(&r) % 3000;
        if (iv < n_val) {
            if (k > n_val - iv) k = n_val - iv;
            ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_VAL, val + iv, k, &err), 0);
            iv += k;
        }
    }
    ck_assert(access(path, F_OK) != 0);   /* nothing at the final name before commit */
    ck_assert_msg(ic_h5tokens_writer_commit(&w, &err) == 0, "%s", err.msg);
    ck_assert(access(w.tmp_path, F_OK) != 0);

    ic_h5tokens h;
    ck_assert_msg(ic_h5tokens_open(&h, path, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ic_h5tokens_len(&h, IC_SPLIT_TRAIN), n_train);
    ck_assert_uint_eq(ic_h5tokens_len(&h, IC_SPLIT_VAL), n_val);
    ck_assert_uint_eq(h.vocab_size, VOCAB);
    ck_assert_str_eq(h.tokenizer, "sha256:abc");
    uint32_t *back = malloc(n_train * sizeof *back);
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, 0, n_train, back, &err), 0);
    ck_assert(memcmp(back, train, n_train * sizeof *back) == 0);
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_VAL, 0, n_val, back, &err), 0);
    ck_assert(memcmp(back, val, n_val * sizeof *back) == 0);
    /* windows straddling chunk boundaries, and random ones */
    for (int i = 0; i < 200; i++) {
        uint64_t off = i < 4 ? (uint64_t)(i / 2 + 1) * IC_H5TOKENS_CHUNK - 100 + (uint64_t)(i % 2) * 99
                             : ic_rng_next(&r) % n_train;
        size_t n = 1 + ic_rng_next(&r) % 5000;
        if (off + n > n_train) n = n_train - off;
        ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, off, n, back, &err), 0);
        ck_assert(memcmp(back, train + off, n * sizeof *back) == 0);
    }
    /* reads past the end */
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_VAL, n_val - 5, 10, back, &err), -1);
    ck_assert_msg(strstr(err.msg, "past the end of /val (12345 tokens)") && strstr(err.msg, path),
                  "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, UINT64_MAX - 2, 5, back, &err), -1);
    ck_assert(strstr(err.msg, "past the end of /train"));
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_VAL, n_val, 0, back, &err), 0);
    ic_h5tokens_close(&h);

    /* an id outside the vocab is refused; abort leaves nothing behind */
    snprintf(path + strlen(path) - 6, 16, "bad.h5");
    ck_assert_int_eq(ic_h5tokens_writer_init(&w, path, 100, "t", "s", &err), 0);
    uint32_t ids[3] = {5, 99, 100};
    ic_error_clear(&err);
    ck_assert_int_eq(ic_h5tokens_append(&w, IC_SPLIT_TRAIN, ids, 3, &err), -1);
    ck_assert(strstr(err.msg, "token id 100 is outside the vocab (size 100)"));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", w.tmp_path);
    ic_h5tokens_writer_abort(&w);
    ck_assert(access(tmp, F_OK) != 0 && access(path, F_OK) != 0);
    free(train); free(val); free(back);
}
END_TEST

/* A file laid out by hand: datasets of the given type and sizes (chunked),
 * root attributes unless told otherwise. */
static hid_t make_file(const char *path, hid_t type, hsize_t n_train, int with_val, int version,
                       int with_vocab) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t chunk = IC_H5TOKENS_CHUNK, unlimited = H5S_UNLIMITED;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hsize_t sizes[2] = {n_train, 1000};
    for (int s = 0; s < 1 + with_val; s++) {
        hid_t sp = H5Screate_simple(1, &sizes[s], &unlimited);
        H5Dclose(H5Dcreate2(f, s ? "val" : "train", type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
        H5Sclose(sp);
    }
    H5Pclose(dcpl);
    hid_t sp = H5Screate(H5S_SCALAR);
    uint32_t v = (uint32_t)version, vocab = VOCAB;
    hid_t a = H5Acreate2(f, "format_version", H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &v);
    H5Aclose(a);
    if (with_vocab) {
        a = H5Acreate2(f, "vocab_size", H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_UINT32, &vocab);
        H5Aclose(a);
    }
    hid_t st = H5Tcopy(H5T_C_S1);   /* a fixed-length string, unlike the writer's */
    H5Tset_size(st, 8);
    a = H5Acreate2(f, "tokenizer", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, "handmade");
    H5Aclose(a);
    H5Tclose(st);
    H5Sclose(sp);
    return f;
}

/* 2^32 + 3 chunks of logical size, only the chunks around 2^32 written: the
 * fill value makes the rest free, so offsets past 32 bits cost nothing. */
START_TEST(test_64bit_offsets) {
    char path[4200];
    snprintf(path, sizeof path, "%s/big.h5", scratch_dir());
    const hsize_t n = (1ull << 32) + 3ull * IC_H5TOKENS_CHUNK;
    hid_t f = make_file(path, H5T_STD_U32LE, n, 1, IC_H5TOKENS_FORMAT_VERSION, 1);
    ic_rng r;
    ic_rng_seed(&r, (uint64_t)getpid() * 31);
    const hsize_t off = (1ull << 32) - 70000, cnt = 200000;   /* spans 2^32 and a chunk edge */
    uint32_t *ids = random_ids(&r, cnt);
    hid_t d = H5Dopen2(f, "train", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_UINT32, ms, fs, H5P_DEFAULT, ids), 0);
    H5Sclose(fs); H5Sclose(ms); H5Dclose(d); H5Fclose(f);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_lt(st.st_size, 64 << 20);

    ic_h5tokens h;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_h5tokens_open(&h, path, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ic_h5tokens_len(&h, IC_SPLIT_TRAIN), n);
    ck_assert_str_eq(h.tokenizer, "handmade");
    uint32_t *back = malloc(cnt * sizeof *back);
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, off, cnt, back, &err), 0);
    ck_assert(memcmp(back, ids, cnt * sizeof *back) == 0);
    /* a window wholly above 2^32 */
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, (1ull << 32) + 1234, 5000, back, &err), 0);
    ck_assert(memcmp(back, ids + 70000 + 1234, 5000 * sizeof *back) == 0);
    /* the last tokens: never written, so the fill value */
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, n - 10, 10, back, &err), 0);
    for (int i = 0; i < 10; i++) ck_assert_uint_eq(back[i], 0);
    ck_assert_int_eq(ic_h5tokens_read(&h, IC_SPLIT_TRAIN, n - 10, 11, back, &err), -1);
    ck_assert(strstr(err.msg, "[4298113014, 4298113025)"));
    ic_h5tokens_close(&h);
    free(ids); free(back);
}
END_TEST

static void expect_open_fails(const char *path, const char *needle) {
    ic_h5tokens h;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_int_eq(ic_h5tokens_open(&h, path, &err), -1);
    ck_assert_msg(strstr(err.msg, needle) && strstr(err.msg, path), "\"%s\" lacks \"%s\"", err.msg,
                  needle);
}

START_TEST(test_bad_files) {
    const char *dir = scratch_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.h5", dir);
    expect_open_fails(path, "cannot read");
    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *fp = fopen(path, "w");
    fputs("this is not an HDF5 file\n", fp);
    fclose(fp);
    expect_open_fails(path, "not an HDF5 file");
    snprintf(path, sizeof path, "%s/noval.h5", dir);
    H5Fclose(make_file(path, H5T_STD_U32LE, 10, 0, 1, 1));
    expect_open_fails(path, "no dataset /val");
    snprintf(path, sizeof path, "%s/i64.h5", dir);
    H5Fclose(make_file(path, H5T_STD_I64LE, 10, 1, 1, 1));
    expect_open_fails(path, "dataset /train has a 8-byte signed integer type, expected uint32");
    snprintf(path, sizeof path, "%s/f32.h5", dir);
    H5Fclose(make_file(path, H5T_IEEE_F32LE, 10, 1, 1, 1));
    expect_open_fails(path, "4-byte float type");
    snprintf(path, sizeof path, "%s/i32.h5", dir);
    H5Fclose(make_file(path, H5T_STD_I32LE, 10, 1, 1, 1));
    expect_open_fails(path, "4-byte signed integer type");
    snprintf(path, sizeof path, "%s/v7.h5", dir);
    H5Fclose(make_file(path, H5T_STD_U32LE, 10, 1, 7, 1));
    expect_open_fails(path, "format_version 7 is not supported");
    snprintf(path, sizeof path, "%s/novocab.h5", dir);
    H5Fclose(make_file(path, H5T_STD_U32LE, 10, 1, 1, 0));
    expect_open_fails(path, "no integer attribute vocab_size");
    /* big-endian u32 is still uint32: accepted, values converted */
    snprintf(path, sizeof path, "%s/be.h5", dir);
    H5Fclose(make_file(path, H5T_STD_U32BE, 10, 1, 1, 1));
    ic_h5tokens h;
    ic_error err;
    ic_error_clear(&err);
    ck_assert_msg(ic_h5tokens_open(&h, path, &err) == 0, "%s", err.msg);
    ic_h5tokens_close(&h);
    ic_split s;
    ck_assert_int_eq(ic_split_from_name("val", &s, &err), 0);
    ck_assert_int_eq(s, IC_SPLIT_VAL);
    ck_assert_int_eq(ic_split_from_name("test", &s, &err), -1);
    ck_assert(strstr(err.msg, "\"test\""));
}
END_TEST

int main(void) {
    Suite *s = suite_create("h5tokens");
    TCase *tc = tcase_create("h5tokens");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_write_read_back);
    tcase_add_test(tc, test_64bit_offsets);
    tcase_add_test(tc, test_bad_files);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
