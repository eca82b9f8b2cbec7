/* Token-by-token decoding of a DSA / IndexCache model from a cache.
 *
 * The cache is the teacher's KV cache plus, for the F layers of the
 * pattern only, an indexer-key cache kI [T_max, d_I]: an S layer reuses its
 * source layer's selection and needs no keys of its own, IndexCache's second
 * saving (ic_dsa_cache_bytes reports both parts).
 *
 * One step at position pos = T, per layer: the teacher's q/k/v (k, v appended
 * to the KV cache); at an F layer the indexer of the new token alone
 * (projections of one row, its key appended to kI), its scores against the
 * T+1 cached indexer keys and their top-k: O(T * H_I * d_I), the prefill's
 * row pos and nothing more; at an S layer the source layer's set as it is;
 * then attention of the one query over the selected cache rows (gathered,
 * then the decode attention kernel over min(K, T+1) keys). `dense` runs the
 * teacher's dense decode attention over the whole cache. The same ops as
 * the prefill, so the logits of step pos equal the prefill's at row pos
 * (tests/unit/test_bench.c checks them to 1e-4 on the CPU).
 *
 * Memory besides the caches: a [T_max, H_I*d_I] row stage for the new
 * token's indexer query (the scores op addresses query rows by position),
 * [T_max, K] + [T_max] index rows and a [T_max] score row. */
#ifndef IC_DSA_DECODE_H
#define IC_DSA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "model/ic_dsa.h"

typedef struct {
    const ic_dsa_model *m;
    const ic_weights   *w;      /* the teacher on the context's device */
    ic_pattern  pattern;
    int         K;
    ic_kv_cache kv;             /* KV cache (kv.T tokens) + the step's scratch */
    float     **ik;             /* [n_layers]: indexer-key cache [T_max, d_I], NULL at S layers */
    ic_indexer_acts acts;       /* the new token's indexer projections (L_max 1) */
    float      *q_stage;        /* [T_max, H_I, d_I]: row pos holds the new query */
    float      *w_stage;        /* [T_max, H_I] */
    float      *scores;         /* [T_max] */
    int32_t    *idx, *cnt;      /* [T_max, K], [T_max]: row pos is the current set */
    void       *kg, *vg;        /* [K, Hkv, d] the selected keys / values (the KV dtype) */
    float      *x32;            /* [D] the step's x_norm widened to fp32 for the (fp32,
                                   trained) indexer; NULL when the KV dtype is fp32 */
} ic_dsa_cache;

/* Caches for up to T_max tokens under pattern p (`dense` allowed; F layers
 * need indexers). Buffers from ic_buf_alloc(ctx); reserves the workspace. */
int  ic_dsa_cache_init(ic_dsa_cache *c, ic_ctx *ctx, const ic_dsa_model *m, const ic_weights *w,
                       const ic_pattern *p, int T_max, ic_error *err);
void ic_dsa_cache_free(ic_dsa_cache *c);

/* Bytes the caches hold at T tokens: KV (all layers) and indexer keys
 * (F layers only). */
void ic_dsa_cache_bytes(const ic_dsa_cache *c, int T, size_t *kv_bytes, size_t *ix_bytes);

/* Feed one token at position c->kv.T; logits [V] of the next token, fp32
 * host memory (NULL: not downloaded, e.g. when timing). Fails when the cache
 * is full or the token is out of range. */
int  ic_dsa_decode_step(ic_dsa_cache *c, int32_t token, float *logits, ic_error *err);

/* Benchmarks only: fill rows [0, T) of every cache with seeded random
 * values (keys/values U(-1, 1), indexer keys N(0, 1) as after their
 * LayerNorm) and set kv.T = T, instead of a prefill that would take minutes
 * at long contexts on the CPU. The step's cost does not depend on the
 * values; the selected sets and logits are meaningless. */
int  ic_dsa_cache_fill_random(ic_dsa_cache *c, int T, uint64_t seed, ic_error *err);

#endif
