"""safetensors interop with the reference implementation (the Python package,
which wraps the Rust crate).

1. Ours -> reference: the C suite's `--write-sample` writes a file with every
   dtype (plus empty and 0-rank tensors, metadata) and a JSON sidecar with
   the values; the reference reader must see the same names, dtypes, shapes,
   metadata and values; without metadata our bytes must equal the
   reference writer's bytes for the same tensors.
2. Reference -> ours: files written by the reference (every numpy dtype,
   bf16 and fp8 from raw bytes, a sharded model dir) are listed by
   `indexcache inspect --json` and dumped value by value with `--dump`.
3. Differential validation: mutated files must be accepted by `inspect`
   exactly when the reference accepts them (apart from the documented
   deliberate differences), and a rejection must be one line, exit 1.
"""
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import TensorSpec, deserialize, safe_open, serialize, serialize_file
from safetensors.numpy import save_file

IC_BIN = os.environ["IC_BIN"]
BUILD = os.environ["IC_BUILD_DIR"]
SEED = int(os.environ.get("IC_SEED", random.SystemRandom().randrange(1 << 30)))
print(f"seed {SEED} (IC_SEED={SEED} reproduces)")
rng = np.random.default_rng(SEED)

NP = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
      "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32,
      "F64": np.float64, "I64": np.int64, "U64": np.uint64}
RAW = {"BF16": np.uint16, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8}   # no numpy dtype
SPEC_NAME = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def decode(dtype, data, shape):
    """Values of raw little-endian bytes, as the reference's dtypes define them."""
    if dtype in NP:
        return np.frombuffer(bytes(data), dtype=np.dtype(NP[dtype]).newbyteorder("<")).reshape(shape)
    raw = np.frombuffer(bytes(data), dtype=np.dtype(RAW[dtype]).newbyteorder("<")).reshape(shape)
    if dtype == "BF16":  # bf16 = the top half of an fp32
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw  # fp8: compared as raw bytes


def run(*args):
    return subprocess.run([IC_BIN, *args], capture_output=True, text=True)


def same_values(got, want, what):
    got = np.asarray(got)
    want = np.asarray(want)
    if want.dtype.kind == "f":
        ok = got.shape == want.shape and np.array_equal(got.astype(np.float64), want.astype(np.float64))
    else:
        ok = got.shape == want.shape and all(int(a) == int(b) for a, b in zip(got.ravel(), want.ravel()))
    check(ok, f"{what}: values differ")


