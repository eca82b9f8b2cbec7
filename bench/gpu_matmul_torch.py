"""torch's GEMMs at the shapes of bench/bench_matmul_gpu.c, in the same device call.

F.linear(x, w[, b]) (out = x w^T + b, the layout of kernels/ic_matmul.h), bf16
and fp32 (fp32 with TF32 off, as ours), timed like ours: CUDA events, 10
warm-up calls, a sample is `reps` back-to-back calls (>= ~0.2 ms), median of
25 samples, inputs rotating over >= 2 buffer sets and >= 200 MB so one set
is out of L2 when it comes round again. Prints a table and writes
$IC_OUT/matmul_torch.json. Exit 77 without a GPU.
"""
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIP: no torch")
    sys.exit(77)
if not torch.cuda.is_available():
    print("SKIP: no GPU")
    sys.exit(77)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False

SHAPES = [  # name, M, N, K, bias, dtype (the same list as bench_matmul_gpu.c)
    ("q/o proj", 2048, 576, 576, 0, torch.bfloat16),
    ("k/v proj", 2048, 192, 576, 0, torch.bfloat16),
    ("gate/up", 2048, 1536, 576, 0, torch.bfloat16),
    ("down", 2048, 576, 1536, 0, torch.bfloat16),
    ("gate/up +bias", 2048, 1536, 576, 1, torch.bfloat16),
    ("lm head chunk", 64, 49152, 576, 0, torch.bfloat16),
    ("square", 8192, 8192, 8192, 0, torch.bfloat16),
    ("q/o proj", 2048, 576, 576, 0, torch.float32),
    ("gate/up", 2048, 1536, 576, 0, torch.float32),
    ("down", 2048, 576, 1536, 0, torch.float32),
]


def bench(M, N, K, bias, dt):
    es = torch.finfo(dt).bits // 8
    set_bytes = (M * K + N * K + M * N + N) * es
    nset = min(64, max(2, (200 << 20) // set_bytes + 1))
    gen = torch.Generator(device="cuda").manual_seed(1)
    sets = []
    for _ in range(nset):
        x = (torch.rand(M, K, device="cuda", generator=gen) * 2 - 1).to(dt)
        w = (torch.rand(N, K, device="cuda", generator=gen) * 2 - 1).to(dt)
        b = (torch.rand(N, device="cuda", generator=gen) * 2 - 1).to(dt) if bias else None
        o = torch.empty(M, N, device="cuda", dtype=dt)
        sets.append((x, w, b, o))
    it = [0]

    def call():
        x, w, b, o = sets[it[0] % nset]
        it[0] += 1
        torch.matmul(x, w.t(), out=o)

    # out= avoids an allocation per call for the plain GEMM; with a bias F.linear
    # (cuBLASLt's bias epilogue inside torch) allocates, so time it as torch runs it.
    def call_bias():
        x, w, b, o = sets[it[0] % nset]
        it[0] += 1
        F.linear(x, w, b)

    fn = call if not bias else call_bias
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(10):
        fn()
    e0.record()
    for _ in range(10):
        fn()
    e1.record()
    e1.synchronize()
    reps = int(min(200, max(1, 0.2 / (e0.elapsed_time(e1) / 10) + 1)))
    samples = []
    for _ in range(25):
        e0.record()
        for _ in range(reps):
            fn()
        e1.record()
        e1.synchronize()
        samples.append(e0.elapsed_time(e1) / reps)
    samples.sort()
    del sets
    torch.cuda.empty_cache()
    return samples, reps


def main():
    dev = torch.cuda.get_device_name(0)
    print(f"GPU: {dev}, torch {torch.__version__}")
    print(f"{'shape':16s} {'dtype':5s} {'M':>6s} {'N':>6s} {'K':>6s} {'reps':>5s} {'median us':>10s} {'TFLOP/s':>9s}")
    rows = []
    for name, M, N, K, bias, dt in SHAPES:
        samples, reps = bench(M, N, K, bias, dt)
        med = samples[12]
        tflops = 2.0 * M * N * K / (med * 1e-3) / 1e12
        dts = "bf16" if dt == torch.bfloat16 else "f32"
        print(f"{name:16s} {dts:5s} {M:6d} {N:6d} {K:6d} {reps:5d} {med * 1e3:10.2f} {tflops:9.1f}")
        rows.append({"shape": name, "dtype": dts, "M": M, "N": N, "K": K, "bias": bias,
                     "median_us": round(med * 1e3, 3), "tflops": round(tflops, 2), "reps": reps,
                     "min_us": round(samples[0] * 1e3, 3), "max_us": round(samples[-1] * 1e3, 3)})
    out = os.environ.get("IC_OUT")
    if out:
        path = os.path.join(out, "matmul_torch.json")
        with open(path, "w") as f:
            json.dump({"bench": "matmul", "impl": "torch F.linear / matmul", "device": dev,
                       "torch": torch.__version__,
                       "method": "CUDA events, 10 warm-up, median of 25 samples, rotating inputs",
                       "results": rows}, f, indent=1)
        print("wrote", path)


if __name__ == "__main__":
    main()
