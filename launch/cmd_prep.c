/* indexcache prep: text files -> HDF5 token dataset (docs/DESIGN.md s4).
 *
 * Each text file is one document. It is read in blocks and encoded up to
 * the last safe cut of each block (a line start where block-wise encoding is
 * provably the same as encoding the whole file), so memory does not depend on
 * the file size and the ids equal those of the whole file. The val split of a
 * file is its tail from the last such cut at or before byte (1 - F) * size:
 * no line is shared by the two splits, and train + val of a file are exactly
 * its tokens. (A file with no such line start, e.g. one huge line, is read
 * whole before it is encoded: memory then grows with that file.)
 * --eos-between-docs appends the tokenizer's EOS after each file, in the
 * split its tail went to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ic_fs.h"
#include "core/ic_log.h"
#include "data/ic_h5tokens.h"
#include "data/ic_sha256.h"
#include "data/ic_tokenizer.h"
#include "launch/ic_args.h"
#include "launch/ic_commands.h"

#define PREP_BLOCK (4u << 20)   /* bytes read at a time */
#define PREP_MAX_FILES 4096

typedef struct {
    ic_tokenizer       *tok;
    ic_h5tokens_writer  w;
    ic_ids              ids;
    int64_t             eos;          /* appended after each document, or -1 */
    uint64_t            bytes_total, bytes_done;
    uint64_t            tokens[IC_SPLIT_COUNT];
    double              t0, last_progress;
} prep_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(prep_state *st, int final) {
    double t = now_s();
    if (!final && t - st->last_progress < (isatty(2) ? 0.5 : 10.0)) return;
    st->last_progress = t;
    double el = t - st->t0 > 1e-9 ? t - st->t0 : 1e-9;
    double frac = st->bytes_total ? (double)st->bytes_done / (double)st->bytes_total : 1.0;
    if (ic_log_get_level() == IC_LOG_QUIET) return;
    fprintf(stderr, "%sprep: %.1f/%.1f MB (%3.0f%%)  %.2f MB/s  %llu tokens  ETA %.0f s%s",
            isatty(2) ? "\r" : "", (double)st->bytes_done / 1e6, (double)st->bytes_total / 1e6,
            100.0 * frac, (double)st->bytes_done / el / 1e6,
            (unsigned long long)(st->tokens[0] + st->tokens[1]),
            frac > 0 ? el * (1 - frac) / frac : 0.0, isatty(2) && !final ? "" : "\n");
}

/* Encodes text[0..n) and appends it to a split. */
static int emit(prep_state *st, ic_split s, const char *text, size_t n, ic_error *err) {
    st->ids.n = 0;
    if (ic_tokenizer_encode(st->tok, text, n, &st->ids, err) ||
        ic_h5tokens_append(&st->w, s, st->ids.ids, st->ids.n, err))
        return -1;
    st->tokens[s] += st->ids.n;
    st->bytes_done += n;
    progress(st, 0);
    return 0;
}

