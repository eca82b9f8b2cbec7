// Shared scaffolding of the per-op emulator tests (tests/cudasim/test_<op>.cpp):
// a CUDA-backend ic_ctx whose "device" memory is host memory (the emulator's
// kernels run on the host), storage buffers in fp32 or bf16 with a chosen
// misalignment, NaN poisoning, and the oracle comparison of
// tests/ic_ops_oracle.h. Each test runs in the thread order CTest gives it
// (CUDASIM_ORDER: forward, reverse, random:1, random:2).
#ifndef IC_OPTEST_H
#define IC_OPTEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "core/ic_ctx.h"
#include "kernels/ic_adamw_update.h"
#include "kernels/ic_cuda_ops.h"
#include "kernels/ic_grad_norm.h"
}
#include "ic_cudasim_api.h"

#include "../ic_ops_oracle.h"

static int g_cases, g_failed;

static inline ic_ctx optest_ctx(size_t ws_bytes) {
    ic_ctx c;
    memset(&c, 0, sizeof c);
    c.backend = IC_BACKEND_CUDA;
    c.device = 0;
    c.cpu_threads = 1;
    snprintf(c.desc, sizeof c.desc, "cudasim (%s)", cudasim_order_name());
    if (ic_arena_init(&c.ws, ws_bytes) != 0) {
        fprintf(stderr, "out of memory for the workspace\n");
        exit(2);
    }
    return c;
}

static inline const char *optest_dt(ic_dtype dt) { return dt == IC_BF16 ? "bf16" : "f32"; }
static inline size_t optest_size(ic_dtype dt) { return dt == IC_BF16 ? 2 : 4; }
static inline double optest_tol(ic_dtype dt) {
    return dt == IC_BF16 ? IC_ORACLE_TOL_BF16 : IC_ORACLE_TOL_F32;
}

// n elements of dt, `off` elements past a 64-byte aligned base (off = 1 takes
// the kernels' unpacked path).
struct optest_buf {
    void *base;
    void *p;
    ic_dtype dt;
    size_t n;
    optest_buf(ic_dtype dt_, size_t n_, int off = 0) : dt(dt_), n(n_) {
        const size_t bytes = ((n + (size_t)off) * optest_size(dt) + 63) / 64 * 64 + 64;
        base = aligned_alloc(64, bytes);
        if (!base) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        memset(base, 0xA5, bytes);
        p = (char *)base + (size_t)off * optest_size(dt);
    }
    ~optest_buf() { free(base); }
    optest_buf(const optest_buf &) = delete;
    optest_buf &operator=(const optest_buf &) = delete;
    void put(const float *x) {
        if (dt == IC_F32) memcpy(p, x, n * 4);
        else
            for (size_t i = 0; i < n; i++) ((uint16_t *)p)[i] = ic_oracle_f2bf(x[i]);
    }
    void poison() {
        if (dt == IC_F32)
            for (size_t i = 0; i < n; i++) ((float *)p)[i] = NAN;
        else
            for (size_t i = 0; i < n; i++) ((uint16_t *)p)[i] = 0x7fc0;
    }
    void get(float *x) const {
        if (dt == IC_F32) memcpy(x, p, n * 4);
        else
            for (size_t i = 0; i < n; i++) x[i] = ic_oracle_bf2f(((const uint16_t *)p)[i]);
    }
};

static inline float *optest_rand(size_t n, uint64_t seed, float lo, float hi, ic_dtype dt) {
    float *x = (float *)malloc(sizeof(float) * (n ? n : 1));
    ic_oracle_fill(x, n, seed, lo, hi, dt == IC_BF16);
    return x;
}

static inline void optest_check(const char *name, const float *got, const double *ref,
                                const double *scale, size_t n, double tol) {
    ic_oracle_check(name, got, ref, scale, n, tol, &g_cases, &g_failed);
}

static inline int optest_end(const char *op) {
    printf("%s (cudasim, order %s): %d cases, %d failed\n", op, cudasim_order_name(), g_cases,
           g_failed);
    return g_failed ? 1 : 0;
}

#endif
