/* train/ic_checkpoint: round trip, latest-lookup ignoring interrupted
 * writes, retention, replacement, refusals, the --resume config guard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ic_fs.h"
#include "model/ic_safetensors.h"
#include "train/ic_checkpoint.h"
#include "testutil.h"

#define NW 3

typedef struct {
    float *buf[NW], *grad[NW];
    ic_named_f32 w[NW];
    ic_param p[NW];
    ic_adamw opt;
    ic_sampler_state smp;
    json_t *config;
} run_state;

static const char *wnames[NW] = {"model.layers.0.self_attn.indexer.wq_b.weight",
                                 "model.layers.0.self_attn.indexer.k_norm.weight",
                                 "model.layers.4.self_attn.indexer.weights_proj.weight"};
static const int64_t wshape[NW][2] = {{64, 48}, {16, 0}, {4, 48}};
static const int wndim[NW] = {2, 1, 2};

static int64_t numel(int i) { return wndim[i] == 1 ? wshape[i][0] : wshape[i][0] * wshape[i][1]; }

/* A run's state after `steps` AdamW steps on random gradients. No
 * ck_assert here: the --write-sample tool mode runs outside Check. */
static void run_init(run_state *r, uint64_t seed, int steps) {
    ic_rng g; ic_rng_seed(&g, seed);
    ic_error err; ic_error_clear(&err);
    for (int i = 0; i < NW; i++) {
        r->buf[i] = malloc(numel(i) * sizeof(float));
        r->grad[i] = malloc(numel(i) * sizeof(float));
        ic_fill_normal(&g, r->buf[i], numel(i), 0.5f);
        memset(&r->w[i], 0, sizeof r->w[i]);
        r->w[i].name = wnames[i];
        r->w[i].ndim = wndim[i];
        r->w[i].shape[0] = wshape[i][0];
        r->w[i].shape[1] = wshape[i][1];
        r->w[i].data = r->buf[i];
        r->p[i] = (ic_param){wnames[i], r->buf[i], r->grad[i], numel(i), i != 1};
    }
    ic_adamw_hparams hp = ic_adamw_default_hparams();
    if (ic_adamw_init(&r->opt, ic_test_ctx(0), &hp, r->p, NW, &err)) { fprintf(stderr, "%s\n", err.msg); abort(); }
    for (int t = 0; t < steps; t++) {
        for (int i = 0; i < NW; i++) ic_fill_normal(&g, r->grad[i], numel(i), 1.0f);
        ic_adamw_step(&r->opt, r->p, NW, 1e-3);
    }
    r->smp = (ic_sampler_state){ic_rng_next(&g), 1u << 20, 256, 257, 4096 * (uint64_t)steps};
    r->config = json_pack("{s:s, s:s, s:s, s:f, s:I}", "pattern", "FSSSFSSS", "stage", "dense",
                          "loss", "multi", "lr", 1e-3, "warmup", (json_int_t)10);
}

static void run_free(run_state *r) {
    for (int i = 0; i < NW; i++) { free(r->buf[i]); free(r->grad[i]); }
    ic_adamw_free(&r->opt);
    json_decref(r->config);
}

static ic_checkpoint ck_of(run_state *r, int64_t step, uint64_t rng) {
    return (ic_checkpoint){step, r->w, NW, &r->opt, &r->smp, rng, r->config, NULL};
}

