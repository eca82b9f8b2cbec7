/* libFuzzer harness for the GGUF reader (model/ic_gguf.c, ic_gguf_llama.c):
 * header, key/values (every type, nested arrays) and tensor infos, then what
 * import reads from an accepted file: every key through the typed getters,
 * the tokenizer arrays, the HF name of every tensor, and every small tensor
 * dequantised to f32. An accepted file must have every tensor's bytes
 * inside the buffer. */
#include <math.h>

#include "fuzz_common.h"
#include "model/ic_gguf.h"

static volatile double g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ic_gguf g;
    ic_error err;
    ic_error_clear(&err);
    if (ic_gguf_open_buffer(&g, data, size, "fuzz.gguf", &err) != 0) {
        fuzz_check_message(&err);
        ic_gguf_free(&g);
        return 0;
    }
    for (uint64_t i = 0; i < g.n_kv; i++) {
        const ic_gguf_kv *kv = &g.kv[i];
        CHECK(ic_gguf_find_kv(&g, kv->key) != NULL);
        int64_t x; uint64_t u; double f; int b; ic_gguf_str s;
        ic_error e;
        ic_error_clear(&e); if (ic_gguf_get_i64(&g, kv->key, &x, &e) != 0) fuzz_check_message(&e);
        ic_error_clear(&e); if (ic_gguf_get_u64(&g, kv->key, &u, &e) != 0) fuzz_check_message(&e);
        ic_error_clear(&e); if (ic_gguf_get_f64(&g, kv->key, &f, &e) != 0) fuzz_check_message(&e);
        ic_error_clear(&e); if (ic_gguf_get_bool(&g, kv->key, &b, &e) != 0) fuzz_check_message(&e);
        ic_error_clear(&e);
        if (ic_gguf_get_str(&g, kv->key, &s, &e) == 0) {
            CHECK(s.ptr >= (const char *)data && s.ptr + s.len <= (const char *)data + size);
        } else {
            fuzz_check_message(&e);
        }
        if (kv->type == 9 /* ARRAY */ && kv->arr_type != 8 && kv->arr_type != 9)
            for (uint64_t j = 0; j < kv->arr_n && j < 64; j++) g_sink += (double)ic_gguf_arr_i64(kv, j);
    }
    uint64_t total = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const ic_gguf_tensor *t = &g.tensors[i];
        CHECK(t->data >= data && t->n_bytes <= size && (size_t)(t->data - data) <= size - t->n_bytes);
        CHECK(ic_gguf_find_tensor(&g, t->name) != NULL);
        char hf[256];
        ic_gguf_role role;
        (void)ic_gguf_llama_hf_name(t->name, hf, sizeof hf, &role);
        total += (uint64_t)t->n_elems;
        if (t->n_elems > 0 && t->n_elems <= 4096 && total <= 65536) {
            float *dst = malloc(sizeof(float) * (size_t)t->n_elems);
            CHECK(dst != NULL);
            ic_error e;
            ic_error_clear(&e);
            if (ic_gguf_tensor_to_f32(&g, t, dst, &e) == 0) g_sink += dst[t->n_elems - 1];
            else fuzz_check_message(&e);
            free(dst);
        }
    }
    ic_gguf_tokenizer tok;
    memset(&tok, 0, sizeof tok);
    ic_error_clear(&err);
    if (ic_gguf_tokenizer_load(&tok, &g, &err) == 0) {
        CHECK(tok.n_tokens >= 0 && (tok.n_tokens == 0 || tok.tokens != NULL));
        for (int64_t i = 0; i < tok.n_tokens; i++) CHECK(tok.tokens[i] != NULL);
        for (int64_t i = 0; i < tok.n_merges; i++) CHECK(tok.merges[i] != NULL);
    } else {
        fuzz_check_message(&err);
    }
    ic_gguf_tokenizer_free(&tok);
    ic_gguf_free(&g);
    return 0;
}
