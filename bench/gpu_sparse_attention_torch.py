"""torch's gather-based sparse attention (the formula an engine without a
fused kernel runs): gather K and V rows by idx, einsum for the scores (fp32),
mask the slots >= cnt with -inf, softmax and logsumexp (the lse our op
returns), einsum with V; bf16 storage. Same shapes as bench_sparse_attention_gpu
(SmolLM2's teacher H 9 Hkv 3 d 64 K 256 at L = 8K and 32K; DeepSeek-like H 16,
d 128, K 2048, L 16K with Hkv 1 and 16), in query chunks whose gathered K
stays under IC_TORCH_CHUNK_GB (default 8) so the MHA shape fits. Index sets
like ours (the local window of 64, the rest of the row spread over the
earlier positions, one random position per stratum: distinct, sorted). Median
of CUDA-event timings after warm-up. Prints a table with our kernel's
same-run figures from $IC_OUT/sparse_attention_ic.json (written by
bench_sparse_attention_gpu, which bench/gpu_run.sh runs first) and writes
$IC_OUT/sparse_attention_torch.json. IC_SA_MAX_GB (default 200, as the C
bench) skips a shape. Exit 77 without a GPU."""
import json
import math
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

SHAPES = [("smollm2", 8192, 9, 3, 64, 256), ("smollm2", 32768, 9, 3, 64, 256),
          ("deepseek-mqa", 16384, 16, 1, 128, 2048), ("deepseek-mha", 16384, 16, 16, 128, 2048)]
WINDOW = 64
out_dir = os.environ.get("IC_OUT", ".")
max_gb = float(os.environ.get("IC_SA_MAX_GB", "200"))
chunk_gb = float(os.environ.get("IC_TORCH_CHUNK_GB", "8"))
ours = {}
try:
    with open(os.path.join(out_dir, "sparse_attention_ic.json")) as f:
        for r in json.load(f)["results"]:
            ours[(r["shape"], r["L"])] = r
except (OSError, ValueError, KeyError):
    pass
dev = torch.device("cuda")


def index_sets(L, K, gen):
    """idx [L, K] int64 (-1 past cnt), cnt [L]: window + one position per stratum."""
    t = torch.arange(L, device=dev).unsqueeze(1)
    j = torch.arange(K, device=dev).unsqueeze(0)
    n = torch.clamp(t + 1, max=K)
    w = torch.clamp(n, max=WINDOW)
    m = n - w                    # strata over [0, lo)
    lo = t + 1 - w
    mm = torch.clamp(m, min=1)
    a = (j * lo) // mm           # stratum j is [a, b): nonempty since lo >= m
    b = ((j + 1) * lo) // mm
    r = torch.rand((L, K), device=dev, generator=gen)
    strat = a + torch.floor(r * (b - a).to(torch.float32)).to(torch.int64).clamp(max=(b - a - 1).clamp(min=0))
    win = lo + (j - m)
    idx = torch.where(j < m, strat, win)
    idx = torch.where(j < n, idx, torch.full_like(idx, -1))
    return idx, n.squeeze(1)


def sparse_attn(q, k, v, idx, cnt, K, chunk):
    L, H, d = q.shape
    Hkv = k.shape[1]
    G = H // Hkv
    scale = 1.0 / math.sqrt(d)
    out = torch.empty_like(q)
    lse = torch.empty((L, H), device=dev, dtype=torch.float32)
    slots = torch.arange(K, device=dev)
    for t0 in range(0, L, chunk):
        t1 = min(L, t0 + chunk)
        ii = idx[t0:t1].clamp(min=0)
        kg = k[ii]               # [c, K, Hkv, d]
        vg = v[ii]
        qc = q[t0:t1].view(t1 - t0, Hkv, G, d)
        s = torch.einsum("cgjd,ckgd->cgjk", qc, kg).float() * scale
        s.masked_fill_((slots[None, :] >= cnt[t0:t1, None])[:, None, None, :], float("-inf"))
        lse[t0:t1] = torch.logsumexp(s, dim=-1).view(t1 - t0, H)
        p = torch.softmax(s, dim=-1).to(q.dtype)
        out[t0:t1] = torch.einsum("cgjk,ckgd->cgjd", p, vg).reshape(t1 - t0, H, d)
        del kg, vg, s, p
    return out, lse.t()


rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%-13s %6s %6s %4s %5s %9s %10s %10s %10s" % ("shape", "L", "H/Hkv", "d", "K", "GB", "torch ms",
                                                    "ic ms", "ic/torch"))
for name, L, H, Hkv, d, K in SHAPES:
    gen = torch.Generator(device=dev).manual_seed(L + H)
    idx, cnt = index_sets(L, K, gen)
    gb = float(cnt.sum().item()) * Hkv * d * 2 * 2 / 1e9
    if gb > max_gb:
        print("%-13s %6d %3d/%-2d %4d %5d %9.2f skipped (IC_SA_MAX_GB)" % (name, L, H, Hkv, d, K, gb))
        continue
    q = (torch.rand((L, H, d), device=dev, generator=gen) * 3 - 1.5).to(torch.bfloat16)
    k = (torch.rand((L, Hkv, d), device=dev, generator=gen) * 3 - 1.5).to(torch.bfloat16)
    v = (torch.rand((L, Hkv, d), device=dev, generator=gen) * 2 - 1).to(torch.bfloat16)
    chunk = max(1, min(L, int(chunk_gb * 1e9 // (K * Hkv * d * 2))))
    reps = 10 if gb < 20 else 3
    for _ in range(2):
        sparse_attn(q, k, v, idx, cnt, K, chunk)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        sparse_attn(q, k, v, idx, cnt, K, chunk)
        e1.record()
        torch.cuda.synchronize()
        times.append(e0.elapsed_time(e1))
    times.sort()
    ms = times[len(times) // 2]
    ic = ours.get((name, L), {}).get("median_ms")
    print("%-13s %6d %3d/%-2d %4d %5d %9.2f %10.3f %10s %10s" % (
        name, L, H, Hkv, d, K, gb, ms, "%.3f" % ic if ic else "-", "%.3fx" % (ic / ms) if ic else "-"))
    rows.append({"shape": name, "L": L, "H": H, "Hkv": Hkv, "d": d, "K": K, "gathered_gb": gb,
                 "chunk_rows": chunk, "torch_ms": ms, "ic_ms": ic})
    del q, k, v, idx, cnt
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "sparse_attention_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "rows": rows}, f, indent=1)
