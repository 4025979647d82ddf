#!/usr/bin/python3
"""Writes tests/data/samples/reference.json: what torch itself sees in the bundled samples
(names, dtypes, shapes, and float64 statistics of every tensor), so the C++ readers can be
checked against the real tool on the same files. Run after resources/samples/make_samples.py."""
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "resources", "samples")
NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int64: "I64"}


def describe(sd):
    out = {}
    for name, t in sd.items():
        v = t.to(torch.float64)
        out[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "sum": v.sum().item(),
                     "abs_sum": v.abs().sum().item(), "min": v.min().item(), "max": v.max().item(),
                     "mean": v.mean().item(), "std": v.std(unbiased=False).item() if v.numel() > 0 else 0.0,
                     "first": v.flatten()[:4].tolist()}
    return out


def main():
    ref = {}
    ref["digits-cnn"] = describe(torch.load(os.path.join(SAMPLES, "digits-cnn", "model.pt")))
    # The LLaMA sample has no .pt; read its shards with a plain reader of the spec.
    import struct
    llama = {}
    folder = os.path.join(SAMPLES, "tiny-llama")
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    for shard in shards:
        with open(os.path.join(folder, shard), "rb") as f:
            data = f.read()
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            raw = torch.frombuffer(bytearray(data[8 + n + b:8 + n + e]), dtype=torch.int16).view(torch.bfloat16)
            llama[name] = raw.reshape(info["shape"])
    ref["tiny-llama"] = describe(llama)
    with open(os.path.join(ROOT, "tests", "data", "samples", "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
