#!/usr/bin/python3
"""Baseline for ParamScope's importance benchmark, as a numpy user would write it: magnitude |w|
of every weight matrix, L2 norm of each output row (neuron), and an exact global top-10% mask
(np.partition over all scores), written as a BOOL safetensors mask. Reads the checkpoint with
np.memmap. Prints seconds as JSON.

  numpy_importance.py CHECKPOINT_DIR MASK_OUT.safetensors
"""
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import safetensors_io  # noqa: E402


def tensors(path):
    files = [path]
    if os.path.isdir(path):
        with open(os.path.join(path, "model.safetensors.index.json")) as f:
            files = [os.path.join(path, s) for s in sorted(set(json.load(f)["weight_map"].values()))]
    for fn in files:
        with open(fn, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        mm = np.memmap(fn, dtype=np.uint8, mode="r")
        for name, info in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                                 key=lambda kv: kv[1]["data_offsets"]):
            # The same default set as ParamScope: matrices that are not embeddings.
            if len(info["shape"]) < 2 or "embed" in name:
                continue
            b, e = info["data_offsets"]
            raw = mm[8 + n + b:8 + n + e]
            if info["dtype"] == "BF16":
                w = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                w = raw.view({"F32": np.float32, "F16": np.float16}[info["dtype"]]).astype(np.float32)
            yield name, w.reshape(info["shape"])


def main(path, out):
    t0 = time.perf_counter()
    total = sum(w.size for _, w in tensors(path))
    scores = np.empty(total, dtype=np.float32)
    rows, at = {}, 0
    for name, w in tensors(path):
        s = np.abs(w)
        rows[name] = np.sqrt(np.square(s, dtype=np.float32).sum(axis=tuple(range(1, s.ndim)), dtype=np.float64))
        scores[at:at + s.size] = s.reshape(-1)
        at += s.size
    k = int(round(0.1 * total))
    thr = np.partition(scores, total - k)[total - k]
    del scores
    masks = {name: np.abs(w) >= thr for name, w in tensors(path)}
    safetensors_io.save(out, masks)
    kept = int(sum(m.sum() for m in masks.values()))
    print(json.dumps({"seconds": time.perf_counter() - t0, "elements": total, "kept": kept, "threshold": float(thr)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
