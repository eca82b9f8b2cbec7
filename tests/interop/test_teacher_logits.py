"""Teacher logits vs an independent numpy implementation of the HF Llama
forward (LlamaForCausalLM) that reads SmolLM2-135M-Instruct straight from
the GGUF with the `gguf` package.

The reference dequantises every tensor with gguf.quants.dequantize, undoes
llama.cpp's q/k row permutation itself, and runs the forward in float64.
Our side: `indexcache import` of the same GGUF into a model dir (f32), then
`indexcache generate --prompt-ids ... --dump-logits FILE` writes the fp32
logits of the prompt's full (prefill) forward. Pass: relative error
||ours - ref|| / ||ref|| < 1e-4 over all [L, V] logits, and the same argmax
in every row. Exit 77 (skip) when the GGUF has not been fetched."""
import os
import subprocess
import sys
import tempfile

import numpy as np

SRC = os.environ.get("IC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "indexcache"))
WORDS = ("In the beginning God created the heaven and the earth . And the earth was "
         "without form , and void ; and darkness").split()


def load_gguf(path):
    import gguf
    r = gguf.GGUFReader(path)

    def field(name):
        return r.fields[name].contents()

    cfg = dict(
        L=int(field("llama.block_count")), D=int(field("llama.embedding_length")),
        H=int(field("llama.attention.head_count")), Hkv=int(field("llama.attention.head_count_kv")),
        theta=float(field("llama.rope.freq_base")),
        eps=float(field("llama.attention.layer_norm_rms_epsilon")))
    tensors = {}
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        tensors[t.name] = np.asarray(w, dtype=np.float64).reshape(
            [int(x) for x in reversed(t.shape)] if len(t.shape) > 1 else [int(t.shape[0])])
    tokf = r.fields["tokenizer.ggml.tokens"]
    vocab = {bytes(tokf.parts[i]).decode("utf-8"): j for j, i in enumerate(tokf.data)}
    return cfg, tensors, vocab


def unpermute(w, n_head):
    """Inverse of llama.cpp convert_hf_to_gguf's permute: GGUF stores each
    head's rows interleaved (pairs (2i, 2i+1)); HF keeps the two halves
    (i, i + d/2) apart."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rmsnorm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rope(x, theta):   # x [T, nh, d], NeoX half split as in HF rotate_half
    T, _, d = x.shape
    inv = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)[:, None, :]
    rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], axis=-1)
    return x * cos + rot * sin


def forward(cfg, W, ids):
    D, H, Hkv = cfg["D"], cfg["H"], cfg["Hkv"]
    d = D // H
    T = len(ids)
    h = W["token_embd.weight"][ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(cfg["L"]):
        p = f"blk.{l}."
        x = rmsnorm(h, W[p + "attn_norm.weight"], cfg["eps"])
        q = (x @ unpermute(W[p + "attn_q.weight"], H).T).reshape(T, H, d)
        k = (x @ unpermute(W[p + "attn_k.weight"], Hkv).T).reshape(T, Hkv, d)
        v = (x @ W[p + "attn_v.weight"].T).reshape(T, Hkv, d)
        q, k = rope(q, cfg["theta"]), rope(k, cfg["theta"])
        k = np.repeat(k, H // Hkv, axis=1)
        v = np.repeat(v, H // Hkv, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(d) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = np.einsum("hts,shd->thd", s, v).reshape(T, D)
        h = h + a @ W[p + "attn_output.weight"].T
        x = rmsnorm(h, W[p + "ffn_norm.weight"], cfg["eps"])
        g = x @ W[p + "ffn_gate.weight"].T
        u = x @ W[p + "ffn_up.weight"].T
        h = h + ((g / (1 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
    x = rmsnorm(h, W["output_norm.weight"], cfg["eps"])
    head = W.get("output.weight", W["token_embd.weight"])   # tied in SmolLM2
    return x @ head.T


def main():
    if not os.path.exists(GGUF):
        print(f"skip: {GGUF} not fetched (scripts/fetch-smollm2.sh)")
        return 77
    cfg, W, vocab = load_gguf(GGUF)
    ids = [vocab[w if i == 0 or w in ".,;" else "\u0120" + w] for i, w in enumerate(WORDS)]
    ref = forward(cfg, W, ids)
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        subprocess.run([BIN, "import", GGUF, "--out", model, "--dtype", "f32"], check=True)
        out = os.path.join(tmp, "logits.f32")
        subprocess.run([BIN, "generate", "--model", model, "--prompt-ids",
                        ",".join(map(str, ids)), "--dump-logits", out], check=True)
        ours = np.fromfile(out, dtype="<f4").astype(np.float64)
    if ours.size != ref.size:
        print(f"FAIL: {ours.size} logits, expected {ref.shape}")
        return 1
    ours = ours.reshape(ref.shape)
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    same_argmax = np.array_equal(ours.argmax(-1), ref.argmax(-1))
    print(f"{len(ids)} tokens, vocab {ref.shape[1]}: relative error {rel:.3e}, "
          f"max abs diff {np.abs(ours - ref).max():.3e}, argmax equal: {same_argmax}")
    return 0 if rel < 1e-4 and same_argmax else 1


if __name__ == "__main__":
    sys.exit(main())
