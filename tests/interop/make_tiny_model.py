"""Make a tiny random Llama model dir and a tiny HDF5 token file for the
trainer's tests, written with the Python packages (safetensors, h5py), not
with our own writers.

usage: make_tiny_model.py OUT_DIR OUT.h5 [--layers N] [--seed S]
         [--train-tokens N] [--val-tokens N] [--topk K]

The model: vocab 64, hidden 32, SwiGLU 48, 4 heads over 2 kv heads of dim
8, untied LM head, indexer keys in config.json (2 heads of dim 8, rope 4)
but no indexer tensors (train seeds them). Matrices are N(0, 1/fan_in)
with a gain of 1.5 so attention is far from uniform. The tokens follow a
noisy order-2 Markov chain so attention has structure to learn."""
import json
import os
import sys

import h5py
import numpy as np
from safetensors.numpy import save_file


def main():
    args = sys.argv[1:]
    opts = {"--layers": 4, "--seed": 1, "--train-tokens": 4096, "--val-tokens": 1024, "--topk": 8}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = int(args[i + 1])
            i += 2
        else:
            pos.append(args[i])
            i += 1
    out_dir, out_h5 = pos
    rng = np.random.default_rng(opts["--seed"])
    V, D, F, H, HKV, d, NL = 64, 32, 48, 4, 2, 8, opts["--layers"]

    def mat(n, k, gain=1.5):
        return (rng.standard_normal((n, k)) * gain / np.sqrt(k)).astype(np.float32)

    t = {"model.embed_tokens.weight": rng.standard_normal((V, D)).astype(np.float32),
         "model.norm.weight": rng.uniform(0.5, 1.5, D).astype(np.float32),
         "lm_head.weight": mat(V, D)}
    for l in range(NL):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = rng.uniform(0.5, 1.5, D).astype(np.float32)
        t[p + "post_attention_layernorm.weight"] = rng.uniform(0.5, 1.5, D).astype(np.float32)
        t[p + "self_attn.q_proj.weight"] = mat(H * d, D, 3.0)
        t[p + "self_attn.k_proj.weight"] = mat(HKV * d, D, 3.0)
        t[p + "self_attn.v_proj.weight"] = mat(HKV * d, D)
        t[p + "self_attn.o_proj.weight"] = mat(D, H * d)
        t[p + "mlp.gate_proj.weight"] = mat(F, D)
        t[p + "mlp.up_proj.weight"] = mat(F, D)
        t[p + "mlp.down_proj.weight"] = mat(D, F)
    os.makedirs(out_dir, exist_ok=True)
    save_file(t, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V,
           "hidden_size": D, "intermediate_size": F, "num_hidden_layers": NL,
           "num_attention_heads": H, "num_key_value_heads": HKV, "head_dim": d,
           "hidden_act": "silu", "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": False, "bos_token_id": 1,
           "eos_token_id": 2, "index_n_heads": 2, "index_head_dim": 8, "index_rope_dim": 4,
           "index_topk": opts["--topk"]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    def tokens(n):
        trans = rng.integers(0, V, size=(V, V))
        x = np.empty(n, np.uint32)
        x[0], x[1] = 3, 5
        for i in range(2, n):
            x[i] = rng.integers(0, V) if rng.random() < 0.2 else trans[x[i - 2], x[i - 1]]
        return x

    with h5py.File(out_h5, "w") as f:
        for name, n in (("train", opts["--train-tokens"]), ("val", opts["--val-tokens"])):
            f.create_dataset(name, data=tokens(n), dtype="<u4", chunks=(min(n, 1024),),
                             maxshape=(None,))
        f.attrs["vocab_size"] = np.uint32(V)
        f.attrs["format_version"] = np.uint32(1)
        f.attrs["tokenizer"] = "none:tiny-test-model"


if __name__ == "__main__":
    main()
