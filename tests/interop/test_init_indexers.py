"""indexcache init-indexers against the Python safetensors package: a tiny
Llama model dir made here with numpy is given fresh indexers; the output is
read back with safetensors.numpy and json, independently of our reader."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

BIN = os.environ.get("IC_BIN")
if not BIN or not os.path.exists(BIN):
    print("IC_BIN not set or missing: skip")
    sys.exit(77)

N_LAYERS, D, V, H, HKV, HD = 4, 48, 97, 4, 2, 12
HI, DI, RI, K = 3, 16, 6, 8
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def make_model(d):
    os.makedirs(d)
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": V, "hidden_size": D, "intermediate_size": 64,
        "num_hidden_layers": N_LAYERS, "num_attention_heads": H,
        "num_key_value_heads": HKV, "head_dim": HD, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 256,
        "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    rng = np.random.default_rng(5)
    t = {"model.embed_tokens.weight": rng.standard_normal((V, D)).astype(np.float16),
         "model.norm.weight": rng.standard_normal(D).astype(np.float32)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}."
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((H * HD, D)).astype(np.float16)
        t[p + "input_layernorm.weight"] = rng.standard_normal(D).astype(np.float32)
    # a stale indexer on layer 1, which the pattern below makes an S layer
    t["model.layers.1.self_attn.indexer.wk.weight"] = np.ones((DI, D), np.float32)
    save_file(t, os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        f.write('{"model": {"type": "BPE"}}')
    return t


M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def reference_init(seed, layer, sizes, std):
    """The initialisation stream exactly as model/ic_indexer.h documents it."""
    _, state = splitmix64((seed ^ ((0xD1B54A32D192ED03 * (layer + 1)) & M64)) & M64)
    out = []
    for n in sizes:
        x = np.empty(n, np.float32)
        for i in range(0, n, 2):
            state, a = splitmix64(state)
            state, b = splitmix64(state)
            u1 = ((a >> 11) + 1) * 2.0 ** -53
            u2 = ((b >> 11) + 1) * 2.0 ** -53
            r = math.sqrt(-2.0 * math.log(u1))
            ang = 6.283185307179586476925286766559 * u2
            x[i] = np.float32(std * r * math.cos(ang))
            if i + 1 < n:
                x[i + 1] = np.float32(std * r * math.sin(ang))
        out.append(x)
    return out


def run(*args):
    r = subprocess.run([BIN, "init-indexers", *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="ic_init_idx_")
    try:
        src = os.path.join(tmp, "src")
        teacher = make_model(src)
        common = ["--model", src, "--seed", "7", "--index-n-heads", str(HI),
                  "--index-head-dim", str(DI), "--index-rope-dim", str(RI), "--index-topk", str(K)]
        out1, out2, out3 = (os.path.join(tmp, n) for n in ("o1", "o2", "o3"))
        rc, log = run(*common, "--pattern", "FSFS", "--out", out1)
        check(rc == 0, f"init-indexers FSFS failed: {log}")
        if rc != 0:
            return
        t = load_file(os.path.join(out1, "model.safetensors"))
        for name, a in teacher.items():
            if ".indexer." in name:
                continue
            check(name in t and t[name].dtype == a.dtype and np.array_equal(t[name], a),
                  f"teacher tensor {name} not copied exactly")
        idx_names = sorted(n for n in t if ".indexer." in n)
        want = sorted(f"model.layers.{l}.self_attn.indexer.{s}" for l in (0, 2) for s in
                      ("wq_b.weight", "wk.weight", "k_norm.weight", "k_norm.bias", "weights_proj.weight"))
        check(idx_names == want, f"indexer tensors {idx_names} != {want}")
        shapes = {"wq_b.weight": (HI * DI, D), "wk.weight": (DI, D), "k_norm.weight": (DI,),
                  "k_norm.bias": (DI,), "weights_proj.weight": (HI, D)}
        for n in idx_names:
            suf = n.split(".indexer.")[1]
            check(t[n].shape == shapes[suf] and t[n].dtype == np.float32, f"{n}: {t[n].shape} {t[n].dtype}")
        p0 = "model.layers.0.self_attn.indexer."
        check(np.all(t[p0 + "k_norm.weight"] == 1) and np.all(t[p0 + "k_norm.bias"] == 0),
              "k_norm not initialised to weight 1, bias 0")
        w = np.concatenate([t[f"model.layers.{l}.self_attn.indexer.{s}"].ravel()
                            for l in (0, 2) for s in ("wq_b.weight", "wk.weight", "weights_proj.weight")])
        sd = w.std()
        print(f"init std over {w.size} weights: {sd:.5f} (want {1 / np.sqrt(D):.5f}), mean {w.mean():.5f}")
        check(abs(sd * np.sqrt(D) - 1) < 0.03 and abs(w.mean()) < 0.01, f"init std {sd}, mean {w.mean()}")
        check(not np.array_equal(t[p0 + "wq_b.weight"], t["model.layers.2.self_attn.indexer.wq_b.weight"]),
              "layers 0 and 2 got the same indexer")

        # the documented stream (model/ic_indexer.h), re-implemented here
        for l in (0, 2):
            ref = reference_init(7, l, [HI * DI * D, DI * D, HI * D], 1 / np.sqrt(D))
            for name, want in zip(("wq_b.weight", "wk.weight", "weights_proj.weight"), ref):
                got = t[f"model.layers.{l}.self_attn.indexer.{name}"].ravel()
                check(np.array_equal(got, want), f"layer {l} {name} differs from the documented "
                      f"stream (max diff {np.abs(got - want).max():.3g})")

        with open(os.path.join(out1, "config.json")) as f:
            cfg = json.load(f)
        for k, v in (("index_n_heads", HI), ("index_head_dim", DI), ("index_rope_dim", RI),
                     ("index_topk", K), ("index_topk_pattern", "FSFS"), ("num_hidden_layers", N_LAYERS),
                     ("hidden_size", D)):
            check(cfg.get(k) == v, f"config.json {k} = {cfg.get(k)!r}, want {v!r}")
        check(cfg.get("use_index_cache") in (True, 1), f"use_index_cache = {cfg.get('use_index_cache')!r}")
        check(os.path.exists(os.path.join(out1, "tokenizer.json")), "tokenizer.json not copied")

        # same seed -> same bytes; layer l's indexer does not depend on the pattern
        rc, log = run(*common, "--pattern", "FSFS", "--out", out2)
        check(rc == 0, f"second run failed: {log}")
        with open(os.path.join(out1, "model.safetensors"), "rb") as a, \
                open(os.path.join(out2, "model.safetensors"), "rb") as b:
            check(a.read() == b.read(), "same seed gave different files")
        rc, log = run(*common, "--pattern", "uniform:1", "--out", out3)
        check(rc == 0, f"uniform:1 failed: {log}")
        t3 = load_file(os.path.join(out3, "model.safetensors"))
        for l in (0, 2):
            n = f"model.layers.{l}.self_attn.indexer.wq_b.weight"
            check(np.array_equal(t3[n], t[n]), f"{n} depends on the pattern")
        check("model.layers.1.self_attn.indexer.wk.weight" in t3 and
              not np.all(t3["model.layers.1.self_attn.indexer.wk.weight"] == 1),
              "uniform:1 did not give layer 1 a fresh indexer")
        with open(os.path.join(out3, "config.json")) as f:
            check(json.load(f).get("index_topk_pattern") == "FFFF", "uniform:1 not written as FFFF")

        # refusals, each with a message naming the fault
        for args, needle in ((["--pattern", "FSXS"], "position 2"),
                             (["--pattern", "FSF"], "4 layers"),
                             (["--pattern", "dense"], "no F layer"),
                             (["--pattern", "FSFS", "--index-rope-dim", "7"], "index_rope_dim")):
            rc, log = run(*common, *args, "--out", os.path.join(tmp, "bad"))
            check(rc != 0 and needle in log, f"{args}: rc {rc}, message {log!r} lacks {needle!r}")
        rc, log = run(*common, "--pattern", "FSFS", "--out", src)
        check(rc != 0 and "--model dir" in log, f"--out = --model not refused: {log!r}")
        check(not os.path.exists(os.path.join(tmp, "bad", "model.safetensors")), "a refused run wrote output")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("init-indexers interop: ok")
