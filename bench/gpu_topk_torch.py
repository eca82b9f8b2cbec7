"""torch.topk (k = 256, dim = -1) over all rows of a causal [L, L] fp32 score
matrix (future columns -inf), L = 2K, 8K, 32K: the same shapes and call
pattern as bench_topk_gpu (mean over back-to-back calls between two
synchronisations; the masking is done once, outside the timing). Prints a
table with our kernel's same-run figures from $IC_OUT/topk_ic.json (written
by bench_topk_gpu, which bench/gpu_run.sh runs first) and writes
$IC_OUT/topk_torch.json. Exit 77 without a GPU."""
import json
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

K = 256
out_dir = os.environ.get("IC_OUT", ".")
ours = {}
try:
    with open(os.path.join(out_dir, "topk_ic.json")) as f:
        for r in json.load(f)["rows"]:
            ours[r["L"]] = r
except (OSError, ValueError, KeyError):
    pass

dev = torch.device("cuda")
rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%6s %5s %10s %10s %10s" % ("L", "K", "torch ms", "ic ms", "ic/torch"))
for L in (2048, 8192, 32768):
    g = torch.Generator(device=dev).manual_seed(L)
    S = torch.rand((L, L), device=dev, dtype=torch.float32, generator=g) * 8 - 4
    S.masked_fill_(torch.ones((L, L), device=dev, dtype=torch.bool).triu_(1), float("-inf"))
    reps = 200 if L <= 2048 else 50 if L <= 8192 else 10
    for _ in range(3):
        torch.topk(S, K, dim=-1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.topk(S, K, dim=-1)
    torch.cuda.synchronize()
    ms = 1e3 * (time.perf_counter() - t0) / reps
    ic = ours.get(L, {}).get("ms")
    print("%6d %5d %10.3f %10s %10s" % (L, K, ms, "%.3f" % ic if ic else "-",
                                       "%.2fx" % (ic / ms) if ic else "-"))
    rows.append({"L": L, "K": K, "torch_ms": ms, "ic_ms": ic})
    del S
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "topk_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "rows": rows}, f, indent=1)
