"""A checkpoint written by train/ic_checkpoint is readable by the Python
`safetensors` package (weights and optimizer state) and `json`, with the
names, shapes and values the C side wrote."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file

build = os.environ.get("IC_BUILD_DIR")
tool = os.path.join(build or "", "tests", "test_checkpoint")
if not build or not os.access(tool, os.X_OK):
    print("skip: test_checkpoint not built")
    sys.exit(77)

NAMES = {
    "model.layers.0.self_attn.indexer.wq_b.weight": (64, 48),
    "model.layers.0.self_attn.indexer.k_norm.weight": (16,),
    "model.layers.4.self_attn.indexer.weights_proj.weight": (4, 48),
}
ORDER = list(NAMES)  # index i of the C side

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out")
    subprocess.run([tool, "--write-sample", out], check=True)
    ck = os.path.join(out, "ckpt-3")
    assert sorted(os.listdir(out)) == ["ckpt-3"], os.listdir(out)
    assert sorted(os.listdir(ck)) == ["COMPLETE", "optimizer.safetensors", "state.json",
                                      "weights.safetensors"], os.listdir(ck)
    w = load_file(os.path.join(ck, "weights.safetensors"))
    assert set(w) == set(NAMES), sorted(w)
    for i, name in enumerate(ORDER):
        t = w[name]
        assert t.dtype == np.float32 and t.shape == NAMES[name], (name, t.dtype, t.shape)
        k = np.arange(t.size)
        want = (((k * 7 + i) % 97) - 48).astype(np.float32) / np.float32(8)
        assert np.array_equal(t.reshape(-1), want), name
    o = load_file(os.path.join(ck, "optimizer.safetensors"))
    want_o = {f"{n}.{s}": (int(np.prod(sh)),) for n, sh in NAMES.items()
              for s in ("exp_avg", "exp_avg_sq")}
    assert {k: v.shape for k, v in o.items()} == want_o, {k: v.shape for k, v in o.items()}
    for n in NAMES:
        v = o[n + ".exp_avg_sq"]
        assert np.all(v >= 0) and np.any(v > 0), n  # second moments after 3 steps
        assert np.any(o[n + ".exp_avg"] != 0), n
    with open(os.path.join(ck, "state.json")) as f:
        st = json.load(f)
    assert st["format"] == "indexcache-checkpoint" and st["version"] == 1
    assert st["step"] == 3 and st["optimizer"]["step"] == 3, st
    assert int(st["rng"], 16) == 0x1234
    assert st["config"]["pattern"] == "FSSSFSSS"
    assert st["sampler"]["span"] == st["sampler"]["seq_len"] + 1
print("checkpoint files: weights, optimizer state and state.json read by Python")
