/* The CPU LM head fused with the cross-entropy (kernels/ic_cross_entropy.h):
 * nll_i = logsumexp(x_i W^T) - (x_i W^T)[y_i] for rows x [n, D] against the
 * head W [V, D], without [n, V] logits and reading W once per pass of
 * `rows` rows.
 *
 * Why: the head in 64-row blocks through the threaded GEMM
 * (ic_cpu_sgemm splits each block's rows over the threads) made every
 * thread pack all of W (113 MB for SmolLM2's tied head) every 32 rows;
 * head + loss were 28-30% of `eval` at L = 512 on 2 cores.
 *
 * Blocking (ic_cpu_lm_head.h). A pass takes `rows` rows of x. Its threads
 * form vparts vocabulary slices x (threads / vparts) row slices; a thread
 * walks its vocabulary slice in tiles of vchunk columns: one single-
 * threaded GEMM of its rows x vchunk into its own tile, then each row of
 * the tile is folded into the row's running (max, sum of exp) of that
 * slice (an online log-sum-exp: a new max rescales the sum by
 * exp(old - new), in double) and the target's logit is picked when it
 * falls in the tile. After the pass the slices' (max, sum) pairs of a row
 * are combined in double: M = max_p m_p, S = sum_p s_p exp(m_p - M),
 * nll = M + log S - z_y. The default is the vocabulary split (vparts =
 * threads): W is read once per pass in all, each thread streaming its own
 * V / threads rows of it, and only the small x block is shared (OpenBLAS
 * packs it again per tile: rows * D floats per vchunk columns).
 *
 * Memory (llama2.c style), fp32, T = threads, P = vparts:
 *   tiles:  T * ceil(rows / (T / P)) * vchunk floats
 *   stats:  rows * P * 16 bytes (max, target logit, sum)
 * (ic_lm_head_loss_workspace_bytes; taken from the workspace). SmolLM2 on
 * 2 threads, rows 512, vchunk 512, P = 2: 2 MiB + 16 KiB whatever L is;
 * the 64-row blocked path held 64 * V floats = 12 MiB of logits. Passes
 * over W: ceil(n / rows).
 *
 * Accuracy: that of cross_entropy.c (the same row max / sum-exp pieces),
 * plus one double rescale per tile and slice; the products are OpenBLAS's
 * (a tile's sums over D do not depend on where the tile starts). */
#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "ic_check.h"
#include "kernels/cpu/ic_cpu_blas.h"
#include "kernels/cpu/ic_cpu_ce_rows.h"
#include "kernels/cpu/ic_cpu_lm_head.h"
#include "kernels/cpu/ic_cpu_threads.h"
#include "kernels/ic_cross_entropy.h"

/* chosen by bench/bench_lm_head_cpu.c on the 2-core box (see its header) */
#define LM_HEAD_ROWS   512
#define LM_HEAD_VCHUNK 512

typedef struct {
    float  m;    /* running max of the slice's logits of the row */
    float  zy;   /* the target's logit, when the target is in the slice */
    double s;    /* sum of exp(z - m) over the slice so far */
} slice_stat;

ic_lm_head_blocking ic_lm_head_blocking_default(const ic_ctx *ctx, int n, int V, int D) {
    ic_lm_head_blocking b;
    b.threads = ic_cpu_threads(ctx);
    /* small work (a test's toy vocabulary): a fork/join costs more than it saves */
    if ((long)n * V * D < (1L << 20) || V < b.threads) b.threads = 1;
    b.vparts = b.threads;
    b.rows = LM_HEAD_ROWS;
    b.vchunk = LM_HEAD_VCHUNK;
    return b;
}

/* the shape one call with blocking b on n rows actually uses */
static void shape(const ic_lm_head_blocking *b, int n, int V, int *R, int *rpr, int *vc) {
    const int rp = b->threads / b->vparts;
    *R = n < b->rows ? n : b->rows;
    *rpr = (*R + rp - 1) / rp;
    const int slice = (V + b->vparts - 1) / b->vparts;
    *vc = slice < b->vchunk ? slice : b->vchunk;
}

static size_t tile_bytes(int rpr, int vc) {
    return ic_ws_round(sizeof(float) * (size_t)rpr * vc);
}

size_t ic_lm_head_loss_workspace_bytes_blocked(const ic_lm_head_blocking *b, int n, int V) {
    if (n <= 0) return 0;
    int R, rpr, vc;
    shape(b, n, V, &R, &rpr, &vc);
    return (size_t)b->threads * tile_bytes(rpr, vc) +
           ic_ws_round(sizeof(slice_stat) * (size_t)R * b->vparts);
}

