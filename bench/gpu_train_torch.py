"""A torch-eager trainer step, the baseline of bench/bench_train_gpu.sh
(issue 10 item 4: ours >= 10x): SmolLM2 from $IC_MODEL_DIR in transformers
(bf16, SDPA), uniform:4 (8 F layers of 30), dense stage, multi loss:

  teacher (no_grad): the hidden state entering each layer (output_hidden_states),
    then per served layer x_norm = input_layernorm(h), q, k = q_proj/k_proj,
    transformers' RoPE, p_j = head-mean of softmax(q k^T / sqrt d) over s <= t;
  per F layer l, with autograd: the lightning indexer of docs/DESIGN.md s3 (fp32,
    x_norm detached: Wq, Wk + LayerNorm, Wproj, NeoX RoPE on the first 32 dims),
    I = sum_j w * relu(qI . kI), causal, log q = log_softmax(I), the loss
    sum_t mean_{j in G(l)} KL(p_j || q), backward at once (the graph of one F
    layer at a time, as our trainer does);
  AdamW (torch.optim, fused=False) over the 8 indexers.

Tokens/s of one step of one window of L tokens (median of REPS after a
warm-up), at L = 2048 and 8192 (BENCH_L overrides); the peak memory
(torch.cuda.max_memory_allocated). Reads $IC_OUT/bench_train_gpu.json (ours,
bench/bench_train_gpu.sh run first) and prints ours / torch at 8K; writes
$IC_OUT/train_torch.json. Exit 77 without a GPU, torch/transformers or
IC_MODEL_DIR."""
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

MODEL = os.environ.get("IC_MODEL_DIR")
if not MODEL or not os.path.exists(os.path.join(MODEL, "config.json")):
    print("SKIP: IC_MODEL_DIR not set")
    sys.exit(77)
if not torch.cuda.is_available():
    print("SKIP: no GPU")
    sys.exit(77)
OUT = os.environ.get("IC_OUT", "out")
os.makedirs(OUT, exist_ok=True)
REPS = int(os.environ.get("REPS", "3"))
LS = [int(x) for x in os.environ.get("BENCH_L", "2048,8192").split(",")]
HI, DI, ROPE, R = 16, 64, 32, 4
dev = torch.device("cuda")

try:
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.bfloat16,
                                                 attn_implementation="sdpa")
except TypeError:   # transformers before `dtype`
    model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype=torch.bfloat16,
                                                 attn_implementation="sdpa")
