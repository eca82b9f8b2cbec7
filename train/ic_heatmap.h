/* A square matrix as a PNG heatmap: one cell per entry, row/column numbers
 * along the left and top edges, a colour bar with its scale on the right.
 * Used by `indexcache overlap`; libpng only, no Python at run time. */
#ifndef IC_HEATMAP_H
#define IC_HEATMAP_H

#include "ic_error.h"

/* m: [n, n] row-major; values are clamped to [vmin, vmax]. Written
 * atomically (temp + fsync + rename). */
int ic_heatmap_write_png(const char *path, const double *m, int n,
                         double vmin, double vmax, ic_error *err);

#endif
