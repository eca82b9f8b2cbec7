/* The `indexcache train` driver: data, optimizer, schedule, logging,
 * evaluation, checkpoints and the output model dir around ic_trainer. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/ic_h5tokens.h"
#include "data/ic_sampler.h"
#include "data/ic_sha256.h"
#include "ic_fs.h"
#include "ic_log.h"
#include "model/ic_model_write.h"
#include "optim/ic_clip.h"
#include "optim/ic_comm.h"
#include "optim/ic_schedule.h"
#include "train/ic_checkpoint.h"
#include "train/ic_param_hash.h"
#include "ic_preempt.h"
#include "train/ic_trainer.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_eta(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

/* Tokens [off, off + n) of a split as int32 (vocabulary checked by the
 * teacher's embedding). */
static int read_window(const ic_h5tokens *r, ic_split s, uint64_t off, size_t n, uint32_t *u,
                       int32_t *out, ic_error *err) {
    if (ic_h5tokens_read(r, s, off, n, u, err) != 0) return -1;
    for (size_t i = 0; i < n; i++) out[i] = u[i] > INT32_MAX ? -1 : (int32_t)u[i];
    return 0;
}

/* Val KL (and, sparse stage, LM loss with the pattern) over the first n val
 * windows, window i on rank i % world; sums over ranks. */
static int evaluate(ic_trainer *t, const ic_comm *comm, const ic_h5tokens *r, int L, long n,
                    uint32_t *u, int32_t *tok, ic_trainer_stats *out, ic_error *err) {
    const int rank = ic_comm_rank(comm), world = ic_comm_world(comm);
    ic_trainer_stats s = { 0 };
    const int want_lm = t->stage == IC_DISTILL_SPARSE;
    int ok = 1;
    for (long i = rank; i < n && ok; i += world) {
        if (read_window(r, IC_SPLIT_VAL, (uint64_t)i * L, (size_t)L + 1, u, tok, err) != 0 ||
            ic_trainer_window(t, tok, want_lm ? tok + 1 : NULL, L, 0, &s, err) != 0)
            ok = 0;
    }
    if (!ic_comm_all_ok(comm, ok)) return ok ? ic_error_set(err, "evaluation failed on another rank") : -1;
    double v[5] = { s.kl, s.kl_pbar, (double)s.tokens, s.nll, (double)s.n_targets };
    ic_comm_sum_f64(comm, v, 5);
    *out = (ic_trainer_stats){ v[0], v[1], (int64_t)v[2], v[3], (long)v[4] };
    return 0;
}

static void print_val(int64_t step, double kl, double kl_pbar, double lm, double secs) {
    if (ic_log_get_level() < IC_LOG_INFO) return;
    printf("val   step %5" PRId64 " | kl %.6f | kl(pbar) %.6f", step, kl, kl_pbar);
    if (!isnan(lm)) printf(" | lm loss %.4f", lm);
    printf(" | %.1f s\n", secs);
    fflush(stdout);
}

static json_t *run_config(const ic_train_opts *o, const ic_pattern *pat, int topk, int world) {
    char lit[IC_MAX_LAYERS + 8];
    ic_pattern_to_string(pat, lit, sizeof lit);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:I, s:f, s:f, s:I, s:s}",
                     "model", o->model_dir, "data", o->data_path, "pattern", lit,
                     "stage", o->stage == IC_DISTILL_SPARSE ? "sparse" : "dense",
                     "loss", o->single ? "single" : "multi", "steps", (json_int_t)o->steps,
                     "seq_len", (json_int_t)o->seq_len,
                     "global_batch", (json_int_t)o->batch * world, "lr", o->lr,
                     "min_lr", o->min_lr, "warmup", (json_int_t)o->warmup,
                     "weight_decay", o->weight_decay, "clip", o->clip,
                     "topk", (json_int_t)topk, "seed_hex", "");
}

