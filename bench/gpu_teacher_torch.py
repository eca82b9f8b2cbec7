"""transformers' LlamaForCausalLM with PyTorch SDPA, bf16, on the model dir in
$IC_MODEL_DIR (the same weights bench_teacher_gpu loads): the measurements of
bench_teacher_gpu (issue 10, item 6, first and third bullets).

prefill: L x B = 2048 x 16, 8192 x 4, 32768 x 1 random token ids (fixed
  seed), under torch.inference_mode. "loss" runs model(ids, labels=ids), which
  is what eval does (the loss of the next tokens; transformers materialises
  the [B, L, V] logits and upcasts them to fp32 in its loss: see peak GiB);
  it is timed with the batch as one tensor [B, L] and with the windows one by
  one, and the better of the two is the figure compared. "layers" runs the
  decoder stack alone (model.model, no LM head), against our layers-only
  figure. One warm-up call per variant, then the median of PREFILL_REPS,
  torch.cuda.synchronize before every clock read. An out-of-memory error is
  caught and reported as such.
decode: model.generate(1 x C random prompt, max_new_tokens=128,
  min_new_tokens=128, do_sample=False, use_cache=True) at C = 1K, 8K, with
  transformers' default (dynamic) KV cache. Its prefill is taken out by
  timing the same generate with max_new_tokens=1 (the prompt's forward plus
  the first token, which comes from the prompt's logits): the difference is
  127 decode forwards, so decode tok/s = 127 / (t_128 - t_1). Median of
  DECODE_REPS each.

Reads $IC_OUT/teacher_ic.json (bench_teacher_gpu, run before this script by
bench/gpu_run.sh) and prints ours / torch next to the goal (>= 2x at every L
and at both contexts); writes $IC_OUT/teacher_torch.json. Exit 77 without a
GPU, torch or transformers, or without IC_MODEL_DIR."""
import json
import os
import statistics
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
try:
    import transformers
    from transformers import AutoModelForCausalLM, LlamaForCausalLM
except ImportError:
    print("SKIP: no transformers")
    sys.exit(77)
MODEL_DIR = os.environ.get("IC_MODEL_DIR", "")
if not MODEL_DIR:
    print("SKIP: IC_MODEL_DIR is not set")
    sys.exit(77)

PREFILL = ((2048, 16), (8192, 4), (32768, 1))
CONTEXTS = (1024, 8192)
PREFILL_REPS = 7
DECODE_REPS = 3
NEW_TOKENS = 128
GOAL = 2.0
OUT_DIR = os.environ.get("IC_OUT", "")
dev = torch.device("cuda")


def load():
    # `dtype` since transformers 4.56 (`torch_dtype` is its deprecated alias)
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    kw = {key: torch.bfloat16, "attn_implementation": "sdpa"}
    try:
        m = AutoModelForCausalLM.from_pretrained(MODEL_DIR, **kw)
    except (ValueError, KeyError, OSError) as e:   # e.g. no model_type the Auto map knows
        print("AutoModelForCausalLM failed (%s); LlamaForCausalLM instead" % e)
        m = LlamaForCausalLM.from_pretrained(MODEL_DIR, **kw)
    if next(m.parameters()).dtype != torch.bfloat16:
        print("note: loaded as %s, converting to bf16" % next(m.parameters()).dtype)
        m = m.to(torch.bfloat16)
    return m.cuda().eval()


def timed(fn, reps):
    """Median seconds of reps calls after one warm-up; the peak memory of one call."""
    fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    ts = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), torch.cuda.max_memory_allocated() / 2**30


def try_timed(fn, reps):
    try:
        return timed(fn, reps) + (None,)
    except torch.cuda.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        return None, None, "OOM: %s" % str(e).split("\n")[0][:160]


