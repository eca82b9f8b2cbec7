#include "ic_h5tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SPLIT_NAMES[IC_SPLIT_COUNT] = {"train", "val"};

const char *ic_split_name(ic_split s) {
    return (unsigned)s < IC_SPLIT_COUNT ? SPLIT_NAMES[s] : "?";
}

int ic_split_from_name(const char *name, ic_split *s, ic_error *err) {
    for (int i = 0; i < IC_SPLIT_COUNT; i++)
        if (strcmp(name, SPLIT_NAMES[i]) == 0) { *s = (ic_split)i; return 0; }
    return ic_error_set(err, "unknown split \"%s\" (expected train or val)", name);
}

/* ---- attributes ----------------------------------------------------------- */

static int attr_write(hid_t loc, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, type, value) < 0) ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return rc;
}

/* Variable-length UTF-8 strings: h5py reads them as str. */
static int attr_write_string(hid_t loc, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = attr_write(loc, name, t, &value);
    H5Tclose(t);
    return rc;
}

static int attr_read_u32(hid_t loc, const char *name, uint32_t *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t space = H5Aget_space(a);
    int scalar = H5Sget_simple_extent_npoints(space) == 1;
    H5Sclose(space);
    hid_t t = H5Aget_type(a);
    int integer = H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t);
    int rc = (scalar && integer && H5Aread(a, H5T_NATIVE_UINT32, v) >= 0) ? 0 : -1;
    H5Aclose(a);
    return rc;
}

/* Fixed or variable-length string attribute into out (truncated to cap). */
static int attr_read_string(hid_t loc, const char *name, char *out, size_t cap) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));   /* HDF5 converts no cset into another */
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(out, cap, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            char *s = calloc(n + 1, 1);
            if (s && H5Aread(a, t, s) >= 0) { snprintf(out, cap, "%s", s); rc = 0; }
            free(s);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* ---- writer --------------------------------------------------------------- */

static int flush_split(ic_h5tokens_writer *w, int s, ic_error *err) {
    hsize_t n = w->nbuf[s];
    if (n == 0) return 0;
    hsize_t start = w->len[s], new_len = w->len[s] + n;
    int rc = -1;
    hid_t fspace = -1, mspace = -1;
    H5E_BEGIN_TRY {
        if (H5Dset_extent(w->dset[s], &new_len) >= 0 && (fspace = H5Dget_space(w->dset[s])) >= 0 &&
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &n, NULL) >= 0 &&
            (mspace = H5Screate_simple(1, &n, NULL)) >= 0 &&
            H5Dwrite(w->dset[s], H5T_NATIVE_UINT32, mspace, fspace, H5P_DEFAULT, w->buf[s]) >= 0)
            rc = 0;
        if (fspace >= 0) H5Sclose(fspace);
        if (mspace >= 0) H5Sclose(mspace);
    } H5E_END_TRY;
    if (rc) return ic_error_set(err, "%s: writing %llu tokens to /%s failed (disk full?)",
                                w->tmp_path, (unsigned long long)n, SPLIT_NAMES[s]);
    w->len[s] = new_len;
    w->nbuf[s] = 0;
    return 0;
}

int ic_h5tokens_writer_init(ic_h5tokens_writer *w, const char *path, uint32_t vocab_size,
                            const char *tokenizer, const char *tokenizer_source, ic_error *err) {
    memset(w, 0, sizeof *w);
    w->file = -1;
    for (int s = 0; s < IC_SPLIT_COUNT; s++) w->dset[s] = -1;
    if (strlen(path) >= sizeof w->path) return ic_error_set(err, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    w->vocab_size = vocab_size;
    H5E_BEGIN_TRY { w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); }
    H5E_END_TRY;
    if (w->file < 0) return ic_error_set(err, "%s: cannot create HDF5 file", w->tmp_path);
    hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = IC_H5TOKENS_CHUNK;
    hid_t space = H5Screate_simple(1, &zero, &unlimited);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    int rc = 0;
    for (int s = 0; s < IC_SPLIT_COUNT && rc == 0; s++) {
        w->dset[s] = H5Dcreate2(w->file, SPLIT_NAMES[s], H5T_STD_U32LE, space, H5P_DEFAULT, dcpl,
                                H5P_DEFAULT);
        w->buf[s] = malloc(IC_H5TOKENS_CHUNK * sizeof(uint32_t));
        if (w->dset[s] < 0 || !w->buf[s])
            rc = ic_error_set(err, "%s: cannot create dataset /%s", w->tmp_path, SPLIT_NAMES[s]);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    uint32_t version = IC_H5TOKENS_FORMAT_VERSION;
    if (rc == 0 && (attr_write(w->file, "vocab_size", H5T_STD_U32LE, &vocab_size) ||
                    attr_write(w->file, "format_version", H5T_STD_U32LE, &version) ||
                    attr_write_string(w->file, "tokenizer", tokenizer) ||
                    attr_write_string(w->file, "tokenizer_source", tokenizer_source)))
        rc = ic_error_set(err, "%s: cannot write attributes", w->tmp_path);
    if (rc) ic_h5tokens_writer_abort(w);
    return rc;
}

int ic_h5tokens_append(ic_h5tokens_writer *w, ic_split s, const uint32_t *ids, size_t n,
                       ic_error *err) {
    if ((unsigned)s >= IC_SPLIT_COUNT) return ic_error_set(err, "append: bad split %d", (int)s);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= w->vocab_size)
            return ic_error_set(err, "%s: token id %u is outside the vocab (size %u)", w->tmp_path,
                                ids[i], w->vocab_size);
        w->buf[s][w->nbuf[s]++] = ids[i];
        if (w->nbuf[s] == IC_H5TOKENS_CHUNK && flush_split(w, s, err)) return -1;
    }
    return 0;
}

