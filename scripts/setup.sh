#!/usr/bin/env bash
# Installs everything indexcache needs on a fresh Debian/Ubuntu machine:
# the Debian build and runtime packages, and a Python venv inside the repo
# (.venv, git-ignored) with the packages the tests use as oracles.
# Idempotent: a second run installs nothing and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  check libjansson-dev libhdf5-dev hdf5-tools libopenblas-dev libopenblas-openmp-dev
  libopenmpi-dev openmpi-bin libpng-dev
  clang libclang-rt-14-dev   # libFuzzer + sanitizers for tests/fuzz
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY_PACKAGES=(numpy safetensors gguf h5py tokenizers)
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import numpy, safetensors, gguf, h5py, tokenizers" 2>/dev/null; then
  echo "setup: installing Python packages: ${PY_PACKAGES[*]}"
  .venv/bin/pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
# cuobjdump / nvdisasm for the static checks of the CUDA kernels (tests/static):
# from PyPI rather than /usr/local/cuda, which a CI machine may lack. 13.2.x
# reads nvcc 13.0 output. The wheels put them in site-packages/nvidia/cu13/bin.
CUDA_TOOL_PACKAGES=('nvidia-cuda-cuobjdump==13.2.*' 'nvidia-cuda-nvdisasm==13.2.*')
if ! ls .venv/lib/python3*/site-packages/nvidia/cu13/bin/cuobjdump \
        .venv/lib/python3*/site-packages/nvidia/cu13/bin/nvdisasm >/dev/null 2>&1; then
  echo "setup: installing Python packages: ${CUDA_TOOL_PACKAGES[*]}"
  .venv/bin/pip install -q --disable-pip-version-check "${CUDA_TOOL_PACKAGES[@]}"
fi
# cudnn-frontend: the header-only C++ graph API over cuDNN that
# kernels/cuda/attention_cudnn.cpp builds the fused SDPA with (shared/GPU.md).
# Its headers ship in the PyPI wheel; any platform's wheel has the same
# include/ folder. Fetched into third_party/cudnn_frontend (git-ignored,
# never committed) only when the pinned version is not there yet.
CFE_VERSION=1.32.0
CFE_DIR=third_party/cudnn_frontend
if [ "$(cat "$CFE_DIR/VERSION" 2>/dev/null)" != "$CFE_VERSION" ] ||
   [ ! -f "$CFE_DIR/include/cudnn_frontend.h" ]; then
  echo "setup: fetching cudnn-frontend $CFE_VERSION headers into $CFE_DIR"
  cfe_tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$cfe_tmp" "nvidia-cudnn-frontend==$CFE_VERSION"
  rm -rf "$CFE_DIR"
  mkdir -p "$CFE_DIR"
  .venv/bin/python - "$cfe_tmp" "$CFE_DIR" <<'PY'
import glob, sys, zipfile
whl = sorted(glob.glob(sys.argv[1] + "/*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("include/")])
PY
  rm -rf "$cfe_tmp"
  [ -f "$CFE_DIR/include/cudnn_frontend.h" ] ||
    { echo "setup: cudnn-frontend wheel had no include/cudnn_frontend.h" >&2; exit 1; }
  echo "$CFE_VERSION" >"$CFE_DIR/VERSION"
fi
echo "setup: ok"
