/* A small RGB raster with a 3x5 pixel font and an atomic PNG writer: the
 * one image writer of indexcache (overlap heatmaps in ic_heatmap.c, the
 * `indexcache bench` chart in launch/ic_bench_plot.c). libpng only. */
#ifndef IC_CANVAS_H
#define IC_CANVAS_H

#include <stdint.h>

#include "ic_error.h"

typedef struct {
    int      w, h;
    uint8_t *px;   /* [h, w, 3] RGB, row-major */
} ic_canvas;

/* White w x h canvas. Returns 0, or -1 with err naming path on OOM. */
int  ic_canvas_init(ic_canvas *c, int w, int h, const char *path, ic_error *err);
void ic_canvas_free(ic_canvas *c);

/* Pixels outside the canvas are clipped. */
void ic_canvas_put(ic_canvas *c, int x, int y, const uint8_t rgb[3]);
void ic_canvas_rect(ic_canvas *c, int x0, int y0, int w, int h, const uint8_t rgb[3]);
/* A 2-pixel line; dashed: 8 pixels on, 6 off along its length. */
void ic_canvas_line(ic_canvas *c, double x0, double y0, double x1, double y1,
                    const uint8_t rgb[3], int dashed);

/* Black text of 3x5 glyphs scaled by sc with a 1-column gap: digits,
 * letters (drawn upper case) and : . - / ( ) = , %; other characters
 * leave a blank cell. Returns the x after the text. */
int  ic_canvas_text(ic_canvas *c, int x, int y, const char *s, int sc);
int  ic_canvas_text_width(const char *s, int sc);

/* Writes c to path as an 8-bit RGB PNG through a temp file + rename, so
 * a failure never leaves a half-written image. Does not free c. */
int  ic_canvas_write_png(const ic_canvas *c, const char *path, ic_error *err);

#endif
