#!/usr/bin/env bash
# `indexcache search` spread over MPI ranks (issue 6): on a tiny random
# model and token file made by tests/interop/make_tiny_model.py (Python
# safetensors + h5py) with random indexers at every layer (init-indexers),
#  - 2 ranks give the same trace as 1 rank: every step's layer, loss and
#    every candidate's loss (bitwise: one thread per rank, same binary), and
#    the same pattern file; each rank logged only its own candidates;
#  - a 2-rank search stopped after step 2 and resumed by 1 rank gives the
#    same trace again;
#  - the final pattern's loss equals `indexcache eval` of that pattern on
#    the same windows (an independent path: the eval driver from layer 0).
set -euo pipefail
SRC="${IC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${IC_BIN:-$SRC/build/indexcache}"
PY="${IC_PYTHON:-$SRC/.venv/bin/python}"
command -v mpirun >/dev/null || { echo "skip: no mpirun"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
MPI=(mpirun -np 2 --oversubscribe --allow-run-as-root)
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ic_search_mpi.XXXXXX")"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
"$PY" "$SRC/tests/interop/make_tiny_model.py" "$tmp/dense" "$tmp/data.h5" --layers 8 --topk 6 --seed 3
"$BIN" init-indexers --model "$tmp/dense" --pattern uniform:1 --out "$tmp/model" --seed 5 >/dev/null

common=(search --model "$tmp/model" --data "$tmp/data.h5" --keep 3 --seq-len 24 --batches 4)
"$BIN" "${common[@]}" --out "$tmp/one.txt" --trace "$tmp/one.json" >"$tmp/one.log" 2>&1 ||
    { cat "$tmp/one.log"; exit 1; }
timeout 300 "${MPI[@]}" "$BIN" "${common[@]}" --out "$tmp/two.txt" --trace "$tmp/two.json" \
    >"$tmp/two.log" 2>&1 || { cat "$tmp/two.log"; exit 1; }
if ! grep -q "2 rank(s)" "$tmp/two.log"; then
    echo "skip: indexcache built without MPI (each rank ran alone)"; tail -3 "$tmp/two.log"; exit 77
fi
timeout 300 "${MPI[@]}" "$BIN" "${common[@]}" --out "$tmp/res.txt" --trace "$tmp/res.json" \
    --stop-after 2 >"$tmp/res1.log" 2>&1 || { cat "$tmp/res1.log"; exit 1; }
[ ! -e "$tmp/res.txt" ] || { echo "FAIL: --stop-after wrote the pattern"; exit 1; }
"$BIN" "${common[@]}" --out "$tmp/res.txt" --trace "$tmp/res.json" --resume >"$tmp/res2.log" 2>&1 ||
    { cat "$tmp/res2.log"; exit 1; }

cmp "$tmp/one.txt" "$tmp/two.txt" || { echo "FAIL: patterns differ"; exit 1; }
cmp "$tmp/one.txt" "$tmp/res.txt" || { echo "FAIL: resumed pattern differs"; exit 1; }
pattern=$(cat "$tmp/one.txt")
"$BIN" eval --model "$tmp/model" --data "$tmp/data.h5" --seq-len 24 --batches 4 \
    --pattern "$pattern" --pattern uniform:1 --json >"$tmp/eval.json" 2>"$tmp/eval.log" ||
    { cat "$tmp/eval.log"; exit 1; }

"$PY" - "$tmp" <<'PYEOF'
import json, re, sys
tmp = sys.argv[1]
one, two, res = (json.load(open(f"{tmp}/{n}.json")) for n in ("one", "two", "res"))
txt = open(f"{tmp}/eval.json").read()
ev = json.loads(txt[txt.index("["):])   # the backend line may precede the JSON on stdout
assert one["done"] and two["done"] and res["done"]
assert len(one["steps"]) == 5, len(one["steps"])          # 8 layers -> keep 3
assert one["start_loss"] == two["start_loss"] == res["start_loss"]
for a, b, c in zip(one["steps"], two["steps"], res["steps"]):
    assert a == b, f"1 rank vs 2 ranks, step {a['step']}:\n{a}\n{b}"
    assert a == c, f"straight vs stopped+resumed, step {a['step']}:\n{a}\n{c}"
    n = len(a["candidates"])
    losses = [x["loss"] for x in a["candidates"]]
    assert a["loss"] == min(losses) and len(set(losses)) > 1, a
# every step offers the F layers but 0 of the pattern before it
pat = "F" * 8
for s in one["steps"]:
    assert [c["layer"] for c in s["candidates"]] == [l for l in range(1, 8) if pat[l] == "F"], s
    pat = pat[:s["layer"]] + "S" + pat[s["layer"] + 1:]
    assert s["pattern"] == pat
assert one["pattern"] == pat == open(f"{tmp}/two.txt").read().strip()
# eval of the searched pattern and of all F from layer 0 on the same windows
assert ev[0]["pattern"] == pat and ev[1]["pattern"] == "F" * 8
assert abs(ev[0]["loss"] - one["steps"][-1]["loss"]) < 1e-6, (ev[0]["loss"], one["steps"][-1]["loss"])
assert abs(ev[1]["loss"] - one["start_loss"]) < 1e-6, (ev[1]["loss"], one["start_loss"])
# candidates were split over the ranks: rank r logged positions r+1, r+3, ...
pos = {0: set()}
for line in open(f"{tmp}/two.log"):
    m = re.search(r"search step 1/5  candidate (\d+)/7", line)
    if m:
        pos[0].add(int(m.group(1)))
assert pos[0] == {1, 3, 5, 7}, pos          # rank 0 prints its own share only
lf1, lf2 = one["layer_forwards"], two["layer_forwards"]
assert lf1["naive"] == lf2["naive"] and lf1["run"] < lf1["naive"], (lf1, lf2)
print(f"ok: 1 rank == 2 ranks == 2 ranks stopped + 1 rank resumed over {len(one['steps'])} steps; "
      f"pattern {pat}, loss {one['steps'][-1]['loss']:.5f} (eval {ev[0]['loss']:.5f}); "
      f"layer-forwards 1 rank {lf1['run']}/{lf1['naive']}, 2 ranks {lf2['run']}/{lf2['naive']}")
PYEOF
