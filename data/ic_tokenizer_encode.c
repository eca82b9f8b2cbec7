/* Encoding: added tokens, pre-tokenizers (Digits, ByteLevel with the GPT-2
 * split regex written out by hand), then BPE merges per word with a cache.
 *
 * The GPT-2 pattern, tried in this order at each position:
 *   's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
 * Nothing here keeps per-character arrays: the splitter decodes UTF-8 as it
 * scans, so memory does not grow with the length of a piece. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ic_tokenizer_internal.h"
#include "ic_unicode.h"

static ic_unicode_class class_at(const unsigned char *s, size_t n, size_t i, size_t *len) {
    uint32_t cp;
    *len = (size_t)ic_utf8_decode(s + i, n - i, &cp);
    return ic_unicode_classify(cp);
}

/* Length of the regex match at s[0] (n >= 1); always >= 1. */
static size_t gpt2_match(const unsigned char *s, size_t n) {
    if (s[0] == '\'' && n >= 2) {
        unsigned char a = s[1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if (n >= 3 && ((a == 'r' && s[2] == 'e') || (a == 'v' && s[2] == 'e') ||
                       (a == 'l' && s[2] == 'l')))
            return 3;
    }
    size_t l0;
    ic_unicode_class c0 = class_at(s, n, 0, &l0);
    /* " ?X+" for X = letter, number, other: an optional ASCII space, then a run. */
    size_t start = 0;
    ic_unicode_class run = c0;
    if (s[0] == ' ' && n >= 2) {
        size_t l1;
        ic_unicode_class c1 = class_at(s, n, 1, &l1);
        if (c1 != IC_UC_SPACE) { start = 1; run = c1; }
    }
    if (run != IC_UC_SPACE) {
        size_t i = start, len;
        while (i < n && class_at(s, n, i, &len) == run) i += len;
        return i;
    }
    /* "\s+(?!\S)|\s+": the whitespace run, less its last character when a
     * non-space follows and the run has more than one character. */
    size_t i = 0, last = 0, len;
    while (i < n && class_at(s, n, i, &len) == IC_UC_SPACE) { last = i; i += len; }
    if (i == n) return n;
    return last > 0 ? last : i;
}

static int grow_scratch(ic_tokenizer *t, size_t n, ic_error *err) {
    if (n <= t->scratch_cap) return 0;
    size_t cap = n < 256 ? 256 : n + n / 2;
    uint32_t *a = realloc(t->sym_id, cap * sizeof *a);
    if (a) t->sym_id = a;
    int32_t *b = realloc(t->sym_prev, cap * sizeof *b);
    if (b) t->sym_prev = b;
    int32_t *c = realloc(t->sym_next, cap * sizeof *c);
    if (c) t->sym_next = c;
    if (!a || !b || !c) return ic_error_set(err, "encode: out of memory for a %zu-byte word", n);
    t->scratch_cap = cap;
    return 0;
}

static int cand_less(const ic_merge_cand *x, const ic_merge_cand *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(ic_merge_cand *h, size_t *n, ic_merge_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static ic_merge_cand heap_pop(ic_merge_cand *h, size_t *n) {
    ic_merge_cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

/* Queues the merge of the symbol at pos with its right neighbour, if any.
 * The heap grows on demand: a word of n bytes queues at most 3n candidates
 * (n - 1 pairs, then at most 2 per merge), usually far fewer. */
static int push_pair(ic_tokenizer *t, size_t *hn, int32_t pos, ic_error *err) {
    int32_t nx = t->sym_next[pos];
    uint32_t rank, id;
    if (nx < 0 || !ic_tok_pair_get(t, t->sym_id[pos], t->sym_id[nx], &rank, &id)) return 0;
    if (*hn == t->heap_cap) {
        size_t cap = t->heap_cap ? 2 * t->heap_cap : 256;
        ic_merge_cand *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return ic_error_set(err, "encode: out of memory for %zu merge candidates", cap);
        t->heap = h;
        t->heap_cap = cap;
    }
    heap_push(t->heap, hn, (ic_merge_cand){rank, pos, id});
    return 0;
}

/* BPE as `tokenizers` does it: repeatedly apply the lowest-rank merge among
 * adjacent symbols, the leftmost one on ties, re-checking stale candidates. */
static int bpe_word(ic_tokenizer *t, const unsigned char *w, size_t n, ic_ids *out, ic_error *err) {
    uint64_t h = 0;
    ic_cache_slot *slot = NULL;
    if (n <= IC_CACHE_KEY_MAX) {
        h = ic_tok_hash(w, n);
        slot = &t->cache[h & (IC_CACHE_SLOTS - 1)];
        if (slot->klen == n && memcmp(slot->key, w, n) == 0) {
            for (int i = 0; i < slot->nids; i++)
                if (ic_ids_push(out, slot->ids[i], err)) return -1;
            return 0;
        }
    }
    if (t->ignore_merges) {   /* a word that is a token is taken whole */
        size_t need = 2 * n;
        if (need > t->word_buf_cap) {
            char *nb = realloc(t->word_buf, need);
            if (!nb) return ic_error_set(err, "encode: out of memory");
            t->word_buf = nb;
            t->word_buf_cap = need;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += (size_t)ic_utf8_encode(t->byte_to_cp[w[i]], (unsigned char *)t->word_buf + k);
        int64_t id = ic_tok_smap_get(t, t->word_buf, k);
        if (id >= 0) return ic_ids_push(out, (uint32_t)id, err);
    }
    if (n > INT32_MAX)   /* symbol links are int32 */
        return ic_error_set(err, "encode: a single pre-tokenizer word of %zu bytes is too long", n);
    if (grow_scratch(t, n, err)) return -1;
    /* A byte without a token becomes unk_token (consecutive ones fused into
     * one with fuse_unk), or is dropped when there is no unk_token: what
     * `tokenizers` does with a character missing from the vocab. */
    size_t ns = 0;
    int last_unk = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[w[i]];
        if (id < 0) {
            if (t->unk_id < 0 || (t->fuse_unk && last_unk)) continue;
            id = (int32_t)t->unk_id;
            last_unk = 1;
        } else {
            last_unk = 0;
        }
        t->sym_id[ns] = (uint32_t)id;
        t->sym_prev[ns] = (int32_t)ns - 1;
        t->sym_next[ns] = -1;
        if (ns > 0) t->sym_next[ns - 1] = (int32_t)ns;
        ns++;
    }
    if (ns == 0) return 0;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < ns; i++)
        if (push_pair(t, &hn, (int32_t)i, err)) return -1;
    while (hn > 0) {
        ic_merge_cand c = heap_pop(t->heap, &hn);
        int32_t nx = t->sym_next[c.pos];
        uint32_t rank, id;
        if (t->sym_id[c.pos] == UINT32_MAX || nx < 0 ||
            !ic_tok_pair_get(t, t->sym_id[c.pos], t->sym_id[nx], &rank, &id) || id != c.id)
            continue;   /* stale: one side was merged away since it was queued */
        t->sym_id[c.pos] = id;
        t->sym_id[nx] = UINT32_MAX;
        int32_t nn = t->sym_next[nx];
        t->sym_next[c.pos] = nn;
        if (nn >= 0) t->sym_prev[nn] = c.pos;
        if ((t->sym_prev[c.pos] >= 0 && push_pair(t, &hn, t->sym_prev[c.pos], err)) ||
            push_pair(t, &hn, c.pos, err))
            return -1;
    }
    size_t first = out->n;
    for (int32_t i = 0; i >= 0; i = t->sym_next[i])
        if (ic_ids_push(out, t->sym_id[i], err)) return -1;
    size_t nids = out->n - first;
    if (slot && nids <= IC_CACHE_IDS_MAX) {
        slot->klen = (uint8_t)n;
        slot->nids = (uint8_t)nids;
        memcpy(slot->key, w, n);
        memcpy(slot->ids, out->ids + first, nids * sizeof *out->ids);
    }
    return 0;
}

static int pre_split(ic_tokenizer *t, int step, const unsigned char *s, size_t n, ic_ids *out,
                     ic_error *err);

static int byte_level(ic_tokenizer *t, int step, const unsigned char *s, size_t n, ic_ids *out,
                      ic_error *err) {
    const ic_pre_step *p = &t->pre[step];
    unsigned char *owned = NULL;
    if (p->add_prefix_space && s[0] != ' ') {
        if (!(owned = malloc(n + 1))) return ic_error_set(err, "encode: out of memory");
        owned[0] = ' ';
        memcpy(owned + 1, s, n);
        s = owned;
        n++;
    }
    int rc = 0;
    if (!p->use_regex) {
        rc = pre_split(t, step + 1, s, n, out, err);
    } else {
        for (size_t i = 0; i < n && rc == 0;) {
            size_t m = gpt2_match(s + i, n - i);
            rc = pre_split(t, step + 1, s + i, m, out, err);
            i += m;
        }
    }
    free(owned);
    return rc;
}

static int numeric_at(const unsigned char *s, size_t n, size_t i, size_t *len) {
    uint32_t cp;
    *len = (size_t)ic_utf8_decode(s + i, n - i, &cp);
    return ic_unicode_is_numeric(cp);
}

/* Digits: every number character alone (individual_digits) or each run of
 * them, isolated from the text around it. Number = Rust's char::is_numeric
 * (general category N), which `tokenizers` uses. */
static int digits(ic_tokenizer *t, int step, const unsigned char *s, size_t n, ic_ids *out,
                  ic_error *err) {
    int individual = t->pre[step].individual_digits;
    size_t start = 0, i = 0;
    while (i < n) {
        size_t len;
        if (!numeric_at(s, n, i, &len)) { i += len; continue; }
        if (i > start && pre_split(t, step + 1, s + start, i - start, out, err)) return -1;
        size_t j = i + len;
        if (!individual)
            while (j < n && numeric_at(s, n, j, &len)) j += len;
        if (pre_split(t, step + 1, s + i, j - i, out, err)) return -1;
        start = i = j;
    }
    if (n > start && pre_split(t, step + 1, s + start, n - start, out, err)) return -1;
    return 0;
}

static int pre_split(ic_tokenizer *t, int step, const unsigned char *s, size_t n, ic_ids *out,
                     ic_error *err) {
    if (n == 0) return 0;
    if (step == t->n_pre)
        return t->pretok_fn ? t->pretok_fn(t->pretok_ctx, (const char *)s, n)
                            : bpe_word(t, s, n, out, err);
    if (t->pre[step].kind == IC_PRE_DIGITS) return digits(t, step, s, n, out, err);
    return byte_level(t, step, s, n, out, err);
}

/* Longest added token starting at s[0], or NULL. */
static const ic_added_token *match_added(const ic_tokenizer *t, const unsigned char *s, size_t n) {
    const ic_added_token *best = NULL;
    for (int k = 0; k < t->n_added; k++) {
        const ic_added_token *a = &t->added[k];
        if (a->len <= n && (!best || a->len > best->len) && memcmp(a->content, s, a->len) == 0)
            best = a;
    }
    return best;
}

int ic_tokenizer_encode(ic_tokenizer *t, const char *text, size_t len, ic_ids *out, ic_error *err) {
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        const ic_added_token *a = t->added_first[s[i]] ? match_added(t, s + i, len - i) : NULL;
        if (!a) { i++; continue; }
        if (pre_split(t, 0, s + start, i - start, out, err)) return -1;
        if (t->pretok_fn ? t->pretok_fn(t->pretok_ctx, NULL, a->id) : ic_ids_push(out, a->id, err))
            return -1;
        i += a->len;
        start = i;
    }
    return pre_split(t, 0, s + start, len - start, out, err);
}

int ic_tokenizer_pretokenize(ic_tokenizer *t, const char *text, size_t len, ic_pretok_fn fn,
                             void *ctx, ic_error *err) {
    t->pretok_fn = fn;
    t->pretok_ctx = ctx;
    int rc = ic_tokenizer_encode(t, text, len, NULL, err);
    t->pretok_fn = NULL;
    t->pretok_ctx = NULL;
    return rc;
}

/* A cut just after a "\n" that has a non-space character on both sides is a
 * place where the GPT-2 regex always ends a match on the whole text too: the
 * run before it stops at the "\n" (class change), the "\n" alone is the
 * whitespace match (a single space run followed by \S), and the character
 * after it starts a new match (it is not ' ', so no " ?" reaches back).
 * Digits runs never contain "\n", and no added token spans the cut unless it
 * contains a "\n" itself (then we give up). */
/* Class of the character that ends just before s[end] (end >= 1), as the
 * left-to-right decoder segments it. A byte that is not a continuation byte
 * always starts a unit; a continuation byte belongs to the valid sequence
 * whose lead is at most 3 bytes back, or else is an invalid unit alone. */
static ic_unicode_class class_before(const unsigned char *s, size_t end) {
    size_t q = end - 1;
    if ((s[q] & 0xC0) != 0x80) {
        size_t len;
        return class_at(s, end, q, &len);   /* a lead byte here is invalid: other */
    }
    size_t r = q;
    while (r > 0 && q - r < 3 && (s[r] & 0xC0) == 0x80) r--;
    uint32_t cp;
    if ((s[r] & 0xC0) != 0x80 && r + (size_t)ic_utf8_decode(s + r, end - r, &cp) == end)
        return ic_unicode_classify(cp);
    return IC_UC_OTHER;
}

size_t ic_tokenizer_safe_cut(const ic_tokenizer *t, const char *text, size_t n, size_t max_cut) {
    for (int k = 0; k < t->n_pre; k++)
        if (t->pre[k].kind == IC_PRE_BYTELEVEL && (!t->pre[k].use_regex || t->pre[k].add_prefix_space))
            return 0;
    for (int k = 0; k < t->n_added; k++)
        if (memchr(t->added[k].content, '\n', t->added[k].len)) return 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t start = n > 0 ? n - 1 : 0;
    if (max_cut < start) start = max_cut;
    for (size_t p = start; p >= 2; p--) {
        if (s[p - 1] != '\n') continue;
        if (s[p] >= 0x80 && n - p < 4) continue;   /* the character at p may be cut off */
        size_t len;
        if (class_at(s, n, p, &len) == IC_UC_SPACE) continue;
        if (class_before(s, p - 1) == IC_UC_SPACE) continue;
        return p;
    }
    return 0;
}
