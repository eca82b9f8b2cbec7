#!/usr/bin/env bash
# The trainer on the real SmolLM2-135M-Instruct (imported from the GGUF) and
# real text (the first 400 kB of the KJV, `indexcache prep`): a short
# `train --stage dense --loss multi --pattern uniform:4` at L = 256 must
#   - lower the val KL (train_log.jsonl, step 0 vs the end) to under half, and
#   - give a model dir whose `indexcache eval` LM loss with the pattern at
#     K = 32 beats the untrained indexers' (init-indexers with the same seed
#     = the trainer's starting point) by more than 0.2 nats, and
#   - carry the literal pattern and the index keys in its config.json.
# About 1 minute on 2 cores. Exit 77 (skip) when the GGUF has not been fetched.
set -euo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
GGUF="$SRC/models/SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT="$SRC/text/kjv.txt"
[ -f "$GGUF" ] || { echo "skip: $GGUF not fetched (scripts/fetch-smollm2.sh)"; exit 77; }
[ -f "$TEXT" ] || { echo "skip: $TEXT not fetched (scripts/fetch-text.sh)"; exit 77; }
export OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_smoke_train.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

"$BIN" import "$GGUF" --out "$tmp/smol" --quiet >/dev/null
head -c 400000 "$TEXT" > "$tmp/kjv.txt"
"$BIN" prep --model "$tmp/smol" --out "$tmp/kjv.h5" --val-fraction 0.1 "$tmp/kjv.txt" --quiet >/dev/null

L=256; K=32
"$BIN" train --model "$tmp/smol" --data "$tmp/kjv.h5" --pattern uniform:4 --stage dense --loss multi \
    --steps 40 --seq-len $L --batch 1 --lr 3e-3 --warmup 4 --topk $K --eval-every 40 --eval-batches 4 \
    --seed 0 --out "$tmp/trained" | grep -E '^(val|step +(1|20|40)/|summary|val KL|train tok)'
"$BIN" init-indexers --model "$tmp/smol" --pattern uniform:4 --seed 0 --index-topk $K \
    --out "$tmp/untrained" >/dev/null
ev() { "$BIN" eval --model "$1" --data "$tmp/kjv.h5" --seq-len $L --batches 8 --pattern "$2" --topk $K --json 2>/dev/null | grep "^{"; }
dense=$(ev "$tmp/untrained" dense)
untrained=$(ev "$tmp/untrained" uniform:4)
trained=$(ev "$tmp/trained" uniform:4)

"$PY" - "$tmp" "$dense" "$untrained" "$trained" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
dense, untr, tr = (json.loads(s)["loss"] for s in sys.argv[2:5])
rows = [json.loads(l) for l in open(f"{tmp}/trained/train_log.jsonl")]
val = [r for r in rows if "val_kl" in r]
kl0, kl1 = val[0]["val_kl"], val[-1]["val_kl"]
assert val[0]["step"] == 0 and val[-1]["step"] == 40, val
print(f"val KL per token (sum over 8 F layers): {kl0:.4f} -> {kl1:.4f}")
print(f"val LM loss, L=256, K=32: dense {dense:.4f} | untrained uniform:4 {untr:.4f} | trained {tr:.4f}")
assert kl1 < 0.5 * kl0, "val KL did not drop to under half"
assert tr < untr - 0.2, "trained indexers do not beat the untrained ones by 0.2 nats"
assert tr >= dense - 0.05, "sparse attention better than dense by a margin: suspicious"
cfg = json.load(open(f"{tmp}/trained/config.json"))
assert cfg["index_topk_pattern"] == "FSSS" * 7 + "FS", cfg["index_topk_pattern"]
assert cfg["use_index_cache"] is True and cfg["index_topk"] == 32
assert cfg["index_n_heads"] == 16 and cfg["index_head_dim"] == 64 and cfg["index_rope_dim"] == 32
print("ok")
PYEOF
