#include "ic_sampler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_check.h"

/* ---- generator ------------------------------------------------------------ */

#define IC_GOLDEN_GAMMA 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The seed goes through the mixer once so that neighbouring seeds (seed,
 * seed + 1: consecutive epochs) start far apart in the sequence. */
void ic_prng_seed(ic_prng *g, uint64_t seed) { g->s = mix64(seed ^ 0x6A09E667F3BCC909ull); }

uint64_t ic_prng_next(ic_prng *g) { return mix64(g->s += IC_GOLDEN_GAMMA); }

uint64_t ic_prng_below(ic_prng *g, uint64_t bound) {
    IC_ASSERT(bound >= 1);
    /* Reject the lowest (2^64 mod bound) values so that every residue has
     * the same number of preimages. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = ic_prng_next(g);
        if (r >= threshold) return r % bound;
    }
}

/* ---- sampler --------------------------------------------------------------- */

int ic_sampler_init(ic_sampler *s, uint64_t n_tokens, uint64_t seq_len, int with_targets,
                    int batch, int rank, int world, uint64_t seed, ic_error *err) {
    memset(s, 0, sizeof *s);
    s->perm_epoch = -1;
    if (seq_len == 0) return ic_error_set(err, "sampler: sequence length must be > 0");
    if (batch <= 0) return ic_error_set(err, "sampler: batch must be > 0, got %d", batch);
    if (world <= 0 || rank < 0 || rank >= world)
        return ic_error_set(err, "sampler: rank %d of %d is invalid", rank, world);
    uint64_t span = seq_len + (with_targets ? 1 : 0);
    if (n_tokens < span)
        return ic_error_set(err, "sampler: the split holds %" PRIu64 " tokens, fewer than one "
                            "window of %" PRIu64 " (--seq-len %" PRIu64 "%s)",
                            n_tokens, span, seq_len, with_targets ? " plus the target" : "");
    uint64_t nw = (n_tokens - (span - seq_len)) / seq_len;
    if (nw > SIZE_MAX / sizeof(uint64_t))
        return ic_error_set(err, "sampler: %" PRIu64 " windows do not fit in memory", nw);
    s->perm = malloc((size_t)nw * sizeof *s->perm);
    if (!s->perm)
        return ic_error_set(err, "sampler: out of memory for %" PRIu64 " windows", nw);
    s->st.seed = seed;
    s->st.n_tokens = n_tokens;
    s->st.seq_len = seq_len;
    s->st.span = span;
    s->st.position = 0;
    s->rank = rank;
    s->world = world;
    s->batch = batch;
    s->n_windows = nw;
    return 0;
}

void ic_sampler_free(ic_sampler *s) {
    free(s->perm);
    memset(s, 0, sizeof *s);
    s->perm_epoch = -1;
}

static void make_epoch(ic_sampler *s, uint64_t epoch) {
    if (s->perm_epoch >= 0 && (uint64_t)s->perm_epoch == epoch) return;
    uint64_t n = s->n_windows;
    for (uint64_t i = 0; i < n; i++) s->perm[i] = i;
    ic_prng g;
    ic_prng_seed(&g, s->st.seed + epoch);
    /* Fisher-Yates from the top: slot i takes a uniform pick of 0..i. */
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = ic_prng_below(&g, i + 1);
        uint64_t t = s->perm[i]; s->perm[i] = s->perm[j]; s->perm[j] = t;
    }
    s->perm_epoch = (int64_t)epoch;
}

void ic_sampler_peek(ic_sampler *s, uint64_t *starts) {
    const uint64_t stride = (uint64_t)s->world;
    for (int j = 0; j < s->batch; j++) {
        uint64_t p = s->st.position + (uint64_t)s->rank + (uint64_t)j * stride;
        make_epoch(s, p / s->n_windows);
        starts[j] = s->perm[p % s->n_windows] * s->st.seq_len;
    }
}

void ic_sampler_next(ic_sampler *s, uint64_t *starts) {
    ic_sampler_peek(s, starts);
    s->st.position += (uint64_t)s->world * (uint64_t)s->batch;
}

