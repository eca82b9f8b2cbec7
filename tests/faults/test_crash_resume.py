"""Crashes: `train` killed with SIGKILL at random moments, some while a
step runs and some while a checkpoint is being written (the kill lands the
moment a ckpt-*.tmp.* directory appears), must leave a checkpoint directory
whose every ckpt-<step> is complete and loadable (COMPLETE marker, both
safetensors files valid for `indexcache inspect`, state.json parses, step
matches), and `train --resume` must then reproduce the straight run's
per-step losses, norms, lr and val KL exactly (%.17g in train_log.jsonl;
for a step logged twice, before the kill and again after the resume, the
resumed line counts and must equal the straight one as well) and its final
weights byte for byte. Tiny random model, a few seconds."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("IC_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BIN = os.environ.get("IC_BIN") or os.path.join(SRC, "build/indexcache")
if not os.access(BIN, os.X_OK):
    print(f"skip: {BIN} not built")
    sys.exit(77)
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
N = 60


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def log_lines(path):
    """{(step, kind): line without the wall time}; later lines win."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        line = re.sub(r', "ms": [0-9.]+', "", line.strip())
        if not line:
            continue
        d = json.loads(line)
        kind = "loss" if "loss" in d else "val" if "val_kl" in d else None
        if kind:
            out[(d["step"], kind)] = line
    return out


def check_ckpts(ckdir, trial):
    """Every ckpt-<step> directory is whole; returns the newest step or 0."""
    if not os.path.isdir(ckdir):
        return 0
    newest = 0
    for name in os.listdir(ckdir):
        m = re.fullmatch(r"ckpt-(\d+)", name)
        if not m:
            continue   # a .tmp.<pid> left by the killed writer: lookups ignore it
        d = os.path.join(ckdir, name)
        if not os.path.exists(os.path.join(d, "COMPLETE")):
            fail(f"trial {trial}: {d} has no COMPLETE marker")
        for f in ("weights.safetensors", "optimizer.safetensors"):
            r = subprocess.run([BIN, "inspect", os.path.join(d, f), "--quiet"], capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"trial {trial}: {d}/{f} does not load: {r.stderr.strip()}")
        st = json.load(open(os.path.join(d, "state.json")))
        if st["step"] != int(m.group(1)):
            fail(f"trial {trial}: {d}/state.json says step {st['step']}")
        newest = max(newest, st["step"])
    return newest


def run_killed(args, out, trial, mode, delay):
    """Start train, SIGKILL it after `delay` s (mode 'step') or the moment a
    checkpoint's temp directory appears (mode 'ckpt'). True if killed."""
    p = subprocess.Popen([BIN, "train"] + args + ["--out", out], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckdir = os.path.join(out, "checkpoints")
    t0 = time.monotonic()
    seen = 0
    while p.poll() is None:
        if mode == "step" and time.monotonic() - t0 >= delay:
            break
        if mode == "ckpt" and time.monotonic() - t0 >= delay and os.path.isdir(ckdir):
            try:
                if any(".tmp." in n for n in os.listdir(ckdir)):
                    seen += 1
                    break
            except FileNotFoundError:
                pass
    if p.poll() is not None:
        return False
    p.send_signal(signal.SIGKILL)
    p.wait()
    return True


def main():
    tmp = tempfile.mkdtemp(prefix="ic_crash.")
    try:
        py = os.environ.get("IC_PYTHON") or sys.executable
        subprocess.run([py, os.path.join(SRC, "tests/interop/make_tiny_model.py"), f"{tmp}/model",
                        f"{tmp}/data.h5", "--layers", "4", "--topk", "6"], check=True,
                       stdout=subprocess.DEVNULL)
        args = ["--model", f"{tmp}/model", "--data", f"{tmp}/data.h5", "--pattern", "FSFS",
                "--stage", "dense", "--steps", str(N), "--seq-len", "32", "--batch", "2", "--lr", "5e-3",
                "--warmup", "2", "--eval-every", "3", "--eval-batches", "2", "--seed", "9", "--quiet"]
        t0 = time.monotonic()
        subprocess.run([BIN, "train"] + args + ["--out", f"{tmp}/straight"], env=ENV, check=True)
        T = time.monotonic() - t0
        ref = log_lines(f"{tmp}/straight/train_log.jsonl")
        if len([k for k in ref if k[1] == "loss"]) != N:
            fail("the straight run did not log every step")
        rnd = random.Random(int(os.environ.get("IC_CRASH_SEED", "12345")))
        trials = [("step", rnd.uniform(0.05, 0.95) * T) for _ in range(4)] + \
                 [("ckpt", rnd.uniform(0.0, 0.8) * T) for _ in range(4)]
        killed = {"step": 0, "ckpt": 0}
        for i, (mode, delay) in enumerate(trials):
            out = f"{tmp}/run{i}"
            # each trial is killed twice, so a resume of a resumed run is covered too
            ok = run_killed(args, out, i, mode, delay)
            newest = check_ckpts(f"{out}/checkpoints", i)
            if ok:
                ok2 = run_killed(args + ["--resume"], out, i, mode, delay / 2)
                newest = check_ckpts(f"{out}/checkpoints", i)
                killed[mode] += ok + ok2
            r = subprocess.run([BIN, "train"] + args + ["--out", out, "--resume"], env=ENV,
                               capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"trial {i} ({mode}, {delay:.3f} s): --resume failed: {r.stderr.strip()}")
            got = log_lines(f"{out}/train_log.jsonl")
            if got != ref:
                diff = [k for k in sorted(set(ref) | set(got)) if ref.get(k) != got.get(k)][:3]
                fail(f"trial {i} ({mode}): logs differ at {diff}: {[ (ref.get(k), got.get(k)) for k in diff]}")
            with open(f"{tmp}/straight/model.safetensors", "rb") as a, open(f"{out}/model.safetensors", "rb") as b:
                if a.read() != b.read():
                    fail(f"trial {i} ({mode}): final weights differ")
            print(f"ok trial {i}: SIGKILL ({mode}, after {delay:.3f} s of a {T:.2f} s run), newest "
                  f"checkpoint step {newest}, --resume == straight")
            shutil.rmtree(out)
        if killed["step"] < 2 or killed["ckpt"] < 2:
            fail(f"too few kills landed inside a run: {killed} (the run is too short)")
        print(f"ok: {killed['step']} kills during steps, {killed['ckpt']} during checkpoint writes")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
