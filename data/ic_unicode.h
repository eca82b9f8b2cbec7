/* The little Unicode the byte-level BPE pre-tokenizer needs: a UTF-8 decoder
 * that never reads past its input and never fails (a byte that does not start
 * a valid sequence is one "invalid" unit), and the letter / number / space
 * classes of the GPT-2 split regex. The class tables are generated from
 * Python's unicodedata / unicodedata2 by data/gen_unicode_tables.py. */
#ifndef IC_UNICODE_H
#define IC_UNICODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IC_UC_OTHER = 0,   /* marks, punctuation, symbols, controls, invalid bytes */
    IC_UC_LETTER = 1,  /* \p{L} */
    IC_UC_NUMBER = 2,  /* \p{N} */
    IC_UC_SPACE = 3,   /* \s (White_Space) */
} ic_unicode_class;

typedef struct {
    uint32_t first, last;   /* inclusive */
    uint32_t cls;           /* ic_unicode_class */
} ic_unicode_range;

extern const ic_unicode_range ic_unicode_ranges[];
extern const int ic_unicode_n_ranges;
extern const ic_unicode_range ic_unicode_digits_extra[];
extern const int ic_unicode_n_digits_extra;
extern const char ic_unicode_version[];

#define IC_UTF8_INVALID 0xFFFFFFFFu

/* Decodes one code point from s[0..n) (n >= 1) into *cp and returns its byte
 * length (1..4). Overlong forms, surrogates, values past U+10FFFF, stray
 * continuation bytes and truncated sequences give *cp = IC_UTF8_INVALID and
 * length 1, so that every byte of any input is consumed exactly once. */
int ic_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Class of a code point; IC_UTF8_INVALID is IC_UC_OTHER. */
ic_unicode_class ic_unicode_classify(uint32_t cp);

/* Numeric as the Digits pre-tokenizer of `tokenizers` sees it (Rust's
 * char::is_numeric, whose Unicode version may be newer than the regex's). */
int ic_unicode_is_numeric(uint32_t cp);

/* Appends the UTF-8 encoding of cp (< 0x110000) to out; returns its length. */
int ic_utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
