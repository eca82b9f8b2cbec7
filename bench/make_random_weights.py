"""Random weights for a Llama-family model dir, for speed runs where the real
weights cannot travel (the device call's 64 MiB: SmolLM2's f32 weights are
540 MB). Reads DIR/config.json and writes DIR/model.safetensors, fp32:
every matrix N(0, initializer_range^2) (0.02 unless the config says), every
norm weight 1, no biases; an lm_head only when tie_word_embeddings is false.
That is transformers' own LlamaForCausalLM initialisation, so transformers
and `indexcache` read the same random model. Speed does not depend on the
values (dense GEMMs, attention and the loss do the same work); losses do,
so nothing but time and memory is read from such a model.

usage: make_random_weights.py DIR [--seed S]"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file


def main():
    args = sys.argv[1:]
    seed = 0
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    d = args[0]
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    V, D, F = c["vocab_size"], c["hidden_size"], c["intermediate_size"]
    H, Hkv, NL = c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"]
    hd = c.get("head_dim") or D // H
    std = float(c.get("initializer_range", 0.02))
    rng = np.random.default_rng(seed)

    def mat(n, k):
        x = rng.standard_normal((n, k), dtype=np.float32)
        x *= std
        return x

    t = {"model.embed_tokens.weight": mat(V, D), "model.norm.weight": np.ones(D, np.float32)}
    if not c.get("tie_word_embeddings", False):
        t["lm_head.weight"] = mat(V, D)
    for l in range(NL):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = np.ones(D, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(D, np.float32)
        t[p + "self_attn.q_proj.weight"] = mat(H * hd, D)
        t[p + "self_attn.k_proj.weight"] = mat(Hkv * hd, D)
        t[p + "self_attn.v_proj.weight"] = mat(Hkv * hd, D)
        t[p + "self_attn.o_proj.weight"] = mat(D, H * hd)
        t[p + "mlp.gate_proj.weight"] = mat(F, D)
        t[p + "mlp.up_proj.weight"] = mat(F, D)
        t[p + "mlp.down_proj.weight"] = mat(D, F)
    save_file(t, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    n = sum(v.size for v in t.values())
    print(f"make_random_weights: {d}/model.safetensors, {n / 1e6:.1f}M parameters, seed {seed}")


if __name__ == "__main__":
    main()
