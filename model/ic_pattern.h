/* IndexCache layer patterns (docs/DESIGN.md s3): one char per layer, 'F' =
 * the layer runs its own indexer, 'S' = it reuses the indices of the nearest
 * earlier F layer. `dense` means no sparse attention at all. The periodic
 * form of the engines' config keys (index_topk_freq, index_skip_topk_offset,
 * docs/FORMATS.md) is converted here in both directions. */
#ifndef IC_PATTERN_H
#define IC_PATTERN_H

#include <stddef.h>

#include "ic_error.h"
#include "model/ic_config.h"

typedef struct {
    int  n_layers;
    int  dense;                       /* 1: no indexer, no sparse attention */
    char c[IC_MAX_LAYERS + 1];        /* 'F'/'S' per layer, NUL-terminated; "" when dense */
} ic_pattern;

/* Parse a --pattern value for a model of n_layers layers:
 *   a literal "FSSF..." (length n_layers, first char F, only F and S),
 *   "uniform:R" (F at l % R == 0, integer R >= 1),
 *   "freq:F[,offset:O]" (the index_topk_freq rule below; O defaults to 1,
 *   which makes freq:R the same pattern as uniform:R), or "dense".
 * Returns 0, or -1 with err naming the fault (and the position for a bad
 * literal). */
int ic_pattern_parse(ic_pattern *p, const char *spec, int n_layers, ic_error *err);

/* The rule of transformers' GLM-DSA models and vLLM for index_topk_freq F
 * and index_skip_topk_offset O: layer i (0-based) is Full iff
 * max(i - O + 1, 0) % F == 0. Fills out[0..n_layers) with F/S and a NUL.
 * Returns 0, or -1 with err naming the fault: F < 1, O < 0, or an S at
 * layer 0 (O = 0 with F > 1), which no pattern may have. */
int ic_pattern_freq_fill(char *out, int n_layers, long freq, long offset, ic_error *err);

/* The smallest (freq, then offset >= 1) whose rule gives exactly the
 * literal lit (n_layers chars). Returns 1 and sets *freq, *offset when one
 * exists, 0 when the pattern is not of that form. */
int ic_pattern_find_freq(const char *lit, int n_layers, int *freq, int *offset);

/* 1 when layer l runs its own indexer (never for a dense pattern). */
int ic_pattern_is_full(const ic_pattern *p, int l);

/* f(l) = max{ j <= l : c_j = F }; -1 for a dense pattern. */
int ic_pattern_source(const ic_pattern *p, int l);

/* G(l) = {l} and the S layers whose source is l, ascending, into out
 * (capacity max); returns |G(l)|, or 0 when l is not an F layer. */
int ic_pattern_served(const ic_pattern *p, int l, int *out, int max);

/* Number of F layers (0 for dense). */
int ic_pattern_n_full(const ic_pattern *p);

/* The literal string ("FSSS...", or "dense") into buf; returns buf. */
const char *ic_pattern_to_string(const ic_pattern *p, char *buf, size_t n);

#endif
