/* Deterministic, rank-sharded, resumable batch sampler over one split of a
 * token dataset. It returns window start offsets; the caller reads tokens.
 *
 * Windows. A split of N tokens is cut at start = i * L (i = 0..W-1) into
 * non-overlapping windows of L input tokens. With targets (the default,
 * `span = L + 1`) each window also carries the next token of its last
 * position as the target, so window i reads tokens [i*L, i*L + L] and
 * W = floor((N - 1) / L); without targets (`span = L`, distillation needs
 * only the inputs) window i reads [i*L, i*L + L - 1] and W = floor(N / L).
 * A tail shorter than a window is never used.
 *
 * Order. The sampler walks an endless stream: epoch e is a Fisher-Yates
 * shuffle of 0..W-1 drawn with the generator seeded by (seed + e); the
 * stream is epoch 0's order, then epoch 1's, ... Position p of the stream
 * is window perm_{p / W}[p % W]. So every window appears exactly once per
 * epoch and nothing is dropped; a batch at an epoch boundary takes the end
 * of one order and the start of the next.
 *
 * Sharding. A global step consumes G = R * B consecutive stream positions
 * (R ranks, B windows per rank). Rank r takes the positions
 * P + r, P + r + R, ..., P + r + (B-1) R (P = the step's first position):
 * every R-th window, starting at its rank. Hence sample j of rank r is
 * sample j*R + r of the single-rank batch of size R*B, the ranks' shares
 * are disjoint, and their union is exactly that batch. R ranks x batch B
 * and 1 rank x batch R*B see the same windows at every step.
 *
 * Cursor. The state is the stream position (shared by all ranks) plus the
 * parameters that fix the stream (seed, N, L, span). Saving it after step
 * s and restoring it continues with step s + 1 exactly as an uninterrupted
 * run would, with any R and B whose product is the same.
 *
 * The generator is splitmix64 with rejection sampling for bounded draws:
 * integer-only, so the order is the same on every machine and compiler. */
#ifndef IC_SAMPLER_H
#define IC_SAMPLER_H

#include <jansson.h>
#include <stdint.h>

#include "ic_error.h"

/* ---- the generator (also usable by the trainer for its own draws) ------ */
typedef struct { uint64_t s; } ic_prng;

void     ic_prng_seed(ic_prng *g, uint64_t seed);
uint64_t ic_prng_next(ic_prng *g);
/* Uniform in [0, bound), bound >= 1, without modulo bias. */
uint64_t ic_prng_below(ic_prng *g, uint64_t bound);

/* ---- the sampler --------------------------------------------------------- */
typedef struct {
    uint64_t seed;
    uint64_t n_tokens;   /* N: tokens of the split */
    uint64_t seq_len;    /* L: input tokens per window */
    uint64_t span;       /* tokens read per window: L + 1 (targets) or L */
    uint64_t position;   /* stream positions consumed (all ranks together) */
} ic_sampler_state;

typedef struct {
    ic_sampler_state st;
    int       rank, world;  /* r, R */
    int       batch;        /* B: windows per rank per step */
    uint64_t  n_windows;    /* W */
    /* The permutation of one epoch, regenerated on demand. */
    uint64_t *perm;         /* [n_windows] */
    int64_t   perm_epoch;   /* epoch held in perm, -1 = none */
} ic_sampler;

/* with_targets = 1: windows of L + 1 tokens (span L + 1), 0: L tokens.
 * Fails (message naming N and L) when the split holds no full window. */
int  ic_sampler_init(ic_sampler *s, uint64_t n_tokens, uint64_t seq_len, int with_targets,
                     int batch, int rank, int world, uint64_t seed, ic_error *err);
void ic_sampler_free(ic_sampler *s);

/* The next step's windows of this rank: starts[batch] token offsets into
 * the split (each window reads span tokens from there). Advances the
 * cursor by world * batch positions. */
void ic_sampler_next(ic_sampler *s, uint64_t *starts);
/* Same windows without advancing (for inspection and tests). */
void ic_sampler_peek(ic_sampler *s, uint64_t *starts);

/* Jump to the start of global step `step` (0-based): position = step * R * B.
 * The same as calling next `step` times from the start, without the work. */
void ic_sampler_seek_step(ic_sampler *s, uint64_t step);

uint64_t ic_sampler_n_windows(const ic_sampler *s);
/* Epoch of the next window this sampler will hand out (position / W). */
uint64_t ic_sampler_epoch(const ic_sampler *s);
/* Global steps taken: position / (world * batch). */
uint64_t ic_sampler_steps(const ic_sampler *s);

/* The cursor. restore checks that seed, N, L and span match this sampler
 * (a cursor of another split or length is refused with a message) and that
 * the position is a whole number of this sampler's global batches. */
ic_sampler_state ic_sampler_save(const ic_sampler *s);
int  ic_sampler_restore(ic_sampler *s, const ic_sampler_state *st, ic_error *err);
/* The cursor as JSON: {"seed": "0x..", "n_tokens": .., "seq_len": ..,
 * "span": .., "position": ..}; 64-bit values that may exceed INT64_MAX
 * (the seed) are hex strings. from_json validates types and ranges. */
json_t *ic_sampler_state_to_json(const ic_sampler_state *st);
int     ic_sampler_state_from_json(const json_t *j, ic_sampler_state *st, ic_error *err);

#endif
