#include "ic_adamw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "kernels/ic_adamw_update.h"
#include "kernels/ic_ctx.h"

int64_t ic_named_f32_numel(const ic_named_f32 *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

ic_adamw_hparams ic_adamw_default_hparams(void) {
    ic_adamw_hparams hp = {0.9, 0.999, 1e-8, 0.1};
    return hp;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *cat_str(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 1);
    if (!p) return NULL;
    memcpy(p, a, na);
    memcpy(p + na, b, nb + 1);
    return p;
}

int ic_adamw_init(ic_adamw *opt, ic_ctx *ctx, const ic_adamw_hparams *hp,
                  const ic_param *params, int n, ic_error *err) {
    memset(opt, 0, sizeof *opt);
    if (!(hp->beta1 >= 0 && hp->beta1 < 1) || !(hp->beta2 >= 0 && hp->beta2 < 1))
        return ic_error_set(err, "AdamW: betas must lie in [0, 1), got %g, %g", hp->beta1, hp->beta2);
    if (!(hp->eps > 0)) return ic_error_set(err, "AdamW: eps must be > 0, got %g", hp->eps);
    if (!(hp->weight_decay >= 0))
        return ic_error_set(err, "AdamW: weight decay must be >= 0, got %g", hp->weight_decay);
    if (n < 0) return ic_error_set(err, "AdamW: negative parameter count %d", n);
    for (int i = 0; i < n; i++) {
        if (!params[i].name || !params[i].name[0])
            return ic_error_set(err, "AdamW: parameter %d has no name", i);
        if (params[i].n < 0)
            return ic_error_set(err, "AdamW: parameter %s has negative size", params[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(params[i].name, params[j].name) == 0)
                return ic_error_set(err, "AdamW: duplicate parameter name %s", params[i].name);
    }
    opt->ctx = ctx;
    opt->hp = *hp;
    opt->n_params = n;
    opt->names = calloc((size_t)n + 1, sizeof *opt->names);
    opt->state_names = calloc(2 * (size_t)n + 1, sizeof *opt->state_names);
    opt->sizes = calloc((size_t)n + 1, sizeof *opt->sizes);
    opt->m = calloc((size_t)n + 1, sizeof *opt->m);
    opt->v = calloc((size_t)n + 1, sizeof *opt->v);
    if (!opt->names || !opt->state_names || !opt->sizes || !opt->m || !opt->v) goto oom;
    for (int i = 0; i < n; i++) {
        opt->sizes[i] = params[i].n;
        opt->names[i] = dup_str(params[i].name);
        opt->state_names[2 * i] = cat_str(params[i].name, ".exp_avg");
        opt->state_names[2 * i + 1] = cat_str(params[i].name, ".exp_avg_sq");
        /* +1 so a zero-size buffer still gets a distinct non-NULL pointer. */
        size_t bytes = ((size_t)params[i].n + 1) * sizeof(float);
        opt->m[i] = ic_buf_alloc(ctx, bytes);   /* zero-filled */
        opt->v[i] = ic_buf_alloc(ctx, bytes);
        if (!opt->names[i] || !opt->state_names[2 * i] || !opt->state_names[2 * i + 1] ||
            !opt->m[i] || !opt->v[i])
            goto oom;
    }
    return 0;
oom:
    ic_adamw_free(opt);
    return ic_error_set(err, "AdamW: out of memory for the state of %d buffers", n);
}

void ic_adamw_free(ic_adamw *opt) {
    for (int i = 0; i < opt->n_params; i++) {
        if (opt->names) free(opt->names[i]);
        if (opt->state_names) { free(opt->state_names[2 * i]); free(opt->state_names[2 * i + 1]); }
        if (opt->m) ic_buf_free(opt->ctx, opt->m[i]);
        if (opt->v) ic_buf_free(opt->ctx, opt->v[i]);
    }
    free(opt->names); free(opt->state_names); free(opt->sizes); free(opt->m); free(opt->v);
    memset(opt, 0, sizeof *opt);
}

void ic_adamw_step(ic_adamw *opt, const ic_param *params, int n, double lr) {
    IC_ASSERT(n == opt->n_params);
    opt->step++;
    const double bc1 = 1.0 - pow(opt->hp.beta1, (double)opt->step);
    const double bc2 = 1.0 - pow(opt->hp.beta2, (double)opt->step);
    /* PyTorch's arrangement: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps). */
    const float step_size = (float)(lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    ic_adamw_coef c = {
        .beta1 = (float)opt->hp.beta1, .beta2 = (float)opt->hp.beta2,
        .eps = (float)opt->hp.eps, .step_size = step_size, .inv_sqrt_bc2 = inv_sqrt_bc2,
    };
    for (int i = 0; i < n; i++) {
        IC_ASSERT(params[i].n == opt->sizes[i]);
        c.decay_mul = params[i].decay ? (float)(1.0 - lr * opt->hp.weight_decay) : 1.0f;
        ic_adamw_update(opt->ctx, params[i].value, params[i].grad, opt->m[i], opt->v[i],
                        params[i].n, &c);
    }
}

int ic_adamw_state_count(const ic_adamw *opt) { return 2 * opt->n_params; }

void ic_adamw_state_views(ic_adamw *opt, ic_named_f32 *out) {
    for (int i = 0; i < opt->n_params; i++) {
        for (int which = 0; which < 2; which++) {
            ic_named_f32 *t = &out[2 * i + which];
            memset(t, 0, sizeof *t);
            t->name = opt->state_names[2 * i + which];
            t->ndim = 1;
            t->shape[0] = opt->sizes[i];
            t->data = which ? opt->v[i] : opt->m[i];
        }
    }
}

int ic_adamw_state_restore(ic_adamw *opt, const ic_named_f32 *src, int n_src, int64_t step,
                           ic_error *err) {
    if (step < 0) return ic_error_set(err, "AdamW state: negative step %lld", (long long)step);
    /* Validate everything before touching the state: a failed restore
     * leaves the optimizer as it was. */
    int n_state = 2 * opt->n_params;
    int *found = malloc(((size_t)n_state + 1) * sizeof *found);
    if (!found) return ic_error_set(err, "AdamW state: out of memory");
    for (int s = 0; s < n_state; s++) {
        found[s] = -1;
        for (int j = 0; j < n_src; j++)
            if (src[j].name && strcmp(src[j].name, opt->state_names[s]) == 0) { found[s] = j; break; }
        if (found[s] < 0) {
            free(found);
            return ic_error_set(err, "AdamW state: tensor %s missing", opt->state_names[s]);
        }
        int64_t have = ic_named_f32_numel(&src[found[s]]), want = opt->sizes[s / 2];
        if (have != want) {
            free(found);
            return ic_error_set(err, "AdamW state: tensor %s has %lld elements, the parameter has %lld",
                                opt->state_names[s], (long long)have, (long long)want);
        }
    }
    for (int s = 0; s < n_state; s++) {
        float *dst = (s % 2) ? opt->v[s / 2] : opt->m[s / 2];
        if (dst != src[found[s]].data)  /* restoring through our own views */
            ic_buf_upload(opt->ctx, dst, src[found[s]].data,
                          (size_t)opt->sizes[s / 2] * sizeof(float));
    }
    free(found);
    opt->step = step;
    return 0;
}
