#!/usr/bin/env bash
# The teacher through the commands, GPU against the CPU reference, on the
# real SmolLM2 and the KJV:
#   - `eval` (dense) on the val split: the GPU's perplexity equals the CPU's
#     to 3 significant digits, and its start-up line names CUDA;
#   - `generate`: greedy continuations of two known prompts are identical.
# Needs IC_BIN, IC_MODEL_DIR (an f32 `indexcache import` of SmolLM2) and
# IC_DATA (an `indexcache prep` of the KJV with that model); IC_EVAL_BATCHES
# windows of 512 (default 0 = every val window). Exits 77 naming what is
# missing (no GPU, no model).
set -uo pipefail
BIN=${IC_BIN:?IC_BIN}
M=${IC_MODEL_DIR:-}
D=${IC_DATA:-}
[ -n "$M" ] && [ -f "$M/config.json" ] || { echo "SKIP: IC_MODEL_DIR not set or not a model dir"; exit 77; }
[ -n "$D" ] && [ -f "$D" ] || { echo "SKIP: IC_DATA not set (a prep'd KJV)"; exit 77; }
nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
B=${IC_EVAL_BATCHES:-0}
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$BIN" --cpu eval --model "$M" --data "$D" --seq-len 512 --batches "$B" --json >"$tmp/cpu.json" 2>"$tmp/cpu.err" || { cat "$tmp/cpu.err"; exit 1; }
"$BIN" eval --model "$M" --data "$D" --seq-len 512 --batches "$B" --json >"$tmp/gpu.json" 2>"$tmp/gpu.err" || { cat "$tmp/gpu.err"; exit 1; }
grep '^backend: ' "$tmp/cpu.err" "$tmp/gpu.err"
if ! grep -q '^backend: CUDA' "$tmp/gpu.err"; then echo "FAIL: eval did not run on the GPU"; fail=1; fi
python3 - "$tmp/cpu.json" "$tmp/gpu.json" <<'PY' || fail=1
import json, sys, math
def first(p):
    j = json.load(open(p))
    return j[0] if isinstance(j, list) else j
c, g = first(sys.argv[1]), first(sys.argv[2])
def sig3(x): return float(f"{x:.3g}")
ok = sig3(c["ppl"]) == sig3(g["ppl"])
print(f"eval ppl: cpu {c['ppl']:.4f} (loss {c['loss']:.5f}, {c.get('tok_per_s', 0):.0f} tok/s)  "
      f"gpu {g['ppl']:.4f} (loss {g['loss']:.5f}, {g.get('tok_per_s', 0):.0f} tok/s)  "
      f"3 significant digits: {sig3(c['ppl'])} vs {sig3(g['ppl'])}  {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY

for prompt in "Genesis 1:1 In the beginning God created" "In the beginning God created"; do
  c=$("$BIN" --cpu generate --model "$M" --prompt "$prompt" --tokens 16 2>/dev/null) || fail=1
  g=$("$BIN" generate --model "$M" --prompt "$prompt" --tokens 16 2>"$tmp/gen.err") || { cat "$tmp/gen.err"; fail=1; }
  grep '^generate:' "$tmp/gen.err"
  if [ "$c" = "$g" ]; then echo "generate '$prompt': identical: $g  PASS"
  else printf "generate '%s': FAIL\n  cpu: %s\n  gpu: %s\n" "$prompt" "$c" "$g"; fail=1; fi
done
exit $fail