def ours_to_reference(tmp):
    path = os.path.join(tmp, "ours.safetensors")
    r = subprocess.run([os.path.join(BUILD, "tests", "test_safetensors"), "--write-sample", path],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"--write-sample failed: {r.stderr}")
    side = json.load(open(path + ".json"))
    blob = open(path, "rb").read()
    got = dict(deserialize(blob))                      # the reference parser, all dtypes
    check(set(got) == set(side["tensors"]), "tensor names differ")
    for name, want in side["tensors"].items():
        t = got[name]
        check(t["dtype"] == want["dtype"], f"{name}: dtype {t['dtype']} != {want['dtype']}")
        check(list(t["shape"]) == want["shape"], f"{name}: shape {t['shape']} != {want['shape']}")
        vals = decode(t["dtype"], t["data"], t["shape"])
        wv = [int(v) if isinstance(v, str) else v for v in want["values"]]
        same_values(vals.ravel(), np.array(wv, dtype=vals.dtype if vals.dtype.kind != "f" else np.float64), name)
    with safe_open(path, framework="numpy") as f:     # the numpy front end, numpy dtypes
        check(f.metadata() == side["metadata"], f"metadata {f.metadata()} != {side['metadata']}")
        n = 0
        for name, want in side["tensors"].items():
            if want["dtype"] in NP:
                arr = f.get_tensor(name)
                check(arr.dtype == np.dtype(NP[want["dtype"]]), f"{name}: numpy dtype {arr.dtype}")
                wv = [int(v) if isinstance(v, str) else v for v in want["values"]]
                same_values(arr.ravel(), np.array(wv, dtype=arr.dtype), f"{name} (safe_open)")
                n += 1
        check(n >= 12, "too few numpy tensors compared")
    # load_file itself, on the numpy-typed part (it refuses bf16/fp8 by design)
    part = {k: v for k, v in side["tensors"].items() if v["dtype"] in NP}
    subset = os.path.join(tmp, "ours_numpy.safetensors")
    save_file({k: decode(v["dtype"], got[k]["data"], got[k]["shape"]) for k, v in part.items()}, subset)
    from safetensors.numpy import load_file
    loaded = load_file(subset)
    check(set(loaded) == set(part), "load_file names")

    # byte identity with the reference writer (no metadata: its key order is a hash map's)
    keep = {k: np.frombuffer(bytes(v["data"]), dtype=np.uint8).copy() for k, v in got.items()}
    specs = {k: TensorSpec(dtype=_spec_dtype(v["dtype"]), shape=v["shape"],
                           data_ptr=keep[k].ctypes.data, data_len=keep[k].nbytes)
             for k, v in got.items()}
    ref = bytes(serialize(specs, metadata=None))
    ours = open(path + ".nometa.safetensors", "rb").read()
    check(ref == ours, f"bytes differ from the reference writer ({len(ref)} vs {len(ours)} bytes)")
    print(f"ours -> reference: {len(got)} tensors, {len(blob)} bytes: ok")


def _spec_dtype(st_name):
    if st_name in SPEC_NAME:
        return SPEC_NAME[st_name]
    return np.dtype(NP[st_name]).name


def make_reference_tensors():
    """name -> (st dtype, numpy array holding its bytes)."""
    out = {}
    for dt, npdt in NP.items():
        for tag, shape in (("m", (3, int(rng.integers(1, 6)))), ("s", ()), ("e", (2, 0, 3))):
            if npdt is np.bool_:
                a = rng.integers(0, 2, size=shape).astype(np.bool_)
            elif np.dtype(npdt).kind == "f":
                a = (rng.standard_normal(size=shape) * 10).astype(npdt)
            else:
                info = np.iinfo(npdt)
                a = rng.integers(info.min, info.max, size=shape, dtype=npdt, endpoint=True)
            out[f"{tag}.{dt.lower()}"] = (dt, np.ascontiguousarray(a))
    for dt, npdt in RAW.items():
        shape = (int(rng.integers(1, 5)), 5)
        bits = rng.integers(0, np.iinfo(npdt).max, size=shape, dtype=npdt, endpoint=True)
        if dt == "BF16":  # finite bf16 only: exponent not all ones
            bits &= np.uint16(0xBFFF)
        out[f"raw.{dt.lower()}"] = (dt, bits)
    return out


