"""`indexcache import` of the real SmolLM2-135M-Instruct GGUF against the
`gguf` Python package (the oracle):

- every tensor we write (f32) equals gguf.quants.dequantize of the GGUF
  tensor, reshaped to numpy order, with llama.cpp's q/k row permutation
  undone here in numpy (rel err < 1e-6);
- the bf16 import is the round-to-nearest-even bf16 of those values, and
  re-importing our f32 output as a HF dir reproduces it bit for bit;
- config.json agrees with the GGUF metadata;
- tokenizer.json loads in the `tokenizers` library, its vocab, merges and
  special tokens are the GGUF's, and it round-trips a mixed text.
Exit 0 = pass, 1 = fail.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SRC = os.environ.get("IC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "indexcache"))
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run_import(src, out, *extra):
    r = subprocess.run([BIN, "import", src, "--out", out, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        sys.exit(f"FAIL: indexcache import {src} exited {r.returncode}")


def hf_name(name):
    """GGUF -> HF Llama tensor name (written independently of the C table)."""
    glob = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
    if name in glob:
        return glob[name]
    _, layer, part, kind = name.split(".")
    sub = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
           "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
           "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm",
           "ffn_norm": "post_attention_layernorm"}[part]
    return f"model.layers.{layer}.{sub}.{kind}"


def unpermute(w, n_head):
    """Inverse of convert_hf_to_gguf.py's permute: there each head's rows
    were reshaped (2, hd/2) -> swapped to (hd/2, 2); swap them back."""
    rows, cols = w.shape
    hd = rows // n_head
    return w.reshape(n_head, hd // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def load_bf16_bits(path):
    """numpy has no bfloat16: read a BF16 safetensors file as uint16 bit
    patterns straight from its header (and check every tensor is BF16)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        check(e["dtype"] == "BF16", f"{path}: {name} has dtype {e['dtype']}")
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<u2").reshape(e["shape"])
    return out


