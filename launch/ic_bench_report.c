/* Tables and JSON of `indexcache bench` (launch/ic_bench.h). */
#include <stdio.h>
#include <string.h>

#include "launch/ic_bench.h"

double ic_bench_amdahl(const ic_bench_prefill *allf, const ic_pattern *p) {
    if (!allf->ok || p->dense || allf->total <= 0) return 0;
    const double ix = allf->ph[IC_DSA_PH_IX_PROJ] + allf->ph[IC_DSA_PH_IX_SCORES] +
                      allf->ph[IC_DSA_PH_TOPK];
    double sum = 0;
    for (int k = 0; k < IC_DSA_N_PHASES; k++) sum += allf->ph[k];
    const double pred = (sum - ix) + ix * ic_pattern_n_full(p) / (double)p->n_layers;
    return pred > 0 ? sum / pred : 0;
}

static int spec_width(const ic_bench_results *r) {
    int w = 8;
    for (int i = 0; i < r->n_pat; i++) {
        int l = (int)strlen(r->spec[i]);
        if (l > w) w = l;
    }
    return w;
}

static void n_full_str(const ic_pattern *p, char *buf, size_t n) {
    snprintf(buf, n, p->dense ? "-" : "%d", ic_pattern_n_full(p));
}

void ic_bench_print_table(const ic_bench_results *r) {
    const int w = spec_width(r);
    char nf[16];
    printf("backend: %s; K = %d, %d layers; median of %d repeats after %d warm-up(s)\n",
           r->backend, r->topk, r->n_layers, r->repeats, r->warmup);
    if (r->n_len) {
        printf("\nprefill (ms for %d sequence(s) of L random tokens; phases of the median repeat)\n",
               r->batch);
        printf("%6s  %-*s  %3s  %9s  %6s  %8s  %9s  %8s  %8s  %8s  %7s  %7s  %6s\n", "L", w,
               "pattern", "F", "total", "spread", "ix_proj", "ix_scores", "topk", "attn", "rest",
               "speedup", "amdahl", "ratio");
        for (int li = 0; li < r->n_len; li++)
            for (int pi = 0; pi < r->n_pat; pi++) {
                const ic_bench_prefill *c = &r->pre[li][pi];
                const ic_bench_prefill *f = r->allf >= 0 ? &r->pre[li][r->allf] : NULL;
                char sp[16] = "-", am[16] = "-", ra[16] = "-";
                if (f && c->total > 0) snprintf(sp, sizeof sp, "%.2fx", f->total / c->total);
                if (c->pred_speedup > 0) {
                    snprintf(am, sizeof am, "%.2fx", c->pred_speedup);
                    snprintf(ra, sizeof ra, "%.2f", f->total / c->total / c->pred_speedup);
                }
                n_full_str(&r->pat[pi], nf, sizeof nf);
                printf("%6d  %-*s  %3s  %9.1f  %5.1f%%  %8.1f  %9.1f  %8.1f  %8.1f  %8.1f  %7s  %7s  %6s\n",
                       r->len[li], w, r->spec[pi], nf, 1e3 * c->total, 100 * c->spread,
                       1e3 * c->ph[IC_DSA_PH_IX_PROJ], 1e3 * c->ph[IC_DSA_PH_IX_SCORES],
                       1e3 * c->ph[IC_DSA_PH_TOPK], 1e3 * c->ph[IC_DSA_PH_ATTN],
                       1e3 * c->ph[IC_DSA_PH_REST], sp, am, ra);
            }
        if (r->allf < 0) printf("(no all-F pattern in --patterns: no speed-up or bound)\n");
        else printf("(speedup = all-F total / total; amdahl = the bound from all-F's phases; "
                    "ratio = speedup / amdahl)\n");
    }
    if (r->n_dlen) {
        printf("\ndecode (%d tokens after T cached tokens; caches filled with random values, "
               "not by a prefill)\n", r->decode_tokens);
        printf("%6s  %-*s  %3s  %9s  %9s  %6s  %8s  %10s  %7s\n", "T", w, "pattern", "F",
               "tok/s", "ms/token", "spread", "KV MiB", "ix-key MiB", "speedup");
        for (int li = 0; li < r->n_dlen; li++)
            for (int pi = 0; pi < r->n_pat; pi++) {
                const ic_bench_decode *d = &r->dec[li][pi];
                const ic_bench_decode *f = r->allf >= 0 ? &r->dec[li][r->allf] : NULL;
                char sp[16] = "-";
                if (f && d->step > 0) snprintf(sp, sizeof sp, "%.2fx", f->step / d->step);
                n_full_str(&r->pat[pi], nf, sizeof nf);
                printf("%6d  %-*s  %3s  %9.2f  %9.2f  %5.1f%%  %8.1f  %10.2f  %7s\n", r->dlen[li], w,
                       r->spec[pi], nf, d->step > 0 ? 1.0 / d->step : 0, 1e3 * d->step,
                       100 * d->spread, d->kv_bytes / 1048576.0, d->ix_bytes / 1048576.0, sp);
            }
    }
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

void ic_bench_print_json(const ic_bench_results *r) {
    char lit[IC_MAX_LAYERS + 1];
    printf("{\"backend\": ");
    json_str(r->backend);
    printf(", \"model\": ");
    json_str(r->model_dir);
    printf(", \"n_layers\": %d, \"topk\": %d, \"batch\": %d, \"repeats\": %d, \"warmup\": %d,\n"
           " \"decode_cache_fill\": \"random\",\n \"prefill\": [", r->n_layers, r->topk, r->batch,
           r->repeats, r->warmup);
    int first = 1;
    for (int li = 0; li < r->n_len; li++)
        for (int pi = 0; pi < r->n_pat; pi++) {
            const ic_bench_prefill *c = &r->pre[li][pi];
            const ic_bench_prefill *f = r->allf >= 0 ? &r->pre[li][r->allf] : NULL;
            printf("%s\n  {\"seq_len\": %d, \"spec\": ", first ? "" : ",", r->len[li]);
            json_str(r->spec[pi]);
            printf(", \"pattern\": \"%s\", \"n_full\": %d, \"total_s\": %.6e, \"spread\": %.4f",
                   ic_pattern_to_string(&r->pat[pi], lit, sizeof lit),
                   ic_pattern_n_full(&r->pat[pi]), c->total, c->spread);
            for (int k = 0; k < IC_DSA_N_PHASES; k++)
                printf(", \"%s_s\": %.6e", ic_dsa_phase_names[k], c->ph[k]);
            printf(", \"speedup\": %.4f, \"amdahl\": %.4f}",
                   f && c->total > 0 ? f->total / c->total : 0, c->pred_speedup);
            first = 0;
        }
    printf("],\n \"decode\": [");
    first = 1;
    for (int li = 0; li < r->n_dlen; li++)
        for (int pi = 0; pi < r->n_pat; pi++) {
            const ic_bench_decode *d = &r->dec[li][pi];
            const ic_bench_decode *f = r->allf >= 0 ? &r->dec[li][r->allf] : NULL;
            printf("%s\n  {\"context\": %d, \"tokens\": %d, \"spec\": ", first ? "" : ",",
                   r->dlen[li], r->decode_tokens);
            json_str(r->spec[pi]);
            printf(", \"n_full\": %d, \"step_s\": %.6e, \"tok_per_s\": %.3f, \"spread\": %.4f, "
                   "\"kv_bytes\": %zu, \"ix_key_bytes\": %zu, \"speedup\": %.4f}",
                   ic_pattern_n_full(&r->pat[pi]), d->step, d->step > 0 ? 1.0 / d->step : 0,
                   d->spread, d->kv_bytes, d->ix_bytes, f && d->step > 0 ? f->step / d->step : 0);
            first = 0;
        }
    printf("]}\n");
}