def reference_to_ours(tmp):
    tensors = make_reference_tensors()
    path = os.path.join(tmp, "theirs.safetensors")
    meta = {"format": "np", "note": "written by safetensors " + str(rng.integers(1 << 30))}
    specs = {k: TensorSpec(dtype=_spec_dtype(dt), shape=list(a.shape), data_ptr=a.ctypes.data,
                           data_len=a.nbytes) for k, (dt, a) in tensors.items()}
    serialize_file(specs, path, metadata=meta)
    blob = open(path, "rb").read()
    hlen = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + hlen])             # independent of both readers

    r = run("inspect", "--json", path)
    check(r.returncode == 0, f"inspect rejected a reference file: {r.stderr}")
    doc = json.loads(r.stdout)
    check(doc["metadata"] == meta, "metadata differs")
    check(doc["header_bytes"] == hlen and doc["data_bytes"] == len(blob) - 8 - hlen, "sizes differ")
    listed = {t["name"]: t for t in doc["tensors"]}
    check(set(listed) == set(tensors), "tensor names differ")
    for name, (dt, a) in tensors.items():
        t = listed[name]
        check(t["dtype"] == dt and t["shape"] == list(a.shape), f"{name}: dtype/shape")
        check(t["data_offsets"] == header[name]["data_offsets"], f"{name}: offsets")
        check(t["bytes"] == a.nbytes, f"{name}: bytes")
        d = run("inspect", "--dump", name, path)
        check(d.returncode == 0, f"--dump {name}: {d.stderr}")
        v = json.loads(d.stdout)
        check(v["dtype"] == dt and v["shape"] == list(a.shape), f"{name}: dump header")
        want = decode(dt, a.tobytes(), a.shape).ravel()
        got = np.array(v["values"], dtype=np.float64 if want.dtype.kind == "f" else object)
        same_values(got, want, f"{name} (inspect --dump)")
    txt = run("inspect", path)
    check(txt.returncode == 0 and len(txt.stdout.splitlines()) == len(tensors) + 2 + len(meta),
          "text listing")
    print(f"reference -> ours: {len(tensors)} tensors: ok")

    # a sharded model dir as transformers writes it
    d = os.path.join(tmp, "model")
    os.mkdir(d)
    names = sorted(tensors)
    shard_of = {}
    for i, part in enumerate((names[::2], names[1::2])):
        fn = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({k: tensors[k][1] for k in part if tensors[k][0] in NP}, os.path.join(d, fn))
        shard_of.update({k: fn for k in part if tensors[k][0] in NP})
    json.dump({"metadata": {"total_size": 0}, "weight_map": shard_of},
              open(os.path.join(d, "model.safetensors.index.json"), "w"))
    r = run("inspect", "--json", d)
    check(r.returncode == 0, f"inspect DIR: {r.stderr}")
    doc = json.loads(r.stdout)
    check(doc["n_tensors"] == len(shard_of), "dir tensor count")
    check([s["path"] for s in doc["shards"]] == sorted(set(shard_of.values())), "dir shards")
    for name in (names[0], names[-1]):
        if name in shard_of:
            v = json.loads(run("inspect", "--dump", name, d).stdout)
            dt, a = tensors[name]
            same_values(np.array(v["values"], dtype=np.float64 if a.dtype.kind == "f" else object),
                        decode(dt, a.tobytes(), a.shape).ravel(), f"{name} via dir")
    shard_of["ghost"] = "model-00001-of-00002.safetensors"
    json.dump({"weight_map": shard_of}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    r = run("inspect", d)
    check(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "ghost" in r.stderr,
          f"dir with a missing tensor: rc {r.returncode} {r.stderr!r}")
    print("sharded dir: ok")


# ---- differential validation --------------------------------------------------------

def known_difference(h):
    """Faults we reject on purpose while the reference accepts (see ic_safetensors.h)."""
    try:
        text = h.decode("utf-8")
    except UnicodeDecodeError:
        return False
    dup = []

    def pairs(kv):
        keys = [k for k, _ in kv]
        if len(set(keys)) != len(keys):
            dup.append(1)
        return dict(kv)
    try:
        obj = json.loads(text, object_pairs_hook=pairs)
    except ValueError:
        return False
    if dup or re.search(r"-0(?![0-9.eE])", text) or "\x00" in json.dumps(obj) or "\\u0000" in json.dumps(obj):
        return True
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k != "__metadata__" and isinstance(v, dict):
                if set(v) - {"dtype", "shape", "data_offsets"}:
                    return True
                nums = [x for x in (v.get("shape") or []) + (v.get("data_offsets") or []) if isinstance(x, int)]
                if any(x > 2**63 - 1 for x in nums):
                    return True
                if v.get("dtype") in ("F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"):
                    return True
    return False


def mutate(blob, r):
    hlen = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + hlen])
    data = bytearray(blob[8 + hlen:])
    kind = r.randrange(11)
    names = [k for k in header if k != "__metadata__"]
    if kind == 0:    # flip bytes anywhere
        b = bytearray(blob)
        for _ in range(r.randint(1, 3)):
            b[r.randrange(len(b))] = r.randrange(256)
        return bytes(b)
    if kind == 1:    # cut or extend the file
        return blob[:r.randrange(len(blob))] if r.random() < 0.5 else blob + bytes(r.randint(1, 9))
    if kind == 2:    # change the declared header size
        return struct.pack("<Q", max(0, hlen + r.randint(-9, 9))) + blob[8:]
    t = header[r.choice(names)]
    if kind == 3:
        t["data_offsets"][r.randrange(2)] += r.choice([-8, -4, -2, -1, 1, 2, 4, 8])
    elif kind == 4:
        t["shape"] = t["shape"] + [r.choice([0, 1, 2])] if r.random() < 0.5 else t["shape"][:-1]
    elif kind == 5:
        t["dtype"] = r.choice(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "F64", "f32", "Q4"])
    elif kind == 6:
        other = header[r.choice(names)]
        t["data_offsets"] = list(other["data_offsets"])
    elif kind == 7:
        t[r.choice(["shape", "dtype", "data_offsets"])] = r.choice([None, "x", 3, [], [1.5], [-1], {}])
    elif kind == 10:  # a key the reference ignores and we refuse (documented)
        t["extra"] = 1
    elif kind == 8:
        header["__metadata__"] = r.choice([{"a": 1}, ["x"], {"a": "b"}, None, "s", {"a": None}])
    else:
        header[r.choice(names)] = r.choice([1, "x", [], {}, {"dtype": "F32"}])
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * r.choice([0, (8 - len(h) % 8) % 8])
    return struct.pack("<Q", len(h)) + h + bytes(data)


