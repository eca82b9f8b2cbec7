/* libFuzzer harness for the search trace reader (train/ic_search_io.c,
 * `search --resume`): a refusal names the field in one line; an accepted
 * trace holds steps that are real flips (distinct layers 1..n-1, F before)
 * and a pattern with exactly n_layers - n_steps F layers, and survives
 * save -> load unchanged. The expected meta is fixed; scripts/fuzz.sh
 * writes seeds from real traces with these values patched in. */
#include <math.h>

#include "fuzz_common.h"
#include "train/ic_search.h"

#define N_LAYERS 6

static const ic_search_meta k_meta = {
    .model_dir = "m", .model_hash = 0x0123456789abcdefULL, .data_path = "d.h5", .split = "val",
    .data_hash = 0xfedcba9876543210ULL, .seq_len = 16, .n_windows = 2, .topk = 4,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_file("trace.json", data, size);
    ic_search_trace t;
    ic_error err;
    ic_error_clear(&err);
    int keep = 1 + (int)(size % 3);   /* a smaller keep than the trace's cuts it */
    CHECK(ic_search_trace_init(&t, N_LAYERS, keep, &err) == 0);
    int cut = 0;
    if (ic_search_trace_load(&t, &k_meta, path, &cut, &err) != 0) {
        fuzz_check_message(&err);
        ic_search_trace_free(&t);
        return 0;
    }
    CHECK(t.n_steps >= 0 && t.n_steps <= N_LAYERS - keep);
    int seen[N_LAYERS] = {0};
    for (int i = 0; i < t.n_steps; i++) {
        int l = t.steps[i].layer;
        CHECK(l >= 1 && l < N_LAYERS && !seen[l]);
        seen[l] = 1;
        CHECK(t.pattern.c[l] == 'S');
    }
    CHECK(ic_pattern_n_full(&t.pattern) == N_LAYERS - t.n_steps);
    static char out[600];
    snprintf(out, sizeof out, "%s.out", path);
    ic_error_clear(&err);
    CHECK(ic_search_trace_save(&t, &k_meta, 0, out, &err) == 0);
    ic_search_trace u;
    CHECK(ic_search_trace_init(&u, N_LAYERS, keep, &err) == 0);
    ic_error_clear(&err);
    CHECK(ic_search_trace_load(&u, &k_meta, out, NULL, &err) == 0);
    CHECK(u.n_steps == t.n_steps);
    for (int i = 0; i < t.n_steps; i++) {
        CHECK(u.steps[i].layer == t.steps[i].layer);
        CHECK(u.steps[i].loss == t.steps[i].loss || (isnan(u.steps[i].loss) && isnan(t.steps[i].loss)));
    }
    ic_search_trace_free(&u);
    ic_search_trace_free(&t);
    return 0;
}
