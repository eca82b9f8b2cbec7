/* Random in-memory DSA models for tests (see ic_dsa.h). Kept out of the
 * forward's file: only tests and tools that want a toy model use it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"
#include "model/ic_dsa.h"

void ic_dsa_tiny_config(ic_config *c, int n_layers, int topk) {
    memset(c, 0, sizeof *c);
    c->arch = IC_ARCH_LLAMA;
    c->vocab_size = 61; c->hidden_size = 32; c->intermediate_size = 48;
    c->n_layers = n_layers; c->n_heads = 4; c->n_kv_heads = 2; c->head_dim = 8;
    c->rope_theta = 10000.0f; c->rms_norm_eps = 1e-5f; c->max_position_embeddings = 4096;
    c->tie_word_embeddings = 1; c->bos_token_id = c->eos_token_id = -1;
    c->has_indexer_config = 1;
    c->index_n_heads = 2; c->index_head_dim = 8; c->index_rope_dim = 4; c->index_topk = topk;
}

/* splitmix64 + Box-Muller, the same generator family as the indexer init */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform01(uint64_t *s) { return ((double)(next_u64(s) >> 11) + 1.0) * 0x1.0p-53; }
static void fill_normal(uint64_t *s, float *x, size_t n, double std) {
    for (size_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform01(s))), a = 6.283185307179586 * uniform01(s);
        x[i] = (float)(std * r * cos(a));
        if (i + 1 < n) x[i + 1] = (float)(std * r * sin(a));
    }
}
static void fill_uniform(uint64_t *s, float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * uniform01(s));
}

void ic_dsa_model_fill_random(ic_dsa_model *m, uint64_t seed) {
    uint64_t s = seed ^ 0x5DEECE66Dull;
    int n = ic_weights_tensors(&m->w, NULL, 0);
    ic_weight_entry *all = malloc(sizeof *all * (size_t)n);
    IC_ASSERT(all != NULL);
    ic_weights_tensors(&m->w, all, n);
    for (int i = 0; i < n; i++) {
        const ic_weight_entry *t = &all[i];
        size_t cnt = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
        if (t->ndim == 1 && strstr(t->name, "norm")) fill_uniform(&s, t->dst, cnt, 0.5, 1.5);
        else if (t->ndim == 1) fill_normal(&s, t->dst, cnt, 0.1);      /* biases */
        else if (strstr(t->name, "embed") || strstr(t->name, "lm_head"))
            fill_normal(&s, t->dst, cnt, 1.0);
        else fill_normal(&s, t->dst, cnt, 1.5 / sqrt((double)t->shape[1]));
    }
    free(all);
    for (int l = 0; l < m->w.cfg.n_layers; l++) {
        ic_indexer *ix = &m->ix[l];
        if (!ix->data) continue;
        ic_indexer_init_random(ix, seed, l);
        fill_uniform(&s, ix->k_norm_weight, (size_t)ix->dims.head_dim, 0.5, 1.5);
        fill_normal(&s, ix->k_norm_bias, (size_t)ix->dims.head_dim, 0.2);
    }
}