static void touch(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

START_TEST(test_round_trip) {
    const char *dir = ic_test_tmpdir("ckpt_rt");
    char out[4096];
    snprintf(out, sizeof out, "%s/run/out", dir);  /* created on save */
    run_state a; run_init(&a, 11, 5);
    ic_error err; ic_error_clear(&err);
    ic_checkpoint ck = ck_of(&a, 5, 0xfedcba9876543210ull);
    ck_assert_msg(ic_checkpoint_save(out, &ck, 0, &err) == 0, "%s", err.msg);

    /* The weights file is plain safetensors with our tensors (read with the
     * safetensors module, not through the checkpoint code). */
    char wpath[4200];
    snprintf(wpath, sizeof wpath, "%s/ckpt-5/weights.safetensors", out);
    ic_safetensors st;
    ck_assert_int_eq(ic_safetensors_open(&st, wpath, &err), 0);
    ck_assert_int_eq(st.n, NW);
    int k = ic_safetensors_find(&st, wnames[0]);
    ck_assert_int_ge(k, 0);
    ck_assert(memcmp(ic_safetensors_entry_data(&st, k), a.buf[0], numel(0) * 4) == 0);
    ic_safetensors_close(&st);

    int64_t step = -1;
    char path[4096];
    ck_assert_int_eq(ic_checkpoint_latest(out, &step, path, sizeof path, &err), 1);
    ck_assert_int_eq(step, 5);

    /* A fresh run of the same shapes, different values, restores it all. */
    run_state b; run_init(&b, 999, 0);
    ic_checkpoint cb = ck_of(&b, 0, 0);
    json_t *saved = NULL;
    ck_assert_msg(ic_checkpoint_load(path, &cb, &saved, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cb.step, 5);
    ck_assert_uint_eq(cb.rng, 0xfedcba9876543210ull);
    ck_assert(memcmp(&b.smp, &a.smp, sizeof a.smp) == 0);
    ck_assert_int_eq(b.opt.step, a.opt.step);
    for (int i = 0; i < NW; i++) {
        ck_assert(memcmp(a.buf[i], b.buf[i], numel(i) * 4) == 0);
        ck_assert(memcmp(a.opt.m[i], b.opt.m[i], numel(i) * 4) == 0);
        ck_assert(memcmp(a.opt.v[i], b.opt.v[i], numel(i) * 4) == 0);
    }
    /* Continuing both gives the same parameters bitwise. */
    ic_rng g; ic_rng_seed(&g, 3);
    for (int i = 0; i < NW; i++) {
        ic_fill_normal(&g, a.grad[i], numel(i), 1.0f);
        memcpy(b.grad[i], a.grad[i], numel(i) * 4);
    }
    ic_adamw_step(&a.opt, a.p, NW, 1e-3);
    ic_adamw_step(&b.opt, b.p, NW, 1e-3);
    for (int i = 0; i < NW; i++) ck_assert(memcmp(a.buf[i], b.buf[i], numel(i) * 4) == 0);

    /* the --resume guard */
    ck_assert_int_eq(ic_checkpoint_config_check(saved, a.config, &err), 0);
    json_t *other = json_deep_copy(a.config);
    json_object_set_new(other, "pattern", json_string("FFSSFSSS"));
    ck_assert_int_eq(ic_checkpoint_config_check(saved, other, &err), -1);
    ck_assert_msg(strstr(err.msg, "pattern = \"FSSSFSSS\"") && strstr(err.msg, "\"FFSSFSSS\""),
                  "%s", err.msg);
    ic_error_clear(&err);
    json_object_del(other, "pattern");
    ck_assert_int_eq(ic_checkpoint_config_check(saved, other, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "(unset)"));
    ic_error_clear(&err);
    json_object_set_new(other, "pattern", json_string("FSSSFSSS"));
    json_object_set_new(other, "seq_len", json_integer(512));
    ck_assert_int_eq(ic_checkpoint_config_check(saved, other, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "seq_len"));
    ic_error_clear(&err);
    json_decref(other);
    json_decref(saved);
    run_free(&a); run_free(&b);
}
END_TEST

START_TEST(test_interrupted_writes_ignored) {
    const char *dir = ic_test_tmpdir("ckpt_int");
    run_state a; run_init(&a, 5, 2);
    ic_error err; ic_error_clear(&err);
    ic_checkpoint ck = ck_of(&a, 7, 1);
    ck_assert_int_eq(ic_checkpoint_save(dir, &ck, 5, &err), 0);
    /* a crash before the rename: a temp dir of a higher step with files */
    char p[4096];
    snprintf(p, sizeof p, "%s/ckpt-9.tmp.4242", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    touch(p, "weights.safetensors", "partial");
    touch(p, "COMPLETE", "indexcache checkpoint step 9\n");
    /* a non-atomic copy: ckpt-12 with everything but the marker */
    snprintf(p, sizeof p, "%s/ckpt-12", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    touch(p, "weights.safetensors", "whatever");
    touch(p, "state.json", "{}");
    /* names that only look like checkpoints */
    snprintf(p, sizeof p, "%s/ckpt-13x", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    touch(p, "COMPLETE", "x");
    snprintf(p, sizeof p, "%s/ckpt-", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    touch(p, "COMPLETE", "x");
    touch(dir, "ckpt-14", "a file, not a directory");
    int64_t step = -1;
    char path[4096];
    ck_assert_int_eq(ic_checkpoint_latest(dir, &step, path, sizeof path, &err), 1);
    ck_assert_int_eq(step, 7);
    ck_assert_ptr_nonnull(strstr(path, "/ckpt-7"));
    /* nothing at all, and a missing dir */
    const char *empty = ic_test_tmpdir("ckpt_empty");
    ck_assert_int_eq(ic_checkpoint_latest(empty, &step, path, sizeof path, &err), 0);
    snprintf(p, sizeof p, "%s/nope", empty);
    ck_assert_int_eq(ic_checkpoint_latest(p, &step, path, sizeof path, &err), 0);
    run_free(&a);
}
END_TEST

START_TEST(test_retention_and_replace) {
    const char *dir = ic_test_tmpdir("ckpt_keep");
    run_state a; run_init(&a, 8, 1);
    ic_error err; ic_error_clear(&err);
    /* leftovers: one of a dead process (a reaped child), one of a live one */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char dead[4096], live[4096];
    snprintf(dead, sizeof dead, "%s/ckpt-3.tmp.%ld", dir, (long)child);
    snprintf(live, sizeof live, "%s/ckpt-3.tmp.%ld", dir, (long)getppid());
    ck_assert_int_eq(mkdir(dead, 0755), 0);
    ck_assert_int_eq(mkdir(live, 0755), 0);
    touch(dead, "weights.safetensors", "partial");
    for (int64_t s = 1; s <= 5; s++) {
        ic_checkpoint ck = ck_of(&a, s * 10, (uint64_t)s);
        ck_assert_msg(ic_checkpoint_save(dir, &ck, 2, &err) == 0, "%s", err.msg);
    }
    ck_assert(!exists(dir, "ckpt-10") && !exists(dir, "ckpt-20") && !exists(dir, "ckpt-30"));
    ck_assert(exists(dir, "ckpt-40") && exists(dir, "ckpt-50"));
    ck_assert(!ic_path_exists(dead));  /* a dead writer's leftover is removed */
    ck_assert(ic_path_exists(live));   /* a live process's is not */
    /* keep = 0 means the default (2); keep = 1 */
    ic_checkpoint ck1 = ck_of(&a, 60, 6);
    ck_assert_int_eq(ic_checkpoint_save(dir, &ck1, 1, &err), 0);
    ck_assert(!exists(dir, "ckpt-40") && !exists(dir, "ckpt-50") && exists(dir, "ckpt-60"));
    /* saving step 60 again replaces it, leaves no .old behind */
    a.buf[0][0] += 1.0f;
    float want = a.buf[0][0];
    ic_checkpoint ck2 = ck_of(&a, 60, 7);
    ck_assert_int_eq(ic_checkpoint_save(dir, &ck2, 1, &err), 0);
    char old[64];
    snprintf(old, sizeof old, "ckpt-60.old.%ld", (long)getpid());
    ck_assert(!exists(dir, old));
    a.buf[0][0] = 0;
    int64_t step;
    char path[4096];
    ck_assert_int_eq(ic_checkpoint_latest(dir, &step, path, sizeof path, &err), 1);
    ck_assert_int_eq(step, 60);
    ck_assert_int_eq(ic_checkpoint_load(path, &ck2, NULL, &err), 0);
    ck_assert(a.buf[0][0] == want);
    ck_assert_uint_eq(ck2.rng, 7);
    run_free(&a);
    rmdir(live);
}
END_TEST

START_TEST(test_load_refusals) {
    const char *dir = ic_test_tmpdir("ckpt_bad");
    run_state a; run_init(&a, 21, 3);
    ic_error err; ic_error_clear(&err);
    ic_checkpoint ck = ck_of(&a, 3, 9);
    ck_assert_int_eq(ic_checkpoint_save(dir, &ck, 2, &err), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpt-3", dir);

    /* another shape: refused, and the caller's buffers are untouched */
    run_state b; run_init(&b, 22, 0);
    float before = b.buf[0][0];
    b.w[2].shape[0] = 5;
    ic_checkpoint cb = ck_of(&b, 0, 0);
    ck_assert_int_eq(ic_checkpoint_load(path, &cb, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, wnames[2]) && strstr(err.msg, "[4, 48]"), "%s", err.msg);
    ck_assert(b.buf[0][0] == before);
    ic_error_clear(&err);
    b.w[2].shape[0] = 4;
    /* fewer tensors than the file holds */
    cb.n_weights = 2;
    ck_assert_int_eq(ic_checkpoint_load(path, &cb, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "holds 3 tensors"));
    ic_error_clear(&err);
    cb.n_weights = NW;
    /* other AdamW hyper-parameters */
    b.opt.hp.beta2 = 0.95;
    ck_assert_int_eq(ic_checkpoint_load(path, &cb, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "beta2"));
    ic_error_clear(&err);
    b.opt.hp.beta2 = a.opt.hp.beta2;
    ck_assert_int_eq(ic_checkpoint_load(path, &cb, NULL, &err), 0);
    /* a damaged state.json */
    char sp[4200];
    snprintf(sp, sizeof sp, "%s/state.json", path);
    FILE *f = fopen(sp, "w");
    fputs("{\"format\": \"indexcache-checkpoint\", \"format\": 1}", f);
    fclose(f);
    ck_assert_int_eq(ic_checkpoint_load(path, &cb, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "state.json"));
    run_free(&a); run_free(&b);
}
END_TEST

/* Tool mode for tests/interop/test_checkpoint_files.py: a checkpoint of
 * step 3 in DIR whose weights are exactly representable, weight i element k
 * = ((k * 7 + i) % 97 - 48) / 8, so Python can check the values. */
static int write_sample(const char *dir) {
    run_state a;
    run_init(&a, 4, 3);
    for (int i = 0; i < NW; i++)
        for (int64_t k = 0; k < numel(i); k++) a.buf[i][k] = (float)((k * 7 + i) % 97 - 48) / 8.0f;
    ic_error err; ic_error_clear(&err);
    ic_checkpoint ck = ck_of(&a, 3, 0x1234);
    int rc = ic_checkpoint_save(dir, &ck, 2, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    run_free(&a);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) return write_sample(argv[2]);
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_interrupted_writes_ignored);
    tcase_add_test(tc, test_retention_and_replace);
    tcase_add_test(tc, test_load_refusals);
    suite_add_tcase(s, tc);
    return ic_test_run_suite(s);
}
