#!/usr/bin/env python3
"""`indexcache prep` output read with h5py equals Hugging Face `tokenizers`
on the same tokenizer.json:
  - /train and /val: 1-D, uint32 little-endian, chunked; attributes
    vocab_size, format_version, tokenizer == sha256 of tokenizer.json;
  - several documents (a random multi-block text, the KJV when
    scripts/fetch-text.sh has run, a tiny file without a line break), --val-fraction 0.2, --eos-between-docs: for every file,
    its val part starts at the last "safe" line start at or before byte
    (1 - F) * size (the rule is re-implemented here), and train / val equal
    the oracle's ids of the two parts (+ EOS), which together equal the
    oracle's ids of the whole file;
  - bad invocations fail with a message and leave no output file.
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(__file__))
import tok_common as tc  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tokenizers  # noqa: E402

F = 0.2


def is_space(ch):
    cp = ord(ch)
    return 9 <= cp <= 13 or cp == 0x85 or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def val_start_byte(data):
    """The documented split rule, written independently of the C code."""
    size = len(data)
    vs = int(size * (1.0 - F))
    if F > 0 and vs >= size and size > 0:
        vs = size - 1
    # the last "\n" at p - 1 with p <= vs where the rule holds (valid UTF-8:
    # the byte after an ASCII "\n" starts a character)
    p = min(vs, size - 1) + 1
    while True:
        p = data.rfind(b"\n", 0, p - 1) + 1   # p - 1 is the "\n"
        if p < 2:
            return 0
        if data[p] >= 0x80 and size - p < 4:
            continue
        after = data[p:p + 4].decode("utf-8", errors="ignore")[0]
        q = p - 2
        while q > 0 and data[q] & 0xC0 == 0x80:
            q -= 1
        before = data[q:p - 1].decode("utf-8")
        if not is_space(after) and not is_space(before):
            return p


def model_eos(d, oracle):
    """EOS as a HF model dir names it: tokenizer_config.json, else config.json."""
    p = os.path.join(d, "tokenizer_config.json")
    if os.path.exists(p):
        e = json.load(open(p)).get("eos_token")
        e = e.get("content") if isinstance(e, dict) else e
        if e is not None:
            return oracle.token_to_id(e)
    e = json.load(open(os.path.join(d, "config.json")))["eos_token_id"]
    return e[0] if isinstance(e, list) else e


def main():
    d = tc.fixture_dir()
    tj = os.path.join(d, "tokenizer.json")
    oracle = tokenizers.Tokenizer.from_file(tj)
    eos = model_eos(d, oracle)
    work = tempfile.mkdtemp(prefix="ic_prep_")

    seed = random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    print("random seed", seed)
    words = ["the", "The", "God", "'s", "said", "x²", "٣٤", "café", "中文", "😀", "1999", "...",
             "--", "\u00a0", "\u2028", "ünïcödé", "'ll", "(", ")", ":"]
    seps = [" ", " ", " ", "  ", "\t", "\n", "\n", "\n\n", " \n", "\n ", "\r\n"]
    parts, size = [], 0
    while size < 5_000_000:   # more than one 4 MiB read block
        w = rng.choice(words) + rng.choice(seps)
        parts.append(w)
        size += len(w.encode())
    files = {"random.txt": "".join(parts).encode()}
    have_kjv = os.path.exists(tc.KJV)
    if have_kjv:
        files["kjv.txt"] = open(tc.KJV, "rb").read()
    else:
        print(f"{tc.KJV} missing (scripts/fetch-text.sh): prep runs without it")
    files["tiny.txt"] = "No newline here at all, 123.".encode()
    paths = []
    for name, data in files.items():
        p = os.path.join(work, name)
        open(p, "wb").write(data)
        paths.append(p)
    out = os.path.join(work, "tokens.h5")
    r = subprocess.run([os.environ.get("IC_BIN", "indexcache"), "prep", "--model", d, "--out", out,
                        "--val-fraction", str(F), "--eos-between-docs", *paths],
                       capture_output=True, text=True)
    print(r.stdout + r.stderr)
    if r.returncode != 0:
        print("FAIL: prep exited", r.returncode)
        return 1

    failures = 0

    def check(what, ok):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += not ok

    want = {"train": [], "val": []}
    for name, data in files.items():
        b = val_start_byte(data)
        tr = oracle.encode(data[:b].decode(), add_special_tokens=False).ids
        va = oracle.encode(data[b:].decode(), add_special_tokens=False).ids
        whole = oracle.encode(data.decode(), add_special_tokens=False).ids
        check(f"{name}: oracle ids of the two parts == ids of the whole ({len(whole)} tokens, "
              f"val from byte {b} of {len(data)})", tr + va == whole)
        want["train"] += tr
        want["val"] += va + [eos]

    with h5py.File(out, "r") as f:
        for split in ("train", "val"):
            ds = f[split]
            check(f"/{split}: dtype {ds.dtype.str}, shape {ds.shape}, chunks {ds.chunks}",
                  ds.dtype == np.dtype("<u4") and ds.ndim == 1 and ds.chunks is not None)
            got = ds[...]
            check(f"/{split}: {len(got)} tokens equal the oracle's {len(want[split])}",
                  len(got) == len(want[split]) and np.array_equal(got, np.array(want[split], np.uint32)))
        a = f.attrs
        sha = hashlib.sha256(open(tj, "rb").read()).hexdigest()
        check(f"attrs: vocab_size {a['vocab_size']}, format_version {a['format_version']}, "
              f"tokenizer {a['tokenizer']}",
              int(a["vocab_size"]) == oracle.get_vocab_size() and int(a["format_version"]) == 1
              and a["tokenizer"] == "sha256:" + sha)
    check("no temp file left", sorted(os.listdir(work)) == sorted(list(files) + ["tokens.h5"]))

    # bad invocations: a message, exit code, and no output
    bin_ = os.environ.get("IC_BIN", "indexcache")
    bad_out = os.path.join(work, "bad.h5")
    for args, needle in [
        (["--model", work, "--out", bad_out, paths[-1]], "tokenizer.json"),
        (["--model", d, "--out", bad_out, os.path.join(work, "nope.txt")], "nope.txt"),
        (["--model", d, "--out", bad_out, "--val-fraction", "1.5", paths[-1]], "--val-fraction"),
        (["--model", d, paths[-1]], "--out"),
    ]:
        r = subprocess.run([bin_, "prep", *args], capture_output=True, text=True)
        check(f"prep {' '.join(args[-2:])}: exit {r.returncode}, says {needle!r}",
              r.returncode != 0 and needle in r.stderr and not os.path.exists(bad_out))

    print("FAIL" if failures else "PASS", f"({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
