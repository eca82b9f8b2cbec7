/* The PNG of `indexcache bench` (launch/ic_bench.h): speed-up over all-F
 * against the context length (log scale), one colour per pattern, measured
 * solid with dots, Amdahl-predicted dashed; a second panel for decode.
 * libpng only, written atomically like train/ic_heatmap.c's heatmaps (whose
 * writer draws square matrices only, hence this small line-chart canvas). */
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"
#include "launch/ic_bench.h"

typedef struct { int w, h; uint8_t *px; } canvas;

/* 3x5 glyphs, rows top to bottom, MSB = left column */
static const uint8_t k_digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
static const uint8_t k_letters[26][5] = {
    {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7},
    {7, 4, 6, 4, 4}, {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2},
    {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7}, {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2},
    {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5}, {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2},
    {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5}, {5, 5, 2, 2, 2},
    {7, 1, 2, 4, 7}};

static const uint8_t *glyph(char ch) {
    static const struct { char c; uint8_t g[5]; } k_sym[] = {
        {':', {0, 2, 0, 2, 0}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
        {'/', {1, 1, 2, 4, 4}}, {'(', {1, 2, 2, 2, 1}}, {')', {4, 2, 2, 2, 4}},
        {'=', {0, 7, 0, 7, 0}}, {',', {0, 0, 0, 2, 4}}, {'%', {5, 1, 2, 4, 5}}};
    if (ch >= '0' && ch <= '9') return k_digits[ch - '0'];
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (ch >= 'A' && ch <= 'Z') return k_letters[ch - 'A'];
    for (size_t i = 0; i < sizeof k_sym / sizeof k_sym[0]; i++)
        if (k_sym[i].c == ch) return k_sym[i].g;
    return NULL;   /* a space, or a character without a glyph */
}

static void put(canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) put(c, x, y, rgb);
}

static const uint8_t k_ink[3] = {0, 0, 0}, k_grid[3] = {215, 215, 215};

static int text(canvas *c, int x, int y, const char *s, int sc) {
    for (; *s; s++, x += 4 * sc) {
        const uint8_t *g = glyph(*s);
        if (!g) continue;
        for (int r = 0; r < 5; r++)
            for (int col = 0; col < 3; col++)
                if (g[r] & (4 >> col)) rect(c, x + col * sc, y + r * sc, sc, sc, k_ink);
    }
    return x;
}

static int text_w(const char *s, int sc) { return (int)strlen(s) * 4 * sc - sc; }

/* A 2-pixel line; dashed: 8 on, 6 off along its length. */
static void line(canvas *c, double x0, double y0, double x1, double y1, const uint8_t rgb[3],
                 int dashed) {
    const double len = hypot(x1 - x0, y1 - y0);
    const int n = (int)len + 1;
    for (int i = 0; i <= n; i++) {
        if (dashed && (i % 14) >= 8) continue;
        const double f = (double)i / n;
        const int x = (int)lround(x0 + f * (x1 - x0)), y = (int)lround(y0 + f * (y1 - y0));
        rect(c, x, y, 2, 2, rgb);
    }
}

static const uint8_t k_pal[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},
                                    {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                                    {227, 119, 194}, {127, 127, 127}};

/* One panel at (ox, oy), size pw x ph: the series of pattern i are its
 * measured speed-up y[l][i] at x lens[l], and pred[l][i] when not NULL. */
typedef struct {
    const char *title;
    int n_len;
    const int *lens;
    double y[IC_BENCH_MAX_LENS][IC_BENCH_MAX_PATTERNS];
    double pred[IC_BENCH_MAX_LENS][IC_BENCH_MAX_PATTERNS];
    int has_pred;
} panel;

static void lenlabel(char *b, size_t n, int L) {
    if (L % 1024 == 0) snprintf(b, n, "%dK", L / 1024);
    else snprintf(b, n, "%d", L);
}