void ic_sampler_seek_step(ic_sampler *s, uint64_t step) {
    s->st.position = step * (uint64_t)s->world * (uint64_t)s->batch;
}

uint64_t ic_sampler_n_windows(const ic_sampler *s) { return s->n_windows; }

uint64_t ic_sampler_epoch(const ic_sampler *s) { return s->st.position / s->n_windows; }

uint64_t ic_sampler_steps(const ic_sampler *s) {
    return s->st.position / ((uint64_t)s->world * (uint64_t)s->batch);
}

ic_sampler_state ic_sampler_save(const ic_sampler *s) { return s->st; }

int ic_sampler_restore(ic_sampler *s, const ic_sampler_state *st, ic_error *err) {
    if (st->seed != s->st.seed)
        return ic_error_set(err, "sampler cursor: seed 0x%016" PRIx64 " differs from this run's "
                            "0x%016" PRIx64, st->seed, s->st.seed);
    if (st->n_tokens != s->st.n_tokens)
        return ic_error_set(err, "sampler cursor: the split had %" PRIu64 " tokens, now %" PRIu64
                            " (another data file?)", st->n_tokens, s->st.n_tokens);
    if (st->seq_len != s->st.seq_len || st->span != s->st.span)
        return ic_error_set(err, "sampler cursor: windows of %" PRIu64 "+%" PRIu64 " tokens, this "
                            "run uses %" PRIu64 "+%" PRIu64 " (--seq-len differs?)",
                            st->seq_len, st->span - st->seq_len, s->st.seq_len,
                            s->st.span - s->st.seq_len);
    uint64_t g = (uint64_t)s->world * (uint64_t)s->batch;
    if (st->position % g != 0)
        return ic_error_set(err, "sampler cursor: position %" PRIu64 " is not a whole number of "
                            "global batches of %" PRIu64 " (ranks x --batch changed?)",
                            st->position, g);
    s->st.position = st->position;
    return 0;
}

json_t *ic_sampler_state_to_json(const ic_sampler_state *st) {
    char seed[32];
    snprintf(seed, sizeof seed, "0x%016" PRIx64, st->seed);
    return json_pack("{s:s, s:I, s:I, s:I, s:I}", "seed", seed,
                     "n_tokens", (json_int_t)st->n_tokens, "seq_len", (json_int_t)st->seq_len,
                     "span", (json_int_t)st->span, "position", (json_int_t)st->position);
}

static int get_u64(const json_t *j, const char *key, uint64_t *out, ic_error *err) {
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ic_error_set(err, "sampler cursor: \"%s\" must be a non-negative integer", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int ic_sampler_state_from_json(const json_t *j, ic_sampler_state *st, ic_error *err) {
    if (!json_is_object(j)) return ic_error_set(err, "sampler cursor: not a JSON object");
    const char *seed = json_string_value(json_object_get(j, "seed"));
    if (!seed || strncmp(seed, "0x", 2) != 0 || strlen(seed) > 18 || strlen(seed) < 3)
        return ic_error_set(err, "sampler cursor: \"seed\" must be a hex string \"0x...\"");
    /* strtoull alone would take a sign or blanks after "0x". */
    if (strspn(seed + 2, "0123456789abcdefABCDEF") != strlen(seed + 2))
        return ic_error_set(err, "sampler cursor: \"seed\" %s is not hexadecimal", seed);
    unsigned long long sv = strtoull(seed + 2, NULL, 16);
    ic_sampler_state s = {0};
    s.seed = (uint64_t)sv;
    if (get_u64(j, "n_tokens", &s.n_tokens, err) || get_u64(j, "seq_len", &s.seq_len, err) ||
        get_u64(j, "span", &s.span, err) || get_u64(j, "position", &s.position, err))
        return -1;
    if (s.seq_len == 0 || (s.span != s.seq_len && s.span != s.seq_len + 1))
        return ic_error_set(err, "sampler cursor: span %" PRIu64 " does not fit seq_len %" PRIu64,
                            s.span, s.seq_len);
    *st = s;
    return 0;
}
