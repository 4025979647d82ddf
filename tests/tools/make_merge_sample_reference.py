#!/usr/bin/python3
"""numpy references for merging the bundled digit fine-tunes (resources/samples/digits-merge/, made
by resources/samples/make_samples.py merge) with their recipes, from docs/merging.md's formulas:
tau_i = theta_i - theta_base in float32, weighted deltas, sign election and mixture in float64
summed in model order, rounded once to float32 (ParamScope's order, so the CLI's output should
match bit for bit, 1 ulp at most).

Writes tests/data/merge-samples/:
  <recipe>.safetensors   every merged tensor (integer tensors: the base's) for linear,
                         task_arithmetic and ties
  reference.json         per recipe: method, parameters, and per tensor numel, the entries each
                         model keeps and the sign conflicts; for dare_ties (a random drop that
                         numpy cannot reproduce) the parameters only: the test checks the keep
                         rate and that every entry is the base plus a rescaled kept delta.
Run: /usr/bin/python3 tests/tools/make_merge_sample_reference.py (needs python3-numpy, python3-yaml)."""
import json
import os
import struct

import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "resources", "samples", "digits-merge")
OUT = os.path.join(ROOT, "tests", "data", "merge-samples")
RECIPES = ("linear", "task_arithmetic", "ties", "dare_ties")
NUMPY = {"F32": np.float32, "I64": np.int64}
# mergekit's defaults (merge_methods/registry.py): sparsification, election, normalize, rescale.
TRAITS = {"linear": (None, False, True, False), "task_arithmetic": (None, False, False, False),
          "ties": ("magnitude", True, True, False), "dare_ties": ("random", True, False, True)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + e], dtype=np.dtype(NUMPY[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"source": "tests/tools/make_merge_sample_reference.py"}}, [], 0
    for name in sorted(tensors):
        a = np.array(tensors[name], order="C")  # ascontiguousarray would make 0-d arrays 1-d
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_model(name):
    return read_safetensors(os.path.join(SAMPLE, name, "model.safetensors"))


def top_k_mask(tau, density):
    """The int(density * n) largest |tau| (NaN as 0), ties by ascending index; all at density >= 1."""
    if density >= 1:
        return np.ones(tau.size, dtype=bool)
    mag = np.abs(tau)
    mag[np.isnan(mag)] = 0
    mask = np.zeros(tau.size, dtype=bool)
    mask[np.argsort(-mag, kind="stable")[:int(density * tau.size)]] = True
    return mask


def merge_tensor(method, gp, base, xs, mps):
    """Merged float32 values, entries kept per model and sign conflicts of one flattened tensor."""
    sparsify, elect, normalize, _ = TRAITS[method]
    normalize = gp.get("normalize", normalize)
    lam = float(gp.get("lambda", 1.0))
    n = xs[0].size
    if method == "linear":
        acc = np.zeros(n)
        for x, p in zip(xs, mps):
            acc = acc + p["weight"] * x.astype(np.float64)
        wsum = sum(p["weight"] for p in mps)
        return (acc / wsum if normalize else acc).astype(np.float32), [n] * len(xs), 0
    wd, kept = [], []
    for x, p in zip(xs, mps):
        tau = (x - base).astype(np.float32)
        mask = top_k_mask(tau, p.get("density", 1.0)) if sparsify == "magnitude" else np.ones(n, dtype=bool)
        kept.append(int(mask.sum()))
        wd.append(p["weight"] * np.where(mask, tau, np.float32(0)).astype(np.float64))
    conflicts = int((np.any([d > 0 for d in wd], 0) & np.any([d < 0 for d in wd], 0)).sum())
    mixed, divisor = np.zeros(n), np.zeros(n)
    if elect:
        vote = np.zeros(n)
        for d in wd:
            vote = vote + d
        sign = np.where(vote >= 0, 1.0, -1.0)  # a tie elects +
        for d, p in zip(wd, mps):
            agree = np.sign(d) == sign  # sign(0) = 0: dropped entries never count
            mixed = mixed + np.where(agree, d, 0.0)
            divisor = divisor + np.where(agree, p["weight"], 0.0)
        divisor[divisor == 0] = 1
    else:
        for d, p in zip(wd, mps):
            mixed = mixed + d
            divisor = divisor + p["weight"]
        divisor[np.abs(divisor) < 1e-8] = 1
    if normalize:
        mixed = mixed / divisor
    mixed = mixed * lam
    return (base.astype(np.float64) + mixed).astype(np.float32), kept, conflicts


def main():
    os.makedirs(OUT, exist_ok=True)
    base = load_model("base")
    ref = {"sample": "resources/samples/digits-merge", "recipes": {}}
    for recipe in RECIPES:
        with open(os.path.join(SAMPLE, recipe + ".yaml")) as f:
            r = yaml.safe_load(f)
        method = r["merge_method"]
        assert method == recipe, recipe
        gp = r.get("parameters") or {}
        names = [m["model"] for m in r["models"]]
        mps = [dict(m.get("parameters") or {}) for m in r["models"]]
        models = [load_model(n) for n in names]
        sparsify, elect, normalize, rescale = TRAITS[method]
        entry = {"method": method, "models": names, "model_parameters": mps,
                 "normalize": gp.get("normalize", normalize), "lambda": gp.get("lambda", 1.0),
                 "rescale": gp.get("rescale", rescale), "tensors": []}
        merged = {}
        for name, b in base.items():
            t = {"name": name, "numel": int(b.size)}
            if b.dtype != np.float32:
                t["copied"] = True  # from the base; linear has none and takes its first model
                merged[name] = models[0][name] if method == "linear" else b
            elif method == "dare_ties":
                pass  # random drop: parameters only
            else:
                values, kept, conflicts = merge_tensor(method, gp, b.ravel(), [m[name].ravel() for m in models], mps)
                merged[name] = values.reshape(b.shape)
                t.update(kept=kept, sign_conflicts=conflicts)
            entry["tensors"].append(t)
        if method != "dare_ties":
            entry["file"] = recipe + ".safetensors"
            write_safetensors(os.path.join(OUT, entry["file"]), merged)
        ref["recipes"][recipe] = entry
        print(f"{recipe}: {len(entry['tensors'])} tensors")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
