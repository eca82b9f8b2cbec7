"""torch SDPA with one query token at the shapes of bench_decode_attn_gpu
(SmolLM2: H = 9, Hkv = 3, d = 64; T = 1K, 8K, 32K; fp32 and bf16), the same
call pattern: mean over back-to-back calls between two synchronisations.
GB/s counts the K and V cache read once. Prints a table with our kernel's
same-run figures from $IC_OUT/decode_attn_ic.json (written by the
bench_decode_attn_gpu step that bench/gpu_run.sh runs before this script)
and writes $IC_OUT/decode_attn_torch.json. Exit 77 without a GPU."""
import json
import os
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIP: no torch")
    sys.exit(77)
if not torch.cuda.is_available():
    print("SKIP: no CUDA device")
    sys.exit(77)

H, HKV, D = 9, 3, 64
TS = (1024, 8192, 32768)
out_dir = os.environ.get("IC_OUT", ".")
dev = torch.device("cuda")
ours = {}
try:
    with open(os.path.join(out_dir, "decode_attn_ic.json")) as f:
        for r in json.load(f)["rows"]:
            ours[(r["dtype"], r["T"])] = r
except (OSError, ValueError, KeyError):
    pass

rows = []
print(torch.cuda.get_device_name(0), "torch", torch.__version__)
print("%-5s %6s %12s %10s %10s %10s %10s" % ("dtype", "T", "bytes", "torch us", "torch GB/s",
                                             "ic us", "ic GB/s"))
for name, dt in (("f32", torch.float32), ("bf16", torch.bfloat16)):
    for T in TS:
        g = torch.Generator(device=dev).manual_seed(T)
        q = torch.rand(1, H, 1, D, device=dev, dtype=dt, generator=g) - 0.5
        k = torch.rand(1, HKV, T, D, device=dev, dtype=dt, generator=g) - 0.5
        v = torch.rand(1, HKV, T, D, device=dev, dtype=dt, generator=g) - 0.5
        reps = 2000 if T <= 1024 else 1000 if T <= 8192 else 400
        call = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        for _ in range(20):
            call()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        torch.cuda.synchronize()
        sec = (time.perf_counter() - t0) / reps
        nbytes = 2.0 * T * HKV * D * q.element_size()
        r = {"dtype": name, "T": T, "bytes": nbytes, "us": sec * 1e6, "GBps": nbytes / sec * 1e-9}
        o = ours.get((name, T))
        if o:
            r["ic_us"], r["ic_GBps"] = o["us"], o["GBps"]
        rows.append(r)
        print("%-5s %6d %12.0f %10.2f %10.1f %10s %10s" % (
            name, T, nbytes, r["us"], r["GBps"],
            "%.2f" % o["us"] if o else "-", "%.1f" % o["GBps"] if o else "-"))
with open(os.path.join(out_dir, "decode_attn_torch.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "H": H, "Hkv": HKV, "d": D, "rows": rows}, f, indent=1)
print("wrote", os.path.join(out_dir, "decode_attn_torch.json"))
