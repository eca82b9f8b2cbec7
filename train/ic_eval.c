/* LM evaluation driver (see ic_eval.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/ic_ctx.h"
#include "ic_log.h"
#include "model/ic_teacher_batch.h"
#include "train/ic_eval.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The dense GPU path: B consecutive windows per forward. Window i still
 * feeds tokens [i*L, i*L + L) and scores [i*L + 1, i*L + L + 1), so the B
 * windows of a batch are one read of B*L + 1 tokens: the inputs are its
 * first B*L, the targets its last B*L. */
static int eval_batched(ic_ctx *ctx, const ic_weights *w, ic_token_read_fn read, void *read_ctx,
                        const ic_eval_opts *opts, long N, int B, ic_eval_result *res,
                        ic_error *err) {
    const ic_config *c = &w->cfg;
    const int L = opts->seq_len;
    if (B > N) B = (int)N;
    ic_teacher_batch tb;
    if (ic_teacher_batch_init(&tb, ctx, c, B, L, 1, err) != 0) return -1;
    const size_t cap = (size_t)B * L + 1;
    uint32_t *raw = malloc(sizeof(uint32_t) * cap);
    int32_t *tok = malloc(sizeof(int32_t) * cap);
    int rc = 0;
    if (!raw || !tok) {
        rc = ic_error_set(err, "eval: out of memory for %d windows of %d tokens", B, L);
        goto done;
    }
    double sum = 0.0, t_start = now_s();
    long scored = 0;
    for (long i = 0; i < N && rc == 0; i += B) {
        const int nb = N - i < B ? (int)(N - i) : B;
        const uint64_t off = (uint64_t)i * L;
        const size_t n = (size_t)nb * L + 1;
        if (read(read_ctx, off, n, raw, err) != 0) { rc = -1; break; }
        for (size_t t = 0; t < n; t++) {
            if (raw[t] >= (uint32_t)c->vocab_size) {
                rc = ic_error_set(err, "token %u at offset %llu is outside the model's vocabulary "
                                  "(%d): data and model do not match", raw[t],
                                  (unsigned long long)(off + t), c->vocab_size);
                break;
            }
            tok[t] = (int32_t)raw[t];
        }
        if (rc) break;
        double s;
        long k;
        if (ic_teacher_batch_run(w, &tb, tok, tok + 1, nb, L, &s, &k, err) != 0) {
            rc = -1;
            break;
        }
        sum += s;
        scored += k;
        if (opts->progress) {
            double el = now_s() - t_start, tps = (double)(i + nb) * L / el;
            ic_log_info("eval window %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs", i + nb, N,
                        sum / (double)scored, tps, (double)(N - i - nb) * L / tps);
        }
    }
    if (rc == 0) {
        res->seconds = now_s() - t_start;
        res->loss = sum / (double)scored;
        res->ppl = exp(res->loss);
        res->tokens = scored;
        res->n_windows = N;
        res->seq_len = L;
        res->tok_per_s = (double)N * L / res->seconds;
    }
done:
    free(raw);
    free(tok);
    ic_teacher_batch_free(&tb);
    return rc;
}

int ic_eval_run(ic_ctx *ctx, const ic_weights *w, ic_token_read_fn read, void *read_ctx,
                uint64_t n_total, const ic_eval_opts *opts, ic_eval_result *res, ic_error *err) {
    const ic_config *c = &w->cfg;
    const int L = opts->seq_len;
    memset(res, 0, sizeof *res);
    if (L < 1) return ic_error_set(err, "--seq-len must be at least 1, got %d", L);
    long fit = n_total > 0 ? (long)((n_total - 1) / (uint64_t)L) : 0;
    long N = opts->n_windows > 0 ? opts->n_windows : fit;
    if (N < 1 || (uint64_t)N * L + 1 > n_total)
        return ic_error_set(err, "the split holds %llu tokens: %ld window(s) of %d fit, %ld asked",
                            (unsigned long long)n_total, fit, L, N);

    /* dense on CUDA: batched by default; on the CPU only when asked (its
     * default stays the one-by-one reference) */
    if (!opts->topts && (ctx->backend == IC_BACKEND_CUDA || opts->batch > 1)) {
        int B = opts->batch > 0 ? opts->batch : IC_EVAL_BATCH_TOKENS / L;
        if (B > 1) return eval_batched(ctx, w, read, read_ctx, opts, N, B, res, err);
    }
    ic_teacher_state st;
    if (ic_teacher_state_init(&st, ctx, c, L, err) != 0) return -1;
    uint32_t *raw = malloc(sizeof(uint32_t) * ((size_t)L + 1));
    int32_t *tok = malloc(sizeof(int32_t) * ((size_t)L + 1));
    float *hidden = ic_buf_alloc(ctx, sizeof(float) * (size_t)L * c->hidden_size);
    int rc = 0;
    if (!raw || !tok || !hidden) {
        rc = ic_error_set(err, "eval: out of memory for L = %d", L);
        goto done;
    }
    double sum = 0.0, t_start = now_s();
    long scored = 0;
    for (long i = 0; i < N && rc == 0; i++) {
        uint64_t off = (uint64_t)i * L;
        if (read(read_ctx, off, (size_t)L + 1, raw, err) != 0) { rc = -1; break; }
        for (int t = 0; t <= L; t++) {
            if (raw[t] >= (uint32_t)c->vocab_size) {
                rc = ic_error_set(err, "token %u at offset %llu is outside the model's vocabulary "
                                  "(%d): data and model do not match", raw[t],
                                  (unsigned long long)(off + t), c->vocab_size);
                break;
            }
            tok[t] = (int32_t)raw[t];
        }
        if (rc) break;
        if (ic_teacher_embed(ctx, w, tok, L, hidden, err) != 0 ||
            ic_teacher_layers(w, &st, hidden, L, 0, c->n_layers, opts->topts, err) != 0) {
            rc = -1;
            break;
        }
        double s; long n;
        ic_teacher_loss(w, &st, hidden, L, tok + 1, &s, &n);   /* targets: the next tokens */
        sum += s;
        scored += n;
        if (opts->progress) {
            double el = now_s() - t_start, tps = (double)(i + 1) * L / el;
            ic_log_info("eval window %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs", i + 1, N,
                        sum / (double)scored, tps, (double)(N - i - 1) * L / tps);
        }
    }
    if (rc == 0) {
        res->seconds = now_s() - t_start;
        res->loss = sum / (double)scored;
        res->ppl = exp(res->loss);
        res->tokens = scored;
        res->n_windows = N;
        res->seq_len = L;
        res->tok_per_s = (double)N * L / res->seconds;
    }
done:
    free(raw);
    free(tok);
    ic_buf_free(ctx, hidden);
    ic_teacher_state_free(&st);
    return rc;
}

typedef struct { const uint32_t *tok; size_t n; } mem_src;

static int mem_read(void *ctx, uint64_t off, size_t n, uint32_t *dst, ic_error *err) {
    const mem_src *m = ctx;
    if (off + n > m->n)
        return ic_error_set(err, "token range [%llu, %llu) past the end (%zu)",
                            (unsigned long long)off, (unsigned long long)(off + n), m->n);
    memcpy(dst, m->tok + off, n * sizeof *dst);
    return 0;
}

int ic_eval_tokens(ic_ctx *ctx, const ic_weights *w, const uint32_t *tokens, size_t n,
                   const ic_eval_opts *opts, ic_eval_result *res, ic_error *err) {
    mem_src m = {tokens, n};
    return ic_eval_run(ctx, w, mem_read, &m, n, opts, res, err);
}
