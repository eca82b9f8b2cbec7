"""Checks the machine code of CUDA kernels against a table (docs/DESIGN.md section 7).

Reads `cuobjdump --dump-resource-usage` and `cuobjdump -sass` of one or more
binaries (objects, static libraries, executables) and checks, per kernel:
  - it is listed in the table (a new kernel without an entry fails) and every
    table entry is found in the binaries (a kernel body that an architecture
    macro compiled to nothing, or a kernel that was dropped, fails);
  - its code is for the table's architecture (sm_90a);
  - no local memory: STACK:0 and LOCAL:0 in the resource usage, and no
    LDL / STL instruction;
  - registers <= the entry's budget;
  - every required instruction regex matches at least its minimum count
    (the proof that the tensor-core / shuffle path is really in the code);
  - no forbidden instruction regex (the table's global list and the entry's).

The table is JSON:
  {"arch": "sm_90a",
   "forbid": ["LDL", "STL"],
   "kernels": [{"name": "<regex searched in the demangled name>",
                "max_regs": 64,
                "require": {"SHFL\\\\.BFLY": 1, "LDG": 1},
                "forbid": ["HMMA"]}]}
Instruction regexes are matched (re.match) against the opcode with its
modifiers, e.g. "HMMA.16816.F32.BF16", "SHFL.BFLY", "LDG.E.128".

cuobjdump comes from the venv (PyPI nvidia-cuda-cuobjdump, installed by
scripts/setup.sh), never from /usr/local/cuda, which CI machines may lack.
Used as a module by tests/static/test_*.py and as a command:
  python ic_sass_check.py TABLE.json BINARY...
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys


class Kernel:
    def __init__(self, name, where):
        self.name = name          # mangled, as cuobjdump prints it
        self.demangled = name
        self.where = where        # "file[:member]"
        self.arch = None
        self.res = {}             # REG, STACK, SHARED, LOCAL, ... -> int
        self.ops = []             # opcodes with modifiers, in order

    def label(self):
        return f"{self.demangled} ({self.where})"


def find_cuobjdump():
    """The venv's cuobjdump: $IC_CUOBJDUMP, else site-packages/nvidia/cu*/bin."""
    env = os.environ.get("IC_CUOBJDUMP")
    if env:
        return env
    prefixes = [sys.prefix]
    src = os.environ.get("IC_SOURCE_DIR")
    if src:
        prefixes.append(os.path.join(src, ".venv"))
    for prefix in prefixes:
        hits = sorted(glob.glob(os.path.join(
            prefix, "lib", "python3*", "site-packages", "nvidia", "cu*", "bin", "cuobjdump")))
        if hits:
            return hits[-1]
    return None


def _run(tool, args):
    p = subprocess.run([tool] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{os.path.basename(tool)} {' '.join(args)} exited {p.returncode}: "
                           f"{p.stderr.strip()}")
    return p.stdout


_MEMBER = re.compile(r"^member (.*):\s*$")
_ARCH = re.compile(r"^arch = (\S+)")
_FUNC_RES = re.compile(r"^\s*Function (\S+):\s*$")
_RES_LINE = re.compile(r"^\s*(REG:\d+.*)$")
_FUNC_SASS = re.compile(r"^\s*Function : (\S+)\s*$")
_CODE_FOR = re.compile(r"^\s*code for (\S+)")
# "/*0040*/   @!P0 HMMA.16816.F32.BF16 R4, R8, R12, R4 ;"
_INSN = re.compile(r"^\s*/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_.]*)")


def read_kernels(cuobjdump, path):
    """Every kernel in one binary, with resource usage and SASS opcodes."""
    kernels = {}  # (where, mangled) -> Kernel

    member, arch, current = None, None, None
    for line in _run(cuobjdump, ["--dump-resource-usage", path]).splitlines():
        m = _MEMBER.match(line)
        if m:
            member = m.group(1)
            continue
        m = _ARCH.match(line)
        if m:
            arch = m.group(1)
            continue
        m = _FUNC_RES.match(line)
        if m:
            where = member or path
            k = kernels.setdefault((where, m.group(1)), Kernel(m.group(1), where))
            k.arch = arch
            current = k
            continue
        m = _RES_LINE.match(line)
        if m and current is not None:
            for field in m.group(1).split():
                key, _, val = field.rpartition(":")
                if val.isdigit():
                    current.res[key] = int(val)
            current = None
    member, arch, current = None, None, None
    for line in _run(cuobjdump, ["-sass", path]).splitlines():
        m = _MEMBER.match(line)
        if m:
            member, current = m.group(1), None
            continue
        m = _CODE_FOR.match(line)
        if m:
            arch = m.group(1)
            continue
        m = _FUNC_SASS.match(line)
        if m:
            where = member or path
            current = kernels.setdefault((where, m.group(1)), Kernel(m.group(1), where))
            if current.arch is None:
                current.arch = arch
            continue
        m = _INSN.match(line)
        if m and current is not None:
            current.ops.append(m.group(1))
    return list(kernels.values())


