/* The PNG of `indexcache bench` (launch/ic_bench.h): speed-up over all-F
 * against the context length (log scale), one colour per pattern, measured
 * solid with dots, Amdahl-predicted dashed; a second panel for decode.
 * Drawn on train/ic_canvas.h, the project's one image writer (the overlap
 * heatmaps use it too). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/ic_canvas.h"
#include "launch/ic_bench.h"

static const uint8_t k_ink[3] = {0, 0, 0}, k_grid[3] = {215, 215, 215};

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

static void draw_panel(ic_canvas *c, int ox, int oy, int pw, int ph, const panel *p,
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
    ic_canvas_text(c, x0, oy + 8, p->title, sc);
    const double lx0 = log2((double)p->lens[0]), lx1 = log2((double)p->lens[p->n_len - 1]);
    #define PX(L) (p->n_len > 1 && lx1 > lx0 ? x0 + (log2((double)(L)) - lx0) / (lx1 - lx0) * W : x0 + W / 2.0)
    #define PY(v) (y0 + H - (v) / ymax * H)
    for (double v = 0; v <= ymax + 1e-9; v += 0.5) {   /* grid and y labels */
        const int y = (int)lround(PY(v));
        ic_canvas_rect(c, x0, y, W, 1, v == 1.0 ? k_ink : k_grid);
        char b[16];
        snprintf(b, sizeof b, "%.1f", v);
        ic_canvas_text(c, x0 - ic_canvas_text_width(b, sc) - 6, y - 5, b, sc);
    }
    ic_canvas_rect(c, x0, y0, 1, H, k_ink);
    for (int l = 0; l < p->n_len; l++) {
        char b[16];
        lenlabel(b, sizeof b, p->lens[l]);
        const int x = (int)lround(PX(p->lens[l]));
        ic_canvas_rect(c, x, y0 + H, 1, 5, k_ink);
        ic_canvas_text(c, x - ic_canvas_text_width(b, sc) / 2, y0 + H + 9, b, sc);
    }
    ic_canvas_text(c, x0 + W / 2 - ic_canvas_text_width("CONTEXT LENGTH", sc) / 2, y0 + H + 22, "CONTEXT LENGTH", sc);
    int ly = y0;
    for (int i = 0; i < r->n_pat; i++) {
        const uint8_t *col = k_pal[i % 8];
        for (int l = 0; l < p->n_len; l++) {
            const double xa = PX(p->lens[l]);
            if (p->y[l][i] > 0) ic_canvas_rect(c, (int)xa - 3, (int)PY(p->y[l][i]) - 3, 7, 7, col);
            if (l + 1 < p->n_len) {
                const double xb = PX(p->lens[l + 1]);
                if (p->y[l][i] > 0 && p->y[l + 1][i] > 0)
                    ic_canvas_line(c, xa, PY(p->y[l][i]), xb, PY(p->y[l + 1][i]), col, 0);
                if (p->has_pred && p->pred[l][i] > 0 && p->pred[l + 1][i] > 0)
                    ic_canvas_line(c, xa, PY(p->pred[l][i]), xb, PY(p->pred[l + 1][i]), col, 1);
            }
            if (p->has_pred && p->pred[l][i] > 0 && p->n_len == 1)
                ic_canvas_rect(c, (int)xa - 8, (int)PY(p->pred[l][i]), 16, 2, col);
        }
        char b[40];
        snprintf(b, sizeof b, "%.24s", r->spec[i]);
        ic_canvas_rect(c, x0 + W + 16, ly + 2, 14, 6, col);
        ic_canvas_text(c, x0 + W + 36, ly, b, sc);
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
    if (!p) return ic_error_set(err, "%s: out of memory for the plot", path);
    ic_canvas c;
    if (ic_canvas_init(&c, pw, ph * np, path, err) != 0) {
        free(p);
        return -1;
    }
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

    int rc = ic_canvas_write_png(&c, path, err);
    ic_canvas_free(&c);
    return rc;
}
