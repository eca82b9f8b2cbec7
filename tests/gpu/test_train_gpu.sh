#!/usr/bin/env bash
# The DSA model and the trainer through the commands, GPU against the CPU
# reference, on the real SmolLM2 and the KJV (issue 10 item 4, issue 11 item 5):
#   - `train` uniform:4, dense stage, multi loss, 50 steps, L 256, batch 2,
#     seed 0, on the GPU and with --cpu: every GPU run's start-up line names
#     CUDA; the final val KL agrees within 2% (the GPU's teacher is bf16, its
#     indexer scores run on bf16 tensor cores);
#   - resume on the GPU: --stop-after 25 then --resume to 50 gives the very
#     losses (bitwise: %.17g strings) of the straight run, steps 26..50 and the
#     final val KL;
#   - `eval --pattern uniform:4` of the GPU-trained model on both backends:
#     LM loss within 1% relative (top-k ties may fall differently);
#   - `overlap` with seeded indexers at every layer: every matrix entry within
#     0.10 and the mean adjacent-layer overlap within 0.03 of the CPU's.
# Needs IC_BIN, IC_MODEL_DIR (an f32 `indexcache import` of SmolLM2) and
# IC_DATA (an `indexcache prep` of the KJV with that model). Exits 77 naming
# what is missing (no GPU, no model, no data).
set -uo pipefail
BIN=${IC_BIN:?IC_BIN}
M=${IC_MODEL_DIR:-}
D=${IC_DATA:-}
[ -n "$M" ] && [ -f "$M/config.json" ] || { echo "SKIP: IC_MODEL_DIR not set or not a model dir"; exit 77; }
[ -n "$D" ] && [ -f "$D" ] || { echo "SKIP: IC_DATA not set (a prep'd KJV)"; exit 77; }
nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
STEPS=${IC_TRAIN_STEPS:-50}
HALF=$((STEPS / 2))
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

tr() {   # tr OUT [extra flags...]
  local out=$1; shift
  "$BIN" "$@" train --model "$M" --data "$D" --pattern uniform:4 --stage dense --loss multi \
      --steps "$STEPS" --seq-len 256 --batch 2 --lr 3e-3 --warmup 5 --topk 64 \
      --eval-every "$STEPS" --eval-batches 4 --seed 0 --out "$out" "${TRAIN_EXTRA[@]}"
}
gpu_line() {   # gpu_line ERRFILE WHAT
  grep '^backend: ' "$1" | head -1
  grep -q '^backend: CUDA' "$1" || { echo "FAIL: $2 did not run on the GPU"; fail=1; }
}

TRAIN_EXTRA=()
tr "$tmp/gpu" >"$tmp/gpu.out" 2>"$tmp/gpu.err" || { cat "$tmp/gpu.err"; exit 1; }
# while an op the trainer runs has no CUDA kernel, the command stays on the
# CPU by design and says so: nothing to compare yet
if grep -q '^backend: CPU.*no CUDA kernel yet' "$tmp/gpu.err"; then
  echo "SKIP: $(grep '^backend: ' "$tmp/gpu.err" | head -1)"; exit 77
fi
gpu_line "$tmp/gpu.err" "train"
tr "$tmp/cpu" --cpu >"$tmp/cpu.out" 2>"$tmp/cpu.err" || { cat "$tmp/cpu.err"; exit 1; }
grep '^backend: ' "$tmp/cpu.err" | head -1
TRAIN_EXTRA=(--stop-after "$HALF")
tr "$tmp/res" >/dev/null 2>"$tmp/res1.err" || { cat "$tmp/res1.err"; exit 1; }
TRAIN_EXTRA=(--resume)
tr "$tmp/res" >/dev/null 2>"$tmp/res2.err" || { cat "$tmp/res2.err"; exit 1; }
gpu_line "$tmp/res2.err" "train --resume"
grep 'tok/s' "$tmp/gpu.out" | tail -1 | sed 's/^/gpu: /'
grep 'tok/s' "$tmp/cpu.out" | tail -1 | sed 's/^/cpu: /'

python3 - "$tmp/gpu/train_log.jsonl" "$tmp/cpu/train_log.jsonl" "$tmp/res/train_log.jsonl" "$HALF" <<'PY' || fail=1
import json, sys, re
def rows(p):
    return [json.loads(l) for l in open(p) if l.strip()]
