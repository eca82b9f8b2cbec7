#!/usr/bin/env python3
"""transformers as a real client of `indexcache export`, on the real model.

SmolLM2-135M-Instruct (the GGUF of scripts/fetch-smollm2.sh) is imported
in f32, given indexers of the GLM-5.2-style pattern freq:4,offset:3, and
exported. Then, with CPU torch + transformers from the separate venv that
scripts/setup-torch.sh makes (.venv-torch in the checkout):
  - AutoTokenizer.from_pretrained(export) has BOS <|im_start|> (id 1), EOS
    <|im_end|> (id 2), as SmolLM2-135M-Instruct publishes them, and a chat
    template that renders a conversation in SmolLM2's ChatML form;
  - its ids equal ours (the C tokenizer through test_tokenizer --encode) on
    real text: 200 KB of the KJV and a chat-formatted string with special
    tokens;
  - AutoModelForCausalLM.from_pretrained(export) is a LlamaForCausalLM, and
    its fp32 logits of a 256-token KJV window equal ours (`indexcache
    generate --prompt-ids ... --dump-logits` on the same export):
    ||ours - theirs|| / ||theirs|| <= 1e-4 and the same argmax in every row;
  - its generation_config has SmolLM2's EOS id.
Exit 77 with the reason when the GGUF has not been fetched or torch /
transformers could not be installed (then setup-torch.sh left the reason in
<venv>.reason); never a pass without the checks."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("IC_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BIN = os.environ.get("IC_BIN", os.path.join(SRC, "build", "indexcache"))
# the venv of scripts/setup-torch.sh (same default location)
VENV = os.environ.get("IC_TORCH_VENV") or os.path.join(SRC, ".venv-torch")
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
KJV = os.path.join(SRC, "text", "kjv.txt")
sys.path.insert(0, HERE)


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def in_torch_venv():
    """Re-run this script under the torch venv's python unless torch and
    transformers import here already."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    except ImportError as e:
        missing = str(e)
    py = os.path.join(VENV, "bin", "python")
    if os.path.exists(py) and os.environ.get("IC_IN_TORCH_VENV") != "1":
        os.execve(py, [py, os.path.abspath(__file__)], dict(os.environ, IC_IN_TORCH_VENV="1"))
    reason_file = VENV + ".reason"
    reason = open(reason_file).read().strip() if os.path.exists(reason_file) else \
        f"{VENV} has no torch + transformers (run scripts/setup-torch.sh)"
    skip(f"transformers client test not run: {reason} ({missing})")


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    if p.returncode != 0:
        sys.exit(f"FAIL: indexcache {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def check_config(ex):
    cfg = json.load(open(os.path.join(ex, "config.json")))
    L = cfg["num_hidden_layers"]
    want = "".join("F" if max(i - 3 + 1, 0) % 4 == 0 else "S" for i in range(L))
    assert cfg["index_topk_pattern"] == want, cfg["index_topk_pattern"]
    assert cfg["indexer_types"] == ["full" if c == "F" else "shared" for c in want]
    assert (cfg["index_topk_freq"], cfg["index_skip_topk_offset"]) == (4, 3)
    assert cfg["indexer_rope_interleave"] is False
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "generation_config.json"):
        assert os.path.exists(os.path.join(ex, f)), f"export lacks {f}"
    return cfg


def check_tokenizer(ex, tc):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(ex)
    # SmolLM2-135M-Instruct's published special tokens
    assert (tok.bos_token, tok.bos_token_id) == ("<|im_start|>", 1), (tok.bos_token, tok.bos_token_id)
    assert (tok.eos_token, tok.eos_token_id) == ("<|im_end|>", 2), (tok.eos_token, tok.eos_token_id)
    assert tok.chat_template, "no chat template"
    chat = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Who was Noah?"}],
                                   tokenize=False, add_generation_prompt=True)
    assert chat == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWho was Noah?<|im_end|>\n"
                    "<|im_start|>assistant\n"), repr(chat)

    raw = open(KJV, "rb").read()
    start = raw.index(b"\n", len(raw) // 3) + 1          # a line start in the middle of the book
    text = raw[start:start + 200_000]
    text = text[:text.rindex(b"\n") + 1]                 # whole lines
    texts = [text, chat.encode()]
    ours = tc.c_encode(os.path.join(ex, "tokenizer.json"), texts)
    for t, o in zip(texts, ours):
        theirs = tok(t.decode("utf-8"), add_special_tokens=True)["input_ids"]
        if theirs != o:
            k = next((i for i, (a, b) in enumerate(zip(theirs, o)) if a != b), min(len(theirs), len(o)))
            sys.exit(f"FAIL: token ids differ at {k} of {len(theirs)}/{len(o)}: "
                     f"transformers {theirs[k:k + 5]} ours {o[k:k + 5]}")
    print(f"ok: AutoTokenizer: BOS/EOS, chat template; ids equal ours on {len(ours[0])} KJV tokens "
          f"and the chat string ({len(ours[1])} tokens, special tokens included)")
    return ours[0]


def check_logits(ex, ids, tmp):
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    window = ids[5000:5256]
    out = os.path.join(tmp, "logits.f32")
    run("generate", "--cpu", "--model", ex, "--prompt-ids", ",".join(map(str, window)), "--dump-logits", out)
    try:
        model = AutoModelForCausalLM.from_pretrained(ex, dtype=torch.float32)
    except TypeError:   # transformers 4.x spells it torch_dtype
        model = AutoModelForCausalLM.from_pretrained(ex, torch_dtype=torch.float32)
    assert type(model).__name__ == "LlamaForCausalLM", type(model).__name__
    assert model.generation_config.eos_token_id == 2, model.generation_config
    model.eval()
    with torch.no_grad():
        theirs = model(torch.tensor([window])).logits[0].double().numpy()
    ours = np.fromfile(out, dtype="<f4").astype(np.float64)
    if ours.size != theirs.size:
        sys.exit(f"FAIL: {ours.size} logits from indexcache, transformers has {theirs.shape}")
    ours = ours.reshape(theirs.shape)
    rel = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    same = bool((ours.argmax(-1) == theirs.argmax(-1)).all())
    print(f"logits of a {len(window)}-token KJV window, vocab {theirs.shape[1]}: relative error vs "
          f"transformers {rel:.3e} (limit 1e-4), argmax equal in every row: {same}")
    if not (rel <= 1e-4 and same):
        sys.exit("FAIL: logits differ from transformers'")


def main():
    in_torch_venv()
    if not os.path.exists(GGUF):
        skip(f"{GGUF} not fetched (scripts/fetch-smollm2.sh)")
    if not os.path.exists(KJV):
        skip(f"{KJV} not fetched (scripts/fetch-text.sh)")
    if not os.path.exists(BIN):
        skip(f"{BIN} not built")
    import tok_common as tc
    if not os.path.exists(tc.TOOL):
        skip(f"{tc.TOOL} not built")
    import torch
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory(prefix="ic_hf_client.") as tmp:
        m, d, ex = (os.path.join(tmp, n) for n in ("model", "dsa", "export"))
        run("import", GGUF, "--out", m, "--dtype", "f32", "--quiet")
        run("init-indexers", "--model", m, "--pattern", "freq:4,offset:3", "--seed", "1", "--out", d, "--quiet")
        run("export", "--model", d, "--out", ex, "--quiet")
        check_config(ex)
        ids = check_tokenizer(ex, tc)
        check_logits(ex, ids, tmp)
    print("ok: transformers reads our export as its own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