model = model.to(dev).eval()
cfg = model.config
# transformers 5.x moved rope_theta into rope_parameters
ROPE_THETA = getattr(cfg, "rope_theta", None) or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
D, H, HKV, d, NL = (cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads,
                    cfg.hidden_size // cfg.num_attention_heads, cfg.num_hidden_layers)
F_LAYERS = [l for l in range(NL) if l % R == 0]


def served(l):
    return list(range(l, min(l + R, NL)))


class Indexer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        s = 1.0 / math.sqrt(D)
        self.wq = torch.nn.Parameter(torch.randn(HI * DI, D, device=dev) * s)
        self.wk = torch.nn.Parameter(torch.randn(DI, D, device=dev) * s)
        self.wp = torch.nn.Parameter(torch.randn(HI, D, device=dev) * s)
        self.ln = torch.nn.LayerNorm(DI, eps=1e-6, device=dev)

    def rope(self, x, pos):   # NeoX half-split over the first ROPE dims
        half = ROPE // 2
        inv = 1.0 / (ROPE_THETA ** (torch.arange(half, device=dev, dtype=torch.float32) / half))
        ang = pos[:, None].float() * inv[None, :]
        c, s = ang.cos(), ang.sin()
        while c.dim() < x.dim():
            c, s = c.unsqueeze(-2), s.unsqueeze(-2)
        a, b, rest = x[..., :half], x[..., half:ROPE], x[..., ROPE:]
        return torch.cat([a * c - b * s, b * c + a * s, rest], dim=-1)

    def forward(self, x):   # x [L, D] fp32, detached
        L = x.shape[0]
        pos = torch.arange(L, device=dev)
        qI = self.rope((x @ self.wq.T).view(L, HI, DI), pos)
        kI = self.rope(self.ln(x @ self.wk.T), pos)
        w = (x @ self.wp.T) / math.sqrt(HI * DI)
        a = torch.relu(torch.einsum("thd,sd->tsh", qI, kI))
        I = torch.einsum("tsh,th->ts", a, w)
        mask = torch.ones(L, L, device=dev, dtype=torch.bool).tril()
        return I.masked_fill(~mask, float("-inf"))


def teacher_p(ids):
    """p_j [L, L] fp32 of every served layer, and x_norm of every F layer."""
    with torch.no_grad():
        out = model.model(ids[None], output_hidden_states=True)
        L = ids.shape[0]
        pos = torch.arange(L, device=dev)[None]
        cos, sin = model.model.rotary_emb(out.hidden_states[0], pos)
        mask = torch.ones(L, L, device=dev, dtype=torch.bool).tril()
        p, xn = {}, {}
        for l in range(NL):
            lay = model.model.layers[l]
            x = lay.input_layernorm(out.hidden_states[l])
            if l in F_LAYERS:
                xn[l] = x[0].float()
            q = lay.self_attn.q_proj(x).view(1, L, H, d).transpose(1, 2)
            k = lay.self_attn.k_proj(x).view(1, L, HKV, d).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            k = k.repeat_interleave(H // HKV, dim=1)
            s = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(d)
            p[l] = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1).mean(dim=1)[0]
            del s
        return p, xn


ixs = torch.nn.ModuleList([Indexer() for _ in F_LAYERS])
opt = torch.optim.AdamW(ixs.parameters(), lr=1e-3, weight_decay=0.1)


def step(ids):
    p, xn = teacher_p(ids)
    opt.zero_grad(set_to_none=True)
    tot = 0.0
    for i, l in enumerate(F_LAYERS):
        logq = torch.log_softmax(ixs[i](xn[l]), dim=-1)
        loss = 0.0
        for j in served(l):
            pj = p[j]
            loss = loss + (torch.xlogy(pj, pj) - pj * logq.nan_to_num(neginf=0.0)).sum() / len(served(l))
        loss.backward()
        tot += float(loss)
    opt.step()
    return tot


res = {"bench": "gpu_train_torch", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "gpu": torch.cuda.get_device_name(0), "pattern": "uniform:4", "stage": "dense",
       "torch": torch.__version__, "L": {}}
g = torch.Generator(device="cpu").manual_seed(0)
for L in LS:
    try:
        torch.cuda.reset_peak_memory_stats()
        ts = []
        for r in range(REPS + 1):
            ids = torch.randint(0, cfg.vocab_size, (L,), generator=g).to(dev)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(ids)
            torch.cuda.synchronize()
            if r:
                ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        res["L"][str(L)] = {"ms": 1e3 * t, "tokens_per_s": L / t,
                            "peak_gib": torch.cuda.max_memory_allocated() / 2**30}
    except torch.cuda.OutOfMemoryError:
        res["L"][str(L)] = {"oom": True}
        torch.cuda.empty_cache()
    print(f"torch eager L={L}: {res['L'][str(L)]}")
ours_p = os.path.join(OUT, "bench_train_gpu.json")
if os.path.exists(ours_p) and "8192" in res["L"] and "tokens_per_s" in res["L"]["8192"]:
    ours = json.load(open(ours_p)).get("tokens_per_s_L8192")
    if ours:
        ratio = ours / res["L"]["8192"]["tokens_per_s"]
        res["ours_over_torch_L8192"] = ratio
        print(f"ours / torch at L = 8192: {ratio:.1f}x (goal >= 10x): {'PASS' if ratio >= 10 else 'below'}")
json.dump(res, open(os.path.join(OUT, "train_torch.json"), "w"), indent=1)
