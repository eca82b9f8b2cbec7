/* See ic_canvas.h. */
#include "ic_canvas.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "ic_fs.h"

/* 3x5 glyphs, rows top to bottom, 3 bits each (MSB = left column). */
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

int ic_canvas_init(ic_canvas *c, int w, int h, const char *path, ic_error *err) {
    c->w = w;
    c->h = h;
    c->px = w > 0 && h > 0 ? malloc((size_t)w * h * 3) : NULL;
    if (!c->px) return ic_error_set(err, "%s: out of memory for a %dx%d image", path, w, h);
    memset(c->px, 255, (size_t)w * h * 3);
    return 0;
}

void ic_canvas_free(ic_canvas *c) {
    free(c->px);
    c->px = NULL;
}

void ic_canvas_put(ic_canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

void ic_canvas_rect(ic_canvas *c, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) ic_canvas_put(c, x, y, rgb);
}

void ic_canvas_line(ic_canvas *c, double x0, double y0, double x1, double y1,
                    const uint8_t rgb[3], int dashed) {
    const double len = hypot(x1 - x0, y1 - y0);
    const int n = (int)len + 1;
    for (int i = 0; i <= n; i++) {
        if (dashed && (i % 14) >= 8) continue;
        const double f = (double)i / n;
        const int x = (int)lround(x0 + f * (x1 - x0)), y = (int)lround(y0 + f * (y1 - y0));
        ic_canvas_rect(c, x, y, 2, 2, rgb);
    }
}

int ic_canvas_text(ic_canvas *c, int x, int y, const char *s, int sc) {
    static const uint8_t ink[3] = {0, 0, 0};
    for (; *s; s++, x += 4 * sc) {
        const uint8_t *g = glyph(*s);
        if (!g) continue;
        for (int r = 0; r < 5; r++)
            for (int col = 0; col < 3; col++)
                if (g[r] & (4 >> col)) ic_canvas_rect(c, x + col * sc, y + r * sc, sc, sc, ink);
    }
    return x;
}

int ic_canvas_text_width(const char *s, int sc) { return (int)strlen(s) * 4 * sc - sc; }

int ic_canvas_write_png(const ic_canvas *c, const char *path, ic_error *err) {
    ic_atomic_file af;
    if (ic_atomic_open(&af, path, err)) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        ic_atomic_abort(&af);
        return ic_error_set(err, "%s: PNG encoding failed", path);
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return ic_atomic_commit(&af, err);
}
