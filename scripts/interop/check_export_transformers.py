"""Loads an `indexcache export` dir with transformers' LlamaForCausalLM
(the indexer tensors are extra keys it must ignore) and compares its logits
for a token sequence with ours (`indexcache generate --dump-logits`).
Needs torch + transformers (present on the GPU machine, not in CI).

usage: check_export_transformers.py EXPORT_DIR OUR_LOGITS.f32 ID,ID,...
Exit 0 when rel. error < 1e-4 and the argmax agrees in every row."""
import json
import sys

import numpy as np
import torch
from transformers import LlamaForCausalLM


def main():
    d, ours_path, ids = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
    cfg = json.load(open(f"{d}/config.json"))
    for k in ("use_index_cache", "index_topk_pattern", "index_n_heads", "index_head_dim",
              "index_topk", "index_rope_dim"):
        assert k in cfg, f"config.json lacks {k}"
    model = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].double().numpy()
    ours = np.fromfile(ours_path, dtype="<f4").reshape(len(ids), -1).astype(np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    same = (ours.argmax(-1) == ref.argmax(-1)).all()
    print(f"export {d}: pattern {cfg['index_topk_pattern']}, logits {ref.shape}, "
          f"rel err vs transformers {rel:.3e}, argmax agree {bool(same)}")
    sys.exit(0 if rel < 1e-4 and same else 1)


if __name__ == "__main__":
    main()