size_t ic_lm_head_loss_workspace_bytes(const ic_ctx *ctx, int n, int V, int D) {
    if (ctx->backend != IC_BACKEND_CPU) return 0;
    ic_lm_head_blocking b = ic_lm_head_blocking_default(ctx, n, V, D);
    /* the most threads a smaller n may pick is the same b.threads: sized at n */
    return ic_lm_head_loss_workspace_bytes_blocked(&b, n, V);
}

/* One thread's share of a pass: rows [i_lo, i_hi) of the pass (x, targets
 * already offset to the pass) against vocabulary [v_lo, v_hi). */
static void slice_pass(float *tile, int vc, slice_stat *st, const float *x, const float *w,
                       const int32_t *targets, int i_lo, int i_hi, int v_lo, int v_hi, int D) {
    for (int i = i_lo; i < i_hi; i++) {
        st[i].m = -INFINITY;
        st[i].zy = NAN;
        st[i].s = 0.0;
    }
    if (i_hi <= i_lo) return;
    for (int v0 = v_lo; v0 < v_hi; v0 += vc) {
        const int cw = v_hi - v0 < vc ? v_hi - v0 : vc;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i_hi - i_lo, cw, D, 1.0f,
                    x + (size_t)i_lo * D, D, w + (size_t)v0 * D, D, 0.0f, tile, vc);
        for (int i = i_lo; i < i_hi; i++) {
            const float *z = tile + (size_t)(i - i_lo) * vc;
            slice_stat *t = &st[i];
            const float cm = ic_cpu_row_max(z, cw);
            if (cm > t->m) {
                t->s *= exp((double)t->m - (double)cm);   /* 0 while m is -inf */
                t->m = cm;
            }
            t->s += ic_cpu_row_sumexp(z, cw, t->m);
            const int y = targets[i];
            if (y >= v0 && y < v0 + cw) t->zy = z[y - v0];
        }
    }
}

void ic_lm_head_loss_cpu_blocked(ic_ctx *ctx, const ic_lm_head_blocking *b, float *nll,
                                 const float *x, const float *w, const int32_t *targets,
                                 int n, int V, int D) {
    if (n <= 0) return;
    const int nt = b->threads, vp = b->vparts;
    IC_ASSERT(nt >= 1 && vp >= 1 && nt % vp == 0 && vp <= V && b->rows >= 1 &&
              b->vchunk >= 1 && D >= 1);
    for (int i = 0; i < n; i++) IC_ASSERT(targets[i] < V);
    ic_cpu_blas_init();
    const int rp = nt / vp;
    int R, rpr, vc;
    shape(b, n, V, &R, &rpr, &vc);
    const size_t mark = ic_ws_mark(ctx), tstride = tile_bytes(rpr, vc) / sizeof(float);
    float *tiles = ic_ws_alloc(ctx, sizeof(float) * tstride * nt, "ic_lm_head_loss tiles");
    slice_stat *stats = ic_ws_alloc(ctx, sizeof(slice_stat) * (size_t)R * vp,
                                    "ic_lm_head_loss stats");
    for (int r0 = 0; r0 < n; r0 += R) {
        const int nb = n - r0 < R ? n - r0 : R;
        const float *xb = x + (size_t)r0 * D;
        const int32_t *tb = targets + r0;
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int id = omp_get_thread_num(), ir = id / vp, iv = id % vp;
            slice_pass(tiles + tstride * id, vc, stats + (size_t)iv * R, xb, w, tb,
                       (int)((long)nb * ir / rp), (int)((long)nb * (ir + 1) / rp),
                       (int)((long)V * iv / vp), (int)((long)V * (iv + 1) / vp), D);
        }
        for (int i = 0; i < nb; i++) {
            const int y = tb[i];
            if (y < 0) { nll[r0 + i] = 0.0f; continue; }
            double M = -INFINITY;
            for (int p = 0; p < vp; p++) M = fmax(M, stats[(size_t)p * R + i].m);
            double S = 0.0, zy = NAN;
            for (int p = 0; p < vp; p++) {
                const slice_stat *t = &stats[(size_t)p * R + i];
                S += t->s * exp((double)t->m - M);
                if (y >= (long)V * p / vp && y < (long)V * (p + 1) / vp) zy = t->zy;
            }
            nll[r0 + i] = (float)(M + log(S) - zy);
        }
    }
    ic_ws_release(ctx, mark);
}

void ic_lm_head_loss_cpu(ic_ctx *ctx, float *nll, const float *x, const float *w,
                         const int32_t *targets, int n, int V, int D) {
    ic_lm_head_blocking b = ic_lm_head_blocking_default(ctx, n, V, D);
    ic_lm_head_loss_cpu_blocked(ctx, &b, nll, x, w, targets, n, V, D);
}
