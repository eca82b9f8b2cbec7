#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   0. the optional .venv-torch (scripts/setup-torch.sh, cached after the first
#      run), installed in the background: it is network-bound, so it overlaps
#      the builds; the two tests that use it run once it is there (step 4);
#   1. release build (CUDA compiled when nvcc is present), every CTest label;
#      GPU tests skip cleanly on a machine without a GPU; the static label
#      checks the kernels' SASS (tests/static) and skips only without CUDA;
#   2. an AddressSanitizer + UBSan build (CPU only) running the unit label,
#      so that malformed-input tests prove the readers stay inside their buffers,
#      and the cudasim label (CUDA kernels on the CPU SIMT emulator under ASan);
#   3. libFuzzer + ASan + UBSan on every parser of user files (scripts/fuzz.sh:
#      safetensors, GGUF, config.json, tokenizer.json, the token file's HDF5
#      attributes, the search trace), 60 s each, seeds made here from real files.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x scripts/fetch-smollm2.sh ] && bash scripts/fetch-smollm2.sh
[ -x scripts/fetch-text.sh ] && bash scripts/fetch-text.sh
# torch + transformers for the transformers client tests, in their own cached
# venv; never fails: without them those tests exit 77 and say why
mkdir -p build
bash scripts/setup-torch.sh > build/setup-torch.log 2>&1 &
torch_pid=$!
TORCH_TESTS='^interop_test_(transformers_client|export)$'

echo "== release build: all labels (the torch tests at the end) =="
IC_BUILD_DIR=build bash scripts/build.sh
(cd build && ctest --output-on-failure -j 2 --timeout 1800 -E "$TORCH_TESTS")

echo "== asan build: unit and cudasim labels =="
IC_BUILD_DIR=build-asan bash scripts/build.sh -DIC_ASAN=ON -DIC_CUDA=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j 2 -L '^(unit|cudasim)$' --timeout 1800)

echo "== the transformers client tests (torch venv: build/setup-torch.log) =="
wait "$torch_pid" || true
cat build/setup-torch.log
(cd build && ctest --output-on-failure --timeout 1800 -R "$TORCH_TESTS")

echo "== fuzz: every parser of user files, 60 s each (about 8 min with the build and seeds) =="
bash scripts/fuzz.sh 60
