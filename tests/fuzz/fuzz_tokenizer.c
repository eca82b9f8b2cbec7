/* libFuzzer harness for tokenizer.json (data/ic_tokenizer.c): a refused
 * file says why in one line; an accepted one encodes a fixed text of
 * ASCII, punctuation, digits, accents, CJK, emoji and control bytes, with
 * every id inside the vocabulary and a token string for each. */
#include "data/ic_tokenizer.h"
#include "fuzz_common.h"

static const char k_text[] = "Hello, world!  It's 2026: 12345 caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
                             "\xf0\x9f\x98\x80\n\t<|endoftext|> \xff\xfe end";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_file("tokenizer.json", data, size);
    ic_tokenizer *tok = NULL;
    ic_error err;
    ic_error_clear(&err);
    if (ic_tokenizer_init(&tok, path, &err) != 0) {
        fuzz_check_message(&err);
        CHECK(tok == NULL);
        return 0;
    }
    ic_ids ids;
    memset(&ids, 0, sizeof ids);
    ic_error_clear(&err);
    if (ic_tokenizer_encode(tok, k_text, sizeof k_text - 1, &ids, &err) == 0) {
        for (size_t i = 0; i < ids.n; i++) CHECK(ic_tokenizer_token(tok, ids.ids[i]) != NULL);
    } else {
        fuzz_check_message(&err);
    }
    ic_ids_free(&ids);
    ic_tokenizer_free(tok);
    return 0;
}