static int precheck_config(const char *ckpt, const json_t *cur, ic_error *err) {
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/state.json", ckpt);
    json_error_t je;
    json_t *st = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    if (!st) return ic_error_set(err, "%s: %s (line %d)", p, je.text, je.line);
    const json_t *c = json_object_get(st, "config");
    int rc = c ? ic_checkpoint_config_check(c, cur, err) : 0;
    json_decref(st);
    return rc;
}

typedef struct {
    ic_named_f32 *w;
    int n;
} named_list;

static int make_named(const ic_trainer *t, named_list *nl) {
    nl->n = t->n_params;
    nl->w = calloc((size_t)nl->n, sizeof *nl->w);
    if (!nl->w) return -1;
    int p = 0;
    for (int l = 0; l < t->m->w.cfg.n_layers; l++) {
        if (!ic_pattern_is_full(&t->pat, l)) continue;
        ic_indexer_tensor tv[IC_INDEXER_N_TENSORS];
        ic_indexer_tensors(&t->m->ix[l], tv);
        for (int i = 0; i < IC_INDEXER_N_TENSORS; i++, p++) {
            nl->w[p].name = t->params[p].name;
            nl->w[p].ndim = tv[i].ndim;
            nl->w[p].shape[0] = tv[i].shape[0];
            nl->w[p].shape[1] = tv[i].shape[1];
            nl->w[p].data = tv[i].data;
        }
    }
    return 0;
}

/* The model with indexers for the F layers of pat: loaded from the dir
 * when present there, else the seeded init (as init-indexers does). */
static int load_model(ic_dsa_model *m, const ic_train_opts *o, ic_pattern *pat, int *n_init,
                      ic_error *err) {
    if (ic_dsa_model_load(m, o->model_dir, "dense", o->topk, IC_DSA_LOAD_PRESENT, err) != 0)
        return -1;
    if (ic_pattern_parse(pat, o->pattern, m->w.cfg.n_layers, err) != 0)
        return ic_error_wrap(err, "--pattern");
    if (pat->dense) return ic_error_set(err, "--pattern dense has no F layer to train");
    *n_init = 0;
    for (int l = 0; l < m->w.cfg.n_layers; l++) {
        if (!ic_pattern_is_full(pat, l)) {
            if (m->ix[l].data) ic_indexer_free(&m->ix[l]);   /* S layers keep none (s4) */
            memset(&m->ix[l], 0, sizeof m->ix[l]);
            continue;
        }
        if (m->ix[l].data) continue;
        if (ic_indexer_init(&m->ix[l], &m->idims, err) != 0) return -1;
        ic_indexer_init_random(&m->ix[l], o->seed, l);
        (*n_init)++;
    }
    m->pattern = *pat;
    return 0;
}

/* ---- the run, one function per phase ----------------------------------- */

/* Everything a run holds; run_free releases it whatever phase failed. */
typedef struct {
    const ic_train_opts *o;
    const ic_comm *comm;
    int rank, world, rank0, L;
    ic_dsa_model m;
    ic_pattern pat;
    ic_trainer t;
    ic_h5tokens r;
    ic_sampler samp;
    ic_adamw opt;
    ic_lr_schedule sched;
    named_list nl;
    uint32_t *u;              /* [L + 1] a window as read */
    int32_t *tok;             /* [L + 1] the same as ids */
    uint64_t *starts;         /* [batch] this rank's windows of a step */
    json_t *cfgj, *saved;     /* the run config; the resumed checkpoint's */
    FILE *logf;               /* train_log.jsonl (rank 0) */
    int n_init;               /* indexers seeded rather than loaded */
    long n_val;               /* val windows per evaluation */
    int64_t start;            /* first step to run (a resumed run's checkpoint step) */
    char ckdir[PATH_MAX], path[PATH_MAX];
    /* the summary: val before / after, mean throughput past the first step */
    double kl0, lm0, kl_last, lm_last, tps_sum;
    long tps_n;
    double t_run;             /* when the step loop started */
} train_run;

