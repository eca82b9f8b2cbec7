#!/usr/bin/env python3
"""The C tokenizer's other supported tokenizer.json options against Hugging
Face `tokenizers`, on SmolLM2's real vocab and merges with the pre-tokenizer
or BPE options changed: ByteLevel alone (plain GPT-2), add_prefix_space,
use_regex false, Digits with runs (individual_digits false), fuse_unk,
ignore_merges. Ids must equal on mixed texts, fresh random mixtures and KJV
verses. Options the C code refuses are refused by name (checked in
tests/unit/test_tokenizer.c)."""
import copy
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tok_common as tc  # noqa: E402
from test_tokenizer_oracle import MIXED, PIECES  # noqa: E402

import tokenizers  # noqa: E402

BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def variants(base):
    def with_pre(pre):
        d = copy.deepcopy(base)
        d["pre_tokenizer"] = pre
        return d

    def with_model(**kw):
        d = copy.deepcopy(base)
        d["model"].update(kw)
        return d

    seq = lambda *ps: {"type": "Sequence", "pretokenizers": list(ps)}  # noqa: E731
    return {
        "ByteLevel only": with_pre(BYTELEVEL),
        "add_prefix_space": with_pre(seq({"type": "Digits", "individual_digits": True},
                                         dict(BYTELEVEL, add_prefix_space=True))),
        "use_regex false": with_pre(dict(BYTELEVEL, use_regex=False)),
        "Digits runs": with_pre(seq({"type": "Digits", "individual_digits": False}, BYTELEVEL)),
        "fuse_unk": with_model(unk_token="<|endoftext|>", fuse_unk=True),
        "ignore_merges": with_model(ignore_merges=True),
    }


def main():
    d = tc.fixture_dir()
    base = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    seed = random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    print("random seed", seed)
    texts = list(MIXED)
    texts += ["".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 30))) for _ in range(1000)]
    texts += ["a\x04\x04b \x06\x13x", "\x04", "x\x1d\x1d\x1d"]   # bytes without a token
    if os.path.exists(tc.KJV):
        lines = open(tc.KJV, encoding="utf-8").read().split("\n")
        texts += rng.sample(lines, 2000)
    failures = 0
    for name, doc in variants(base).items():
        path = os.path.join(d, f"variant_{name.replace(' ', '_')}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        oracle = tokenizers.Tokenizer.from_file(path)
        sample = texts
        want = [e.ids for e in oracle.encode_batch(sample, add_special_tokens=False)]
        got = tc.c_encode(path, [t.encode() for t in sample])
        bad = [i for i in range(len(sample)) if want[i] != got[i]]
        print(f"{name}: {len(sample)} texts, {sum(map(len, want))} tokens, {len(bad)} differ")
        for i in bad[:3]:
            print(f"  text {sample[i][:60]!r}\n  oracle {want[i][:30]}\n  C      {got[i][:30]}")
        failures += len(bad)
    print("FAIL" if failures else "PASS", f"({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
