#!/usr/bin/env python3
"""Builds a Hugging Face tokenizer.json (+ tokenizer_config.json) from the
tokenizer stored in a GGUF file's metadata, read with the `gguf` package.

    make_hf_tokenizer.py MODEL.gguf OUT_DIR [--pair-merges]

The pre-tokenizer and decoder are those of SmolLM2's published tokenizer:
Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false,
use_regex=true)] and ByteLevel. Token type 3 (control) and 4 (user defined)
become added_tokens (special for control). --pair-merges writes merges in the
[a, b] list form instead of "a b" strings (both are valid tokenizer.json).
This is a test fixture builder, independent of the C importer.
"""
import json
import os
import sys

import gguf

CONTROL, USER_DEFINED = 3, 4


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def field_ints(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def field_scalar(reader, key):
    f = reader.fields.get(key)
    return None if f is None else int(f.parts[f.data[0]][0])


def build(gguf_path, pair_merges=False):
    r = gguf.GGUFReader(gguf_path)
    model = bytes(r.fields["tokenizer.ggml.model"].parts[-1]).decode()
    if model != "gpt2":
        raise SystemExit(f"{gguf_path}: tokenizer model {model!r} is not gpt2 (byte-level BPE)")
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    types = field_ints(r, "tokenizer.ggml.token_type")
    merges = field_strings(r, "tokenizer.ggml.merges")
    if pair_merges:
        merges = [m.split(" ") for m in merges]
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": ty == CONTROL}
        for i, (t, ty) in enumerate(zip(tokens, types)) if ty in (CONTROL, USER_DEFINED)
    ]
    unk = field_scalar(r, "tokenizer.ggml.unknown_token_id")
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": True}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None,
                  "unk_token": tokens[unk] if unk is not None else None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }
    cfg = {}
    for name, key in (("bos_token", "tokenizer.ggml.bos_token_id"),
                      ("eos_token", "tokenizer.ggml.eos_token_id")):
        v = field_scalar(r, key)
        if v is not None:
            cfg[name] = tokens[v]
    return tok, cfg


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        raise SystemExit(__doc__)
    tok, cfg = build(args[0], pair_merges="--pair-merges" in sys.argv)
    os.makedirs(args[1], exist_ok=True)
    with open(os.path.join(args[1], "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(args[1], "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
