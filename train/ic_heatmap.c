#include "ic_heatmap.h"

#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"

/* 3x5 pixel glyphs for the characters labels need: rows top to bottom,
 * 3 bits each (MSB = left column). */
static const uint8_t k_glyph_digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};
static const uint8_t k_glyph_dot[5] = {0, 0, 0, 0, 2};

typedef struct { int w, h; uint8_t *px; } canvas;  /* RGB, row-major */

static void put(canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

static void fill_rect(canvas *c, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) put(c, x, y, rgb);
}

/* Draws text of digits and '.', each glyph 3x5 scaled by s, 1 column gap. */
static int draw_text(canvas *c, int x, int y, const char *text, int s) {
    static const uint8_t ink[3] = {0, 0, 0};
    for (const char *p = text; *p; p++) {
        const uint8_t *g = *p == '.' ? k_glyph_dot : (*p >= '0' && *p <= '9') ? k_glyph_digits[*p - '0'] : NULL;
        if (g)
            for (int r = 0; r < 5; r++)
                for (int col = 0; col < 3; col++)
                    if (g[r] & (4 >> col)) fill_rect(c, x + col * s, y + r * s, s, s, ink);
        x += 4 * s;
    }
    return x;
}

static int text_width(const char *text, int s) { return (int)strlen(text) * 4 * s - s; }

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
    const int margin_l = text_width(label, s) + 12, margin_t = 5 * s + 12;
    const int bar_w = 20, bar_gap = 16, bar_labels = text_width("0.00", s) + 10;
    canvas c;
    c.w = margin_l + n * cell + bar_gap + bar_w + bar_labels + 8;
    c.h = margin_t + n * cell + 10;
    c.px = malloc((size_t)c.w * c.h * 3);
    if (!c.px) return ic_error_set(err, "%s: out of memory for a %dx%d image", path, c.w, c.h);
    memset(c.px, 255, (size_t)c.w * c.h * 3);

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint8_t rgb[3];
            colormap((m[(size_t)i * n + j] - vmin) / (vmax - vmin), rgb);
            fill_rect(&c, margin_l + j * cell, margin_t + i * cell, cell, cell, rgb);
        }
    /* Layer numbers: every layer when they fit, else every k-th. */
    int step = 1;
    while (step * cell < text_width(label, s) + 4) step++;
    for (int i = 0; i < n; i += step) {
        snprintf(label, sizeof label, "%d", i);
        int w = text_width(label, s);
        draw_text(&c, margin_l - w - 6, margin_t + i * cell + (cell - 5 * s) / 2, label, s);
        draw_text(&c, margin_l + i * cell + (cell - w) / 2, 4, label, s);
    }
    /* Colour bar with five ticks. */
    int bx = margin_l + n * cell + bar_gap, by = margin_t, bh = n * cell;
    for (int y = 0; y < bh; y++) {
        uint8_t rgb[3];
        colormap(1.0 - (double)y / (bh > 1 ? bh - 1 : 1), rgb);
        fill_rect(&c, bx, by + y, bar_w, 1, rgb);
    }
    for (int t = 0; t <= 4; t++) {
        double v = vmax - (vmax - vmin) * t / 4.0;
        snprintf(label, sizeof label, "%.2f", v);
        int y = by + (int)lround((double)(bh - 1) * t / 4.0);
        static const uint8_t ink[3] = {0, 0, 0};
        fill_rect(&c, bx + bar_w, y, 4, 1, ink);
        int ty = y - 5 * s / 2;
        if (ty < 0) ty = 0;
        if (ty > c.h - 5 * s) ty = c.h - 5 * s;
        draw_text(&c, bx + bar_w + 7, ty, label, s);
    }

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
