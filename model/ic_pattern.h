/* IndexCache layer patterns (DESIGN.md s3): one char per layer, 'F' = the
 * layer runs its own indexer, 'S' = it reuses the indices of the nearest
 * earlier F layer. `dense` means no sparse attention at all. */
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
 *   "uniform:R" (F at l % R == 0, integer R >= 1), or "dense".
 * Returns 0, or -1 with err naming the fault (and the position for a bad
 * literal). */
int ic_pattern_parse(ic_pattern *p, const char *spec, int n_layers, ic_error *err);

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
