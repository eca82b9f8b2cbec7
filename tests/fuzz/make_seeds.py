"""Seed corpora for the fuzzers, written on the machine that runs them
(nothing large is committed): make_seeds.py OUT_DIR [--gguf F.gguf]
[--model-dir DIR] [--tiny-dir DIR] [--trace F.json] [--h5 F.h5].

Real files when given: the SmolLM2 GGUF's metadata (every key, the
tokenizer arrays cut to 300 entries) with a few of its real Q4_1 tensor
rows; config.json and tokenizer.json of an imported model dir (the
tokenizer cut to a 400-token vocabulary and the merges among it); a tiny
model dir's config.json with indexer keys; a real search trace with the
harness's fixed meta patched in; a real token file's attribute values.
Synthetic seeds beside them cover what real files lack."""
import json
import os
import struct
import sys

args = sys.argv[1:]
out = args[0]
opt = {k: args[i + 1] for i, k in enumerate(args) if k.startswith("--")}
for d in ("gguf", "config", "tokenizer", "h5attrs", "trace"):
    os.makedirs(os.path.join(out, d), exist_ok=True)


def put(kind, name, data):
    with open(os.path.join(out, kind, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- GGUF -------------------------------------------------------------------
def gguf_seeds():
    import numpy as np
    import gguf
    path = os.path.join(out, "gguf", "tmp.gguf")
    # synthetic: every scalar type, arrays, tensors of several types
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("llama.block_count", 2)
    w.add_uint64("u64", 1 << 40)
    w.add_int8("i8", -3)
    w.add_int16("i16", -300)
    w.add_int64("i64", -(1 << 40))
    w.add_float32("f32", 1.5)
    w.add_float64("f64", -2.25)
    w.add_bool("b", True)
    w.add_string("general.name", "tiny \u00e9")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "ab", "<s>"])
    w.add_array("tokenizer.ggml.merges", ["a b"])
    w.add_array("tokenizer.ggml.token_type", [1, 1, 1, 3])
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_uint32("tokenizer.ggml.bos_token_id", 3)
    w.add_array("ints", [1, 2, 3])
    w.add_array("floats", [0.5, 1.5])
    w.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    w.add_tensor("blk.0.attn_q.weight", np.ones((2, 8), dtype=np.float16))
    w.add_tensor("output_norm.weight", np.zeros(8, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    put("gguf", "synthetic", open(path, "rb").read())
    src = opt.get("--gguf")
    if src and os.path.exists(src):
        r = gguf.GGUFReader(src)
        w = gguf.GGUFWriter(path, "llama")
        for name, f in r.fields.items():
            if name.startswith("GGUF.") or name == "general.architecture":
                continue
            t = f.types[0]
            if t == gguf.GGUFValueType.ARRAY:
                sub = f.types[1] if len(f.types) > 1 else None
                idx = f.data[:300]
                if sub == gguf.GGUFValueType.STRING:
                    vals = [bytes(f.parts[i]).decode("utf-8", "replace") for i in idx]
                else:
                    vals = [f.parts[i][0].item() for i in idx]
                if vals:
                    w.add_array(name, vals)
            elif t == gguf.GGUFValueType.STRING:
                w.add_string(name, bytes(f.parts[f.data[0]]).decode("utf-8", "replace"))
            else:
                w.add_key_value(name, f.parts[f.data[0]][0].item(), t)
        for ti in r.tensors[:4]:
            raw = np.asarray(ti.data).view(np.uint8).reshape(-1)
            if ti.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
                row_elems = int(ti.shape[0])
                esz = 4 if ti.tensor_type == gguf.GGMLQuantizationType.F32 else 2
                rows = min(2, int(np.prod(ti.shape)) // row_elems)
                arr = np.frombuffer(raw[:rows * row_elems * esz].tobytes(),
                                    dtype=np.float32 if esz == 4 else np.float16).reshape(rows, row_elems)
                w.add_tensor(ti.name, arr)
            else:
                bs, ts = gguf.GGML_QUANT_SIZES[ti.tensor_type]
                row_elems = int(ti.shape[0])
                row_bytes = row_elems // bs * ts
                rows = 2
                w.add_tensor(ti.name, raw[:rows * row_bytes].copy(), raw_shape=(rows, row_bytes),
                             raw_dtype=ti.tensor_type)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        put("gguf", "smollm2_header", open(path, "rb").read())
    os.remove(path)
    put("gguf", "magic_only", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))


# ---- config.json ----------------------------------------------------------------
def config_seeds():
    put("config", "minimal", json.dumps({"architectures": ["LlamaForCausalLM"], "vocab_size": 64,
        "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2}))
    for key in ("--model-dir", "--tiny-dir"):
        d = opt.get(key)
        if d and os.path.exists(os.path.join(d, "config.json")):
            put("config", key[2:], open(os.path.join(d, "config.json"), "rb").read())


# ---- tokenizer.json ---------------------------------------------------------------
def tokenizer_seeds():
    tiny = {"version": "1.0", "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": True}],
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3},
                      "merges": ["a b"]}}
    put("tokenizer", "tiny", json.dumps(tiny))
    d = opt.get("--model-dir")
    p = d and os.path.join(d, "tokenizer.json")
    if p and os.path.exists(p):
        t = json.load(open(p))
        vocab = t["model"]["vocab"]
        keep = {k: v for k, v in vocab.items() if v < 400}
        for a in t.get("added_tokens", []):
            keep[a["content"]] = a["id"]
        merges = []
        for m in t["model"].get("merges", []):
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            if a in keep and b in keep and a + b in keep:
                merges.append(m)
        t["model"]["vocab"] = keep
        t["model"]["merges"] = merges
        t["added_tokens"] = [a for a in t.get("added_tokens", []) if a["id"] < 400]
        put("tokenizer", "smollm2_cut", json.dumps(t, ensure_ascii=False))


# ---- the token file's attributes (fuzz_h5attrs.c's input encoding) -----------
def h5_seeds():
    vocab, version, tok, src = 49152, 1, "sha256:" + "ab" * 32, "tokenizer.json"
    p = opt.get("--h5")
    if p and os.path.exists(p):
        import h5py
        with h5py.File(p, "r") as f:
            a = f.attrs
            vocab = int(a.get("vocab_size", vocab))
            version = int(a.get("format_version", version))
            t = a.get("tokenizer", tok)
            tok = t.decode() if isinstance(t, bytes) else str(t)
            s = a.get("tokenizer_source", src)
            src = s.decode() if isinstance(s, bytes) else str(s)

    def num(v):       # kind 1 (numeric scalar), type 0 (u32 LE), 32 value bytes
        return bytes([1, 0, 0]) + struct.pack("<I", v) + bytes(28)

    def fstr(s):      # kind 3 (fixed string): length-1, bytes, pad flag
        b = s.encode()[:200]
        return bytes([3, len(b) - 1]) + b + bytes([1])

    def vstr(s):      # kind 4 (variable string)
        b = s.encode()[:199]
        return bytes([4, len(b)]) + b

    def split(n):     # kind 1: u32, 1-D of n tokens
        return bytes([1, n, 0]) + bytes(range(n)) + bytes(192 - n)
    good = num(vocab) + num(version) + vstr(tok) + vstr(src) + split(40) + split(20)
    put("h5attrs", "real_values", good)
    put("h5attrs", "fixed_strings", num(vocab) + num(version) + fstr(tok) + fstr(src) + split(10) + split(5))
    put("h5attrs", "empty_val", num(vocab) + num(version) + vstr(tok) + vstr(src) + split(40) + split(0))


# ---- search trace --------------------------------------------------------------------
def trace_seeds():
    meta = {"model_hash": "0123456789abcdef", "data_hash": "fedcba9876543210", "split": "val",
            "n_layers": 6, "seq_len": 16, "batches": 2, "topk": 4}
    p = opt.get("--trace")
    if p and os.path.exists(p):
        t = json.load(open(p))
        t.update(meta)
        put("trace", "real", json.dumps(t, indent=1))
        t2 = dict(t, steps=t["steps"][:1], done=False)
        put("trace", "real_one_step", json.dumps(t2))
    put("trace", "no_steps", json.dumps(dict(meta, format="indexcache-search-trace", version=1,
        keep=1, start_loss=4.0, steps=[], pattern="FFFFFF", n_full=6, done=False)))


gguf_seeds()
config_seeds()
tokenizer_seeds()
h5_seeds()
trace_seeds()
for d in sorted(os.listdir(out)):
    print(f"seeds {d}: {len(os.listdir(os.path.join(out, d)))}")
