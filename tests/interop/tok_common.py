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
    """A model-dir-like folder with tokenizer.json built from the GGUF, or
    $IC_TOKENIZER_DIR when set (e.g. a model dir from `indexcache import`)."""
    if os.environ.get("IC_TOKENIZER_DIR") and not pair_merges:
        return os.environ["IC_TOKENIZER_DIR"]
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


def c_pretok(tokenizer_json, texts):
    """texts: list of bytes -> per text, the list of pre-tokenizer words (bytes)
    or ints (added token ids), via the C tokenizer."""
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in"), os.path.join(d, "out")
        with open(inp, "wb") as f:
            for t in texts:
                f.write(struct.pack("<I", len(t)))
                f.write(t)
        subprocess.run([TOOL, "--pretok", tokenizer_json, inp, out], check=True)
        data = open(out, "rb").read()
    res, k = [], 0
    while k < len(data):
        (n,) = struct.unpack_from("<I", data, k)
        k += 4
        words = []
        for _ in range(n):
            (m,) = struct.unpack_from("<I", data, k)
            if m == 0xFFFFFFFF:
                words.append(struct.unpack_from("<I", data, k + 4)[0])
                k += 8
            else:
                words.append(data[k + 4:k + 4 + m])
                k += 4 + m
        res.append(words)
    return res


def gpt2_byte_chars():
    """GPT-2's bytes_to_unicode, written out here for the tests."""
    keep = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or b >= 174]
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out