def differential(tmp, count=300):
    r = random.Random(SEED)
    base = {f"t{i}": (rng.standard_normal(size=(int(rng.integers(0, 3)), 2)) if i % 2 else
                      rng.integers(0, 100, size=(3,), dtype=np.int16)) for i in range(4)}
    path = os.path.join(tmp, "base.safetensors")
    save_file(base, path, metadata={"k": "v"})
    blob = open(path, "rb").read()
    agree = both_reject = both_accept = known = 0
    for i in range(count):
        b = mutate(blob, r)
        p = os.path.join(tmp, f"mut{i}.safetensors")
        open(p, "wb").write(b)
        try:
            deserialize(b)
            ref_ok = True
        except Exception:
            ref_ok = False
        res = run("inspect", p)
        check(res.returncode in (0, 1), f"mutant {i}: exit {res.returncode} (signal/abort?)")
        ours_ok = res.returncode == 0
        if not ours_ok:
            check(len(res.stderr.splitlines()) == 1 and res.stderr.startswith("indexcache inspect: " + p + ": "),
                  f"mutant {i}: not one line naming the file: {res.stderr!r}")
        if ours_ok == ref_ok:
            agree += 1
            both_accept += ours_ok
            both_reject += not ours_ok
        elif ref_ok and not ours_ok and known_difference(b[8:8 + struct.unpack('<Q', b[:8])[0]]):
            known += 1
        else:
            check(False, f"mutant {i}: reference {'accepts' if ref_ok else 'rejects'}, we "
                         f"{'accept' if ours_ok else 'reject'} ({res.stderr.strip()}); file head {b[:300]!r}")
            continue
        os.unlink(p)
    print(f"differential: {count} mutants, {agree} agree ({both_accept} valid, {both_reject} invalid), "
          f"{known} documented differences")


def main():
    with tempfile.TemporaryDirectory(prefix="ic_st_interop_") as tmp:
        ours_to_reference(tmp)
        reference_to_ours(tmp)
        differential(tmp)
        if failures:
            print(f"{len(failures)} failure(s)")
            return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
