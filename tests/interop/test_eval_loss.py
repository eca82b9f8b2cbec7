"""`indexcache eval` on real data vs an independent computation: a few KJV
verses are prepared into an HDF5 token file with `indexcache prep`, the
tokens are read back with h5py, and the mean next-token NLL over N windows
of L tokens is computed with the float64 numpy HF-Llama forward of
test_teacher_logits.py (weights straight from the GGUF). Pass: |loss - ref|
< 1e-4 * ref and the same token count. Exit 77 when the GGUF is absent."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_teacher_logits as T  # noqa: E402

L, N = 24, 2
TEXT = """In the beginning God created the heaven and the earth.
And the earth was without form, and void; and darkness was upon the face of the deep.
And the Spirit of God moved upon the face of the waters.
And God said, Let there be light: and there was light.
And God saw the light, that it was good: and God divided the light from the darkness.
And God called the light Day, and the darkness he called Night.
"""


def main():
    if not os.path.exists(T.GGUF):
        print(f"skip: {T.GGUF} not fetched (scripts/fetch-smollm2.sh)")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        subprocess.run([T.BIN, "import", T.GGUF, "--out", model, "--dtype", "f32", "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        txt = os.path.join(tmp, "gen.txt")
        with open(txt, "w") as f:
            f.write(TEXT * 3)
        h5 = os.path.join(tmp, "gen.h5")
        subprocess.run([T.BIN, "prep", "--model", model, "--out", h5, "--val-fraction", "0.5",
                        "--quiet", txt], check=True, stdout=subprocess.DEVNULL)
        with h5py.File(h5, "r") as f:
            val = np.asarray(f["val"][:], dtype=np.int64)
        r = subprocess.run([T.BIN, "eval", "--model", model, "--data", h5, "--split", "val",
                            "--seq-len", str(L), "--batches", str(N), "--json"],
                           check=True, capture_output=True, text=True)
    line = [x for x in r.stdout.splitlines() if x.startswith("{")][-1]
    ours = json.loads(line)
    if len(val) < N * L + 1:
        print(f"FAIL: val split too short ({len(val)} tokens)")
        return 1
    cfg, W, _ = T.load_gguf(T.GGUF)
    nll = []
    for i in range(N):
        win = val[i * L: i * L + L + 1]
        z = T.forward(cfg, W, list(win[:-1]))
        m = z.max(-1, keepdims=True)
        lse = (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[:, 0]
        nll.extend(lse - z[np.arange(L), win[1:]])
    ref = float(np.mean(nll))
    print(f"ours {ours}\nref loss {ref:.6f} ppl {np.exp(ref):.4f} over {len(nll)} tokens")
    ok = (abs(ours["loss"] - ref) < 1e-4 * ref and ours["tokens"] == len(nll)
          and ours["seq_len"] == L and ours["pattern"] == "dense"
          and abs(ours["ppl"] - np.exp(ours["loss"])) < 1e-6 * ours["ppl"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
