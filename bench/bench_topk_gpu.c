/* GPU top-k (kernels/cuda/topk.cu) over all rows of a causal score matrix:
 * L = 2K, 8K, 32K at K = 256 and L = 64K at K = 2048, S fp32 uniform in
 * [-4, 4) (row t reads 0..t). The 64K shape runs in row blocks of 8192 (a
 * [64K, 64K] block would be 16 GiB), as the trainer does: one [8192, L]
 * buffer, reused by every block (row t of block [t0, t1) reads its row
 * t - t0), and the figure is the total over all the blocks.
 * Timing: the mean over REPS back-to-back all-rows sweeps between two
 * ic_ctx_sync. Prints ms and rows/s next to torch.topk's anchor from
 * shared/GPU.md (0.17 / 1.1 / 12.7 / 55 ms, an earlier run); the
 * same-run torch figure comes from bench/gpu_topk_torch.py, which bench/gpu_run.sh
 * runs after this and which reads $IC_OUT/topk_ic.json (written here).
 * Exit 77 without a GPU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/ic_error.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_topk.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
    ic_error err = {0};
    ic_ctx ctx;
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    enum { NSHAPE = 4 };
    const int Ls[NSHAPE] = {2048, 8192, 32768, 65536}, Ks[NSHAPE] = {256, 256, 256, 2048};
    const int blk[NSHAPE] = {2048, 8192, 32768, 8192};  /* rows per call */
    const double anchor_ms[NSHAPE] = {0.17, 1.1, 12.7, 55.0};
    const char *out_dir = getenv("IC_OUT");
    char path[4096];
    snprintf(path, sizeof path, "%s/topk_ic.json", out_dir && *out_dir ? out_dir : ".");
    FILE *js = fopen(path, "w");
    if (js) fprintf(js, "{\"device\": \"%s\", \"rows\": [\n", ctx.desc);
    printf("%s\n", ctx.desc);
    printf("%6s %5s %10s %12s %16s %8s\n", "L", "K", "ms", "rows/s", "torch anchor ms", "ratio");
    for (int li = 0; li < NSHAPE; li++) {
        const int L = Ls[li], K = Ks[li], B = blk[li];
        const size_t n = (size_t)B * (size_t)L;
        float *h = malloc(n * sizeof(float));
        if (!h) { fprintf(stderr, "out of host memory\n"); return 2; }
        uint64_t s = 0x243F6A8885A308D3ull + (uint64_t)L;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            h[i] = (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 8.0 - 4.0);
        }
        float *S = ic_buf_alloc(&ctx, n * sizeof(float));
        int32_t *idx = ic_buf_alloc(&ctx, (size_t)L * K * 4), *cnt = ic_buf_alloc(&ctx, (size_t)L * 4);
        if (!S || !idx || !cnt) { fprintf(stderr, "out of device memory\n"); return 2; }
        ic_buf_upload(&ctx, S, h, n * sizeof(float));
        free(h);
        const int reps = L <= 2048 ? 200 : L <= 8192 ? 50 : L <= 32768 ? 10 : 3;
        for (int w = 0; w < 3; w++)
            for (int r0 = 0; r0 < L; r0 += B) ic_topk_forward(&ctx, idx, cnt, S, L, r0, r0 + B, K);
        ic_ctx_sync(&ctx);
        const double t0 = now_s();
        for (int r = 0; r < reps; r++)
            for (int r0 = 0; r0 < L; r0 += B) ic_topk_forward(&ctx, idx, cnt, S, L, r0, r0 + B, K);
        ic_ctx_sync(&ctx);
        const double ms = 1e3 * (now_s() - t0) / reps;
        printf("%6d %5d %10.3f %12.3g %16.2f %7.2fx\n", L, K, ms, L / (ms * 1e-3), anchor_ms[li],
               ms / anchor_ms[li]);
        if (js)
            fprintf(js, "%s  {\"L\": %d, \"K\": %d, \"ms\": %.4f, \"rows_per_s\": %.4g, "
                        "\"torch_anchor_ms\": %.2f}", li ? ",\n" : "", L, K, ms, L / (ms * 1e-3),
                    anchor_ms[li]);
        ic_buf_free(&ctx, S); ic_buf_free(&ctx, idx); ic_buf_free(&ctx, cnt);
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
        printf("wrote %s\n", path);
    }
    ic_ctx_free(&ctx);
    return 0;
}
