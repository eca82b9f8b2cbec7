/* indexcache generate --model DIR --prompt TEXT [--tokens N]: greedy
 * decoding of the dense teacher with a KV cache (a sanity check of the
 * model and the tokenizer). The prompt is encoded with DIR/tokenizer.json
 * as is (no BOS is added: Llama-family chat models such as SmolLM2 do not
 * add one either). --prompt-ids and --dump-logits exist for tests: the
 * first skips the tokenizer, the second writes the fp32 logits [n, V] of
 * the prompt's full (prefill) forward to FILE and generates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/ic_tokenizer.h"
#include "ic_alloc.h"
#include "ic_commands.h"
#include "kernels/ic_ctx.h"
#include "ic_fs.h"
#include "launch/ic_args.h"
#include "model/ic_teacher.h"

static const char *model_dir, *prompt, *prompt_ids, *dump_path;
static long long n_new;

static const ic_arg_spec k_args[] = {
    {"--model", IC_ARG_STRING, &model_dir, "DIR", "model dir (config.json, *.safetensors, tokenizer.json)", 1, 0, 0},
    {"--prompt", IC_ARG_STRING, &prompt, "TEXT", "text to continue", 0, 0, 0},
    {"--tokens", IC_ARG_INT, &n_new, "N", "tokens to generate (default 32)", 0, 0, 1e6},
    {"--prompt-ids", IC_ARG_STRING, &prompt_ids, "ID,ID,...", "(testing) token ids instead of --prompt", 0, 0, 0},
    {"--dump-logits", IC_ARG_STRING, &dump_path, "FILE", "(testing) write the prompt's logits [n, V] as little-endian f32 and stop", 0, 0, 0},
};
static const ic_cmd_spec k_cmd = {
    "generate", "--model DIR --prompt TEXT [--tokens N]",
    "Greedy decoding of the dense teacher with a KV cache; prints the prompt's continuation.\n"
    "Stops after N tokens or at the end-of-sequence token.",
    k_args, (int)(sizeof k_args / sizeof k_args[0]), NULL, 0, 0,
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_ids(const char *s, ic_ids *out, ic_error *err) {
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || v > 0x7fffffffLL)
            return ic_error_set(err, "--prompt-ids: bad token id at \"%.20s\"", s);
        if (ic_ids_push(out, (uint32_t)v, err) != 0) return -1;
        s = end;
        if (*s == ',') s++;
        else if (*s) return ic_error_set(err, "--prompt-ids: expected ',' at \"%.20s\"", s);
    }
    return 0;
}

/* Full forward of the prompt, logits [n, V] (fp32, whatever the context
 * computes in) to dump_path. */
