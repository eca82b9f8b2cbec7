/* `indexcache bench` results and their reports (table, JSON, PNG); the
 * runner is launch/cmd_bench.c, the timed model code model/ic_dsa_timed.h
 * and model/ic_dsa_decode.h. Times are seconds. */
#ifndef IC_BENCH_H
#define IC_BENCH_H

#include <stddef.h>

#include "ic_error.h"
#include "model/ic_dsa_timed.h"
#include "model/ic_pattern.h"

#define IC_BENCH_MAX_PATTERNS 16
#define IC_BENCH_MAX_LENS 16

typedef struct {
    int    ok;                      /* measured */
    double total;                   /* median over the repeats of one repeat's wall time */
    double spread;                  /* (max - min) / median of the repeats' totals */
    double ph[IC_DSA_N_PHASES];     /* the phases of the median repeat (they sum to total) */
    double pred_speedup;            /* Amdahl bound over all-F; 0 when none */
} ic_bench_prefill;

typedef struct {
    int    ok;
    double step;                    /* median seconds per decode step */
    double spread;                  /* (max - min) / median of the repeats */
    size_t kv_bytes, ix_bytes;      /* caches at the context length */
} ic_bench_decode;

typedef struct {
    const char *backend;            /* ctx->desc */
    const char *model_dir;
    int   n_layers, topk, batch, repeats, warmup, decode_tokens;
    int   n_pat;
    const char *spec[IC_BENCH_MAX_PATTERNS];   /* as given */
    ic_pattern  pat[IC_BENCH_MAX_PATTERNS];
    int   allf;                     /* index of the all-F pattern, -1 when none */
    int   n_len, len[IC_BENCH_MAX_LENS];        /* prefill lengths */
    int   n_dlen, dlen[IC_BENCH_MAX_LENS];      /* decode context lengths */
    ic_bench_prefill pre[IC_BENCH_MAX_LENS][IC_BENCH_MAX_PATTERNS];
    ic_bench_decode  dec[IC_BENCH_MAX_LENS][IC_BENCH_MAX_PATTERNS];
} ic_bench_results;

/* Amdahl bound of pattern p from the all-F phases at the same length: the
 * indexer phases scale with the F-layer count, attention and the rest stay. */
double ic_bench_amdahl(const ic_bench_prefill *allf, const ic_pattern *p);

void ic_bench_print_table(const ic_bench_results *r);
void ic_bench_print_json(const ic_bench_results *r);
/* Prefill speed-up over all-F vs context length, measured (solid) and
 * Amdahl-predicted (dashed), one colour per pattern; decode speed-up in a
 * second panel when decode ran. */
int  ic_bench_write_png(const ic_bench_results *r, const char *path, ic_error *err);

#endif
