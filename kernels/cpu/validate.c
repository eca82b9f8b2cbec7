/* CPU versions of the validation ops (kernels/ic_validate.h). Distinctness
 * uses a stamp per position (the row that last used it), so a row costs
 * O(cnt[t]) and the whole check O(L*K). */
#include "kernels/ic_validate.h"

size_t ic_index_sets_check_workspace_bytes_cpu(const ic_ctx *ctx, int L) {
    (void)ctx;
    return ic_ws_round(sizeof(int32_t) * (size_t)(L > 0 ? L : 1));
}

int ic_index_sets_check_cpu(ic_ctx *ctx, const int32_t *idx, const int32_t *cnt, int L, int K,
                            ic_error *err) {
    if (L == 0) return 0;
    const size_t mark = ic_ws_mark(ctx);
    int32_t *seen = ic_ws_alloc(ctx, sizeof(int32_t) * (size_t)L, "index sets check");
    for (int t = 0; t < L; t++) seen[t] = -1;
    int rc = 0;
    for (int t = 0; t < L && rc == 0; t++) {
        const int n = cnt[t], nmax = K < t + 1 ? K : t + 1;
        if (n < 1 || n > nmax) {
            rc = ic_error_set(err, "index sets: row %d has %d entries, outside [1, min(K=%d, t+1=%d)]",
                              t, n, K, t + 1);
            break;
        }
        for (int i = 0; i < n; i++) {
            const int32_t s = idx[(size_t)t * K + i];
            if (s < 0 || s > t) {
                rc = ic_error_set(err, "index sets: row %d entry %d is position %d, outside [0, %d]",
                                  t, i, (int)s, t);
                break;
            }
            if (seen[s] == t) {
                rc = ic_error_set(err, "index sets: row %d lists position %d twice", t, (int)s);
                break;
            }
            seen[s] = t;
        }
    }
    ic_ws_release(ctx, mark);
    return rc;
}

/* O(n^2) on one row, the same order of checks as the stamp loop above:
 * the count, then per entry its range and whether an earlier entry equals it. */
int ic_index_set_row_message(const int32_t *row, int n, int t, int K, ic_error *err) {
    const int nmax = K < t + 1 ? K : t + 1;
    if (n < 1 || n > nmax)
        return ic_error_set(err, "index sets: row %d has %d entries, outside [1, min(K=%d, t+1=%d)]",
                            t, n, K, t + 1);
    for (int i = 0; i < n; i++) {
        const int32_t s = row[i];
        if (s < 0 || s > t)
            return ic_error_set(err, "index sets: row %d entry %d is position %d, outside [0, %d]",
                                t, i, (int)s, t);
        for (int j = 0; j < i; j++)
            if (row[j] == s)
                return ic_error_set(err, "index sets: row %d lists position %d twice", t, (int)s);
    }
    return 0;
}

int ic_tokens_check_cpu(ic_ctx *ctx, const int32_t *tokens, int L, int V, ic_error *err) {
    (void)ctx;
    for (int t = 0; t < L; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return ic_error_set(err, "token %d at position %d is outside the vocabulary [0, %d)",
                                tokens[t], t, V);
    return 0;
}
