"""torch.topk (dim = -1) over all rows of a causal [L, L] fp32 score matrix
(future columns -inf): L = 2K, 8K, 32K at k = 256 and L = 64K at k = 2048,
the same shapes and call pattern as bench_topk_gpu (mean over back-to-back
all-rows sweeps between two synchronisations; the masking is done once,
outside the timing). The 64K shape runs in row blocks of 8192 (views of one
masked [64K, 64K] matrix, 16 GiB; torch.topk on all 2^32 elements at once is
not what the trainer does), the figure is the total over the blocks. Prints a
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

SHAPES = ((2048, 256, 2048), (8192, 256, 8192), (32768, 256, 32768), (65536, 2048, 8192))
out_dir = os.environ.get("IC_OUT", ".")
ours = {}
try:
    with open(os.path.join(out_dir, "topk_ic.json")) as f:
        for r in json.load(f)["rows"]:
            ours[(r["L"], r["K"])] = r
except (OSError, ValueError, KeyError):
    pass

dev = torch.device("cuda")
rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%6s %5s %10s %10s %10s" % ("L", "K", "torch ms", "ic ms", "ic/torch"))
for L, K, B in SHAPES:
    g = torch.Generator(device=dev).manual_seed(L)
    S = torch.empty((L, L), device=dev, dtype=torch.float32)
    for r0 in range(0, L, B):  # fill and mask by blocks: no [L, L] temporaries
        blk = S[r0:r0 + B]
        blk.uniform_(-4.0, 4.0, generator=g)
        col = torch.arange(L, device=dev).unsqueeze(0)
        rowi = torch.arange(r0, r0 + B, device=dev).unsqueeze(1)
        blk.masked_fill_(col > rowi, float("-inf"))
    blocks = [S[r0:r0 + B] for r0 in range(0, L, B)]
    reps = 200 if L <= 2048 else 50 if L <= 8192 else 10 if L <= 32768 else 3
    for _ in range(3):
        for b in blocks:
            torch.topk(b, K, dim=-1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        for b in blocks:
            torch.topk(b, K, dim=-1)
    torch.cuda.synchronize()
    ms = 1e3 * (time.perf_counter() - t0) / reps
    ic = ours.get((L, K), {}).get("ms")
    print("%6d %5d %10.3f %10s %10s" % (L, K, ms, "%.3f" % ic if ic else "-",
                                       "%.2fx" % (ic / ms) if ic else "-"))
    rows.append({"L": L, "K": K, "torch_ms": ms, "ic_ms": ic})
    del S, blocks
    torch.cuda.empty_cache()
with open(os.path.join(out_dir, "topk_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "rows": rows}, f, indent=1)
