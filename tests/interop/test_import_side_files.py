#!/usr/bin/env python3
"""The tokenizer / generation side files of `indexcache import`, against
the GGUF's own metadata read with the `gguf` package:
  - from the SmolLM2 GGUF: special_tokens_map.json names the texts of
    tokenizer.ggml.{bos,eos,unknown,padding}_token_id; tokenizer_config.json
    the same plus add_bos_token / add_eos_token as the GGUF says,
    tokenizer.chat_template verbatim and model_max_length =
    llama.context_length; generation_config.json the ids;
  - importing that model dir again (the HF-dir path) copies the three files
    byte for byte, and init-indexers carries them on;
  - a re-import with --force into a dir holding a side file the new source
    lacks removes it (it would describe another model).
Exit 77 when the GGUF has not been fetched."""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("IC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "indexcache"))
SIDE = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: indexcache {' '.join(args)}\n{p.stdout}\n{p.stderr}")


def main():
    if not os.path.exists(GGUF):
        print(f"SKIP: {GGUF} not fetched (scripts/fetch-smollm2.sh)")
        return 77
    import gguf
    r = gguf.GGUFReader(GGUF)

    def field(k, default=None):
        return r.fields[k].contents() if k in r.fields else default

    tokf = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(tokf.parts[i]).decode("utf-8") for i in tokf.data]
    ids = {k: field(f"tokenizer.ggml.{k}_token_id") for k in ("bos", "eos", "unknown", "padding")}
    with tempfile.TemporaryDirectory(prefix="ic_side.") as tmp:
        a, b, c = (os.path.join(tmp, n) for n in ("a", "b", "c"))
        run("import", GGUF, "--out", a, "--quiet")
        sm = json.load(open(os.path.join(a, "special_tokens_map.json")))
        want = {f"{'unk' if k == 'unknown' else 'pad' if k == 'padding' else k}_token": tokens[v]
                for k, v in ids.items() if v is not None}
        assert sm == want, (sm, want)
        tc = json.load(open(os.path.join(a, "tokenizer_config.json")))
        for k, v in want.items():
            assert tc[k] == v, (k, tc[k], v)
        assert tc["add_bos_token"] == bool(field("tokenizer.ggml.add_bos_token", False))
        assert tc["add_eos_token"] == bool(field("tokenizer.ggml.add_eos_token", False))
        assert tc["chat_template"] == field("tokenizer.chat_template"), "chat template differs"
        assert tc["model_max_length"] == int(field("llama.context_length"))
        gc = json.load(open(os.path.join(a, "generation_config.json")))
        assert gc == {"bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["padding"]}, gc
        cfg = json.load(open(os.path.join(a, "config.json")))
        assert (cfg["bos_token_id"], cfg["eos_token_id"]) == (ids["bos"], ids["eos"])

        run("import", a, "--out", b, "--quiet")
        run("init-indexers", "--model", b, "--pattern", "uniform:4", "--out", c, "--quiet")
        for d in (b, c):
            for f in SIDE:
                assert open(os.path.join(d, f), "rb").read() == open(os.path.join(a, f), "rb").read(), (d, f)

        os.remove(os.path.join(a, "generation_config.json"))
        run("import", a, "--out", b, "--force", "--quiet")
        assert not os.path.exists(os.path.join(b, "generation_config.json")), "stale side file kept"
        assert os.path.exists(os.path.join(b, "tokenizer_config.json"))
    print(f"ok: side files from the GGUF metadata (BOS {want['bos_token']!r}, EOS {want['eos_token']!r}, "
          f"chat template {len(tc['chat_template'])} chars), copied by import of a HF dir and init-indexers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
