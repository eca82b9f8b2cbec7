#!/usr/bin/env bash
# Data parallelism of `indexcache train` (docs/DESIGN.md s5): on a tiny random
# model and token file made by tests/interop/make_tiny_model.py (Python
# safetensors + h5py), 2 ranks x batch B must give the same per-step losses,
# gradient norms and final indexer weights as 1 rank x batch 2B (to fp32
# reduction tolerance), for the dense and the sparse stage; with --verbose
# every rank logs its window offsets, and per step the two ranks' windows
# must be disjoint and their union must be the single rank's batch. Both
# ranks print the same parameter hash at the end, and it equals an FNV-1a
# hash computed here from the written model.safetensors (so it hashes the
# real trained parameters, in the trainer's order).
set -euo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
command -v mpiexec >/dev/null || { echo "skip: no mpiexec"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_train_dp.XXXXXX")"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/model" "$tmp/data.h5" --layers 4 --topk 8

# A build without MPI runs each mpiexec rank as its own world of 1: detect it.
probe=$(timeout 60 mpiexec -np 2 --oversubscribe "$BIN" train --model "$tmp/model" --data "$tmp/data.h5" \
        --pattern uniform:2 --steps 1 --seq-len 16 --batch 1 --eval-batches 0 --out "$tmp/probe" 2>&1 || true)
if ! grep -q "2 rank(s)" <<<"$probe"; then echo "skip: indexcache built without MPI"; echo "$probe" | tail -3; exit 77; fi

fail=0
for stage in dense sparse; do
    common=(--model "$tmp/model" --data "$tmp/data.h5" --pattern uniform:2 --stage $stage --loss multi
            --steps 5 --seq-len 32 --lr 5e-3 --warmup 2 --eval-every 5 --eval-batches 6 --seed 7 --verbose)
    "$BIN" train "${common[@]}" --batch 4 --out "$tmp/one_$stage" >"$tmp/one_$stage.log" 2>&1 ||
        { cat "$tmp/one_$stage.log"; exit 1; }
    timeout 300 mpiexec -np 2 --oversubscribe "$BIN" train "${common[@]}" --batch 2 --out "$tmp/two_$stage" \
        >"$tmp/two_$stage.log" 2>&1 || { cat "$tmp/two_$stage.log"; exit 1; }
    if ! "$PY" - "$tmp" "$stage" <<'PYEOF'
import json, re, sys
import numpy as np
from safetensors.numpy import load_file
tmp, stage = sys.argv[1], sys.argv[2]
def log(run):
    rows = [json.loads(l) for l in open(f"{tmp}/{run}_{stage}/train_log.jsonl")]
    return [r for r in rows if "loss" in r], [r for r in rows if "val_kl" in r]
(s1, v1), (s2, v2) = log("one"), log("two")
assert len(s1) == len(s2) == 5, (len(s1), len(s2))
worst = 0.0
for a, b in zip(s1, s2):
    for key in ("loss", "grad_norm", "lr"):
        rel = abs(a[key] - b[key]) / max(abs(a[key]), 1e-12)
        worst = max(worst, rel)
        assert rel < 2e-5, f"step {a['step']} {key}: 1 rank {a[key]!r} vs 2 ranks {b[key]!r}"
for a, b in zip(v1, v2):
    assert abs(a["val_kl"] - b["val_kl"]) <= 2e-5 * abs(a["val_kl"]), (a, b)
    assert abs(a["val_lm"] - b["val_lm"]) <= 2e-5 * max(abs(a["val_lm"]), 1), (a, b)
assert s1[-1]["loss"] < s1[0]["loss"] * 1.5  # sanity: the run did not blow up
w1 = load_file(f"{tmp}/one_{stage}/model.safetensors")
w2 = load_file(f"{tmp}/two_{stage}/model.safetensors")
assert w1.keys() == w2.keys()
ix = [k for k in w1 if ".indexer." in k]
assert len(ix) == 2 * 5, ix   # uniform:2 on 4 layers: F layers 0 and 2
wdiff = max(float(np.max(np.abs(w1[k] - w2[k]))) for k in ix)
assert wdiff < 1e-5, f"final indexer weights differ by {wdiff}"
# windows: rank r's lines "[rank r] step s windows: o1 o2"
def windows(path):
    out = {}
    for line in open(path):
        m = re.match(r"(?:\[rank (\d+)\] )+step (\d+) windows: (.*)", line.strip())
        if m:
            out.setdefault(int(m.group(2)), {})[int(m.group(1))] = [int(x) for x in m.group(3).split()]
    return out
one, two = windows(f"{tmp}/one_{stage}.log"), windows(f"{tmp}/two_{stage}.log")
assert sorted(one) == sorted(two) == [1, 2, 3, 4, 5], (sorted(one), sorted(two))
for s in one:
    r0, r1 = two[s][0], two[s][1]
    assert len(r0) == len(r1) == 2 and not set(r0) & set(r1), (s, r0, r1)
    assert sorted(r0 + r1) == sorted(one[s][0]), (s, r0, r1, one[s][0])
# parameter hash: "train: rank R/2 parameter hash H (N floats)", one per rank
def fnv(tensors):
    h, total, M = 0xcbf29ce484222325, 0, (1 << 64) - 1
    for a in tensors:
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        for byte in b:
            h = ((h ^ byte) * 0x100000001b3) & M
        total += a.size
    h ^= total
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & M; h ^= h >> 33
    return h
hashes = {}
for line in open(f"{tmp}/two_{stage}.log"):
    m = re.search(r"train: rank (\d+)/2 parameter hash ([0-9a-f]{16}) \((\d+) floats\)", line)
    if m: hashes[int(m.group(1))] = int(m.group(2), 16)
assert sorted(hashes) == [0, 1], f"parameter hash lines of ranks {sorted(hashes)} (want 0 and 1)"
assert hashes[0] == hashes[1], f"ranks' parameter hashes differ: {hashes[0]:016x} vs {hashes[1]:016x}"
order = ["wq_b.weight", "wk.weight", "k_norm.weight", "k_norm.bias", "weights_proj.weight"]
mine = fnv([w2[f"model.layers.{l}.self_attn.indexer.{s}"] for l in (0, 2) for s in order])
assert all(w2[k].dtype == np.float32 for k in ix), "indexer weights not written as f32"
assert mine == hashes[0], f"printed hash {hashes[0]:016x} != hash of model.safetensors {mine:016x}"
print(f"ok {stage}: 5 steps, worst rel diff {worst:.2e}, final weights max |diff| {wdiff:.2e}, "
      f"rank windows disjoint and = the 1-rank batch, parameter hash {hashes[0]:016x} on both ranks "
      f"= hash of the written weights")
PYEOF
    then fail=1; tail -n 5 "$tmp/one_$stage.log" "$tmp/two_$stage.log"; fi
done
exit $fail
