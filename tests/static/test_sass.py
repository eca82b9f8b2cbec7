"""The machine code of every CUDA kernel of the build against tests/static/kernels.json.

The binaries come from CMake (IC_SASS_BINARIES, ':'-separated): the library that
compiles kernels/cuda/*.cu and the executables of tests/gpu/*.cu. Each kernel
found must be in the table and each table entry must be found; per kernel:
sm_90a code, no local memory, registers within budget, the required
instructions present (see ic_sass_check.py). Exit 77 when the build has no
CUDA (IC_CUDA=OFF); a missing cuobjdump is a failure, not a skip.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ic_sass_check as sc  # noqa: E402

if os.environ.get("IC_CUDA", "OFF").upper() not in ("ON", "1", "TRUE"):
    print("SKIP: this build has no CUDA (IC_CUDA=OFF): no kernels to check")
    sys.exit(77)
binaries = [b for b in os.environ.get("IC_SASS_BINARIES", "").split(":") if b]
if not binaries:
    print("FAIL: IC_SASS_BINARIES not set by CMake (tests/CMakeLists.txt)")
    sys.exit(1)
missing = [b for b in binaries if not os.path.exists(b)]
if missing:
    print("FAIL: not built: " + ", ".join(missing))
    sys.exit(1)
try:
    kernels, failures = sc.run(os.path.join(HERE, "kernels.json"), binaries)
except RuntimeError as e:
    print(f"FAIL: {e}")
    sys.exit(1)
for f in failures:
    print("FAIL:", f)
print(f"sass: {len(kernels)} kernel occurrence(s) checked, {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
