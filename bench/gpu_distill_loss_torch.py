"""The torch comparison for bench_distill_loss_gpu (issue 11): the dense-stage
IndexCache distillation loss written as the formula over materialised [L, L]
scores, bf16, with autograd for the indexer gradients:

  I[t,s]   = sum_h w[t,h] relu(qI[t,h] . kI[s])           (causal, -inf above)
  log q    = log_softmax_s I                              (fp32)
  p_j[t,s] = mean_h exp(q_jh[t] . k_jg(h)[s] / sqrt(d) - lse_jh[t])   (no grad)
  loss     = sum_t sum_j 1/n * sum_s p_j (log p_j - log q);  loss.backward()

Same shapes as the C benchmark (4 served layers, L = 8K; smollm2 and
dsv32like). Time: forward + backward, CUDA events, median of the reps after
warm-up; memory: torch.cuda.max_memory_allocated over one step minus what the
inputs hold. Prints the ratio to our kernel's same-run figures from
$IC_OUT/distill_loss_ic.json (bench_distill_loss_gpu, which bench/gpu_run.sh
runs first) and writes $IC_OUT/distill_loss_torch.json. Exit 77 without a GPU."""
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

SHAPES = [
    # name, H_I, d_I, H, Hkv, d, n_served, L
    ("smollm2", 16, 64, 9, 3, 64, 4, 8192),
    ("dsv32like", 64, 128, 16, 16, 128, 4, 8192),
]
out_dir = os.environ.get("IC_OUT", ".")
reps = int(os.environ.get("IC_BENCH_REPS", "5"))
ours = {}
try:
    with open(os.path.join(out_dir, "distill_loss_ic.json")) as f:
        for r in json.load(f)["rows"]:
            ours[r["shape"]] = r
except (OSError, ValueError, KeyError):
    pass

dev = torch.device("cuda")
bf = torch.bfloat16


def step(qI, kI, w, served, mask, H, Hkv, d):
    I = (torch.einsum("thd,sd->ths", qI, kI).relu() * w[:, :, None]).sum(1)
    logq = torch.log_softmax(I.float().masked_fill(mask, float("-inf")), dim=-1)
    loss = 0.0
    with torch.no_grad():
        ps = []
        for q, k, lse in served:
            kk = k.repeat_interleave(H // Hkv, dim=1)                     # [L, H, d]
            S = torch.einsum("thd,shd->hts", q, kk).float() / math.sqrt(d)
            p = torch.exp(S - lse[:, :, None]).masked_fill(mask, 0.0).mean(0)
            ps.append(p)
            del S, kk
    for p in ps:
        loss = loss + (torch.xlogy(p, p) - p * logq.masked_fill(mask, 0.0)).sum() / len(ps)
    loss.backward()
    return loss


rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%-10s %5s %10s %10s %10s %10s %10s" % ("shape", "L", "torch ms", "torch GiB", "ic ms",
                                              "ic GiB", "torch/ic"))
for name, HI, dI, H, Hkv, d, ns, L in SHAPES:
    g = torch.Generator(device=dev).manual_seed(L + HI)
    qI = (torch.rand((L, HI, dI), device=dev, generator=g) * 2 - 1).to(bf).requires_grad_()
    kI = (torch.rand((L, dI), device=dev, generator=g) * 2 - 1).to(bf).requires_grad_()
    w = (torch.rand((L, HI), device=dev, generator=g) / math.sqrt(HI * dI)).to(bf).requires_grad_()
    served = []
    for j in range(ns):
        q = (torch.rand((L, H, d), device=dev, generator=g) * 2 - 1).to(bf)
        k = (torch.rand((L, Hkv, d), device=dev, generator=g) * 2 - 1).to(bf)
        lse = torch.log(torch.arange(1, L + 1, device=dev, dtype=torch.float32))[None, :].repeat(H, 1) + 1
        served.append((q, k, lse))
    mask = torch.ones((L, L), device=dev, dtype=torch.bool).triu_(1)
    try:
        for _ in range(2):
            step(qI, kI, w, served, mask, H, Hkv, d)
            qI.grad = kI.grad = w.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(reps):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            step(qI, kI, w, served, mask, H, Hkv, d)
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1))
            qI.grad = kI.grad = w.grad = None
        ms = sorted(times)[len(times) // 2]
        gib = (torch.cuda.max_memory_allocated() - base) / 2**30
    except torch.cuda.OutOfMemoryError:
        ms, gib = float("nan"), float("nan")
        print("%s: torch ran out of memory" % name)
    ic = ours.get(name, {})
    ic_ms, ic_gib = ic.get("fwd_bwd_ms"), ic.get("workspace_gib")
    print("%-10s %5d %10.2f %10.2f %10s %10s %10s" % (
        name, L, ms, gib, "%.2f" % ic_ms if ic_ms else "-", "%.3f" % ic_gib if ic_gib else "-",
        "%.1fx" % (ms / ic_ms) if ic_ms else "-"))
    rows.append({"shape": name, "L": L, "torch_ms": ms, "torch_peak_gib": gib,
                 "ic_ms": ic_ms, "ic_workspace_gib": ic_gib,
                 "speedup": ms / ic_ms if ic_ms else None})
    del qI, kI, w, served, mask
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "distill_loss_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows},
              f, indent=1)
