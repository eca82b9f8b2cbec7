/* Private to data/ic_tokenizer*.c: the tokenizer's tables. */
#ifndef IC_TOKENIZER_INTERNAL_H
#define IC_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ic_tokenizer.h"

typedef enum { IC_PRE_BYTELEVEL, IC_PRE_DIGITS } ic_pre_kind;

typedef struct {
    ic_pre_kind kind;
    int use_regex;          /* ByteLevel */
    int add_prefix_space;   /* ByteLevel */
    int individual_digits;  /* Digits */
} ic_pre_step;

#define IC_PRE_MAX_STEPS 8
/* bytes_to_unicode maps into [0, 256 + 68) */
#define IC_BYTE_CP_LIMIT 324

typedef struct {
    char    *content;   /* matched verbatim in the input */
    size_t   len;
    uint32_t id;
} ic_added_token;

/* merge (left id, right id) -> (rank, merged id); key UINT64_MAX = empty */
typedef struct {
    uint64_t key;
    uint32_t rank, id;
} ic_pair_slot;

/* Direct-mapped cache of short words -> ids; words seen once are cheap to
 * recompute, the frequent ones stay. */
#define IC_CACHE_SLOTS   32768
#define IC_CACHE_KEY_MAX 24
#define IC_CACHE_IDS_MAX 12
typedef struct {
    uint8_t  klen;       /* 0 = empty */
    uint8_t  nids;
    char     key[IC_CACHE_KEY_MAX];
    uint32_t ids[IC_CACHE_IDS_MAX];
} ic_cache_slot;

typedef struct { uint32_t rank; int32_t pos; uint32_t id; } ic_merge_cand;

struct ic_tokenizer {
    char      *path;
    uint32_t   vocab_size;
    char     **tokens;       /* [vocab_size] tokenizer.json form, NULL = unused id */
    uint32_t  *token_len;    /* [vocab_size] bytes of tokens[i] */
    char     **bytes;        /* [vocab_size] what decode writes for the id */
    uint32_t  *bytes_len;    /* [vocab_size] */
    uint8_t   *special;      /* [vocab_size] */

    uint32_t  *smap;         /* [smap_cap] string -> id + 1 (0 = empty) */
    size_t     smap_cap;     /* power of two */
    ic_pair_slot *pmap;      /* [pmap_cap] */
    size_t     pmap_cap;     /* power of two */
    uint32_t   n_merges;

    uint32_t   byte_to_cp[256];   /* GPT-2 bytes_to_unicode */
    int16_t    cp_to_byte[IC_BYTE_CP_LIMIT];  /* its inverse, -1 elsewhere */
    int32_t    byte_id[256];      /* id of the one-byte token of each byte, -1 = none */
    int64_t    unk_id;            /* model.unk_token, -1 = none */
    int        fuse_unk;

    ic_added_token *added;   /* [n_added] */
    int        n_added;
    uint8_t    added_first[256];  /* 1 when some added token starts with the byte */

    ic_pre_step pre[IC_PRE_MAX_STEPS];
    int        n_pre;
    int        ignore_merges;
    int64_t    bos_id, eos_id;

    ic_pretok_fn pretok_fn;  /* set during ic_tokenizer_pretokenize: words go here, not to BPE */
    void      *pretok_ctx;

    ic_cache_slot *cache;    /* [IC_CACHE_SLOTS] */
    /* BPE scratch for one word, grown on demand */
    uint32_t  *sym_id;       /* [scratch_cap] */
    int32_t   *sym_prev, *sym_next;
    ic_merge_cand *heap;     /* [heap_cap], grown on demand */
    size_t     scratch_cap, heap_cap;
    char      *word_buf;     /* byte-level form of a word (ignore_merges, prefix space) */
    size_t     word_buf_cap;
};

uint64_t ic_tok_hash(const void *data, size_t len);
/* id of a tokenizer.json-form string, or -1 */
int64_t  ic_tok_smap_get(const ic_tokenizer *t, const char *s, size_t len);
/* merge of (a, b): returns 1 and fills rank and id when it exists */
int      ic_tok_pair_get(const ic_tokenizer *t, uint32_t a, uint32_t b,
                         uint32_t *rank, uint32_t *id);

#endif
