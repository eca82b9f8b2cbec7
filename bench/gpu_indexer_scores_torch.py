"""The lightning-indexer scores forward in torch eager, bf16, at the shapes of
bench_indexer_scores_gpu (H_I 16 x d_I 64 at L = 2K, 8K, 32K; H_I 64 x
d_I 128 at L = 16K): I[t, s] = sum_j w[t,j] ReLU(qI[t,j] . kI[s]) for s <= t,
-inf above the diagonal, out [L, L] fp32. Rows go in blocks of R (the
[R, H_I, keys] product must fit: one [L, H_I, L] bf16 tensor is 32 GiB at
32K), and a block multiplies only the keys up to its last row, so torch skips
most of the upper triangle as our kernel does. Per block: einsum qI.kI per
head (bf16 GEMM), relu_, the weighted sum over heads as a bmm (fp32
accumulation), the -inf mask. Timed with CUDA events after warm-up (median).
Prints the ratio against our same-run figures from $IC_OUT/indexer_scores.json
(written by bench_indexer_scores_gpu, which bench/gpu_run.sh runs first) and
writes $IC_OUT/indexer_scores_torch.json. Exit 77 without a GPU."""
import json
import os
import sys

try:
    import torch
except ImportError:
    print("SKIP: no torch")
    sys.exit(77)
if not torch.cuda.is_available():
    print("SKIP: no CUDA device")
    sys.exit(77)

SHAPES = ((2048, 16, 64), (8192, 16, 64), (32768, 16, 64), (16384, 64, 128))
out_dir = os.environ.get("IC_OUT", ".")
ours = {}
try:
    with open(os.path.join(out_dir, "indexer_scores.json")) as f:
        for r in json.load(f)["results"]:
            ours[(r["L"], r.get("H_I", 16), r.get("d_I", 64))] = r
except (OSError, ValueError, KeyError):
    pass


def block_rows(L, H):
    """Rows per block so that the bf16 [R, H, L] product stays near 2 GiB."""
    r = (1 << 30) // (H * L)
    return max(64, min(L, 1 << (r.bit_length() - 1)))


def scores(q, k, w, out, R):
    L = q.shape[0]
    for r0 in range(0, L, R):
        r1 = min(L, r0 + R)
        s = torch.einsum("thd,sd->ths", q[r0:r1], k[:r1])  # [R, H, r1] bf16
        s.relu_()
        o = torch.bmm(w[r0:r1].unsqueeze(1), s).squeeze(1)  # [R, r1]
        blk = out[r0:r1]
        blk[:, :r1] = o
        t = torch.arange(r0, r1, device=q.device).unsqueeze(1)
        c = torch.arange(0, r1, device=q.device).unsqueeze(0)
        blk[:, :r1].masked_fill_(c > t, float("-inf"))
        blk[:, r1:] = float("-inf")


dev = torch.device("cuda")
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%6s %4s %4s %10s %10s %12s %12s %10s" % ("L", "H_I", "d_I", "torch ms", "ic ms",
                                                 "torch TF/s", "ic TF/s", "torch/ic"))
rows = []
for L, H, d in SHAPES:
    g = torch.Generator(device=dev).manual_seed(L * 131 + H)
    q = (torch.rand((L, H, d), device=dev, generator=g) * 2 - 1).to(torch.bfloat16)
    k = (torch.rand((L, d), device=dev, generator=g) * 2 - 1).to(torch.bfloat16)
    w = (torch.rand((L, H), device=dev, generator=g) * 0.3 - 0.1).to(torch.bfloat16)
    out = torch.empty((L, L), device=dev, dtype=torch.float32)
    R = block_rows(L, H)
    reps = 20 if L <= 2048 else 10 if L <= 8192 else 5
    for _ in range(2):
        scores(q, k, w, out, R)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        scores(q, k, w, out, R)
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    times.sort()
    ms = times[len(times) // 2]
    flops = L * L / 2 * H * d * 2
    ic = ours.get((L, H, d), {}).get("median_ms")
    print("%6d %4d %4d %10.3f %10s %12.1f %12s %10s" % (
        L, H, d, ms, "%.3f" % ic if ic else "-", flops / ms / 1e9,
        "%.1f" % (flops / ic / 1e9) if ic else "-", "%.1fx" % (ms / ic) if ic else "-"))
    rows.append({"L": L, "H_I": H, "d_I": d, "block_rows": R, "torch_ms": ms, "ic_ms": ic,
                 "torch_over_ic": ms / ic if ic else None})
    del q, k, w, out
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "indexer_scores_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "rows": rows}, f, indent=1)