int ic_h5tokens_writer_attr_double(ic_h5tokens_writer *w, const char *name, double v,
                                   ic_error *err) {
    if (attr_write(w->file, name, H5T_IEEE_F64LE, &v))
        return ic_error_set(err, "%s: cannot write attribute %s", w->tmp_path, name);
    return 0;
}

static void release(ic_h5tokens_writer *w) {
    H5E_BEGIN_TRY {
        for (int s = 0; s < IC_SPLIT_COUNT; s++) {
            if (w->dset[s] >= 0) H5Dclose(w->dset[s]);
            w->dset[s] = -1;
            free(w->buf[s]);
            w->buf[s] = NULL;
        }
        if (w->file >= 0) H5Fclose(w->file);
    } H5E_END_TRY;
    w->file = -1;
}

int ic_h5tokens_writer_commit(ic_h5tokens_writer *w, ic_error *err) {
    for (int s = 0; s < IC_SPLIT_COUNT; s++)
        if (flush_split(w, s, err)) { ic_h5tokens_writer_abort(w); return -1; }
    herr_t closed = 0;
    H5E_BEGIN_TRY {
        for (int s = 0; s < IC_SPLIT_COUNT; s++) {
            if (H5Dclose(w->dset[s]) < 0) closed = -1;
            w->dset[s] = -1;
        }
        if (H5Fclose(w->file) < 0) closed = -1;
    } H5E_END_TRY;
    w->file = -1;
    for (int s = 0; s < IC_SPLIT_COUNT; s++) { free(w->buf[s]); w->buf[s] = NULL; }
    if (closed < 0) {
        unlink(w->tmp_path);
        return ic_error_set(err, "%s: closing the HDF5 file failed", w->tmp_path);
    }
    int fd = open(w->tmp_path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0) close(fd);
        unlink(w->tmp_path);
        return ic_error_set(err, "%s: fsync failed: %s", w->tmp_path, strerror(errno));
    }
    close(fd);
    if (rename(w->tmp_path, w->path) != 0) {
        int e = errno;
        unlink(w->tmp_path);
        return ic_error_set(err, "%s: cannot rename to %s: %s", w->tmp_path, w->path, strerror(e));
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", w->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}

void ic_h5tokens_writer_abort(ic_h5tokens_writer *w) {
    int had_file = w->file >= 0;
    release(w);
    if (had_file) unlink(w->tmp_path);
}

/* ---- reader --------------------------------------------------------------- */

int ic_h5tokens_open(ic_h5tokens *r, const char *path, ic_error *err) {
    memset(r, 0, sizeof *r);
    r->file = -1;
    for (int s = 0; s < IC_SPLIT_COUNT; s++) r->dset[s] = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    if (access(path, R_OK) != 0)
        return ic_error_set(err, "%s: cannot read: %s", path, strerror(errno));
    int rc = 0;
    H5E_BEGIN_TRY {
        if (H5Fis_hdf5(path) <= 0) {
            rc = ic_error_set(err, "%s: not an HDF5 file", path);
        } else if ((r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
            rc = ic_error_set(err, "%s: cannot open HDF5 file", path);
        }
        for (int s = 0; s < IC_SPLIT_COUNT && rc == 0; s++) {
            const char *name = SPLIT_NAMES[s];
            if (H5Lexists(r->file, name, H5P_DEFAULT) <= 0 ||
                (r->dset[s] = H5Dopen2(r->file, name, H5P_DEFAULT)) < 0) {
                rc = ic_error_set(err, "%s: no dataset /%s (not a token file from indexcache prep?)",
                                  path, name);
                break;
            }
            hid_t t = H5Dget_type(r->dset[s]);
            H5T_class_t cls = H5Tget_class(t);
            if (cls != H5T_INTEGER || H5Tget_size(t) != 4 || H5Tget_sign(t) != H5T_SGN_NONE)
                rc = ic_error_set(err, "%s: dataset /%s has a %zu-byte %s type, expected uint32 "
                                  "(H5T_STD_U32LE)", path, name, H5Tget_size(t),
                                  cls == H5T_FLOAT ? "float"
                                  : cls != H5T_INTEGER ? "non-numeric"
                                  : H5Tget_sign(t) == H5T_SGN_NONE ? "unsigned integer"
                                                                   : "signed integer");
            H5Tclose(t);
            hid_t sp = H5Dget_space(r->dset[s]);
            hsize_t dims[8];
            int rank = H5Sget_simple_extent_ndims(sp);
            if (rc == 0 && rank != 1)
                rc = ic_error_set(err, "%s: dataset /%s has rank %d, expected 1", path, name, rank);
            else if (rc == 0) {
                H5Sget_simple_extent_dims(sp, dims, NULL);
                r->len[s] = dims[0];
            }
            H5Sclose(sp);
        }
        if (rc == 0 && attr_read_u32(r->file, "format_version", &r->format_version))
            rc = ic_error_set(err, "%s: no integer attribute format_version", path);
        if (rc == 0 && r->format_version != IC_H5TOKENS_FORMAT_VERSION)
            rc = ic_error_set(err, "%s: format_version %u is not supported (this build reads %u)",
                              path, r->format_version, IC_H5TOKENS_FORMAT_VERSION);
        if (rc == 0 && attr_read_u32(r->file, "vocab_size", &r->vocab_size))
            rc = ic_error_set(err, "%s: no integer attribute vocab_size", path);
        if (rc == 0 && attr_read_string(r->file, "tokenizer", r->tokenizer, sizeof r->tokenizer))
            rc = ic_error_set(err, "%s: no string attribute tokenizer", path);
    } H5E_END_TRY;
    if (rc) ic_h5tokens_close(r);
    return rc;
}

void ic_h5tokens_close(ic_h5tokens *r) {
    H5E_BEGIN_TRY {
        for (int s = 0; s < IC_SPLIT_COUNT; s++) {
            if (r->dset[s] >= 0) H5Dclose(r->dset[s]);
            r->dset[s] = -1;
        }
        if (r->file >= 0) H5Fclose(r->file);
    } H5E_END_TRY;
    r->file = -1;
}

uint64_t ic_h5tokens_len(const ic_h5tokens *r, ic_split s) {
    return (unsigned)s < IC_SPLIT_COUNT ? r->len[s] : 0;
}

int ic_h5tokens_read(const ic_h5tokens *r, ic_split s, uint64_t offset, size_t n, uint32_t *dst,
                     ic_error *err) {
    if ((unsigned)s >= IC_SPLIT_COUNT) return ic_error_set(err, "read: bad split %d", (int)s);
    uint64_t len = r->len[s];
    if (offset > len || n > len - offset)
        return ic_error_set(err, "%s: read of [%llu, %llu) is past the end of /%s (%llu tokens)",
                            r->path, (unsigned long long)offset,
                            (unsigned long long)offset + (unsigned long long)n, SPLIT_NAMES[s],
                            (unsigned long long)len);
    if (n == 0) return 0;
    hsize_t start = offset, count = n;
    int rc = -1;
    hid_t fspace = -1, mspace = -1;
    H5E_BEGIN_TRY {
        if ((fspace = H5Dget_space(r->dset[s])) >= 0 &&
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0 &&
            (mspace = H5Screate_simple(1, &count, NULL)) >= 0 &&
            H5Dread(r->dset[s], H5T_NATIVE_UINT32, mspace, fspace, H5P_DEFAULT, dst) >= 0)
            rc = 0;
        if (fspace >= 0) H5Sclose(fspace);
        if (mspace >= 0) H5Sclose(mspace);
    } H5E_END_TRY;
    if (rc) return ic_error_set(err, "%s: reading [%llu, +%zu) of /%s failed", r->path,
                                (unsigned long long)offset, n, SPLIT_NAMES[s]);
    return 0;
}

int ic_h5tokens_source_read(void *ctx, uint64_t off, size_t n, uint32_t *dst, ic_error *err) {
    const ic_h5tokens_source *s = ctx;
    return ic_h5tokens_read(s->r, s->split, off, n, dst, err);
}
