/* GPT-2 style byte-level BPE tokenizer loaded from a Hugging Face
 * `tokenizer.json` (the format of the `tokenizers` library).
 *
 * Supported: model BPE (vocab, merges as "a b" strings or [a, b] pairs,
 * unk_token, ignore_merges); added_tokens (matched verbatim, leftmost-longest,
 * before pre-tokenization, as the `tokenizers` AddedVocabulary does);
 * pre_tokenizer ByteLevel (use_regex with the GPT-2 split pattern,
 * add_prefix_space), Digits (individual_digits) and a Sequence of those
 * with ByteLevel last; unk_token / fuse_unk for bytes the vocab lacks;
 * normalizer null; decoder ByteLevel or null. Anything else is refused by
 * name. The post_processor is ignored: encode never adds BOS/EOS by itself.
 *
 * Input bytes need not be valid UTF-8: a byte that does not start a valid
 * sequence is a pre-tokenizer unit of its own (class "other") and is encoded
 * by its byte-level token, so decode(encode(x)) == x for every byte string x
 * (when all 256 byte tokens are in the vocab, as in every GPT-2 style vocab).
 *
 * An ic_tokenizer is not thread-safe (encode updates its word cache): use
 * one per thread. */
#ifndef IC_TOKENIZER_H
#define IC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/ic_error.h"

typedef struct ic_tokenizer ic_tokenizer;

/* A growable array of token ids. */
typedef struct {
    uint32_t *ids;   /* [n] */
    size_t    n, cap;
} ic_ids;

void ic_ids_free(ic_ids *v);
int  ic_ids_push(ic_ids *v, uint32_t id, ic_error *err);

/* Loads `path` (a tokenizer.json). BOS/EOS come from the files beside it:
 * tokenizer_config.json's bos_token / eos_token, else config.json's
 * bos_token_id / eos_token_id, else "<|endoftext|>" when that token exists,
 * else -1. */
int  ic_tokenizer_init(ic_tokenizer **tok, const char *path, ic_error *err);
void ic_tokenizer_free(ic_tokenizer *tok);

/* Appends the ids of text[0..len) to out (out is not cleared: callers can
 * stream a corpus into one array, or clear out->n themselves). Any bytes
 * are valid input. Returns 0, or -1 only when memory runs out. */
int ic_tokenizer_encode(ic_tokenizer *tok, const char *text, size_t len,
                        ic_ids *out, ic_error *err);

/* Pre-tokenization alone: calls fn(ctx, word, len) for each word the BPE
 * would see, in order (raw bytes, before the byte-level mapping), and
 * fn(ctx, NULL, id) for each added token. A non-zero return from fn stops
 * and is returned. For tests and inspection. */
typedef int (*ic_pretok_fn)(void *ctx, const char *word, size_t len);
int ic_tokenizer_pretokenize(ic_tokenizer *tok, const char *text, size_t len, ic_pretok_fn fn,
                             void *ctx, ic_error *err);

/* The largest p in [2, min(n - 1, max_cut)] such that, for text[0..n) and
 * for any longer text that starts with it, encoding the bytes before p and
 * from p on separately gives the ids of the whole (p follows a "\n" with a
 * non-space character on both sides, the one at p complete within n); 0 when
 * there is none or this tokenizer's pre-tokenizer gives no such guarantee.
 * Lets a caller stream a file through encode in blocks. */
size_t ic_tokenizer_safe_cut(const ic_tokenizer *tok, const char *text, size_t n, size_t max_cut);

/* The bytes ids[0..n) stand for, as a malloc'd NUL-terminated buffer
 * (*len excludes the NUL; may hold invalid UTF-8 when ids split a
 * character). Special tokens are written verbatim. NULL with err set for
 * an id outside the vocab. */
char *ic_tokenizer_decode(const ic_tokenizer *tok, const uint32_t *ids, size_t n,
                          size_t *len, ic_error *err);

/* 1 + the largest id of the vocab and added tokens. */
uint32_t ic_tokenizer_vocab_size(const ic_tokenizer *tok);
/* The token's string as written in tokenizer.json (byte-level form, e.g.
 * "Ġthe"), or NULL for an unused id. */
const char *ic_tokenizer_token(const ic_tokenizer *tok, uint32_t id);
/* Id of a token string (tokenizer.json form), or -1. */
int64_t ic_tokenizer_token_id(const ic_tokenizer *tok, const char *token);
/* 1 when id is an added token marked "special". */
int ic_tokenizer_is_special(const ic_tokenizer *tok, uint32_t id);
int64_t ic_tokenizer_bos_id(const ic_tokenizer *tok);   /* -1 when unknown */
int64_t ic_tokenizer_eos_id(const ic_tokenizer *tok);   /* -1 when unknown */

#endif
