#!/usr/bin/env bash
# Optional setup step for the transformers tests
# (tests/interop/test_transformers_client.py, test_export.py): a separate
# venv with torch and transformers from PyPI. Separate from .venv because it
# is large (PyPI's Linux torch wheel brings its CUDA libraries; the tests run
# torch on the CPU) and nothing else needs it. It lives in the checkout
# (.venv-torch, git-ignored; $IC_TORCH_VENV overrides), like every other
# piece of state the project installs. scripts/test.sh runs this in the
# background while it builds and tests, since the install is network-bound.
#
# Cached: when the venv already imports torch and transformers this returns
# at once. It never fails the caller: when the install cannot be done it
# writes the reason to <venv>.reason and exits 0, and the tests then exit 77
# (SKIP) printing that reason. IC_SKIP_TORCH=1 skips the install on purpose
# (the reason says so). Measured here (2 cores shared with other builds,
# PyPI at ~7 MB/s, 2026-12-02): 12 min (724 s) for a fresh venv of 5.6 GB,
# most of it downloading ~3.5 GB of CUDA wheels; ~12 s when cached (the
# import check of torch).
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${IC_TORCH_VENV:-$PWD/.venv-torch}
REASON=$VENV.reason
mkdir -p "$(dirname "$VENV")"
TORCH_PIN="torch==2.15.*"
TRANSFORMERS_PIN="transformers==5.*"

fail() {
  echo "setup-torch: $1" >&2
  echo "$1" >"$REASON"
  exit 0
}

if [ -x "$VENV/bin/python" ] &&
   "$VENV/bin/python" -c "import torch, transformers, numpy" 2>/dev/null; then
  rm -f "$REASON"
  echo "setup-torch: ok ($VENV cached)"
  exit 0
fi
[ "${IC_SKIP_TORCH:-0}" = 1 ] && fail "IC_SKIP_TORCH=1: torch/transformers install skipped on purpose"

t0=$(date +%s)
echo "setup-torch: creating $VENV with $TORCH_PIN and $TRANSFORMERS_PIN (a few minutes, once)"
rm -rf "$VENV"
python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed (python3-venv missing?)"
log=$(mktemp)
if ! "$VENV/bin/pip" install -q --disable-pip-version-check "$TORCH_PIN" "$TRANSFORMERS_PIN" >"$log" 2>&1; then
  tail -5 "$log" >&2
  why=$(grep -m1 -E "ERROR|error" "$log" | cut -c1-200)
  rm -rf "$VENV" "$log"
  fail "pip install of $TORCH_PIN $TRANSFORMERS_PIN failed: ${why:-see the output above}"
fi
rm -f "$log"
"$VENV/bin/python" -c "import torch, transformers, numpy" 2>/dev/null ||
  { rm -rf "$VENV"; fail "torch/transformers installed but do not import"; }
rm -f "$REASON"
echo "setup-torch: ok ($(( $(date +%s) - t0 )) s, $(du -sh "$VENV" | cut -f1))"
