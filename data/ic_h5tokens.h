/* Token datasets in HDF5 (docs/DESIGN.md section 4): datasets /train and /val,
 * 1-D, H5T_STD_U32LE, chunked and extendible; root attributes vocab_size
 * (uint32), tokenizer (string "sha256:<hex of tokenizer.json>"),
 * tokenizer_source (string, the path it was read from) and format_version
 * (uint32, IC_H5TOKENS_FORMAT_VERSION).
 *
 * The writer streams: it keeps one chunk per split in memory and extends the
 * dataset chunk by chunk, so memory does not depend on the corpus size. It
 * writes "<path>.tmp.<pid>" and renames it over <path> on commit, so a
 * reader never sees a half-written file. Reads are hyperslabs with 64-bit
 * offsets. */
#ifndef IC_H5TOKENS_H
#define IC_H5TOKENS_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ic_error.h"

#define IC_H5TOKENS_FORMAT_VERSION 1u
#define IC_H5TOKENS_CHUNK (1u << 20)   /* tokens per chunk (4 MiB) */

typedef enum { IC_SPLIT_TRAIN = 0, IC_SPLIT_VAL = 1, IC_SPLIT_COUNT = 2 } ic_split;

const char *ic_split_name(ic_split s);   /* "train", "val" */
/* "train" or "val" -> *s; -1 with err naming the value otherwise. */
int ic_split_from_name(const char *name, ic_split *s, ic_error *err);

typedef struct {
    hid_t     file;
    hid_t     dset[IC_SPLIT_COUNT];
    uint64_t  len[IC_SPLIT_COUNT];          /* tokens written so far */
    uint32_t *buf[IC_SPLIT_COUNT];          /* [IC_H5TOKENS_CHUNK] pending tokens */
    size_t    nbuf[IC_SPLIT_COUNT];
    uint32_t  vocab_size;
    char      path[4096];
    char      tmp_path[4200];
} ic_h5tokens_writer;

/* tokenizer / tokenizer_source: the attribute strings. */
int ic_h5tokens_writer_init(ic_h5tokens_writer *w, const char *path, uint32_t vocab_size,
                            const char *tokenizer, const char *tokenizer_source, ic_error *err);
/* Appends ids[0..n) to a split; every id must be < vocab_size. */
int ic_h5tokens_append(ic_h5tokens_writer *w, ic_split s, const uint32_t *ids, size_t n,
                       ic_error *err);
/* Sets a double attribute on the root group (e.g. val_fraction). */
int ic_h5tokens_writer_attr_double(ic_h5tokens_writer *w, const char *name, double v,
                                   ic_error *err);
/* Flushes, closes, fsyncs and renames the file into place. The writer is
 * released either way. */
int ic_h5tokens_writer_commit(ic_h5tokens_writer *w, ic_error *err);
/* Closes and removes the temp file. Safe after a failed init. */
void ic_h5tokens_writer_abort(ic_h5tokens_writer *w);

typedef struct {
    hid_t    file;
    hid_t    dset[IC_SPLIT_COUNT];
    uint64_t len[IC_SPLIT_COUNT];           /* tokens per split */
    uint32_t vocab_size;
    uint32_t format_version;
    char     tokenizer[160];                /* "sha256:..." */
    char     path[4096];
} ic_h5tokens;

/* Opens and checks the layout: both datasets, 1-D, unsigned 32-bit
 * integers, the attributes, a known format_version. */
int ic_h5tokens_open(ic_h5tokens *r, const char *path, ic_error *err);
void ic_h5tokens_close(ic_h5tokens *r);
uint64_t ic_h5tokens_len(const ic_h5tokens *r, ic_split s);
/* dst[0..n) = split[offset .. offset + n); a range past the end is an error. */
int ic_h5tokens_read(const ic_h5tokens *r, ic_split s, uint64_t offset, size_t n, uint32_t *dst,
                     ic_error *err);

/* A (reader, split) pair as a token source for the drivers that take a
 * read callback (ic_token_read_fn of train/ic_eval.h and its kin):
 * ctx = &source, fn = ic_h5tokens_source_read. */
typedef struct { const ic_h5tokens *r; ic_split split; } ic_h5tokens_source;
int ic_h5tokens_source_read(void *ctx, uint64_t off, size_t n, uint32_t *dst, ic_error *err);

#endif