def demangle(kernels):
    """Demangled names through c++filt when there is one (binutils)."""
    cxxfilt = shutil.which("c++filt")
    if not cxxfilt or not kernels:
        return
    p = subprocess.run([cxxfilt], input="\n".join(k.name for k in kernels) + "\n",
                       capture_output=True, text=True)
    names = p.stdout.splitlines()
    if p.returncode == 0 and len(names) == len(kernels):
        for k, d in zip(kernels, names):
            # a template kernel demangles with its return type: drop it so
            # that a table regex can anchor at the name ("^ic_x_kernel<")
            k.demangled = d[5:] if d.startswith("void ") else d


def check(table, kernels):
    """Failures (strings) of `kernels` against `table`; [] when all hold."""
    failures = []
    entries = table.get("kernels", [])
    want_arch = table.get("arch", "sm_90a")
    global_forbid = table.get("forbid", ["LDL", "STL"])
    for e in entries:
        if not e.get("require"):
            failures.append(f"table entry {e['name']!r}: no required instructions "
                            "(name what the kernel must contain, e.g. LDG / STG / HMMA)")
        if "max_regs" not in e:
            failures.append(f"table entry {e['name']!r}: no max_regs")
    used = [0] * len(entries)
    for k in kernels:
        hits = [i for i, e in enumerate(entries)
                if re.search(e["name"], k.demangled) or re.search(e["name"], k.name)]
        if not hits:
            failures.append(f"{k.label()}: not in the table (add an entry to "
                            "tests/static/kernels.json)")
            continue
        if len(hits) > 1:
            failures.append(f"{k.label()}: matches several table entries: "
                            + ", ".join(entries[i]["name"] for i in hits))
            continue
        used[hits[0]] += 1
        e = entries[hits[0]]
        if k.arch != want_arch:
            failures.append(f"{k.label()}: code for {k.arch}, want {want_arch}")
        if not k.res:
            failures.append(f"{k.label()}: no resource usage reported")
        for key in ("STACK", "LOCAL"):
            if k.res.get(key, 0) != 0:
                failures.append(f"{k.label()}: local memory, {key}:{k.res[key]} bytes")
        regs, budget = k.res.get("REG"), e.get("max_regs")
        if regs is not None and budget is not None and regs > budget:
            failures.append(f"{k.label()}: {regs} registers, budget {budget}")
        for rx in list(global_forbid) + list(e.get("forbid", [])):
            bad = [op for op in k.ops if re.match(rx, op)]
            if bad:
                failures.append(f"{k.label()}: forbidden instruction {rx!r}: "
                                f"{len(bad)}x, e.g. {bad[0]}")
        for rx, least in e.get("require", {}).items():
            n = sum(1 for op in k.ops if re.match(rx, op))
            if n < least:
                failures.append(f"{k.label()}: {n}x {rx!r}, want at least {least} "
                                f"({len(k.ops)} instructions in all)")
    for e, n in zip(entries, used):
        if n == 0:
            failures.append(f"table entry {e['name']!r}: no such kernel in the binaries "
                            "(dropped, renamed, or its body compiled to nothing)")
    return failures


def report(kernels):
    for k in sorted(kernels, key=lambda k: (k.demangled, k.where)):
        print(f"  {k.demangled[:70]:70s} {k.arch} REG:{k.res.get('REG')} "
              f"STACK:{k.res.get('STACK')} LOCAL:{k.res.get('LOCAL')} "
              f"SHARED:{k.res.get('SHARED')} {len(k.ops)} insns  [{k.where}]")


def run(table_path, binaries, cuobjdump=None, quiet=False):
    """(kernels, failures) of the binaries against the table file."""
    cuobjdump = cuobjdump or find_cuobjdump()
    if not cuobjdump:
        raise RuntimeError("no cuobjdump in the venv: run scripts/setup.sh "
                           "(it installs nvidia-cuda-cuobjdump from PyPI)")
    with open(table_path) as f:
        table = json.load(f)
    kernels = []
    for b in binaries:
        kernels += read_kernels(cuobjdump, b)
    demangle(kernels)
    if not quiet:
        print(f"{len(kernels)} kernel(s) in {len(binaries)} binary(ies), "
              f"table {table_path} with {len(table.get('kernels', []))} entries:")
        report(kernels)
    return kernels, check(table, kernels)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    _, failures = run(argv[1], argv[2:])
    for f in failures:
        print("FAIL:", f)
    print("sass check:", "ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
