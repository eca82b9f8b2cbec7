"""The static checks must fail on bad code: fixtures built here with nvcc.

Proves, on small kernels in tests/static/fixtures/, that
  - the project's ptxas flags (IC_CUDA_FLAGS, from CMake) refuse a spill and
    a stack frame at build time;
  - the SASS checker (ic_sass_check.py) accepts a good kernel and names the
    reason for each bad one: local memory, registers over budget, a required
    instruction missing (a body an architecture macro compiled away), a
    kernel not in the table, a table entry with no kernel, the wrong
    architecture, an ambiguous table entry.
Exit 77 when the build has no CUDA (IC_CUDA=OFF): nothing to check.
"""
import json
import os
import shutil
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ic_sass_check as sc  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
GENCODE = ["-gencode", "arch=compute_90a,code=sm_90a"]

if os.environ.get("IC_CUDA", "OFF").upper() not in ("ON", "1", "TRUE"):
    print("SKIP: this build has no CUDA (IC_CUDA=OFF): no kernels to check")
    sys.exit(77)
NVCC = os.environ.get("IC_NVCC") or "nvcc"
FLAGS = shlex.split(os.environ.get("IC_CUDA_FLAGS", ""))
if not FLAGS:
    print("FAIL: IC_CUDA_FLAGS not set by CMake (tests/CMakeLists.txt)")
    sys.exit(1)
CUOBJDUMP = sc.find_cuobjdump()
if not CUOBJDUMP:
    print("FAIL: no cuobjdump in the venv: run scripts/setup.sh")
    sys.exit(1)

tmp = tempfile.mkdtemp(prefix="ic_sass_fx_")
passed, failed = 0, 0


def expect(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f"\n     {detail}"))
    if ok:
        passed += 1
    else:
        failed += 1


def nvcc(src, flags, out):
    p = subprocess.run([NVCC] + flags + ["-c", os.path.join(FIX, src), "-o", out],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def table(*entries):
    path = os.path.join(tmp, f"t{len(os.listdir(tmp))}.json")
    with open(path, "w") as f:
        json.dump({"arch": "sm_90a", "forbid": ["LDL", "STL"], "kernels": list(entries)}, f)
    return path


def failures(table_path, obj):
    _, fails = sc.run(table_path, [obj], CUOBJDUMP, quiet=True)
    return fails


def expect_failure(name, fails, *needles):
    hit = any(all(n in f for n in needles) for f in fails)
    expect(name, hit, f"no failure containing {needles}; got {fails}")


WARP = {"name": "^fx_warp_sum\\(", "max_regs": 16, "require": {"SHFL\\.BFLY": 5}}
MMA = {"name": "^fx_mma\\(", "max_regs": 32, "require": {"HMMA\\.16816\\.F32\\.BF16": 1}}

# ---- the project's flags at build time ----------------------------------
good = os.path.join(tmp, "good.o")
rc, log = nvcc("good.cu", GENCODE + FLAGS, good)
expect("good.cu builds with the project's flags", rc == 0, log)
rc, log = nvcc("spill.cu", GENCODE + FLAGS, os.path.join(tmp, "spill_flags.o"))
expect("ptxas refuses the spilling kernel", rc != 0 and "spill" in log, f"rc={rc} {log}")
rc, log = nvcc("lmem.cu", GENCODE + FLAGS, os.path.join(tmp, "lmem_flags.o"))
expect("ptxas refuses the stack frame", rc != 0 and "Local memory" in log, f"rc={rc} {log}")

# ---- the checker on good code --------------------------------------------
if os.path.exists(good):
    fails = failures(os.path.join(FIX, "good.json"), good)
    expect("checker accepts good.o with good.json", fails == [], fails)
    expect_failure("checker: a kernel not in the table", failures(table(WARP), good),
                   "fx_mma", "not in the table")
    expect_failure("checker: a table entry with no kernel",
                   failures(table(WARP, MMA, {"name": "^fx_gone\\(", "max_regs": 8,
                                              "require": {"EXIT": 1}}), good),
                   "fx_gone", "no such kernel")
    expect_failure("checker: registers over budget",
                   failures(table(dict(WARP, max_regs=4), MMA), good),
                   "fx_warp_sum", "budget 4")
    expect_failure("checker: an entry matching two kernels",
                   failures(table({"name": "^fx_", "max_regs": 64, "require": {"EXIT": 1}},
                                  WARP, MMA), good), "several table entries")
    expect_failure("checker: a forbidden instruction",
                   failures(table(WARP, dict(MMA, forbid=["HMMA"])), good),
                   "fx_mma", "forbidden instruction")

# ---- the checker on bad code (built without the ptxas guard) ------------
plain = GENCODE + ["-Xptxas", "-w"]
spill = os.path.join(tmp, "spill.o")
rc, log = nvcc("spill.cu", plain, spill)
expect("spill.cu builds without the guard", rc == 0, log)
if rc == 0:
    fails = failures(table({"name": "^fx_spill\\(", "max_regs": 32, "require": {"LDG": 1}}),
                     spill)
    expect_failure("checker: spill -> STACK", fails, "fx_spill", "local memory, STACK")
    expect_failure("checker: spill -> STL", fails, "fx_spill", "'STL'")
lmem = os.path.join(tmp, "lmem.o")
rc, log = nvcc("lmem.cu", plain, lmem)
expect("lmem.cu builds without the guard", rc == 0, log)
if rc == 0:
    fails = failures(table({"name": "^fx_lmem\\(", "max_regs": 32, "require": {"LDG": 1}}),
                     lmem)
    expect_failure("checker: local array -> STACK", fails, "fx_lmem", "local memory")
    expect_failure("checker: local array -> LDL", fails, "fx_lmem", "'LDL'")
guarded = os.path.join(tmp, "guarded.o")
rc, log = nvcc("guarded.cu", GENCODE + FLAGS, guarded)
expect("guarded.cu builds", rc == 0, log)
if rc == 0:
    expect_failure("checker: a body compiled away by an arch macro",
                   failures(table({"name": "^fx_guarded\\(", "max_regs": 32,
                                   "require": {"HMMA\\.16816\\.F32\\.BF16": 1}}), guarded),
                   "fx_guarded", "0x 'HMMA")
sm90 = os.path.join(tmp, "good_sm90.o")
rc, log = nvcc("good.cu", ["-gencode", "arch=compute_90,code=sm_90"] + FLAGS, sm90)
expect("good.cu builds for plain sm_90", rc == 0, log)
if rc == 0:
    expect_failure("checker: code for sm_90, not sm_90a", failures(table(WARP, MMA), sm90),
                   "code for sm_90,")

shutil.rmtree(tmp, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
