#include "ic_heatmap.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_canvas.h"

/* Perceptually ordered dark-blue -> green -> yellow ramp (viridis-like
 * control points, linearly interpolated). */
static void colormap(double v, uint8_t rgb[3]) {
    static const double stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!(v >= 0)) v = 0;  /* also maps NaN to the low end */
    if (v > 1) v = 1;
    double f = v * 4.0;
    int i = (int)f;
    if (i > 3) i = 3;
    double t = f - i;
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lround(stops[i][k] * (1 - t) + stops[i + 1][k] * t);
}

int ic_heatmap_write_png(const char *path, const double *m, int n,
                         double vmin, double vmax, ic_error *err) {
    if (n <= 0) return ic_error_set(err, "%s: heatmap of an empty matrix", path);
    if (!(vmax > vmin)) return ic_error_set(err, "%s: heatmap range [%g, %g] is empty", path, vmin, vmax);
    const int cell = n <= 16 ? 32 : n <= 40 ? 20 : n <= 100 ? 8 : 4;
    const int s = 2;  /* glyph scale */
    char label[32];
    snprintf(label, sizeof label, "%d", n - 1);
    const int margin_l = ic_canvas_text_width(label, s) + 12, margin_t = 5 * s + 12;
    const int bar_w = 20, bar_gap = 16, bar_labels = ic_canvas_text_width("0.00", s) + 10;
    ic_canvas c;
    if (ic_canvas_init(&c, margin_l + n * cell + bar_gap + bar_w + bar_labels + 8,
                       margin_t + n * cell + 10, path, err) != 0)
        return -1;

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint8_t rgb[3];
            colormap((m[(size_t)i * n + j] - vmin) / (vmax - vmin), rgb);
            ic_canvas_rect(&c, margin_l + j * cell, margin_t + i * cell, cell, cell, rgb);
        }
    /* Layer numbers: every layer when they fit, else every k-th. */
    int step = 1;
    while (step * cell < ic_canvas_text_width(label, s) + 4) step++;
    for (int i = 0; i < n; i += step) {
        snprintf(label, sizeof label, "%d", i);
        int w = ic_canvas_text_width(label, s);
        ic_canvas_text(&c, margin_l - w - 6, margin_t + i * cell + (cell - 5 * s) / 2, label, s);
        ic_canvas_text(&c, margin_l + i * cell + (cell - w) / 2, 4, label, s);
    }
    /* Colour bar with five ticks. */
    int bx = margin_l + n * cell + bar_gap, by = margin_t, bh = n * cell;
    for (int y = 0; y < bh; y++) {
        uint8_t rgb[3];
        colormap(1.0 - (double)y / (bh > 1 ? bh - 1 : 1), rgb);
        ic_canvas_rect(&c, bx, by + y, bar_w, 1, rgb);
    }
    for (int t = 0; t <= 4; t++) {
        double v = vmax - (vmax - vmin) * t / 4.0;
        snprintf(label, sizeof label, "%.2f", v);
        int y = by + (int)lround((double)(bh - 1) * t / 4.0);
        static const uint8_t ink[3] = {0, 0, 0};
        ic_canvas_rect(&c, bx + bar_w, y, 4, 1, ink);
        int ty = y - 5 * s / 2;
        if (ty < 0) ty = 0;
        if (ty > c.h - 5 * s) ty = c.h - 5 * s;
        ic_canvas_text(&c, bx + bar_w + 7, ty, label, s);
    }

    int rc = ic_canvas_write_png(&c, path, err);
    ic_canvas_free(&c);
    return rc;
}
