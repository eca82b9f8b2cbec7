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

static int parse_literal(ic_pattern *p, const char *spec, ic_error *err) {
    const size_t len = strlen(spec);
    for (size_t i = 0; i < len; i++) {
        if (spec[i] == 'F' || spec[i] == 'S') continue;
        char shown[16];
        if (isprint((unsigned char)spec[i])) snprintf(shown, sizeof shown, "'%c'", spec[i]);
        else snprintf(shown, sizeof shown, "byte 0x%02x", (unsigned char)spec[i]);
        return ic_error_set(err, "pattern '%s': %s at position %zu (layer %zu) is not F or S "
                            "(a pattern is an F/S string, uniform:R or dense)", spec, shown, i, i);
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
        return ic_error_set(err, "empty pattern: give an F/S string, uniform:R or dense");
    if (n_layers < 1 || n_layers > IC_MAX_LAYERS)
        return ic_error_set(err, "pattern '%s': layer count %d outside 1..%d", spec, n_layers,
                            IC_MAX_LAYERS);
    p->n_layers = n_layers;
    if (strcmp(spec, "dense") == 0) {
        p->dense = 1;
        return 0;
    }
    if (strncmp(spec, "uniform:", 8) == 0) return parse_uniform(p, spec, spec + 8, err);
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
