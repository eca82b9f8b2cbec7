/* libFuzzer harness for config.json (model/ic_config.c): any bytes are
 * either refused with a one-line message or give a config whose sizes are
 * positive and consistent enough to allocate from; an accepted config
 * survives save -> load unchanged in its shape fields. */
#include "fuzz_common.h"
#include "model/ic_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_file("config.json", data, size);
    ic_config c;
    ic_error err;
    ic_error_clear(&err);
    if (ic_config_load(&c, path, &err) != 0) {
        fuzz_check_message(&err);
        return 0;
    }
    CHECK(c.n_layers >= 1 && c.hidden_size >= 1 && c.n_heads >= 1 && c.n_kv_heads >= 1);
    CHECK(c.vocab_size >= 1 && c.head_dim >= 1);
    static char out[600];
    snprintf(out, sizeof out, "%s.out", path);
    ic_error_clear(&err);
    CHECK(ic_config_save(&c, out, &err) == 0);
    ic_config d;
    ic_error_clear(&err);
    CHECK(ic_config_load(&d, out, &err) == 0);
    CHECK(d.n_layers == c.n_layers && d.hidden_size == c.hidden_size && d.n_heads == c.n_heads &&
          d.n_kv_heads == c.n_kv_heads && d.vocab_size == c.vocab_size && d.head_dim == c.head_dim);
    return 0;
}
