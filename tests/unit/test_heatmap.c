/* train/ic_heatmap: the PNG decodes with libpng, has the expected size, and
 * cells carry the colours of their values (low = dark purple, high = yellow). */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/ic_heatmap.h"

typedef struct { int w, h; unsigned char *px; } image;

static image read_png(const char *path) {
    image im = {0, 0, NULL};
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(!setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_read_info(png, info);
    im.w = (int)png_get_image_width(png, info);
    im.h = (int)png_get_image_height(png, info);
    ck_assert_int_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    im.px = malloc((size_t)im.w * im.h * 3);
    for (int y = 0; y < im.h; y++) png_read_row(png, im.px + (size_t)y * im.w * 3, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return im;
}

START_TEST(test_heatmap_png) {
    const int n = 30;  /* SmolLM2's layer count */
    double *m = malloc(sizeof(double) * n * n);
    ic_rng r; ic_rng_seed(&r, 3);
    for (int i = 0; i < n * n; i++) m[i] = 0.2 + 0.6 * ic_rng_uniform(&r);
    m[0] = 1.0;            /* top-left cell: high */
    m[n * n - 1] = 0.0;    /* bottom-right cell: low */
    char path[4096];
    snprintf(path, sizeof path, "%s/h.png", ic_test_tmpdir("heatmap"));
    ic_error err; ic_error_clear(&err);
    ck_assert_msg(ic_heatmap_write_png(path, m, n, 0.0, 1.0, &err) == 0, "%s", err.msg);
    image im = read_png(path);
    ck_assert_int_gt(im.w, n * 20);
    ck_assert_int_gt(im.h, n * 20);
    /* Find the matrix area: the first row of the image whose pixels match
     * the top-left cell colour (yellow: high red, high green, low blue). */
    int found_high = 0, found_low = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++) {
            unsigned char *p = im.px + 3 * ((size_t)y * im.w + x);
            if (p[0] > 240 && p[1] > 220 && p[2] < 60) found_high++;
            if (p[0] < 80 && p[1] < 10 && p[2] > 70 && p[2] < 100) found_low++;
        }
    /* one 20x20 cell each at least (the colour bar adds a few rows more) */
    ck_assert_int_ge(found_high, 400);
    ck_assert_int_ge(found_low, 400);
    free(im.px);
    /* bad arguments give errors, not crashes */
    ck_assert_int_eq(ic_heatmap_write_png(path, m, 0, 0, 1, &err), -1);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_heatmap_write_png(path, m, n, 1, 1, &err), -1);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_heatmap_write_png("/nonexistent-dir/x.png", m, n, 0, 1, &err), -1);
    ck_assert(strstr(err.msg, "/nonexistent-dir") != NULL);
    free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("heatmap");
    TCase *tc = tcase_create("heatmap");
    tcase_add_test(tc, test_heatmap_png);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