/* Model, data, sampler, trainer, optimizer, schedule and buffers; no output
 * is written yet. */
static int run_setup(train_run *x, ic_error *err) {
    const ic_train_opts *o = x->o;
    const int L = x->L;
    snprintf(x->ckdir, sizeof x->ckdir, "%s/checkpoints", o->out_dir);
    if (!o->eval_only && ic_is_dir(o->out_dir) && ic_same_dir(o->model_dir, o->out_dir))
        return ic_error_set(err, "--out %s is the --model dir; write the trained model elsewhere",
                            o->out_dir);
    if (load_model(&x->m, o, &x->pat, &x->n_init, err) != 0) return -1;
    /* loaded and seeded on the host; the teacher (bf16 on CUDA) and the
     * indexers (fp32: trained) now move to the context's device */
    if (ic_dsa_model_to_ctx(&x->m, o->ctx, err) != 0) return -1;
    if (ic_h5tokens_open(&x->r, o->data_path, err) != 0) return -1;
    if (x->r.vocab_size > (uint32_t)x->m.w.cfg.vocab_size)
        return ic_error_set(err, "%s: vocab_size %u exceeds the model's %d", o->data_path,
                            x->r.vocab_size, x->m.w.cfg.vocab_size);
    snprintf(x->path, sizeof x->path, "%s/tokenizer.json", o->model_dir);
    char hex[65];
    ic_error e2;
    ic_error_clear(&e2);
    if (x->rank0 && strncmp(x->r.tokenizer, "sha256:", 7) == 0 &&
        ic_sha256_file(x->path, hex, &e2) == 0 && strcmp(x->r.tokenizer + 7, hex) != 0)
        ic_log_warn("%s was tokenized with %s, but %s has sha256:%s", o->data_path, x->r.tokenizer,
                    x->path, hex);
    if (ic_sampler_init(&x->samp, ic_h5tokens_len(&x->r, IC_SPLIT_TRAIN), (uint64_t)L, 0, o->batch,
                        x->rank, x->world, o->seed, err) != 0)
        return -1;
    uint64_t n_val_tok = ic_h5tokens_len(&x->r, IC_SPLIT_VAL);
    x->n_val = n_val_tok > 0 ? (long)((n_val_tok - 1) / (uint64_t)L) : 0;
    if (o->eval_batches < x->n_val) x->n_val = o->eval_batches;
    if (x->n_val == 0 && x->rank0)
        ic_log_warn("%s: the val split holds no window of %d + 1 tokens: no validation", o->data_path, L);

    if (ic_trainer_init(&x->t, o->ctx, &x->m, &x->pat, o->stage, o->single, L, err) != 0)
        return -1;
    ic_adamw_hparams hp = ic_adamw_default_hparams();
    hp.weight_decay = o->weight_decay;
    if (ic_adamw_init(&x->opt, o->ctx, &hp, x->t.params, x->t.n_params, err) != 0) return -1;
    x->sched = (ic_lr_schedule){ o->lr, o->min_lr, o->warmup, o->steps };
    if (ic_lr_schedule_check(&x->sched, err) != 0) return -1;
    if (make_named(&x->t, &x->nl) != 0) return ic_error_set(err, "out of memory");
    x->u = malloc(((size_t)L + 1) * sizeof *x->u);
    x->tok = malloc(((size_t)L + 1) * sizeof *x->tok);
    x->starts = malloc((size_t)o->batch * sizeof *x->starts);
    x->cfgj = run_config(o, &x->pat, x->m.topk, x->world);
    if (!x->u || !x->tok || !x->starts || !x->cfgj) return ic_error_set(err, "out of memory");
    json_object_set_new(x->cfgj, "seed_hex", json_sprintf("0x%016" PRIx64, o->seed));
    return 0;
}

/* --eval-only: the val KL of the model's indexers as they are (JSON on
 * stdout, rank 0); writes nothing. */
