"""The sparse-stage distillation loss in torch, the gather-based formula with
autograd, bf16 inputs (softmaxes and KL in fp32), at bench_distill_loss_sparse_gpu's
shapes: indexer H_I 16 x d_I 64, teacher H 9 / Hkv 3 x 64, 4 served layers,
K = 256, L = 8K and 32K, random causal index sets (min(K, t+1) per row).
Per row t and set T_t = idx[t, :cnt[t]]:
  I[t,c] = sum_h w[t,h] relu(qI[t,h] . kI[idx[t,c]])   (gathered kI)
  logq = log_softmax_c(I), p_j = mean_h softmax_c(q_jh[t] . k_jg[idx[t,c]] / sqrt(d))
  loss = sum_t sum_j 1/n_served KL(p_j || q);  loss.backward() into qI, kI, w.
The teacher part runs under no_grad one layer at a time (it gets no
gradients). Times forward + backward (mean over back-to-back steps between two
synchronisations) and prints the ratio against ours from
$IC_OUT/distill_loss_sparse_ic.json (our backward call computes the loss and
all three gradients: the whole step). Writes $IC_OUT/distill_loss_sparse_torch.json.
Exit 77 without a GPU."""
import json
import math
import os
import sys
import time

try:
    import torch
except ImportError:
    print("SKIP: no torch")
    sys.exit(77)
if not torch.cuda.is_available():
    print("SKIP: no CUDA device")
    sys.exit(77)

K, HI, DI, H, HKV, D, NS = 256, 16, 64, 9, 3, 64, 4
out_dir = os.environ.get("IC_OUT", ".")
ours = {}
try:
    with open(os.path.join(out_dir, "distill_loss_sparse_ic.json")) as f:
        for r in json.load(f)["rows"]:
            ours[r["L"]] = r
except (OSError, ValueError, KeyError):
    pass

dev = torch.device("cuda")
bf = torch.bfloat16


def causal_sets(L, g):
    """idx [L, K] (clamped to 0 past cnt) and the valid mask [L, K]."""
    t = torch.arange(L, device=dev)
    r = torch.rand((L, L), device=dev, generator=g).masked_fill_(
        torch.ones((L, L), device=dev, dtype=torch.bool).triu_(1), -1.0)
    idx = torch.topk(r, K, dim=-1).indices  # K distinct random positions <= t (or future)
    valid = idx <= t[:, None]
    return idx.masked_fill(~valid, 0), valid


def step(qI, kI, w, qs, ks, idx, valid):
    L = qI.shape[0]
    kg = kI[idx]                                           # [L, K, dI]
    a = torch.einsum("thi,tki->thk", qI, kg)               # [L, HI, K]
    I = (w[:, :, None] * torch.relu(a)).sum(1).float()     # [L, K]
    I = I.masked_fill(~valid, float("-inf"))
    logq = torch.log_softmax(I, -1)
    loss = 0.0
    with torch.no_grad():
        ps = []
        for q, k in zip(qs, ks):
            kj = k[idx]                                    # [L, K, Hkv, d]
            s = torch.einsum("tgrd,tkgd->tgrk", q.view(L, HKV, H // HKV, D), kj).float()
            s = (s / math.sqrt(D)).masked_fill(~valid[:, None, None, :], float("-inf"))
            ps.append(torch.softmax(s, -1).mean((1, 2)))   # [L, K]
    for p in ps:
        lp = torch.where(p > 0, torch.log(p), torch.zeros_like(p))
        loss = loss + (p * (lp - logq)).masked_fill(~valid, 0.0).sum() / NS
    loss.backward()
    return loss


rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%6s %5s %12s %14s %10s %10s" % ("L", "K", "torch ms", "torch GiB", "ic bwd ms", "torch/ic"))
for L in (8192, 32768):
    g = torch.Generator(device=dev).manual_seed(L)
    rnd = lambda *s: (torch.rand(s, device=dev, generator=g) * 2 - 1).to(bf)
    qI = rnd(L, HI, DI).requires_grad_()
    kI = rnd(L, DI).requires_grad_()
    w = rnd(L, HI).requires_grad_()
    qs = [rnd(L, H, D) for _ in range(NS)]
    ks = [rnd(L, HKV, D) for _ in range(NS)]
    idx, valid = causal_sets(L, g)
    reps = 10 if L <= 8192 else 3
    for _ in range(2):
        step(qI, kI, w, qs, ks, idx, valid)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(reps):
        qI.grad = kI.grad = w.grad = None
        step(qI, kI, w, qs, ks, idx, valid)
    torch.cuda.synchronize()
    ms = 1e3 * (time.perf_counter() - t0) / reps
    gib = torch.cuda.max_memory_allocated() / 2**30
    ic = ours.get(L, {}).get("backward_ms")
    print("%6d %5d %12.3f %14.2f %10s %10s" % (L, K, ms, gib, "%.3f" % ic if ic else "-",
                                             "%.2fx" % (ms / ic) if ic else "-"))
    rows.append({"L": L, "K": K, "torch_fwd_bwd_ms": ms, "torch_peak_gib": gib,
                 "ic_backward_ms": ic, "torch_over_ic": ms / ic if ic else None})
    del qI, kI, w, qs, ks, idx, valid
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "distill_loss_sparse_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "dtype": "bf16", "rows": rows}, f,
              indent=1)
