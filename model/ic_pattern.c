/* Pattern parsing and the f(l) / G(l) helpers (model/ic_pattern.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "model/ic_pattern.h"

static int parse_uniform(ic_pattern *p, const char *spec, const char *arg, ic_error *err) {
    if (*arg == '\0')
        return ic_error_set(err, "pattern '%s': uniform:R needs an integer R >= 1 after the colon", spec);
    for (const char *c = arg; *c; c++)
        if (*c < '0' || *c > '9')
            return ic_error_set(err, "pattern '%s': uniform:R needs an integer R >= 1, got '%s'", spec, arg);
    errno = 0;
    long r = strtol(arg, NULL, 10);
    if (errno == ERANGE || r < 1)
        return ic_error_set(err, "pattern '%s': uniform:R needs an integer R >= 1, got '%s'", spec, arg);
    for (int l = 0; l < p->n_layers; l++) p->c[l] = (l % r == 0) ? 'F' : 'S';
    p->c[p->n_layers] = '\0';
    return 0;
}

/* A decimal integer >= lo; ERANGE and trailing junk are faults. */
static int parse_long(const char *s, long lo, long *out) {
    if (*s == '\0') return -1;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9') return -1;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v < lo) return -1;
    *out = v;
    return 0;
}

int ic_pattern_freq_fill(char *out, int n_layers, long freq, long offset, ic_error *err) {
    if (freq < 1) return ic_error_set(err, "index_topk_freq = %ld must be >= 1", freq);
    if (offset < 0) return ic_error_set(err, "index_skip_topk_offset = %ld must be >= 0", offset);
    for (int i = 0; i < n_layers; i++) {
        long k = (long)i - offset + 1;
        out[i] = ((k > 0 ? k : 0) % freq == 0) ? 'F' : 'S';
    }
    out[n_layers] = '\0';
    if (n_layers > 0 && out[0] != 'F')
        return ic_error_set(err, "index_topk_freq = %ld with index_skip_topk_offset = %ld makes layer 0 "
                            "shared, but layer 0 must keep its indexer (offset 0 needs freq 1)", freq, offset);
    return 0;
}

int ic_pattern_find_freq(const char *lit, int n_layers, int *freq, int *offset) {
    char buf[IC_MAX_LAYERS + 1];
    IC_ASSERT(n_layers >= 1 && n_layers <= IC_MAX_LAYERS);
    /* offset >= n_layers makes every layer F, as offset = n_layers does, so
     * the search is complete over [1, n_layers]^2 */
    for (int f = 1; f <= n_layers; f++)
        for (int o = 1; o <= n_layers; o++) {
            if (ic_pattern_freq_fill(buf, n_layers, f, o, NULL) == 0 && memcmp(buf, lit, (size_t)n_layers) == 0) {
                *freq = f;
                *offset = o;
                return 1;
            }
        }
    return 0;
}

/* freq:F[,offset:O] */
static int parse_freq(ic_pattern *p, const char *spec, ic_error *err) {
    char f[32];
    const char *arg = spec + 5, *comma = strchr(arg, ',');
    long freq = 0, offset = 1;
    size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
    if (n >= sizeof f || (memcpy(f, arg, n), f[n] = '\0', parse_long(f, 1, &freq)))
        return ic_error_set(err, "pattern '%s': freq:F needs an integer F >= 1 after the colon", spec);
    if (comma) {
        if (strncmp(comma + 1, "offset:", 7) || parse_long(comma + 8, 0, &offset))
            return ic_error_set(err, "pattern '%s': after freq:F only ',offset:O' (an integer O >= 0) may "
                                "follow", spec);
    }
    if (ic_pattern_freq_fill(p->c, p->n_layers, freq, offset, err)) return ic_error_wrap(err, "pattern '%s'", spec);
    return 0;
}

static int parse_literal(ic_pattern *p, const char *spec, ic_error *err) {
    const size_t len = strlen(spec);
    for (size_t i = 0; i < len; i++) {
        if (spec[i] == 'F' || spec[i] == 'S') continue;
        char shown[16];
        if (isprint((unsigned char)spec[i])) snprintf(shown, sizeof shown, "'%c'", spec[i]);
        else snprintf(shown, sizeof shown, "byte 0x%02x", (unsigned char)spec[i]);
        return ic_error_set(err, "pattern '%s': %s at position %zu (layer %zu) is not F or S "
                            "(a pattern is an F/S string, uniform:R, freq:F[,offset:O] or dense)", spec, shown, i, i);
    }
    if (len != (size_t)p->n_layers)
        return ic_error_set(err, "pattern '%s' has %zu characters but the model has %d layers",
                            spec, len, p->n_layers);
    if (spec[0] != 'F')
        return ic_error_set(err, "pattern '%s': position 0 (layer 0) must be F, since an S layer "
                            "reuses an earlier F layer's indices", spec);
    memcpy(p->c, spec, len + 1);
    return 0;
}

int ic_pattern_parse(ic_pattern *p, const char *spec, int n_layers, ic_error *err) {
    IC_ASSERT(p != NULL);
    memset(p, 0, sizeof *p);
    if (spec == NULL || *spec == '\0')
        return ic_error_set(err, "empty pattern: give an F/S string, uniform:R, freq:F[,offset:O] or dense");
    if (n_layers < 1 || n_layers > IC_MAX_LAYERS)
        return ic_error_set(err, "pattern '%s': layer count %d outside 1..%d", spec, n_layers,
                            IC_MAX_LAYERS);
    p->n_layers = n_layers;
    if (strcmp(spec, "dense") == 0) {
        p->dense = 1;
        return 0;
    }
    if (strncmp(spec, "uniform:", 8) == 0) return parse_uniform(p, spec, spec + 8, err);
    if (strncmp(spec, "freq:", 5) == 0) return parse_freq(p, spec, err);
    return parse_literal(p, spec, err);
}

int ic_pattern_is_full(const ic_pattern *p, int l) {
    IC_ASSERT(p != NULL && l >= 0 && l < p->n_layers);
    return !p->dense && p->c[l] == 'F';
}

int ic_pattern_source(const ic_pattern *p, int l) {
    IC_ASSERT(p != NULL && l >= 0 && l < p->n_layers);
    if (p->dense) return -1;
    while (p->c[l] != 'F') l--;   /* terminates: c[0] == 'F' by construction */
    return l;
}

int ic_pattern_served(const ic_pattern *p, int l, int *out, int max) {
    IC_ASSERT(p != NULL && l >= 0 && l < p->n_layers && (out != NULL || max == 0));
    if (!ic_pattern_is_full(p, l)) return 0;
    int n = 0;
    for (int j = l; j < p->n_layers && (j == l || p->c[j] == 'S'); j++) {
        IC_ASSERT(n < max);
        out[n++] = j;
    }
    return n;
}

int ic_pattern_n_full(const ic_pattern *p) {
    IC_ASSERT(p != NULL);
    if (p->dense) return 0;
    int n = 0;
    for (int l = 0; l < p->n_layers; l++) n += p->c[l] == 'F';
    return n;
}

const char *ic_pattern_to_string(const ic_pattern *p, char *buf, size_t n) {
    IC_ASSERT(p != NULL && buf != NULL && n > 0);
    snprintf(buf, n, "%s", p->dense ? "dense" : p->c);
    return buf;
}
