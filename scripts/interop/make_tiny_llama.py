"""Writes a small random Hugging Face Llama model dir (config.json,
model.safetensors, tokenizer.json copied from a real model dir) for
interop checks that must travel light, e.g. loading our export with
transformers on a machine that has torch.

usage: make_tiny_llama.py OUT_DIR TOKENIZER_JSON [--seed S]"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file


def main():
    out, tok = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    rng = np.random.default_rng(seed)
    V = len(json.load(open(tok))["model"]["vocab"]) + 17  # + SmolLM2's added tokens
    V = max(V, 49152)
    D, F, H, Hkv, n_layers = 64, 128, 4, 2, 3
    d = D // H
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
           "vocab_size": V, "hidden_size": D, "intermediate_size": F,
           "num_hidden_layers": n_layers, "num_attention_heads": H,
           "num_key_value_heads": Hkv, "head_dim": d, "rope_theta": 10000.0,
           "rms_norm_eps": 1e-5, "max_position_embeddings": 2048,
           "tie_word_embeddings": True, "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    f32 = np.float32
    t = {"model.embed_tokens.weight": rng.normal(0, 1, (V, D)).astype(f32),
         "model.norm.weight": rng.uniform(0.5, 1.5, D).astype(f32)}
    for i in range(n_layers):
        p = f"model.layers.{i}."
        lin = lambda n, k: (rng.normal(0, 1.5 / np.sqrt(k), (n, k))).astype(f32)
        t[p + "self_attn.q_proj.weight"] = lin(H * d, D)
        t[p + "self_attn.k_proj.weight"] = lin(Hkv * d, D)
        t[p + "self_attn.v_proj.weight"] = lin(Hkv * d, D)
        t[p + "self_attn.o_proj.weight"] = lin(D, H * d)
        t[p + "mlp.gate_proj.weight"] = lin(F, D)
        t[p + "mlp.up_proj.weight"] = lin(F, D)
        t[p + "mlp.down_proj.weight"] = lin(D, F)
        t[p + "input_layernorm.weight"] = rng.uniform(0.5, 1.5, D).astype(f32)
        t[p + "post_attention_layernorm.weight"] = rng.uniform(0.5, 1.5, D).astype(f32)
    os.makedirs(out, exist_ok=True)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    save_file(t, os.path.join(out, "model.safetensors"))
    shutil.copy(tok, os.path.join(out, "tokenizer.json"))


if __name__ == "__main__":
    main()
