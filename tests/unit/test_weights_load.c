/* Teacher weights from a model dir written with the safetensors writer:
 * BF16 / F16 / F32 sources converted to fp32, missing and mis-shaped
 * tensors reported by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ic_half.h"
#include "model/ic_safetensors.h"
#include "model/ic_weights.h"
#include "testutil.h"

/* A fresh scratch dir in a static buffer (ic_test_tmpdir's malloc'd path
 * shows up as a leak under LeakSanitizer). */
static const char *scratch_dir(char *buf, size_t n, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/ic_%s_XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(buf));
    return buf;
}

static void remove_dir(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static ic_config tiny(void) {
    ic_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 11; c.hidden_size = 8; c.intermediate_size = 12; c.n_layers = 2;
    c.n_heads = 2; c.n_kv_heads = 1; c.head_dim = 4; c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f; c.tie_word_embeddings = 0; c.attention_bias = 1;
    return c;
}

/* Writes every tensor of the table (dtype cycling BF16, F16, F32), keeping
 * the expected fp32 values in expect[i]; skip: a name left out; bad: a name
 * written with a wrong shape. */
static void write_dir(const char *dir, ic_weights *ref, float **expect, const char *skip,
                      const char *bad) {
    ic_error err; ic_error_clear(&err);
    ic_weight_entry tab[64];
    int n = ic_weights_tensors(ref, tab, 64);
    ic_st_tensor_in in[64];
    int64_t shapes[64][2];
    void *bufs[64];
    ic_rng r; ic_rng_seed(&r, 5);
    int m = 0;
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)tab[i].shape[0] * (tab[i].ndim == 2 ? (size_t)tab[i].shape[1] : 1);
        expect[i] = malloc(cnt * sizeof(float));
        ic_fill_normal(&r, expect[i], cnt, 1.0f);
        if (skip && strcmp(tab[i].name, skip) == 0) continue;
        ic_st_dtype dt = (ic_st_dtype[]){IC_ST_BF16, IC_ST_F16, IC_ST_F32}[i % 3];
        bufs[m] = malloc(cnt * 4);
        for (size_t j = 0; j < cnt; j++) {
            if (dt == IC_ST_BF16) { uint16_t h = ic_f32_to_bf16(expect[i][j]); ((uint16_t *)bufs[m])[j] = h; expect[i][j] = ic_bf16_to_f32(h); }
            else if (dt == IC_ST_F16) { uint16_t h = ic_f32_to_f16(expect[i][j]); ((uint16_t *)bufs[m])[j] = h; expect[i][j] = ic_f16_to_f32(h); }
            else ((float *)bufs[m])[j] = expect[i][j];
        }
        shapes[m][0] = tab[i].shape[0]; shapes[m][1] = tab[i].shape[1];
        if (bad && strcmp(tab[i].name, bad) == 0 && tab[i].ndim == 2) { shapes[m][0] = tab[i].shape[1]; shapes[m][1] = tab[i].shape[0]; }
        in[m] = (ic_st_tensor_in){tab[i].name, dt, tab[i].ndim, shapes[m], bufs[m]};
        m++;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_msg(ic_safetensors_write(path, in, m, NULL, 0, &err) == 0, "%s", err.msg);
    for (int i = 0; i < m; i++) free(bufs[i]);
}

START_TEST(test_load_dtypes) {
    ic_config c = tiny();
    ic_weights ref, w;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_init(&ref, &c, &err), 0);
    float *expect[64];
    char buf[512];
    const char *dir = scratch_dir(buf, sizeof buf, "weights");
    write_dir(dir, &ref, expect, NULL, NULL);
    ck_assert_msg(ic_weights_load_files(&w, &c, dir, &err) == 0, "%s", err.msg);
    ic_weight_entry tab[64];
    int n = ic_weights_tensors(&w, tab, 64);
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)tab[i].shape[0] * (tab[i].ndim == 2 ? (size_t)tab[i].shape[1] : 1);
        ck_assert_msg(memcmp(tab[i].dst, expect[i], cnt * 4) == 0, "%s differs", tab[i].name);
        free(expect[i]);
    }
    ck_assert(w.layers[1].bk != NULL && w.lm_head != w.embed);
    ic_weights_free(&w);
    remove_dir(dir);
    ic_weights_free(&ref);
}
END_TEST

START_TEST(test_load_faults) {
    ic_config c = tiny();
    ic_weights ref, w;
    ic_error err; ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_init(&ref, &c, &err), 0);
    float *expect[64];
    int n = ic_weights_tensors(&ref, NULL, 0);
    char b1[512], b2[512];
    const char *d1 = scratch_dir(b1, sizeof b1, "weights_missing");
    write_dir(d1, &ref, expect, "model.layers.1.self_attn.v_proj.bias", NULL);
    for (int i = 0; i < n; i++) free(expect[i]);
    ck_assert_int_eq(ic_weights_load_files(&w, &c, d1, &err), -1);
    ck_assert_msg(strstr(err.msg, "model.layers.1.self_attn.v_proj.bias") != NULL, "%s", err.msg);
    ck_assert_ptr_null(w.block);
    const char *d2 = scratch_dir(b2, sizeof b2, "weights_shape");
    write_dir(d2, &ref, expect, NULL, "model.layers.0.mlp.up_proj.weight");
    for (int i = 0; i < n; i++) free(expect[i]);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_load_files(&w, &c, d2, &err), -1);
    ck_assert_msg(strstr(err.msg, "up_proj") && strstr(err.msg, "[8, 12]"), "%s", err.msg);
    ic_error_clear(&err);
    ck_assert_int_eq(ic_weights_load_files(&w, &c, "/nonexistent/dir", &err), -1);
    ck_assert(strlen(err.msg) > 0);
    ic_weights_free(&ref);
    remove_dir(d1);
    remove_dir(d2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("weights_load");
    TCase *tc = tcase_create("weights_load");
    tcase_add_test(tc, test_load_dtypes);
    tcase_add_test(tc, test_load_faults);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
