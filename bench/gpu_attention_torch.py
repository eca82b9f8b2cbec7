#!/usr/bin/env python3
"""torch.nn.functional.scaled_dot_product_attention (causal, bf16, enable_gqa for
GQA) on the shapes of bench/bench_attention_gpu.c, TFLOP/s with the same
causal FLOP count 2 * L^2 * H * d (2 GEMMs x 2 FLOP x L^2/2 pairs x H x d).

Variants, each timed with CUDA events after warm-up, median of REPS calls:
  default   no grad, torch's own backend choice (no LSE written)
  cudnn     no grad, SDPBackend.CUDNN_ATTENTION forced
  flash     no grad, SDPBackend.FLASH_ATTENTION forced
  lse       requires_grad inputs, default backend: the forward also writes
            the LSE it saves for backward, which is what our op computes
All use our memory layout (q [L, H, d] viewed as [1, H, L, d] with strides
(., d, H*d, 1)); "default" is also timed on contiguous [1, H, L, d] tensors
(default_contig). The baseline for the goal (>= 95%) is the best variant.
A variant the backend refuses is reported as n/a.

Prints a table; writes $IC_OUT/attention_torch.json; when
$IC_OUT/attention_cudnn.json (bench_attention_gpu, run before this script by
bench/gpu_run.sh) is there, prints ours / best torch per shape.
"""
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F

try:
    from torch.nn.attention import SDPBackend, sdpa_kernel
except ImportError:  # very old torch
    SDPBackend = None

SHAPES = [(16, 16, 128, 4096), (16, 16, 128, 16384), (16, 16, 128, 65536),
          (9, 3, 64, 2048), (9, 3, 64, 8192), (9, 3, 64, 32768)]
REPS = int(os.environ.get("IC_BENCH_REPS", "25"))
WARM = 5


def flops(H, d, L):
    return 2.0 * L * L * H * d


def timed(fn):
    for _ in range(WARM):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(max(REPS, 20)):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times), min(times)


def make(H, Hkv, d, L, contiguous, grad):
    g = torch.Generator(device="cuda").manual_seed(H * 100003 + L)

    def rnd(heads, lo, hi):
        x = torch.rand((L, heads, d), generator=g, device="cuda", dtype=torch.float32)
        x = (lo + (hi - lo) * x).to(torch.bfloat16)
        x[x == 0] = 2.0 ** -7  # never zero
        x = x.transpose(0, 1).unsqueeze(0)  # [1, heads, L, d], our strides
        if contiguous:
            x = x.contiguous()
        return x.requires_grad_(grad)

    return rnd(H, -2.0, 2.0), rnd(Hkv, -2.0, 2.0), rnd(Hkv, -1.0, 1.0)


def run_variant(name, H, Hkv, d, L):
    contiguous = name == "default_contig"
    grad = name == "lse"
    q, k, v = make(H, Hkv, d, L, contiguous, grad)
    gqa = Hkv != H

    def call():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)

    backend = {"cudnn": "CUDNN_ATTENTION", "flash": "FLASH_ATTENTION"}.get(name)
    try:
        if backend is not None:
            if SDPBackend is None:
                return None
            with sdpa_kernel(getattr(SDPBackend, backend)):
                med, mn = timed(call)
        elif grad:
            med, mn = timed(call)
        else:
            with torch.no_grad():
                med, mn = timed(call)
    except RuntimeError as e:
        print(f"  {name} H={H} Hkv={Hkv} d={d} L={L}: n/a ({str(e).splitlines()[0][:100]})")
        return None
    finally:
        del q, k, v
        torch.cuda.empty_cache()
    return {"median_ms": med, "min_ms": mn, "tflops": flops(H, d, L) / (med * 1e-3) / 1e12}


def main():
    if not torch.cuda.is_available():
        print("SKIP: no CUDA device for torch")
        return 77
    dev = torch.cuda.get_device_name(0)
    print(f"gpu_attention_torch: torch {torch.__version__}, {dev}, cuDNN "
          f"{torch.backends.cudnn.version()}; TFLOP/s = 2*L^2*H*d / median, {max(REPS, 20)} reps\n")
    variants = ["default", "default_contig", "cudnn", "flash", "lse"]
    rows = []
    print("| H  | Hkv | d   | L     | " + " | ".join(f"{v:>14}" for v in variants) + " | best TFLOP/s |")
    print("|----|-----|-----|-------|" + "|".join("-" * 16 for _ in variants) + "|--------------|")
    for H, Hkv, d, L in SHAPES:
        res = {v: run_variant(v, H, Hkv, d, L) for v in variants}
        ok = {v: r for v, r in res.items() if r}
        best = max(ok, key=lambda v: ok[v]["tflops"]) if ok else None
        cells = [f"{res[v]['tflops']:14.1f}" if res[v] else f"{'n/a':>14}" for v in variants]
        print(f"| {H:<2} | {Hkv:<3} | {d:<3} | {L:<5} | " + " | ".join(cells) +
              f" | {ok[best]['tflops'] if best else float('nan'):12.1f} |")
        sys.stdout.flush()
        rows.append({"H": H, "Hkv": Hkv, "d": d, "L": L, "variants": res, "best": best,
                     "best_tflops": ok[best]["tflops"] if best else None})

    out_dir = os.environ.get("IC_OUT")
    if out_dir:
        path = os.path.join(out_dir, "attention_torch.json")
        with open(path, "w") as f:
            json.dump({"bench": "gpu_attention_torch", "device": dev, "torch": torch.__version__,
                       "cudnn": torch.backends.cudnn.version(), "flops": "2*L^2*H*d (causal)",
                       "results": rows}, f, indent=1)
        print(f"\nwrote {path}")
        ours_path = os.path.join(out_dir, "attention_cudnn.json")
        if os.path.exists(ours_path):
            ours = {(r["H"], r["Hkv"], r["d"], r["L"]): r for r in json.load(open(ours_path))["results"]}
            print("\nsame run: ours (bench_attention_gpu, with LSE) vs best torch variant; goal >= 95%\n")
            print("| H  | Hkv | d   | L     | ours TFLOP/s | torch best | ratio  | goal |")
            print("|----|-----|-----|-------|--------------|------------|--------|------|")
            for r in rows:
                o = ours.get((r["H"], r["Hkv"], r["d"], r["L"]))
                if not o or not r["best_tflops"]:
                    continue
                ratio = o["tflops"] / r["best_tflops"]
                print(f"| {r['H']:<2} | {r['Hkv']:<3} | {r['d']:<3} | {r['L']:<5} | {o['tflops']:12.1f} | "
                      f"{r['best_tflops']:10.1f} | {100 * ratio:5.1f}% | {'met' if ratio >= 0.95 else 'MISS'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