def to_bf16_bits(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def main():
    if not os.path.exists(GGUF):
        sys.exit(f"FAIL: {GGUF} is missing: run scripts/fetch-smollm2.sh first")
    import gguf
    from safetensors.numpy import load_file
    import tokenizers

    reader = gguf.GGUFReader(GGUF)
    meta = {k: f.contents() for k, f in reader.fields.items()
            if not k.startswith("tokenizer.ggml.") or k.endswith("_id") or k.endswith(".pre")}
    n_head = meta["llama.attention.head_count"]
    n_kv = meta["llama.attention.head_count_kv"]

    with tempfile.TemporaryDirectory() as tmp:
        f32_dir, bf16_dir, hf_dir = (os.path.join(tmp, d) for d in ("f32", "bf16", "from_hf"))
        run_import(GGUF, f32_dir, "--dtype", "f32")
        run_import(GGUF, bf16_dir)
        run_import(f32_dir, hf_dir, "--dtype", "bf16")
        ours = load_file(os.path.join(f32_dir, "model.safetensors"))
        ours_bf16 = load_bf16_bits(os.path.join(bf16_dir, "model.safetensors"))
        ours_hf = load_bf16_bits(os.path.join(hf_dir, "model.safetensors"))

        # ---- tensors --------------------------------------------------------
        expected = set()
        worst = 0.0
        for t in reader.tensors:
            name = hf_name(t.name)
            expected.add(name)
            ref = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)
            ref = ref.reshape([int(d) for d in reversed(t.shape)])
            if t.name.endswith("attn_q.weight"):
                ref = unpermute(ref, n_head)
            elif t.name.endswith("attn_k.weight"):
                ref = unpermute(ref, n_kv)
            if name not in ours:
                check(False, f"{name} missing from our model.safetensors")
                continue
            got = ours[name]
            check(got.dtype == np.float32, f"{name}: dtype {got.dtype}")
            check(got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}")
            if got.shape != ref.shape:
                continue
            rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
            worst = max(worst, rel)
            check(rel < 1e-6, f"{name} ({t.tensor_type.name}): rel err {rel:.3g}")
            b = ours_bf16[name]
            check(np.array_equal(b, to_bf16_bits(got)), f"{name}: bf16 import is not RNE(f32)")
            check(np.array_equal(ours_hf[name], b),
                  f"{name}: HF-dir re-import differs from the GGUF bf16 import")
        check(set(ours) == expected, f"tensor names differ: extra {set(ours) - expected}, missing {expected - set(ours)}")
        check(set(ours_hf) == expected, "HF-dir re-import has a different tensor set")
        print(f"tensors: {len(expected)} compared, worst rel err {worst:.3g}")
        for n in ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                  "model.layers.0.self_attn.k_proj.weight", "model.layers.0.mlp.down_proj.weight"]:
            print(f"  {n}: {list(ours[n].shape)}")

        # ---- config ---------------------------------------------------------
        cfg = json.load(open(os.path.join(f32_dir, "config.json")))
        want = {
            "architectures": ["LlamaForCausalLM"],
            "num_hidden_layers": meta["llama.block_count"],
            "hidden_size": meta["llama.embedding_length"],
            "intermediate_size": meta["llama.feed_forward_length"],
            "num_attention_heads": n_head,
            "num_key_value_heads": n_kv,
            "max_position_embeddings": meta["llama.context_length"],
            "vocab_size": meta["llama.vocab_size"],
            "head_dim": meta["llama.embedding_length"] // n_head,
            "tie_word_embeddings": "output.weight" not in [t.name for t in reader.tensors],
            "bos_token_id": meta["tokenizer.ggml.bos_token_id"],
            "eos_token_id": meta["tokenizer.ggml.eos_token_id"],
            "torch_dtype": "float32",
        }
        for k, v in want.items():
            check(cfg.get(k) == v, f"config.json {k} = {cfg.get(k)!r}, GGUF says {v!r}")
        check(np.float32(cfg["rope_theta"]) == np.float32(meta["llama.rope.freq_base"]), "rope_theta")
        check(np.float32(cfg["rms_norm_eps"]) == np.float32(meta["llama.attention.layer_norm_rms_epsilon"]),
              "rms_norm_eps")
        check(json.load(open(os.path.join(bf16_dir, "config.json")))["torch_dtype"] == "bfloat16", "bf16 torch_dtype")

        # ---- tokenizer ------------------------------------------------------
        toks = reader.fields["tokenizer.ggml.tokens"]
        vocab = [bytes(toks.parts[i]).decode("utf-8") for i in toks.data]
        mf = reader.fields["tokenizer.ggml.merges"]
        merges = [bytes(mf.parts[i]).decode("utf-8") for i in mf.data]
        ttf = reader.fields["tokenizer.ggml.token_type"]
        ttype = [int(ttf.parts[i][0]) for i in ttf.data]
        tj_path = os.path.join(f32_dir, "tokenizer.json")
        tj = json.load(open(tj_path, encoding="utf-8"))
        check(tj["model"]["type"] == "BPE", "model.type")
        check(tj["model"]["vocab"] == {s: i for i, s in enumerate(vocab)}, "vocab differs from tokenizer.ggml.tokens")
        got_merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
        check(got_merges == merges, "merges differ from tokenizer.ggml.merges")
        control = {i: vocab[i] for i, t in enumerate(ttype) if t == 3}
        added = {a["id"]: a["content"] for a in tj["added_tokens"] if a["special"]}
        check(added == control, f"special added_tokens {added} != control tokens {control}")
        check(meta["tokenizer.ggml.pre"] == "smollm", f"tokenizer.ggml.pre is {meta['tokenizer.ggml.pre']!r}")
        pt = tj["pre_tokenizer"]
        check(pt["type"] == "Sequence" and [p["type"] for p in pt["pretokenizers"]] == ["Digits", "ByteLevel"]
              and pt["pretokenizers"][0]["individual_digits"] is True
              and pt["pretokenizers"][1]["add_prefix_space"] is False
              and pt["pretokenizers"][1]["use_regex"] is True, f"pre_tokenizer {pt}")
        check(tj["decoder"]["type"] == "ByteLevel", "decoder")

        tk = tokenizers.Tokenizer.from_file(tj_path)
        check(tk.get_vocab_size() == len(vocab), "tokenizers vocab size")
        text = ("In the beginning God created the heaven and the earth. 1984 and 2024!\n"
                "<|im_start|>user\nCafé naïve — ünïcödé, 東京 ✓\t\ttabs   spaces<|im_end|>")
        enc = tk.encode(text)
        check(tk.decode(enc.ids, skip_special_tokens=False) == text, "tokenizers round trip")
        check(enc.ids.count(1) == 1 and enc.ids.count(2) == 1, "special tokens not matched as single ids")
        digits = [vocab[i] for i in tk.encode("1984").ids]
        check(digits == ["1", "9", "8", "4"], f"digits not split individually: {digits}")
        print(f"tokenizer: {len(vocab)} tokens, {len(merges)} merges, {len(control)} special; "
              f"'{text[:30]}...' -> {len(enc.ids)} ids")

        # ---- the importer refuses to overwrite ------------------------------
        r = subprocess.run([BIN, "import", GGUF, "--out", f32_dir], capture_output=True, text=True)
        check(r.returncode == 1 and "not empty" in r.stderr, f"overwrite without --force: rc {r.returncode}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