static int run_eval_only(train_run *x, ic_error *err) {
    const ic_train_opts *o = x->o;
    ic_trainer_stats ev;
    if (x->n_val == 0) return ic_error_set(err, "--eval-only: the val split holds no window");
    if (evaluate(&x->t, x->comm, &x->r, x->L, x->n_val, x->u, x->tok, &ev, err) != 0) return -1;
    if (x->rank0) {
        printf("{\"val_kl\": %.8f, \"val_kl_pbar\": %.8f, \"tokens\": %lld, \"loss\": \"%s\", "
               "\"stage\": \"%s\"", ev.kl / (double)ev.tokens, ev.kl_pbar / (double)ev.tokens,
               (long long)ev.tokens, o->single ? "single" : "multi",
               o->stage == IC_DISTILL_SPARSE ? "sparse" : "dense");
        if (ev.n_targets) printf(", \"val_lm\": %.8f", ev.nll / (double)ev.n_targets);
        printf("}\n");
    }
    return 0;
}

/* Where to start: a fresh run (x->start = 0), or the newest complete
 * checkpoint (weights, optimizer and sampler restored from it). */
static int run_find_start(train_run *x, ic_error *err) {
    const ic_train_opts *o = x->o;
    int64_t ck_step = 0;
    x->start = 0;
    int have = ic_checkpoint_latest(x->ckdir, &ck_step, x->path, sizeof x->path, err);
    if (have < 0) return -1;
    if (have && !o->resume)
        return ic_error_set(err, "%s already holds checkpoints (newest: step %" PRId64 "): pass "
                            "--resume to continue, or choose another --out", x->ckdir, ck_step);
    if (have) {
        ic_sampler_state sst;
        ic_checkpoint ck = { .weights = x->nl.w, .n_weights = x->nl.n, .opt = &x->opt,
                             .sampler = &sst, .ctx = o->ctx };
        /* the run-config guard first: a changed pattern would otherwise show
         * up as a confusing missing-tensor error */
        if (precheck_config(x->path, x->cfgj, err) != 0) return -1;
        if (ic_checkpoint_load(x->path, &ck, &x->saved, err) != 0) return -1;
        if (ic_checkpoint_config_check(x->saved, x->cfgj, err) != 0) return -1;
        if (ic_sampler_restore(&x->samp, &sst, err) != 0) return -1;
        x->start = ck.step;
        if (x->rank0) ic_log_info("train: resuming from %s (step %" PRId64 ")", x->path, x->start);
    } else if (o->resume && x->rank0) {
        ic_log_info("train: --resume: no checkpoint in %s yet, starting at step 0", x->ckdir);
    }
    if (x->start > o->steps)
        return ic_error_set(err, "the checkpoint is at step %" PRId64 ", past --steps %ld", x->start,
                            o->steps);
    return 0;
}

/* The run's description (rank 0) and its log file; every rank learns
 * whether rank 0 managed. */
