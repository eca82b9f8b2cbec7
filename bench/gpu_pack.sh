#!/usr/bin/env bash
# Packs what one call on the lent GPU machine needs (bench/gpu_run.sh runs it
# there; README "On the lent GPU"). Runs HERE, on a machine with nvcc:
#   1. a Release CUDA build in build-gpu/ of the binary, the `gpu`-label test
#      executables and any bench_*_gpu targets;
#   2. gpu-pack/ (git-ignored, carried to the device): bin/ the executables,
#      lib/ the shared libraries they load from the system here except the
#      CUDA and C/C++ runtime libraries (the device has its own; gpu_run.sh
#      uses a carried one only where the device lacks that soname), tests.tsv
#      (test name, executable), bench/ the GPU benchmarks, MANIFEST.
# The device machine (Ubuntu 24.04, nvcc 13, no libcheck, no network) runs
# binaries built here unchanged (shared/GPU.md). The carry limit is 64 MiB:
# the pack fails above IC_PACK_MAX_MB (default 60).
#   bash bench/gpu_pack.sh            IC_GPU_BUILD_DIR, IC_JOBS override
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${IC_GPU_BUILD_DIR:-build-gpu}
PACK=gpu-pack
MAX_MB=${IC_PACK_MAX_MB:-60}
JOBS=${IC_JOBS:-2}

command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
  { echo "gpu_pack: no nvcc here: the pack needs a CUDA build" >&2; exit 1; }
echo "gpu_pack: configuring $BUILD (Release, CUDA)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIC_CUDA=ON >/dev/null

# The gpu-label tests as CTest knows them. A C / CUDA test is a target of
# its own name; CTest reports its executable only once it is built.
gpu_names=$(cd "$BUILD" && ctest -L gpu --show-only=json-v1 |
            python3 -c 'import json, sys; print(" ".join(t["name"] for t in json.load(sys.stdin).get("tests", []) if not ((t.get("command") or [""])[0].endswith("/bash"))))')
bench_targets=$(ninja -C "$BUILD" -t targets all 2>/dev/null |
                sed -n 's/^\(bench_[A-Za-z0-9_]*_gpu\): .*/\1/p' | sort -u || true)
targets=(indexcache $gpu_names $bench_targets)
echo "gpu_pack: building ${targets[*]}"
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}"
# Name and executable of each test. Only executables built in $BUILD can
# travel; anything else is an error here rather than a silent gap there.
tests_tsv=$(cd "$BUILD" && ctest -L gpu --show-only=json-v1 | python3 -c '
import json, os, sys
build = os.getcwd()
for t in json.load(sys.stdin).get("tests", []):
    cmd = t.get("command") or []
    if len(cmd) == 2 and os.path.basename(cmd[0]) == "bash":
        continue   # a script test travels with the tree; gpu_run.sh runs tests/gpu/*.sh
    if len(cmd) != 1 or not cmd[0].startswith(build + "/"):
        sys.exit("gpu_pack: test %s: command %s is not one executable of the build" % (t["name"], cmd))
    print(t["name"] + "\t" + os.path.relpath(cmd[0], build))
')

rm -rf "$PACK"
mkdir -p "$PACK/bin" "$PACK/lib" "$PACK/bench"
cp "$BUILD/indexcache" "$PACK/bin/"
: >"$PACK/tests.tsv"
while IFS=$'\t' read -r name exe; do
  [ -n "$name" ] || continue
  cp "$BUILD/$exe" "$PACK/bin/"
  printf '%s\tbin/%s\n' "$name" "$(basename "$exe")" >>"$PACK/tests.tsv"
done <<<"$tests_tsv"
for t in $bench_targets; do cp "$BUILD/$t" "$PACK/bench/"; done

# Shared libraries: everything ldd resolves, less the libraries the device
# must provide itself (the driver and CUDA libraries: cuBLASLt, cuDNN and NCCL
# load from the machine's own copies) and the C / C++ runtime, which a newer
# distribution has in a newer, compatible version. OpenBLAS (36 MiB, over half
# the carry limit) is there too (shared/GPU.md); gpu_run.sh's ldd shows it.
skip_re='^(libopenblas\.so|linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libgcc_s\.so|libstdc\+\+\.so|libcuda\.so|libcudart|libcublas|libcudnn|libnccl|libnv|libcufft|libcurand|libcusolver|libcusparse)'
# IC_PACK_ONLY_LIBS="soname ...": carry only these (the ones the device's
# ldconfig lacks, as gpu_run.sh's first run listed), to leave room in the
# 64 MiB a call carries for model data.
only=" ${IC_PACK_ONLY_LIBS:-} "
missing=0
for exe in "$PACK"/bin/* "$PACK"/bench/*; do
  [ -f "$exe" ] || continue
  while read -r soname arrow path _; do
    if [ "$arrow" = "=>" ] && [ "$path" = "not" ]; then
      echo "gpu_pack: $exe: $soname not found here" >&2; missing=1; continue
    fi
    [ "$arrow" = "=>" ] && [ -f "$path" ] || continue
    [[ $soname =~ $skip_re ]] && continue
    [ -n "${IC_PACK_ONLY_LIBS:-}" ] && [[ $only != *" $soname "* ]] && continue
    [ -e "$PACK/lib/$soname" ] || cp -L "$path" "$PACK/lib/$soname"
  done < <(ldd "$exe")
done
((missing == 0)) || exit 1

{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "nvcc: $( (command -v nvcc >/dev/null && nvcc --version || /usr/local/cuda/bin/nvcc --version) | tail -1)"
  echo "tests: $(wc -l <"$PACK/tests.tsv")"
  echo "benchmarks: $(ls "$PACK/bench" | wc -l)"
  echo "libs: $(ls "$PACK/lib" | tr '\n' ' ')"
} >"$PACK/MANIFEST"

# Host debug info is most of each executable's size and nothing there reads
# it (the kernels keep their line info inside the fatbin for the sanitizers);
# the whole pack then travels as one xz archive, a tenth of its size, which
# leaves room in a call's 64 MiB for the real model's data.
strip --strip-debug "$PACK"/bin/* "$PACK"/bench/* 2>/dev/null || true
tar -cJf "$PACK.tar.xz" -C "$(dirname "$PACK")" "$(basename "$PACK")"
size_kb=$(du -sk "$PACK.tar.xz" | cut -f1)
if ((size_kb > MAX_MB * 1024)); then
  echo "gpu_pack: $PACK.tar.xz is $((size_kb / 1024)) MiB, over $MAX_MB MiB (carry limit 64 MiB):" >&2
  du -sk "$PACK"/bin/* "$PACK"/lib/* | sort -n | tail -8 >&2
  exit 1
fi
cat "$PACK/MANIFEST"
echo "gpu_pack: $PACK.tar.xz ready, $((size_kb / 1024)) MiB ($(du -sm "$PACK" | cut -f1) MiB unpacked):" \
     "carry [\"$(basename "$PACK").tar.xz\"], command: bash bench/gpu_run.sh"