/* One file: see the comment at the top for where its val part starts. */
static int prep_file(prep_state *st, const char *path, double val_fraction, uint64_t size,
                     uint64_t counts[IC_SPLIT_COUNT], ic_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ic_error_set(err, "%s: cannot open", path);
    uint64_t before[IC_SPLIT_COUNT] = {st->tokens[0], st->tokens[1]};
    uint64_t val_start = (uint64_t)((double)size * (1.0 - val_fraction));
    if (val_fraction > 0 && val_start >= size && size > 0) val_start = size - 1;
    size_t cap = 2 * PREP_BLOCK, have = 0;
    char *buf = malloc(cap);
    uint64_t buf_start = 0;   /* file offset of buf[0]; always a safe cut */
    ic_split split = val_fraction > 0 && val_start == 0 ? IC_SPLIT_VAL : IC_SPLIT_TRAIN;
    int rc = buf ? 0 : ic_error_set(err, "out of memory");
    int eof = 0;
    while (rc == 0 && !eof) {
        if (cap - have < PREP_BLOCK) {   /* no safe cut in a whole block: keep reading */
            char *nb = realloc(buf, 2 * cap);
            if (!nb) { rc = ic_error_set(err, "%s: out of memory for a %zu-byte block", path, 2 * cap); break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + have, 1, PREP_BLOCK, f);
        if (got < PREP_BLOCK) {
            if (ferror(f)) { rc = ic_error_set(err, "%s: read error", path); break; }
            eof = 1;
        }
        have += got;
        size_t limit = have;   /* the largest cut allowed now */
        if (split == IC_SPLIT_TRAIN && val_start < buf_start + have) {
            size_t rel = (size_t)(val_start - buf_start);
            if (eof || have - rel >= 4) {
                /* every character that can follow a cut <= rel is complete in
                 * buf: the last safe cut <= rel ends train (no cut here: the
                 * buffer start, itself a cut, is that one) */
                size_t p = ic_tokenizer_safe_cut(st->tok, buf, have, rel);
                if (p > 0 && emit(st, IC_SPLIT_TRAIN, buf, p, err)) { rc = -1; break; }
                memmove(buf, buf + p, have - p);
                have -= p;
                buf_start += p;
                split = IC_SPLIT_VAL;
            } else {
                limit = rel;   /* train must not pass the boundary meanwhile */
            }
        }
        size_t p = eof ? have : ic_tokenizer_safe_cut(st->tok, buf, have, limit);
        if (p > 0) {
            if (emit(st, split, buf, p, err)) { rc = -1; break; }
            memmove(buf, buf + p, have - p);
            have -= p;
            buf_start += p;
        }
    }
    fclose(f);
    free(buf);
    if (rc == 0 && st->eos >= 0) {
        uint32_t e = (uint32_t)st->eos;
        rc = ic_h5tokens_append(&st->w, split, &e, 1, err);
        st->tokens[split]++;
    }
    for (int s = 0; s < IC_SPLIT_COUNT; s++) counts[s] = st->tokens[s] - before[s];
    return rc;
}

int ic_cmd_prep(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    double val_fraction = 0.05;
    int eos_between = 0;
    const ic_arg_spec args[] = {
        {"--model", IC_ARG_STRING, &model, "DIR", "model dir holding tokenizer.json", 1, 0, 0},
        {"--out", IC_ARG_STRING, &out, "FILE.h5", "output token file (written to a temp name, then renamed)", 1, 0, 0},
        {"--val-fraction", IC_ARG_DOUBLE, &val_fraction, "F",
         "tail fraction of each file that goes to /val, cut at a line start (default 0.05)", 0, 0, 0.999},
        {"--eos-between-docs", IC_ARG_FLAG, &eos_between, NULL,
         "append the tokenizer's EOS token after each file (document)", 0, 0, 0},
    };
    const ic_cmd_spec spec = {
        "prep", "--model DIR --out FILE.h5 [--val-fraction F] [--eos-between-docs] TEXT...",
        "Tokenizes text files with the model's byte-level BPE (DIR/tokenizer.json) into an HDF5 "
        "token file: datasets /train and /val (uint32), attributes vocab_size, tokenizer "
        "(sha256 of tokenizer.json), format_version. Each file is one document; its last F "
        "(by bytes, from the nearest earlier line start) goes to /val. Streams: memory does not "
        "grow with the corpus.",
        args, (int)(sizeof args / sizeof *args), "TEXT", 1, PREP_MAX_FILES};
    const char *files[PREP_MAX_FILES];
    int nfiles = 0, status = 0;
    if (ic_args_run(&spec, argc, argv, files, &nfiles, &status)) return status;

    ic_error err;
    ic_error_clear(&err);
    char tok_path[4200], hex[65], tok_attr[80];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", model);
    prep_state st;
    memset(&st, 0, sizeof st);
    uint64_t *sizes = calloc((size_t)nfiles, sizeof *sizes);
    for (int i = 0; i < nfiles; i++) {
        struct stat sb;
        if (stat(files[i], &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "indexcache prep: %s: not a readable regular file\n", files[i]);
            free(sizes);
            return 1;
        }
        sizes[i] = (uint64_t)sb.st_size;
        st.bytes_total += sizes[i];
    }
    if (ic_tokenizer_init(&st.tok, tok_path, &err) || ic_sha256_file(tok_path, hex, &err)) {
        fprintf(stderr, "indexcache prep: %s\n", err.msg);
        ic_tokenizer_free(st.tok);
        free(sizes);
        return 1;
    }
    st.eos = eos_between ? ic_tokenizer_eos_id(st.tok) : -1;
    if (eos_between && st.eos < 0) {
        fprintf(stderr, "indexcache prep: --eos-between-docs: %s names no EOS token "
                        "(no tokenizer_config.json eos_token, no <|endoftext|>)\n", tok_path);
        ic_tokenizer_free(st.tok);
        free(sizes);
        return 1;
    }
    snprintf(tok_attr, sizeof tok_attr, "sha256:%s", hex);
    int rc = ic_h5tokens_writer_init(&st.w, out, ic_tokenizer_vocab_size(st.tok), tok_attr, tok_path, &err);
    if (rc == 0) rc = ic_h5tokens_writer_attr_double(&st.w, "val_fraction", val_fraction, &err);
    uint64_t (*counts)[IC_SPLIT_COUNT] = calloc((size_t)nfiles, sizeof *counts);
    st.t0 = st.last_progress = now_s();
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = prep_file(&st, files[i], val_fraction, sizes[i], counts[i], &err);
    if (rc == 0) rc = ic_h5tokens_writer_commit(&st.w, &err);
    else ic_h5tokens_writer_abort(&st.w);
    progress(&st, 1);
    if (rc == 0) {
        double el = now_s() - st.t0;
        printf("%-40s %14s %14s %12s\n", "file", "bytes", "train tokens", "val tokens");
        for (int i = 0; i < nfiles; i++)
            printf("%-40s %14llu %14llu %12llu\n", files[i], (unsigned long long)sizes[i],
                   (unsigned long long)counts[i][0], (unsigned long long)counts[i][1]);
        printf("%-40s %14llu %14llu %12llu\n", "total", (unsigned long long)st.bytes_total,
               (unsigned long long)st.tokens[0], (unsigned long long)st.tokens[1]);
        printf("wrote %s: vocab %u, tokenizer %s, %.1f s, %.2f MB/s, %.3f bytes/token\n", out,
               ic_tokenizer_vocab_size(st.tok), tok_attr, el, (double)st.bytes_total / (el > 0 ? el : 1e-9) / 1e6,
               (double)st.bytes_total / (double)(st.tokens[0] + st.tokens[1] ? st.tokens[0] + st.tokens[1] : 1));
    } else {
        fprintf(stderr, "indexcache prep: %s\n", err.msg);
    }
    ic_ids_free(&st.ids);
    ic_tokenizer_free(st.tok);
    free(sizes);
    free(counts);
    return rc ? 1 : 0;
}
