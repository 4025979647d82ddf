#!/usr/bin/python3
"""Accuracy of digits CNNs (make_samples.py's DigitsCNN) on the held-out digits of digits-merge/:
overall, on digits 0-4 (what ft-a was fine-tuned on) and on 5-9 (ft-b). Run with Debian's python3
+ python3-torch; reads safetensors itself (no `safetensors` package).

  evaluate_digits.py MODEL [MODEL ...]     a model.safetensors or a folder holding one
  evaluate_digits.py --recipes [--write]   merges digits-merge/*.yaml with paramscope-cli, evaluates
                                           base, fine-tunes and merges; prints the table of
                                           docs/merging.md; --write saves expected_accuracy.json
  evaluate_digits.py --sweep               the same for a grid of weights / densities / lambda

paramscope-cli: --cli PATH, else $PARAMSCOPE_CLI, else build/release/app/paramscope-cli.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(HERE, "digits-merge")
sys.path.insert(0, HERE)
from make_samples import DigitsCNN  # noqa: E402  (the architecture; importing trains nothing)

SUBSETS = {"0-4": (0, 1, 2, 3, 4), "5-9": (5, 6, 7, 8, 9)}
NUMPY = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}
DARE_SEED = 1  # the seed the docs' table uses (--seed)


def read_safetensors(path):
    """{name: torch tensor} from the safetensors layout: u64 header size, JSON header, data."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(buf[b:e], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf[b:e], dtype=np.dtype(NUMPY[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def load_model(path):
    model = DigitsCNN()
    sd = model.state_dict()
    got = read_safetensors(path)
    model.load_state_dict({k: got[k].to(sd[k].dtype) for k in sd})
    return model.eval()


def accuracy(path, x, y):
    """Fractions of correct predictions: overall and per subset."""
    with torch.no_grad():
        ok = (load_model(path)(x).argmax(1) == y).numpy()
    res = {"all": float(ok.mean())}
    for name, digits in SUBSETS.items():
        res[name] = float(ok[np.isin(y.numpy(), digits)].mean())
    return res


def test_set():
    x = torch.from_numpy(np.load(os.path.join(SAMPLE, "inputs.npy")))
    y = torch.from_numpy(np.load(os.path.join(SAMPLE, "labels.npy")))
    return x, y


def cli_path(arg):
    p = arg or os.environ.get("PARAMSCOPE_CLI") or os.path.join(ROOT, "build", "release", "app", "paramscope-cli")
    if not os.access(p, os.X_OK):
        sys.exit(f"evaluate_digits.py: no paramscope-cli at {p} (build it or pass --cli)")
    return p


def merge(cli, recipe, out, seed=DARE_SEED):
    r = subprocess.run([cli, "merge", recipe, "-o", out, "--seed", str(seed), "--json"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"paramscope-cli merge {recipe}: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    return {"kept": [k / j["elements"] for k in j["kept"]], "sign_conflicts": j["sign_conflicts"] / j["elements"]}


def row(label, acc, extra=""):
    return f"| {label} | {100 * acc['all']:.1f} | {100 * acc['0-4']:.1f} | {100 * acc['5-9']:.1f} |{extra}"


def header(extra=""):
    return ("| model | all digits % | 0-4 % | 5-9 % |" + (" " + extra + " |" if extra else "") + "\n" +
            "| --- | --- | --- | --- |" + (" --- |" if extra else ""))


def kept_text(m):
    return " " + " / ".join(f"{100 * k:.0f}" for k in m["kept"]) + (
        f", conflicts {100 * m['sign_conflicts']:.1f} %" if m["sign_conflicts"] else "") + " |"


def run_recipes(cli, write):
    x, y = test_set()
    results = {}
    print(header("kept % per fine-tune"))
    for name in ("base", "ft-a", "ft-b"):
        results[name] = accuracy(os.path.join(SAMPLE, name), x, y)
        print(row(f"`{name}`", results[name], " |"))
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in ("linear", "task_arithmetic", "ties", "dare_ties"):
            out = os.path.join(tmp, recipe)
            m = merge(cli, os.path.join(SAMPLE, recipe + ".yaml"), out)
            results[recipe + ".yaml"] = dict(accuracy(out, x, y), **m)
            print(row(f"`{recipe}.yaml`", results[recipe + ".yaml"], kept_text(m)))
    if write:
        doc = {"test_set": "digits-merge/inputs.npy, labels.npy (297 held-out images)", "dare_seed": DARE_SEED,
               "accuracy": {k: {s: round(v[s], 4) for s in ("all", "0-4", "5-9")} for k, v in results.items()},
               "kept": {k: [round(f, 4) for f in v["kept"]] for k, v in results.items() if "kept" in v}}
        path = os.path.join(SAMPLE, "expected_accuracy.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"wrote {path}")


def recipe_text(method, base, params, models, extra=""):
    lines = [f"merge_method: {method}"]
    if base:
        lines.append(f"base_model: {os.path.join(SAMPLE, 'base')}")
    lines.append("models:")
    for name, p in models:
        lines.append(f"  - model: {os.path.join(SAMPLE, name)}")
        lines.append("    parameters: {" + ", ".join(f"{k}: {v}" for k, v in p.items()) + "}")
    if params:
        lines.append("parameters: {" + ", ".join(f"{k}: {v}" for k, v in params.items()) + "}")
    return "\n".join(lines) + "\n" + extra


def run_sweep(cli):
    x, y = test_set()
    grid = []
    for wa in (0.3, 0.5, 0.7):
        grid.append((f"linear, weights {wa} / {1 - wa:.1f}",
                     recipe_text("linear", False, {}, [("ft-a", {"weight": wa}), ("ft-b", {"weight": 1 - wa})]), 1))
    for lam in (0.2, 0.3, 0.4, 0.5, 0.7, 1.0):
        grid.append((f"task_arithmetic, lambda {lam}",
                     recipe_text("task_arithmetic", True, {"lambda": lam},
                                 [("ft-a", {"weight": 1}), ("ft-b", {"weight": 1})]), 1))
    for d in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        for lam in (0.5, 1.0):
            grid.append((f"ties, density {d}, lambda {lam}",
                         recipe_text("ties", True, {"lambda": lam},
                                     [("ft-a", {"weight": 1, "density": d}), ("ft-b", {"weight": 1, "density": d})]),
                         1))
    for d in (0.1, 0.3, 0.5):
        for lam in (0.3, 0.5, 1.0):
            for seed in (1, 2, 3):
                grid.append((f"dare_ties, density {d}, lambda {lam}, seed {seed}",
                             recipe_text("dare_ties", True, {"lambda": lam},
                                         [("ft-a", {"weight": 1, "density": d}),
                                          ("ft-b", {"weight": 1, "density": d})]), seed))
    print(header())
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, text, seed) in enumerate(grid):
            recipe = os.path.join(tmp, f"r{i}.yaml")
            with open(recipe, "w") as f:
                f.write(text)
            out = os.path.join(tmp, f"m{i}")
            merge(cli, recipe, out, seed)
            print(row(label, accuracy(out, x, y)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--recipes", action="store_true")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--cli")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.models:
        x, y = test_set()
        print(header())
        for m in a.models:
            print(row(m, accuracy(m, x, y)))
    if a.recipes:
        run_recipes(cli_path(a.cli), a.write)
    if a.sweep:
        run_sweep(cli_path(a.cli))
    if not (a.models or a.recipes or a.sweep):
        ap.print_help()


if __name__ == "__main__":
    main()
