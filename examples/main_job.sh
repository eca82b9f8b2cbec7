#!/usr/bin/env bash
# The main job. For now (foundation stage) it builds and prints the CLI;
# the end-to-end IndexCache run replaces this as the pipeline lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/indexcache --help
