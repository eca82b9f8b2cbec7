"""`indexcache export` read back with the Python packages.

A tiny random Llama model (make_tiny_model.py, written with safetensors /
h5py) is trained for a few steps with `indexcache train --pattern FSSFS`
and exported. Checks, with Python `safetensors` and `json`:
  - every tensor of the export loads; the teacher tensors equal the source
    model's (names, dtypes, shapes, values), the indexer tensors exist for
    the F layers only, with the DeepSeek-V3.2 names and shapes
    wq_b [H_I*d_I, D], wk [d_I, D], k_norm.{weight,bias} [d_I],
    weights_proj [H_I, D], and equal the trained dir's values;
  - config.json parses, keeps the HF Llama keys and adds use_index_cache,
    the literal index_topk_pattern, index_n_heads, index_head_dim,
    index_topk, index_rope_dim; tokenizer.json is copied byte for byte;
  - re-exporting over an existing dir replaces it and leaves no temp dirs;
  - a model dir without a pattern is refused with a message;
  - transformers' LlamaForCausalLM loads the export with the teacher's
    weights (torch + transformers from here or from the venv of
    scripts/setup-torch.sh); without them the test exits 77 and says why,
    after the checks above have passed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

BIN = os.environ.get("IC_BIN") or os.path.join(os.path.dirname(__file__), "../../build/indexcache")
HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE"))
    if ok and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)}\n{p.stdout}\n{p.stderr}")
    return p


# the venv of scripts/setup-torch.sh (same default location)
VENV = os.environ.get("IC_TORCH_VENV") or os.path.join(HERE, "..", "..", ".venv-torch")
HF_LOAD = """
import sys
import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import LlamaForCausalLM
out, src = sys.argv[1], sys.argv[2]
s = load_file(src)
model = LlamaForCausalLM.from_pretrained(out)
sd = model.state_dict()
for k in s:
    assert np.allclose(sd[k].float().numpy(), s[k]), k
