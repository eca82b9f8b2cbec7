"""Shared by the tokenizer interop tests: find the GGUF, build the
tokenizer.json fixture from it, run the C tokenizer through the tool mode of
the test_tokenizer binary."""
import os
import struct
import subprocess
import sys
import tempfile

SRC = os.environ.get("IC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("IC_BUILD_DIR", os.path.join(SRC, "build"))
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TOOL = os.path.join(BUILD, "tests", "test_tokenizer")
KJV = os.path.join(SRC, "text", "kjv.txt")


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def fixture_dir(pair_merges=False):
    """A model-dir-like folder with tokenizer.json built from the GGUF."""
    if not os.path.exists(GGUF):
        skip(f"{GGUF} missing (scripts/fetch-smollm2.sh)")
    d = tempfile.mkdtemp(prefix="ic_tok_")
    cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "make_hf_tokenizer.py"), GGUF, d]
    if pair_merges:
        cmd.append("--pair-merges")
    subprocess.run(cmd, check=True)
    return d


def c_encode(tokenizer_json, texts):
    """texts: list of bytes -> list of lists of ids, via the C tokenizer."""
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in"), os.path.join(d, "out")
        with open(inp, "wb") as f:
            for t in texts:
                f.write(struct.pack("<I", len(t)))
                f.write(t)
        subprocess.run([TOOL, "--encode", tokenizer_json, inp, out], check=True)
        data = open(out, "rb").read()
    res, k = [], 0
    while k < len(data):
        (n,) = struct.unpack_from("<I", data, k)
        res.append(list(struct.unpack_from(f"<{n}I", data, k + 4)))
        k += 4 + 4 * n
    return res


def c_decode(tokenizer_json, id_lists):
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in"), os.path.join(d, "out")
        with open(inp, "wb") as f:
            for ids in id_lists:
                f.write(struct.pack(f"<I{len(ids)}I", len(ids), *ids))
        subprocess.run([TOOL, "--decode", tokenizer_json, inp, out], check=True)
        data = open(out, "rb").read()
    res, k = [], 0
    while k < len(data):
        (n,) = struct.unpack_from("<I", data, k)
        res.append(data[k + 4:k + 4 + n])
        k += 4 + n
    return res
