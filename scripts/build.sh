#!/usr/bin/env bash
# Configures and builds indexcache into ./build (or $IC_BUILD_DIR).
# Extra arguments go to cmake's configure step (e.g. -DIC_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${IC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