static void draw_panel(canvas *c, int ox, int oy, int pw, int ph, const panel *p,
                       const ic_bench_results *r) {
    const int sc = 2, ml = 50, mr = 200, mt = 30, mb = 34;
    const int x0 = ox + ml, y0 = oy + mt, W = pw - ml - mr, H = ph - mt - mb;
    double ymax = 1.2;
    for (int l = 0; l < p->n_len; l++)
        for (int i = 0; i < r->n_pat; i++) {
            if (p->y[l][i] > ymax) ymax = p->y[l][i];
            if (p->has_pred && p->pred[l][i] > ymax) ymax = p->pred[l][i];
        }
    ymax = ceil(ymax * 1.1 * 2) / 2;
    text(c, x0, oy + 8, p->title, sc);
    const double lx0 = log2((double)p->lens[0]), lx1 = log2((double)p->lens[p->n_len - 1]);
    #define PX(L) (p->n_len > 1 && lx1 > lx0 ? x0 + (log2((double)(L)) - lx0) / (lx1 - lx0) * W : x0 + W / 2.0)
    #define PY(v) (y0 + H - (v) / ymax * H)
    for (double v = 0; v <= ymax + 1e-9; v += 0.5) {   /* grid and y labels */
        const int y = (int)lround(PY(v));
        rect(c, x0, y, W, 1, v == 1.0 ? k_ink : k_grid);
        char b[16];
        snprintf(b, sizeof b, "%.1f", v);
        text(c, x0 - text_w(b, sc) - 6, y - 5, b, sc);
    }
    rect(c, x0, y0, 1, H, k_ink);
    for (int l = 0; l < p->n_len; l++) {
        char b[16];
        lenlabel(b, sizeof b, p->lens[l]);
        const int x = (int)lround(PX(p->lens[l]));
        rect(c, x, y0 + H, 1, 5, k_ink);
        text(c, x - text_w(b, sc) / 2, y0 + H + 9, b, sc);
    }
    text(c, x0 + W / 2 - text_w("CONTEXT LENGTH", sc) / 2, y0 + H + 22, "CONTEXT LENGTH", sc);
    int ly = y0;
    for (int i = 0; i < r->n_pat; i++) {
        const uint8_t *col = k_pal[i % 8];
        for (int l = 0; l < p->n_len; l++) {
            const double xa = PX(p->lens[l]);
            if (p->y[l][i] > 0) rect(c, (int)xa - 3, (int)PY(p->y[l][i]) - 3, 7, 7, col);
            if (l + 1 < p->n_len) {
                const double xb = PX(p->lens[l + 1]);
                if (p->y[l][i] > 0 && p->y[l + 1][i] > 0)
                    line(c, xa, PY(p->y[l][i]), xb, PY(p->y[l + 1][i]), col, 0);
                if (p->has_pred && p->pred[l][i] > 0 && p->pred[l + 1][i] > 0)
                    line(c, xa, PY(p->pred[l][i]), xb, PY(p->pred[l + 1][i]), col, 1);
            }
            if (p->has_pred && p->pred[l][i] > 0 && p->n_len == 1)
                rect(c, (int)xa - 8, (int)PY(p->pred[l][i]), 16, 2, col);
        }
        char b[40];
        snprintf(b, sizeof b, "%.24s", r->spec[i]);
        rect(c, x0 + W + 16, ly + 2, 14, 6, col);
        text(c, x0 + W + 36, ly, b, sc);
        ly += 16;
    }
    #undef PX
    #undef PY
}

int ic_bench_write_png(const ic_bench_results *r, const char *path, ic_error *err) {
    if (r->allf < 0) return ic_error_set(err, "%s: the plot shows speed-ups over all-F: add F to --patterns", path);
    const int pw = 760, ph = 360;
    const int np = (r->n_len > 0) + (r->n_dlen > 0);
    if (np == 0) return ic_error_set(err, "%s: nothing measured to plot", path);
    panel *p = calloc(2, sizeof *p);
    canvas c = {pw, ph * np, NULL};
    c.px = malloc((size_t)c.w * c.h * 3);
    if (!p || !c.px) {
        free(p);
        free(c.px);
        return ic_error_set(err, "%s: out of memory for the plot", path);
    }
    memset(c.px, 255, (size_t)c.w * c.h * 3);
    int k = 0;
    if (r->n_len) {
        p[k].title = "PREFILL SPEEDUP OVER ALL-F (SOLID MEASURED, DASHED AMDAHL)";
        p[k].n_len = r->n_len;
        p[k].lens = r->len;
        p[k].has_pred = 1;
        for (int l = 0; l < r->n_len; l++)
            for (int i = 0; i < r->n_pat; i++) {
                const ic_bench_prefill *f = &r->pre[l][r->allf], *x = &r->pre[l][i];
                p[k].y[l][i] = x->total > 0 ? f->total / x->total : 0;
                p[k].pred[l][i] = x->pred_speedup;
            }
        draw_panel(&c, 0, ph * k, pw, ph, &p[k], r);
        k++;
    }
    if (r->n_dlen) {
        p[k].title = "DECODE SPEEDUP OVER ALL-F (TOKENS/S, MEASURED)";
        p[k].n_len = r->n_dlen;
        p[k].lens = r->dlen;
        for (int l = 0; l < r->n_dlen; l++)
            for (int i = 0; i < r->n_pat; i++) {
                const ic_bench_decode *f = &r->dec[l][r->allf], *x = &r->dec[l][i];
                p[k].y[l][i] = x->step > 0 ? f->step / x->step : 0;
            }
        draw_panel(&c, 0, ph * k, pw, ph, &p[k], r);
    }
    free(p);

    ic_atomic_file af;
    if (ic_atomic_open(&af, path, err)) { free(c.px); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        ic_atomic_abort(&af);
        free(c.px);
        return ic_error_set(err, "%s: PNG encoding failed", path);
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, info, (png_uint_32)c.w, (png_uint_32)c.h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c.h; y++) png_write_row(png, c.px + (size_t)y * c.w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(c.px);
    return ic_atomic_commit(&af, err);
}