def raw_losses(p):   # the logged text, so "identical" means the same bits
    out = {}
    for l in open(p):
        m = re.search(r'"step": (\d+), "loss": ([^,]+),', l)
        if m: out[int(m.group(1))] = m.group(2)
    return out
g, c, r = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
half = int(sys.argv[4])
gk = [x["val_kl"] for x in g if "val_kl" in x][-1]
ck = [x["val_kl"] for x in c if "val_kl" in x][-1]
rk = [x["val_kl"] for x in r if "val_kl" in x][-1]
g0 = [x["val_kl"] for x in g if "val_kl" in x][0]
rel = abs(gk - ck) / abs(ck)
ok1 = rel <= 0.02 and gk < g0
print(f"final val KL: gpu {gk:.6f} cpu {ck:.6f} (start {g0:.6f}) rel diff {rel:.4f} <= 0.02 "
      f"and below the start: {'PASS' if ok1 else 'FAIL'}")
gl, rl = raw_losses(sys.argv[1]), raw_losses(sys.argv[3])
bad = [s for s in gl if s > half and gl[s] != rl.get(s)]
ok2 = not bad and len([s for s in rl if s > half]) == len([s for s in gl if s > half]) and rk == gk
print(f"resume at step {half}: steps {half + 1}..{max(gl)} identical: "
      f"{'PASS' if ok2 else 'FAIL (first differing step %s)' % (bad[:1],)}; final val KL {rk!r} vs {gk!r}")
sys.exit(0 if ok1 and ok2 else 1)
PY

ev() {   # ev MODEL [--cpu]
  "$BIN" ${2:-} eval --model "$1" --data "$D" --seq-len 256 --batches 8 --pattern uniform:4 \
      --topk 64 --json 2>>"$tmp/ev.err" | grep '^[[{]'
}
eg=$(ev "$tmp/gpu") || { cat "$tmp/ev.err"; exit 1; }
gpu_line "$tmp/ev.err" "eval --pattern uniform:4"
ec=$(ev "$tmp/gpu" --cpu) || { cat "$tmp/ev.err"; exit 1; }
python3 - "$eg" "$ec" <<'PY' || fail=1
import json, sys
def first(s):
    j = json.loads(s)
    return j[0] if isinstance(j, list) else j
g, c = first(sys.argv[1]), first(sys.argv[2])
rel = abs(g["loss"] - c["loss"]) / abs(c["loss"])
ok = rel <= 0.01
print(f"eval uniform:4 LM loss: gpu {g['loss']:.5f} cpu {c['loss']:.5f} rel diff {rel:.5f} <= 0.01: "
      f"{'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY

"$BIN" --cpu init-indexers --model "$M" --pattern uniform:1 --seed 0 --index-topk 64 \
    --out "$tmp/allf" >/dev/null 2>&1 || { echo "FAIL: init-indexers"; exit 1; }
ov() {   # ov CSV [--cpu]
  "$BIN" ${2:-} overlap --model "$tmp/allf" --data "$D" --seq-len 256 --batches 2 --topk 64 \
      --out "$1" >/dev/null 2>>"$tmp/ov.err"
}
ov "$tmp/ov_gpu.csv" || { cat "$tmp/ov.err"; exit 1; }
gpu_line "$tmp/ov.err" "overlap"
ov "$tmp/ov_cpu.csv" --cpu || { cat "$tmp/ov.err"; exit 1; }
python3 - "$tmp/ov_gpu.csv" "$tmp/ov_cpu.csv" <<'PY' || fail=1
import sys
def mat(p):
    rows = [l.strip().split(",") for l in open(p)][1:]
    return [[float(v) for v in r[1:]] for r in rows]
g, c = mat(sys.argv[1]), mat(sys.argv[2])
n = len(c)
mx = max(abs(g[i][j] - c[i][j]) for i in range(n) for j in range(n))
adj = lambda m: sum(m[l][l + 1] for l in range(n - 1)) / (n - 1)
ok = mx <= 0.10 and abs(adj(g) - adj(c)) <= 0.03
print(f"overlap {n}x{n}: max entry diff {mx:.4f} <= 0.10, mean adjacent gpu {adj(g):.4f} cpu {adj(c):.4f} "
      f"(<= 0.03 apart): {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
exit $fail