static int run_open_output(train_run *x, ic_error *err) {
    const ic_train_opts *o = x->o;
    const ic_dsa_model *m = &x->m;
    const ic_indexer_dims *id = &m->idims;
    const int L = x->L;
    if (x->rank0) {
        char lit[IC_MAX_LAYERS + 8];
        ic_log_info("train: %s -> %s, pattern %s (%d F of %d layers), stage %s, loss %s",
                    o->model_dir, o->out_dir, ic_pattern_to_string(&x->pat, lit, sizeof lit),
                    ic_pattern_n_full(&x->pat), m->w.cfg.n_layers,
                    o->stage == IC_DISTILL_SPARSE ? "sparse" : "dense", o->single ? "single" : "multi");
        ic_log_info("train: indexer H_I=%d d_I=%d rope=%d, K=%d, %d F-layer indexers seeded (seed %" PRIu64
                    "), %zu parameters each", id->n_heads, id->head_dim, id->rope_dim, m->topk,
                    x->n_init, o->seed, m->ix[ic_pattern_source(&x->pat, 0)].numel);
        ic_log_info("train: %d rank(s) x batch %d x L %d = %ld tokens/step, %" PRIu64
                    " train windows, %ld val windows, lr %.3g -> %.3g (warm-up %ld), clip %.3g, wd %.3g",
                    x->world, o->batch, L, (long)x->world * o->batch * L,
                    ic_sampler_n_windows(&x->samp), x->n_val, o->lr, o->min_lr, o->warmup, o->clip,
                    o->weight_decay);
        /* a failure here returns before the collective below: with more
         * than one rank the caller ends the job (ic_dist_fail) */
        if (ic_mkdir_p(o->out_dir, err) != 0) return -1;
        snprintf(x->path, sizeof x->path, "%s/train_log.jsonl", o->out_dir);
        if (!(x->logf = fopen(x->path, x->start > 0 ? "a" : "w")))
            return ic_error_set(err, "%s: cannot open for writing", x->path);
    }
    if (!ic_comm_all_ok(x->comm, x->logf != NULL || !x->rank0)) {
        if (!x->rank0) ic_error_set(err, "rank 0 failed to set up its output");
        return -1;
    }
    return 0;
}

/* Validation after `step` steps (when the val split has windows): stats
 * into *kl, *lm (NaN without LM targets), printed and logged by rank 0. */
static int run_validate(train_run *x, int64_t step, double *kl, double *lm, ic_error *err) {
    if (x->n_val <= 0) return 0;
    ic_trainer_stats ev;
    double t0 = now_s();
    if (evaluate(&x->t, x->comm, &x->r, x->L, x->n_val, x->u, x->tok, &ev, err) != 0) return -1;
    *kl = ev.kl / (double)ev.tokens;
    *lm = ev.n_targets ? ev.nll / (double)ev.n_targets : NAN;
    if (x->rank0) {
        print_val(step, *kl, ev.kl_pbar / (double)ev.tokens, *lm, now_s() - t0);
        fprintf(x->logf, "{\"step\": %" PRId64 ", \"val_kl\": %.17g, \"val_lm\": %.17g}\n", step,
                *kl, isnan(*lm) ? -1.0 : *lm);
        fflush(x->logf);
    }
    return 0;
}

/* One optimizer step (step is 0-based): this rank's windows, the averaged
 * gradients, the clip, AdamW; the step line and its log row. */
