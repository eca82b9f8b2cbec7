/* GPU decode attention (kernels/cuda/attention_decode.cu): one query token
 * against T cached keys, SmolLM2's H = 9, Hkv = 3, d = 64, fp32 and bf16, at
 * T = 1K, 8K, 32K. GB/s counts the K and V cache read once (2 T Hkv d
 * bytes-per-element); the same-run ceiling is a device-to-device copy of the
 * same bytes (ic_buf_copy, read + write counted), against the ~4.8 TB/s of
 * the H200's HBM3e. Timing: the mean over REPS back-to-back calls between
 * two ic_ctx_sync, so a call's launch cost is in it (as in a decode step).
 * Prints a table; writes $IC_OUT/decode_attn_ic.json (bench/gpu_decode_attn_torch.py,
 * run after it by bench/gpu_run.sh, reads it for the comparison with torch SDPA).
 * Exit 77 without a GPU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ic_error.h"
#include "kernels/ic_attention.h"
#include "kernels/ic_ctx.h"
#include "kernels/ic_cuda_ops.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *dev_fill(ic_ctx *ctx, size_t bytes, uint32_t seed) {
    void *d = ic_buf_alloc(ctx, bytes);
    uint16_t *h = malloc(bytes);
    if (!d || !h) { fprintf(stderr, "out of memory (%zu bytes)\n", bytes); exit(2); }
    /* small values valid as both bf16 pairs and fp32 (exponent bits of a
     * bf16 in [-1, 1): 0x3c00 | 7 random mantissa bits, random sign) */
    uint32_t s = seed;
    for (size_t i = 0; i < bytes / 2; i++) {
        s = s * 1664525u + 1013904223u;
        h[i] = (uint16_t)(0x3c00u | ((s >> 9) & 0x7fu) | ((s >> 31) << 15));
    }
    ic_buf_upload(ctx, d, h, bytes);
    free(h);
    return d;
}

int main(void) {
    ic_error err = {0};
    ic_ctx ctx;
    if (ic_ctx_init(&ctx, IC_BACKEND_CUDA, 0, 0, &err) != 0) {
        printf("SKIP: no CUDA context: %s\n", err.msg);
        return 77;
    }
    const int H = 9, Hkv = 3, d = 64;
    const int Ts[3] = {1024, 8192, 32768};
    const char *out_dir = getenv("IC_OUT");
    char path[4096];
    snprintf(path, sizeof path, "%s/decode_attn_ic.json", out_dir && *out_dir ? out_dir : ".");
    FILE *js = fopen(path, "w");
    if (js) fprintf(js, "{\"device\": \"%s\", \"H\": %d, \"Hkv\": %d, \"d\": %d, \"rows\": [\n", ctx.desc, H, Hkv, d);
    printf("%s\n", ctx.desc);
    printf("%-5s %6s %10s %10s %10s %12s %8s\n", "dtype", "T", "bytes", "us/call", "GB/s",
           "copy GB/s", "of copy");
    int first = 1;
    for (int dt_i = 0; dt_i < 2; dt_i++) {
        const ic_dtype dt = dt_i ? IC_BF16 : IC_F32;
        const size_t es = dt_i ? 2 : 4;
        for (int ti = 0; ti < 3; ti++) {
            const int T = Ts[ti];
            const size_t kv_bytes = (size_t)T * Hkv * d * es;
            if (ic_ctx_reserve(&ctx, ic_attention_decode_workspace_bytes_cuda(&ctx, T, H, d), &err)) {
                fprintf(stderr, "workspace: %s\n", err.msg);
                return 2;
            }
            void *q = dev_fill(&ctx, (size_t)H * d * es, 1), *k = dev_fill(&ctx, kv_bytes, 2);
            void *v = dev_fill(&ctx, kv_bytes, 3), *out = dev_fill(&ctx, (size_t)H * d * es, 4);
            float *lse = dev_fill(&ctx, (size_t)H * 4, 5);
            void *cp = ic_buf_alloc(&ctx, 2 * kv_bytes), *src = ic_buf_alloc(&ctx, 2 * kv_bytes);
            const int reps = T <= 1024 ? 2000 : T <= 8192 ? 1000 : 400;
            for (int w = 0; w < 20; w++)
                ic_attention_decode_forward_cuda(&ctx, dt, out, lse, q, k, v, T, H, Hkv, d);
            ic_ctx_sync(&ctx);
            double t0 = now_s();
            for (int r = 0; r < reps; r++)
                ic_attention_decode_forward_cuda(&ctx, dt, out, lse, q, k, v, T, H, Hkv, d);
            ic_ctx_sync(&ctx);
            const double sec = (now_s() - t0) / reps;
            for (int w = 0; w < 5; w++) ic_buf_copy(&ctx, cp, src, 2 * kv_bytes);
            ic_ctx_sync(&ctx);
            t0 = now_s();
            for (int r = 0; r < reps; r++) ic_buf_copy(&ctx, cp, src, 2 * kv_bytes);
            ic_ctx_sync(&ctx);
            const double csec = (now_s() - t0) / reps;
            const double bytes = 2.0 * (double)kv_bytes;
            const double gbs = bytes / sec * 1e-9, cgbs = 2.0 * bytes / csec * 1e-9;
            printf("%-5s %6d %10.0f %10.2f %10.1f %12.1f %7.0f%%\n", dt_i ? "bf16" : "f32", T,
                   bytes, sec * 1e6, gbs, cgbs, 100.0 * gbs / cgbs);
            if (js)
                fprintf(js, "%s  {\"dtype\": \"%s\", \"T\": %d, \"bytes\": %.0f, \"us\": %.3f, "
                            "\"GBps\": %.2f, \"copy_GBps\": %.2f}",
                        first ? "" : ",\n", dt_i ? "bf16" : "f32", T, bytes, sec * 1e6, gbs, cgbs);
            first = 0;
            ic_buf_free(&ctx, q); ic_buf_free(&ctx, k); ic_buf_free(&ctx, v);
            ic_buf_free(&ctx, out); ic_buf_free(&ctx, lse); ic_buf_free(&ctx, cp);
            ic_buf_free(&ctx, src);
        }
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
        printf("wrote %s\n", path);
    }
    ic_ctx_free(&ctx);
    return 0;
}