static int dump_logits(ic_ctx *ctx, const ic_weights *w, const int32_t *ids, int n,
                       ic_error *err) {
    const ic_config *c = &w->cfg;
    ic_teacher_state st;
    if (ic_teacher_state_init(&st, ctx, c, n, err) != 0) return -1;
    const size_t nl = (size_t)n * c->vocab_size, lbytes = sizeof(float) * nl;
    float *hidden = ic_buf_alloc(ctx, sizeof(float) * (size_t)n * c->hidden_size);
    float *logits = ic_buf_alloc(ctx, lbytes);
    float *host = malloc(lbytes);   /* what is written to the file */
    uint16_t *stage = malloc(nl * sizeof *stage);
    int rc = -1;
    if (!hidden || !logits || !host || !stage)
        ic_error_set(err, "out of memory for the logits of %d tokens", n);
    else if (ic_teacher_embed(ctx, w, ids, n, hidden, err) == 0 &&
             ic_teacher_layers(w, &st, hidden, n, 0, c->n_layers, NULL, err) == 0) {
        ic_teacher_logits(w, &st, hidden, n, logits);
        ic_buf_download_f32(ctx, st.dt, host, logits, nl, stage);
        rc = ic_write_file_atomic(dump_path, host, lbytes, err);
    }
    ic_buf_free(ctx, hidden);
    ic_buf_free(ctx, logits);
    free(host);
    free(stage);
    ic_teacher_state_free(&st);
    return rc;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static int run(ic_error *err) {
    ic_weights w, wdev;
    const ic_weights *wc = NULL;   /* the weights the context's ops read */
    ic_tokenizer *tok = NULL;
    ic_ids ids = {0};
    ic_kv_cache kc;
    float *logits = NULL;
    int32_t *ids32 = NULL;
    int rc = -1;
    memset(&kc, 0, sizeof kc);
    memset(&wdev, 0, sizeof wdev);
    ic_ctx *ctx = ic_cmd_ctx_for(IC_NEED_TEACHER);
    if (ic_weights_load(&w, model_dir, err) != 0) return -1;
    if (ic_weights_on_ctx(&w, ctx, &wdev, &wc, err) != 0) {
        ic_weights_free(&w);
        return -1;
    }
    const int V = w.cfg.vocab_size;
    if (!dump_path || prompt) {   /* the tokenizer is needed to encode or to print */
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
        if (ic_tokenizer_init(&tok, path, err) != 0) goto out;
    }
    if (prompt_ids ? parse_ids(prompt_ids, &ids, err)
                   : ic_tokenizer_encode(tok, prompt, strlen(prompt), &ids, err)) goto out;
    if (ids.n == 0) { ic_error_set(err, "the prompt is empty"); goto out; }
    ids32 = malloc(sizeof(int32_t) * ids.n);
    if (!ids32) { ic_error_set(err, "out of memory"); goto out; }
    for (size_t i = 0; i < ids.n; i++) {
        if (ids.ids[i] >= (uint32_t)V) {
            ic_error_set(err, "prompt token %u is outside the model's vocabulary (%d)", ids.ids[i], V);
            goto out;
        }
        ids32[i] = (int32_t)ids.ids[i];
    }
    if (dump_path) { rc = dump_logits(ctx, wc, ids32, (int)ids.n, err); goto out; }

    const int n_prompt = (int)ids.n;
    if (ic_kv_cache_init(&kc, ctx, &w.cfg, n_prompt + (int)n_new, err) != 0) goto out;
    logits = malloc(sizeof(float) * (size_t)V);
    if (!logits) { ic_error_set(err, "out of memory"); goto out; }
    double t0 = now_s();
    for (int i = 0; i < n_prompt; i++)   /* prefill through the cache */
        if (ic_teacher_decode_step(wc, &kc, ids32[i], logits, err) != 0) goto out;
    double t1 = now_s();
    int64_t eos = ic_tokenizer_eos_id(tok);
    size_t first_new = ids.n;
    for (long long i = 0; i < n_new; i++) {
        int next = argmax(logits, V);
        if (next == eos) break;
        if (ic_ids_push(&ids, (uint32_t)next, err) != 0) goto out;
        if (i + 1 < n_new && ic_teacher_decode_step(wc, &kc, next, logits, err) != 0) goto out;
    }
    double t2 = now_s();
    size_t len;
    char *text = ic_tokenizer_decode(tok, ids.ids + first_new, ids.n - first_new, &len, err);
    if (!text) goto out;
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    free(text);
    fprintf(stderr, "generate: %d prompt tokens (%.1f tok/s), %zu new tokens (%.1f tok/s)\n",
            n_prompt, n_prompt / (t1 - t0), ids.n - first_new,
            (double)(ids.n - first_new) / (t2 - t1 > 0 ? t2 - t1 : 1e-9));
    rc = 0;
out:
    free(logits);
    free(ids32);
    ic_ids_free(&ids);
    ic_kv_cache_free(&kc);
    ic_tokenizer_free(tok);
    ic_weights_free(&wdev);
    ic_weights_free(&w);
    return rc;
}

int ic_cmd_generate(int argc, char **argv) {
    int status = 0, npos = 0;
    model_dir = prompt = prompt_ids = dump_path = NULL;
    n_new = 32;
    if (ic_args_run(&k_cmd, argc, argv, NULL, &npos, &status)) return status;
    ic_error err;
    ic_error_clear(&err);
    if (!prompt == !prompt_ids) {
        fprintf(stderr, "indexcache generate: give exactly one of --prompt and --prompt-ids (see --help)\n");
        return 2;
    }
    if (run(&err) != 0) {
        fprintf(stderr, "indexcache generate: %s\n", err.msg);
        return 1;
    }
    return 0;
}