def read_ours():
    if not OUT_DIR:
        return None
    try:
        with open(os.path.join(OUT_DIR, "teacher_ic.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ratio(a, b):
    return a / b if a and b else None


def fmt(x, spec):
    return spec % x if x is not None else "-"


def main():
    model = load()
    cfg = model.config
    V = cfg.vocab_size
    print(torch.cuda.get_device_name(0), "torch", torch.__version__,
          "transformers", transformers.__version__)
    print("model %s: %d layers, D %d, V %d, attn %s, dtype %s" % (
        MODEL_DIR, cfg.num_hidden_layers, cfg.hidden_size, V,
        getattr(cfg, "_attn_implementation", "?"), next(model.parameters()).dtype))
    ours = read_ours()
    ours_pre = {(r["L"], r["B"]): r for r in ours["prefill"]} if ours else {}
    ours_dec = {r["context"]: r for r in ours["decode"]} if ours else {}
    if not ours:
        print("no teacher_ic.json in $IC_OUT: torch figures only")

    prefill_rows = []
    print("\nprefill tok/s (median of %d; loss = model(ids, labels=ids); layers = model.model)"
          % PREFILL_REPS)
    print("%6s %3s %12s %12s %12s %7s %12s %12s %8s %8s %6s" % (
        "L", "B", "loss [B,L]", "loss 1by1", "layers", "peak GiB", "ic loss", "ic layers",
        "x loss", "x layers", "goal"))
    with torch.inference_mode():
        for L, B in PREFILL:
            g = torch.Generator(device=dev).manual_seed(1000 + L)
            ids = torch.randint(0, V, (B, L), device=dev, generator=g)
            n = B * L
            r = {"L": L, "B": B}
            s, mem, oom = try_timed(
                lambda: model(input_ids=ids, labels=ids, use_cache=False).loss.item(),
                PREFILL_REPS)
            r["loss_tensor_s"], r["loss_tensor_peak_GiB"], r["loss_tensor_error"] = s, mem, oom
            if B > 1:
                def one_by_one():
                    for b in range(B):
                        model(input_ids=ids[b:b + 1], labels=ids[b:b + 1],
                              use_cache=False).loss.item()
                s, mem, oom = try_timed(one_by_one, PREFILL_REPS)
            else:   # one window: the same call as the tensor run
                s, mem, oom = None, None, None
            r["loss_1by1_s"], r["loss_1by1_peak_GiB"], r["loss_1by1_error"] = s, mem, oom
            s, mem_l, oom = try_timed(
                lambda: model.model(input_ids=ids, use_cache=False).last_hidden_state,
                PREFILL_REPS)
            r["layers_s"], r["layers_peak_GiB"], r["layers_error"] = s, mem_l, oom
            cand = [(r[k], k) for k in ("loss_tensor_s", "loss_1by1_s") if r[k]]
            best = min(cand) if cand else (None, None)
            r["loss_best"] = best[1]
            r["tok_per_s"] = n / best[0] if best[0] else None
            r["tensor_tok_per_s"] = n / r["loss_tensor_s"] if r["loss_tensor_s"] else None
            r["1by1_tok_per_s"] = n / r["loss_1by1_s"] if r["loss_1by1_s"] else None
            r["layers_tok_per_s"] = n / r["layers_s"] if r["layers_s"] else None
            o = ours_pre.get((L, B))
            r["ic_tok_per_s"] = o["tok_per_s"] if o else None
            r["ic_layers_tok_per_s"] = o["layers_tok_per_s"] if o else None
            r["ratio"] = ratio(r["ic_tok_per_s"], r["tok_per_s"])
            r["layers_ratio"] = ratio(r["ic_layers_tok_per_s"], r["layers_tok_per_s"])
            peak = max([m for m in (r["loss_tensor_peak_GiB"], r["loss_1by1_peak_GiB"]) if m]
                       or [0.0])
            print("%6d %3d %12s %12s %12s %7.1f %12s %12s %8s %8s %6s" % (
                L, B, fmt(r["tensor_tok_per_s"], "%.0f"), fmt(r["1by1_tok_per_s"], "%.0f"),
                fmt(r["layers_tok_per_s"], "%.0f"), peak, fmt(r["ic_tok_per_s"], "%.0f"),
                fmt(r["ic_layers_tok_per_s"], "%.0f"), fmt(r["ratio"], "%.2fx"),
                fmt(r["layers_ratio"], "%.2fx"),
                "-" if r["ratio"] is None else ("met" if r["ratio"] >= GOAL else "MISS")))
            for k in ("loss_tensor_error", "loss_1by1_error", "layers_error"):
                if r[k]:
                    print("   %s: %s" % (k, r[k]))
            prefill_rows.append(r)
            del ids
            torch.cuda.empty_cache()

        decode_rows = []
        print("\ndecode tok/s: generate(%d new) - generate(1 new), %d forwards, median of %d"
              % (NEW_TOKENS, NEW_TOKENS - 1, DECODE_REPS))
        print("%8s %10s %10s %12s %12s %8s %6s" % ("context", "t_1 s", "t_128 s", "torch tok/s",
                                                   "ic tok/s", "x", "goal"))
        pad = cfg.eos_token_id if isinstance(cfg.eos_token_id, int) else 0
        for C in CONTEXTS:
            g = torch.Generator(device=dev).manual_seed(2000 + C)
            ids = torch.randint(0, V, (1, C), device=dev, generator=g)
            mask = torch.ones_like(ids)

            def gen(k):
                out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=k,
                                     min_new_tokens=k, do_sample=False, use_cache=True,
                                     pad_token_id=pad)
                assert out.shape[1] == C + k, out.shape
                return out

            t1, _ = timed(lambda: gen(1), DECODE_REPS)
            tn, mem = timed(lambda: gen(NEW_TOKENS), DECODE_REPS)
            tps = (NEW_TOKENS - 1) / (tn - t1) if tn > t1 else None
            o = ours_dec.get(C)
            r = {"context": C, "new_tokens": NEW_TOKENS, "t1_s": t1, "tn_s": tn,
                 "decode_forwards": NEW_TOKENS - 1, "tok_per_s": tps, "peak_GiB": mem,
                 "ic_tok_per_s": o["tok_per_s"] if o else None}
            r["ratio"] = ratio(r["ic_tok_per_s"], tps)
            print("%8d %10.4f %10.4f %12s %12s %8s %6s" % (
                C, t1, tn, fmt(tps, "%.1f"), fmt(r["ic_tok_per_s"], "%.1f"),
                fmt(r["ratio"], "%.2fx"),
                "-" if r["ratio"] is None else ("met" if r["ratio"] >= GOAL else "MISS")))
            decode_rows.append(r)

    if OUT_DIR:
        path = os.path.join(OUT_DIR, "teacher_torch.json")
        with open(path, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                       "transformers": transformers.__version__, "model_dir": MODEL_DIR,
                       "goal_ratio": GOAL, "prefill_reps": PREFILL_REPS,
                       "decode_reps": DECODE_REPS,
                       "prefill_note": "tok_per_s: the better of loss [B,L] and loss 1by1 "
                                       "(model(ids, labels=ids), logits materialised)",
                       "decode_note": "tok_per_s = (new_tokens - 1) / (t(generate new_tokens) "
                                      "- t(generate 1)), default dynamic cache",
                       "prefill": prefill_rows, "decode": decode_rows}, f, indent=1)
        print("wrote", path)


if __name__ == "__main__":
    main()