print("ok: transformers LlamaForCausalLM loads the export with the teacher's weights")
"""


def check_transformers(out, src_weights):
    """LlamaForCausalLM.from_pretrained(out) in this python or the torch venv."""
    py = None
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        py = sys.executable
    except ImportError:
        cand = os.path.join(VENV, "bin", "python")
        # a venv still being made (or broken) is not one to test with
        if os.path.exists(cand) and subprocess.run(
                [cand, "-c", "import numpy, safetensors, torch, transformers"],
                capture_output=True).returncode == 0:
            py = cand
    if py is None:
        reason_file = VENV + ".reason"
        why = open(reason_file).read().strip() if os.path.exists(reason_file) else \
            f"no torch + transformers here nor in {VENV} (scripts/setup-torch.sh)"
        print(f"SKIP: transformers LlamaForCausalLM load not tried: {why}")
        return 77
    p = subprocess.run([py, "-c", HF_LOAD, out, src_weights], capture_output=True, text=True)
    print(p.stdout.strip())
    if p.returncode != 0:
        print(f"FAIL: transformers could not load the export:\n{p.stderr[-3000:]}")
        return 1
    return 0


def main():
    if not os.path.exists(BIN):
        print(f"skip: {BIN} not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="ic_test_export.")
    try:
        src, data = os.path.join(tmp, "model"), os.path.join(tmp, "d.h5")
        subprocess.run([sys.executable, os.path.join(HERE, "make_tiny_model.py"), src, data,
                        "--layers", "5", "--topk", "8"], check=True)
        tok_bytes = json.dumps({"version": "1.0", "note": "stand-in tokenizer"}).encode() + b"\n"
        with open(os.path.join(src, "tokenizer.json"), "wb") as f:
            f.write(tok_bytes)
        trained, out = os.path.join(tmp, "trained"), os.path.join(tmp, "export")
        run("train", "--model", src, "--data", data, "--pattern", "FSSFS", "--steps", "3",
            "--seq-len", "32", "--batch", "2", "--lr", "1e-2", "--topk", "8", "--eval-batches", "2",
            "--out", trained, "--quiet")
        refused = run("export", "--model", src, "--out", out, ok=False)
        assert refused.returncode != 0 and ("index_topk_pattern" in refused.stderr or "has no indexer" in refused.stderr), refused.stderr
        assert not os.path.exists(out)
        run("export", "--model", trained, "--out", out)
        run("export", "--model", trained, "--out", out)  # replace an existing export
        left = [n for n in os.listdir(tmp) if n.startswith("export.")]
        assert not left, f"temp dirs left behind: {left}"

        cfg = json.load(open(os.path.join(out, "config.json")))
        scfg = json.load(open(os.path.join(src, "config.json")))
        for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                  "num_attention_heads", "num_key_value_heads", "head_dim", "rope_theta",
                  "rms_norm_eps", "tie_word_embeddings"):
            assert cfg[k] == scfg[k], (k, cfg[k], scfg[k])
        assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
        assert cfg["use_index_cache"] is True
        assert cfg["index_topk_pattern"] == "FSSFS"
        assert cfg["indexer_types"] == ["full", "shared", "shared", "full", "shared"]
        # FSSFS is the freq rule max(i - O + 1, 0) % F == 0 with F = 3, O = 1
        assert (cfg["index_topk_freq"], cfg["index_skip_topk_offset"]) == (3, 1), cfg
        assert cfg["indexer_rope_interleave"] is False
        assert (cfg["index_n_heads"], cfg["index_head_dim"], cfg["index_rope_dim"],
                cfg["index_topk"]) == (2, 8, 4, 8), cfg
        assert open(os.path.join(out, "tokenizer.json"), "rb").read() == tok_bytes

        path = os.path.join(out, "model.safetensors")
        with safe_open(path, framework="numpy") as f:
            assert f.metadata() == {"format": "pt"}, f.metadata()
        w = load_file(path)
        s = load_file(os.path.join(src, "model.safetensors"))
        t = load_file(os.path.join(trained, "model.safetensors"))
        D, HI, dI = cfg["hidden_size"], cfg["index_n_heads"], cfg["index_head_dim"]
        shapes = {"wq_b.weight": (HI * dI, D), "wk.weight": (dI, D), "k_norm.weight": (dI,),
                  "k_norm.bias": (dI,), "weights_proj.weight": (HI, D)}
        want_ix = {f"model.layers.{l}.self_attn.indexer.{k}"
                   for l, c in enumerate("FSSFS") if c == "F" for k in shapes}
        got_ix = {k for k in w if ".indexer." in k}
        assert got_ix == want_ix, sorted(got_ix ^ want_ix)
        for k in s:
            assert k in w, f"teacher tensor {k} missing"
            assert w[k].dtype == s[k].dtype and w[k].shape == s[k].shape, k
            assert np.array_equal(w[k], s[k]), f"teacher tensor {k} changed"
        assert set(w) == set(s) | want_ix
        for k in want_ix:
            assert w[k].dtype == np.float32, (k, w[k].dtype)
            assert w[k].shape == shapes[k.split(".indexer.")[1]], (k, w[k].shape)
            assert np.array_equal(w[k], t[k]) and np.all(np.isfinite(w[k])), k
        # trained, not the seeded init any more: weights_proj moved
        init = os.path.join(tmp, "init")
        run("init-indexers", "--model", src, "--pattern", "FSSFS", "--out", init)
        i0 = load_file(os.path.join(init, "model.safetensors"))
        k0 = "model.layers.0.self_attn.indexer.weights_proj.weight"
        assert not np.array_equal(i0[k0], w[k0]), "exported indexer equals the untrained init"
        print(f"ok: {len(w)} tensors ({len(want_ix)} indexer) with the right names, dtypes, shapes "
              f"and values; config keys; tokenizer copied")

        return check_transformers(out, os.path.join(src, "model.safetensors"))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