static int run_step(train_run *x, int64_t step, ic_error *err) {
    const ic_train_opts *o = x->o;
    const int L = x->L;
    double t0 = now_s();
    ic_sampler_next(&x->samp, x->starts);
    if (ic_log_get_level() >= IC_LOG_VERBOSE) {
        /* one write per line: the ranks share the terminal */
        char line[4096];
        int n = snprintf(line, sizeof line, "[rank %d] step %" PRId64 " windows:", x->rank, step + 1);
        for (int b = 0; b < o->batch && n < (int)sizeof line - 24; b++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %" PRIu64, x->starts[b]);
        fprintf(stderr, "%s\n", line);
    }
    ic_trainer_zero_grads(&x->t);
    ic_trainer_stats s = { 0 };
    int ok = 1;
    for (int b = 0; b < o->batch && ok; b++)
        if (read_window(&x->r, IC_SPLIT_TRAIN, x->starts[b], (size_t)L, x->u, x->tok, err) != 0 ||
            ic_trainer_window(&x->t, x->tok, NULL, L, 1, &s, err) != 0)
            ok = 0;
    if (!ic_comm_all_ok(x->comm, ok)) {
        if (ok) ic_error_set(err, "step %" PRId64 " failed on another rank", step + 1);
        return -1;
    }
    /* every rank holds B*L tokens: mean over ranks of the per-rank mean */
    ic_trainer_scale_grads(&x->t, (float)(1.0 / (double)s.tokens));
    ic_trainer_allreduce_grads(&x->t, x->comm);
    double kl_sum = ic_comm_sum1_f64(x->comm, s.kl);
    double loss = kl_sum / ic_comm_sum1_f64(x->comm, (double)s.tokens);
    double norm = ic_grad_clip(o->ctx, x->t.params, x->t.n_params, o->clip);
    if (!isfinite(norm) || !isfinite(loss))
        return ic_error_set(err, "step %" PRId64 ": non-finite loss %g / gradient norm %g", step + 1,
                            loss, norm);
    double lr = ic_lr_at(&x->sched, step);
    ic_adamw_step(&x->opt, x->t.params, x->t.n_params, lr);
    double dt = ic_comm_max1_f64(x->comm, now_s() - t0);
    double tps = (double)x->world * o->batch * L / dt;
    if (step > x->start) { x->tps_sum += tps; x->tps_n++; }   /* the first step warms caches */
    if (x->rank0 && ic_log_get_level() >= IC_LOG_INFO) {
        char eta[32];
        fmt_eta(eta, sizeof eta, (now_s() - x->t_run) / (double)(step + 1 - x->start) *
                                     (double)(o->steps - step - 1));
        printf("step %5" PRId64 "/%ld | loss %.6f | norm %.4f | lr %.2e | %8.1f ms | %7.0f tok/s | eta %s\n",
               step + 1, o->steps, loss, norm, lr, 1e3 * dt, tps, eta);
        fflush(stdout);
    }
    if (x->rank0) {
        fprintf(x->logf, "{\"step\": %" PRId64 ", \"loss\": %.17g, \"grad_norm\": %.17g, \"lr\": %.17g, "
                "\"ms\": %.3f}\n", step + 1, loss, norm, lr, 1e3 * dt);
        fflush(x->logf);
    }
    return 0;
}

/* The checkpoint after `done` steps (rank 0 writes; every rank learns
 * whether it worked). */
static int run_checkpoint(train_run *x, int64_t done, ic_error *err) {
    int wok = 1;
    if (x->rank0) {
        ic_sampler_state sst = ic_sampler_save(&x->samp);
        ic_checkpoint ck = { .step = done, .weights = x->nl.w, .n_weights = x->nl.n, .opt = &x->opt,
                             .sampler = &sst, .rng = x->o->seed, .config = x->cfgj,
                             .ctx = x->o->ctx };
        wok = ic_checkpoint_save(x->ckdir, &ck, x->o->keep_ckpts, err) == 0;
        if (wok) ic_log_info("checkpoint: %s/ckpt-%" PRId64, x->ckdir, done);
    }
    if (!ic_comm_all_ok(x->comm, wok)) {
        if (wok) ic_error_set(err, "rank 0 failed to write the checkpoint");
        return -1;
    }
    return 0;
}

/* The steps from x->start; after the last one, at --stop-after and every
 * --eval-every steps: validation and a checkpoint. *stopped: ended early at
 * --stop-after. */
static int run_steps(train_run *x, int *stopped, ic_error *err) {
    const ic_train_opts *o = x->o;
    *stopped = 0;
    x->t_run = now_s();
    for (int64_t step = x->start; step < o->steps; step++) {
        if (run_step(x, step, err) != 0) return -1;
        const int last = step + 1 == o->steps;
        const int stop = o->stop_after > 0 && step + 1 == o->stop_after;
        const int periodic = o->eval_every > 0 && (step + 1) % o->eval_every == 0;
        /* preemption (core/ic_preempt.h): a signal on any rank stops every
         * rank here, after a checkpoint; validation only where a straight
         * run would validate, so that the resumed log matches it */
        const int sig = ic_preempt_pending();
        const int preempt = !last && !ic_comm_all_ok(x->comm, !sig);
        if (!(last || stop || periodic || preempt)) continue;
        if ((last || stop || periodic) &&
            run_validate(x, step + 1, &x->kl_last, &x->lm_last, err) != 0) return -1;
        if (run_checkpoint(x, step + 1, err) != 0) return -1;
        if (preempt) {
            if (x->rank0)   /* a warning: shown under --quiet too */
                ic_log_warn("train: %s received: stopped after step %" PRId64 " with a checkpoint "
                            "in %s; continue with --resume",
                            sig ? ic_preempt_name(sig) : "SIGTERM / SIGUSR1 on another rank",
                            step + 1, x->ckdir);
            *stopped = 1;
            return 0;
        }
        if (stop && !last) {
            if (x->rank0) ic_log_info("train: stopping after step %ld (--stop-after)", o->stop_after);
            *stopped = 1;
            return 0;
        }
    }
    return 0;
}

/* The model dir of the result and the summary table (rank 0). */
static int run_finish(train_run *x, ic_error *err) {
    const ic_train_opts *o = x->o;
    int wok = 1;
    if (x->rank0) {
        wok = ic_model_dir_write(o->model_dir, o->out_dir, &x->m.w.cfg, &x->pat, x->m.topk, x->m.ix,
                                 err) == 0;
        if (wok && ic_log_get_level() >= IC_LOG_INFO) {
            printf("\n%-28s %-12s %-12s\n", "summary", "before", "after");
            printf("%-28s %-12.6f %-12.6f\n", "val KL (per token)", x->kl0, x->kl_last);
            if (o->stage == IC_DISTILL_SPARSE)
                printf("%-28s %-12.4f %-12.4f\n", "val LM loss (pattern)", x->lm0, x->lm_last);
            printf("%-28s %-12.0f\n", "train tokens/s (mean)", x->tps_n ? x->tps_sum / x->tps_n : 0.0);
            printf("model dir: %s (config.json, model.safetensors, tokenizer); checkpoints: %s; "
                   "log: %s/train_log.jsonl\n", o->out_dir, x->ckdir, o->out_dir);
            if (x->start > 0) printf("(\"before\" is not measured on a resumed run)\n");
        }
    }
    if (!ic_comm_all_ok(x->comm, wok)) {
        if (wok) ic_error_set(err, "rank 0 failed to write the model dir");
        return -1;
    }
    return 0;
}

static void run_free(train_run *x) {
    if (x->logf) fclose(x->logf);
    json_decref(x->cfgj);
    json_decref(x->saved);
    free(x->nl.w);
    free(x->u);
    free(x->tok);
    free(x->starts);
    ic_adamw_free(&x->opt);
    ic_trainer_free(&x->t);
    ic_sampler_free(&x->samp);
    if (x->r.file > 0) ic_h5tokens_close(&x->r);
    ic_dsa_model_free(&x->m);
}

int ic_train_run(const ic_train_opts *o, ic_error *err) {
    train_run *x = calloc(1, sizeof *x);
    if (!x) return ic_error_set(err, "out of memory");
    x->o = o;
    x->comm = o->comm;
    x->rank = ic_comm_rank(o->comm);
    x->world = ic_comm_world(o->comm);
    x->rank0 = x->rank == 0;
    x->L = o->seq_len;
    x->kl0 = x->lm0 = x->kl_last = x->lm_last = NAN;
    int rc = -1, stopped = 0;
    if (run_setup(x, err) != 0) goto out;
    if (o->eval_only) {
        rc = run_eval_only(x, err);
        goto out;
    }
    if (run_find_start(x, err) != 0 || run_open_output(x, err) != 0) goto out;
    if (x->start == 0 && run_validate(x, 0, &x->kl0, &x->lm0, err) != 0) goto out;
    if (run_steps(x, &stopped, err) != 0) goto out;
    ic_trainer_report_param_hash(&x->t, x->comm);   /* every rank: identical parameters */
    if (!stopped && run_finish(x, err) != 0) goto out;
    rc = 0;
out:
    run_free(x);
    free(x);
    return rc;
}
