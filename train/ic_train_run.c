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
#include "launch/ic_dist.h"
#include "model/ic_model_write.h"
#include "optim/ic_clip.h"
#include "optim/ic_schedule.h"
#include "train/ic_checkpoint.h"
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
static int evaluate(ic_trainer *t, const ic_h5tokens *r, int L, long n, uint32_t *u, int32_t *tok,
                    ic_trainer_stats *out, ic_error *err) {
    const ic_dist *d = ic_dist_get();
    ic_trainer_stats s = { 0 };
    const int want_lm = t->stage == IC_DISTILL_SPARSE;
    int ok = 1;
    for (long i = d->rank; i < n && ok; i += d->world) {
        if (read_window(r, IC_SPLIT_VAL, (uint64_t)i * L, (size_t)L + 1, u, tok, err) != 0 ||
            ic_trainer_window(t, tok, want_lm ? tok + 1 : NULL, L, 0, &s, err) != 0)
            ok = 0;
    }
    if (!ic_dist_all_ok(ok)) return ok ? ic_error_set(err, "evaluation failed on another rank") : -1;
    double v[5] = { s.kl, s.kl_pbar, (double)s.tokens, s.nll, (double)s.n_targets };
    ic_dist_allreduce_sum_f64(v, 5);
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

int ic_train_run(const ic_train_opts *o, ic_error *err) {
    const ic_dist *d = ic_dist_get();
    const int rank0 = d->rank == 0, L = o->seq_len;
    const int verbose = ic_log_get_level() >= IC_LOG_VERBOSE;
    ic_dsa_model m;
    ic_pattern pat;
    ic_trainer t;
    ic_h5tokens r;
    ic_sampler samp;
    ic_adamw opt;
    named_list nl = { 0 };
    memset(&t, 0, sizeof t);
    memset(&r, 0, sizeof r);
    memset(&samp, 0, sizeof samp);
    memset(&opt, 0, sizeof opt);
    memset(&m, 0, sizeof m);
    uint32_t *u = NULL;
    int32_t *tok = NULL;
    uint64_t *starts = NULL;
    json_t *cfgj = NULL, *saved = NULL;
    FILE *logf = NULL;
    int rc = -1, n_init = 0;
    char ckdir[PATH_MAX], path[PATH_MAX];
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", o->out_dir);

    if (!o->eval_only && ic_is_dir(o->out_dir) && ic_same_dir(o->model_dir, o->out_dir)) {
        ic_error_set(err, "--out %s is the --model dir; write the trained model elsewhere", o->out_dir);
        goto out;
    }
    if (load_model(&m, o, &pat, &n_init, err) != 0) goto out;
    if (ic_h5tokens_open(&r, o->data_path, err) != 0) goto out;
    if (r.vocab_size > (uint32_t)m.w.cfg.vocab_size) {
        ic_error_set(err, "%s: vocab_size %u exceeds the model's %d", o->data_path, r.vocab_size,
                     m.w.cfg.vocab_size);
        goto out;
    }
    snprintf(path, sizeof path, "%s/tokenizer.json", o->model_dir);
    char hex[65];
    ic_error e2;
    ic_error_clear(&e2);
    if (rank0 && strncmp(r.tokenizer, "sha256:", 7) == 0 && ic_sha256_file(path, hex, &e2) == 0 &&
        strcmp(r.tokenizer + 7, hex) != 0)
        ic_log_warn("%s was tokenized with %s, but %s has sha256:%s", o->data_path, r.tokenizer,
                    path, hex);
    if (ic_sampler_init(&samp, ic_h5tokens_len(&r, IC_SPLIT_TRAIN), (uint64_t)L, 0, o->batch,
                        d->rank, d->world, o->seed, err) != 0)
        goto out;
    uint64_t n_val_tok = ic_h5tokens_len(&r, IC_SPLIT_VAL);
    long n_val = n_val_tok > 0 ? (long)((n_val_tok - 1) / (uint64_t)L) : 0;
    if (o->eval_batches < n_val) n_val = o->eval_batches;
    if (n_val == 0 && rank0)
        ic_log_warn("%s: the val split holds no window of %d + 1 tokens: no validation", o->data_path, L);

    if (ic_trainer_init(&t, &m, &pat, o->stage, o->single, L, err) != 0) goto out;
    ic_adamw_hparams hp = ic_adamw_default_hparams();
    hp.weight_decay = o->weight_decay;
    if (ic_adamw_init(&opt, &hp, t.params, t.n_params, err) != 0) goto out;
    ic_lr_schedule sched = { o->lr, o->min_lr, o->warmup, o->steps };
    if (ic_lr_schedule_check(&sched, err) != 0) goto out;
    if (make_named(&t, &nl) != 0) { ic_error_set(err, "out of memory"); goto out; }
    u = malloc(((size_t)L + 1) * sizeof *u);
    tok = malloc(((size_t)L + 1) * sizeof *tok);
    starts = malloc((size_t)o->batch * sizeof *starts);
    cfgj = run_config(o, &pat, m.topk, d->world);
    if (!u || !tok || !starts || !cfgj) { ic_error_set(err, "out of memory"); goto out; }
    json_object_set_new(cfgj, "seed_hex", json_sprintf("0x%016" PRIx64, o->seed));

    if (o->eval_only) {   /* val KL of the model's indexers as they are; writes nothing */
        ic_trainer_stats ev;
        if (n_val == 0) { ic_error_set(err, "--eval-only: the val split holds no window"); goto out; }
        if (evaluate(&t, &r, L, n_val, u, tok, &ev, err) != 0) goto out;
        if (rank0) {
            printf("{\"val_kl\": %.8f, \"val_kl_pbar\": %.8f, \"tokens\": %lld, \"loss\": \"%s\", "
                   "\"stage\": \"%s\"", ev.kl / (double)ev.tokens, ev.kl_pbar / (double)ev.tokens,
                   (long long)ev.tokens, o->single ? "single" : "multi",
                   o->stage == IC_DISTILL_SPARSE ? "sparse" : "dense");
            if (ev.n_targets) printf(", \"val_lm\": %.8f", ev.nll / (double)ev.n_targets);
            printf("}\n");
        }
        rc = 0;
        goto out;
    }
    /* Where to start: a fresh run, or the newest complete checkpoint. */
    int64_t start = 0, ck_step = 0;
    int have = ic_checkpoint_latest(ckdir, &ck_step, path, sizeof path, err);
    if (have < 0) goto out;
    if (have && !o->resume) {
        ic_error_set(err, "%s already holds checkpoints (newest: step %" PRId64 "): pass --resume "
                     "to continue, or choose another --out", ckdir, ck_step);
        goto out;
    }
    if (have) {
        ic_sampler_state sst;
        ic_checkpoint ck = { .weights = nl.w, .n_weights = nl.n, .opt = &opt, .sampler = &sst };
        /* the run-config guard first: a changed pattern would otherwise show
         * up as a confusing missing-tensor error */
        if (precheck_config(path, cfgj, err) != 0) goto out;
        if (ic_checkpoint_load(path, &ck, &saved, err) != 0) goto out;
        if (ic_checkpoint_config_check(saved, cfgj, err) != 0) goto out;
        if (ic_sampler_restore(&samp, &sst, err) != 0) goto out;
        start = ck.step;
        if (rank0) ic_log_info("train: resuming from %s (step %" PRId64 ")", path, start);
    } else if (o->resume && rank0) {
        ic_log_info("train: --resume: no checkpoint in %s yet, starting at step 0", ckdir);
    }
    if (start > o->steps) {
        ic_error_set(err, "the checkpoint is at step %" PRId64 ", past --steps %ld", start, o->steps);
        goto out;
    }

    const ic_indexer_dims *id = &m.idims;
    if (rank0) {
        char lit[IC_MAX_LAYERS + 8];
        ic_log_info("train: %s -> %s, pattern %s (%d F of %d layers), stage %s, loss %s",
                    o->model_dir, o->out_dir, ic_pattern_to_string(&pat, lit, sizeof lit),
                    ic_pattern_n_full(&pat), m.w.cfg.n_layers,
                    o->stage == IC_DISTILL_SPARSE ? "sparse" : "dense", o->single ? "single" : "multi");
        ic_log_info("train: indexer H_I=%d d_I=%d rope=%d, K=%d, %d F-layer indexers seeded (seed %" PRIu64
                    "), %zu parameters each", id->n_heads, id->head_dim, id->rope_dim, m.topk, n_init,
                    o->seed, m.ix[ic_pattern_source(&pat, 0)].numel);
        ic_log_info("train: %d rank(s) x batch %d x L %d = %ld tokens/step, %" PRIu64
                    " train windows, %ld val windows, lr %.3g -> %.3g (warm-up %ld), clip %.3g, wd %.3g",
                    d->world, o->batch, L, (long)d->world * o->batch * L, ic_sampler_n_windows(&samp),
                    n_val, o->lr, o->min_lr, o->warmup, o->clip, o->weight_decay);
        if (ic_mkdir_p(o->out_dir, err) != 0) goto out;
        snprintf(path, sizeof path, "%s/train_log.jsonl", o->out_dir);
        if (!(logf = fopen(path, start > 0 ? "a" : "w"))) {
            ic_error_set(err, "%s: cannot open for writing", path);
            goto out;
        }
    }
    if (!ic_dist_all_ok(logf != NULL || !rank0)) {
        if (!rank0) ic_error_set(err, "rank 0 failed to set up its output");
        goto out;
    }

    double kl0 = NAN, lm0 = NAN, kl_last = NAN, lm_last = NAN, tps_sum = 0;
    long tps_n = 0;
    if (start == 0 && n_val > 0) {
        ic_trainer_stats ev;
        double t0 = now_s();
        if (evaluate(&t, &r, L, n_val, u, tok, &ev, err) != 0) goto out;
        kl0 = ev.kl / (double)ev.tokens;
        lm0 = ev.n_targets ? ev.nll / (double)ev.n_targets : NAN;
        if (rank0) {
            print_val(0, kl0, ev.kl_pbar / (double)ev.tokens, lm0, now_s() - t0);
            fprintf(logf, "{\"step\": 0, \"val_kl\": %.17g, \"val_lm\": %.17g}\n", kl0,
                    isnan(lm0) ? -1.0 : lm0);
            fflush(logf);
        }
    }

    const double tok_step = (double)d->world * o->batch * L;
    double t_run = now_s();
    for (int64_t step = start; step < o->steps; step++) {
        double t0 = now_s();
        ic_sampler_next(&samp, starts);
        if (verbose) {
            /* one write per line: the ranks share the terminal */
            char line[4096];
            int n = snprintf(line, sizeof line, "[rank %d] step %" PRId64 " windows:", d->rank, step + 1);
            for (int b = 0; b < o->batch && n < (int)sizeof line - 24; b++)
                n += snprintf(line + n, sizeof line - (size_t)n, " %" PRIu64, starts[b]);
            fprintf(stderr, "%s\n", line);
        }
        ic_trainer_zero_grads(&t);
        ic_trainer_stats s = { 0 };
        int ok = 1;
        for (int b = 0; b < o->batch && ok; b++)
            if (read_window(&r, IC_SPLIT_TRAIN, starts[b], (size_t)L, u, tok, err) != 0 ||
                ic_trainer_window(&t, tok, NULL, L, 1, &s, err) != 0)
                ok = 0;
        if (!ic_dist_all_ok(ok)) {
            if (ok) ic_error_set(err, "step %" PRId64 " failed on another rank", step + 1);
            goto out;
        }
        /* every rank holds B*L tokens: mean over ranks of the per-rank mean */
        ic_trainer_scale_grads(&t, (float)(1.0 / (double)s.tokens));
        ic_trainer_allreduce_grads(&t);
        double loss = ic_dist_sum_f64(s.kl) / ic_dist_sum_f64((double)s.tokens);
        double norm = ic_grad_clip(t.params, t.n_params, o->clip);
        if (!isfinite(norm) || !isfinite(loss)) {
            ic_error_set(err, "step %" PRId64 ": non-finite loss %g / gradient norm %g", step + 1,
                         loss, norm);
            goto out;
        }
        double lr = ic_lr_at(&sched, step);
        ic_adamw_step(&opt, t.params, t.n_params, lr);
        double dt = ic_dist_max_f64(now_s() - t0);
        double tps = tok_step / dt;
        if (step > start) { tps_sum += tps; tps_n++; }   /* the first step warms caches */
        if (rank0 && ic_log_get_level() >= IC_LOG_INFO) {
            char eta[32];
            fmt_eta(eta, sizeof eta, (now_s() - t_run) / (double)(step + 1 - start) *
                                         (double)(o->steps - step - 1));
            printf("step %5" PRId64 "/%ld | loss %.6f | norm %.4f | lr %.2e | %8.1f ms | %7.0f tok/s | eta %s\n",
                   step + 1, o->steps, loss, norm, lr, 1e3 * dt, tps, eta);
            fflush(stdout);
        }
        if (rank0) {
            fprintf(logf, "{\"step\": %" PRId64 ", \"loss\": %.17g, \"grad_norm\": %.17g, \"lr\": %.17g, "
                    "\"ms\": %.3f}\n", step + 1, loss, norm, lr, 1e3 * dt);
            fflush(logf);
        }
        const int last = step + 1 == o->steps;
        const int stop = o->stop_after > 0 && step + 1 == o->stop_after;
        const int periodic = o->eval_every > 0 && (step + 1) % o->eval_every == 0;
        if (!(last || stop || periodic)) continue;
        if (n_val > 0) {
            ic_trainer_stats ev;
            double te = now_s();
            if (evaluate(&t, &r, L, n_val, u, tok, &ev, err) != 0) goto out;
            kl_last = ev.kl / (double)ev.tokens;
            lm_last = ev.n_targets ? ev.nll / (double)ev.n_targets : NAN;
            if (rank0) {
                print_val(step + 1, kl_last, ev.kl_pbar / (double)ev.tokens, lm_last, now_s() - te);
                fprintf(logf, "{\"step\": %" PRId64 ", \"val_kl\": %.17g, \"val_lm\": %.17g}\n",
                        step + 1, kl_last, isnan(lm_last) ? -1.0 : lm_last);
                fflush(logf);
            }
        }
        int wok = 1;
        if (rank0) {
            ic_sampler_state sst = ic_sampler_save(&samp);
            ic_checkpoint ck = { .step = step + 1, .weights = nl.w, .n_weights = nl.n, .opt = &opt,
                                 .sampler = &sst, .rng = o->seed, .config = cfgj };
            wok = ic_checkpoint_save(ckdir, &ck, o->keep_ckpts, err) == 0;
            if (wok) ic_log_info("checkpoint: %s/ckpt-%" PRId64, ckdir, step + 1);
        }
        if (!ic_dist_all_ok(wok)) {
            if (wok) ic_error_set(err, "rank 0 failed to write the checkpoint");
            goto out;
        }
        if (stop && !last) {
            if (rank0) ic_log_info("train: stopping after step %ld (--stop-after)", o->stop_after);
            rc = 0;
            goto out;
        }
    }
    /* The model dir of the result (rank 0 only). */
    int wok = 1;
    if (rank0) {
        wok = ic_model_dir_write(o->model_dir, o->out_dir, &m.w.cfg, &pat, m.topk, m.ix, err) == 0;
        if (wok && ic_log_get_level() >= IC_LOG_INFO) {
            printf("\n%-28s %-12s %-12s\n", "summary", "before", "after");
            printf("%-28s %-12.6f %-12.6f\n", "val KL (per token)", kl0, kl_last);
            if (o->stage == IC_DISTILL_SPARSE)
                printf("%-28s %-12.4f %-12.4f\n", "val LM loss (pattern)", lm0, lm_last);
            printf("%-28s %-12.0f\n", "train tokens/s (mean)", tps_n ? tps_sum / tps_n : 0.0);
            printf("model dir: %s (config.json, model.safetensors, tokenizer); checkpoints: %s; "
                   "log: %s/train_log.jsonl\n", o->out_dir, ckdir, o->out_dir);
            if (start > 0) printf("(\"before\" is not measured on a resumed run)\n");
        }
    }
    if (!ic_dist_all_ok(wok)) {
        if (wok) ic_error_set(err, "rank 0 failed to write the model dir");
        goto out;
    }
    rc = 0;
out:
    if (logf) fclose(logf);
    json_decref(cfgj);
    json_decref(saved);
    free(nl.w);
    free(u);
    free(tok);
    free(starts);
    ic_adamw_free(&opt);
    ic_trainer_free(&t);
    ic_sampler_free(&samp);
    if (r.file > 0) ic_h5tokens_close(&r);
    ic_dsa_model_free(&m);
    return rc;
}
