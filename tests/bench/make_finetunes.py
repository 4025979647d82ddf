#!/usr/bin/python3
"""Writes fine-tune-like copies of a safetensors checkpoint, for the merging benchmark (issue 5).

  make_finetunes.py BASE_DIR OUT_PREFIX [-n 3] [--rel 0.01] [--shared 0.3] [--zeros 0.1] [--seed 0]

Fine-tune i (OUT_PREFIX-ft1, -ft2, ...) is the base plus a seeded task vector, per tensor:
  tau_i = rel * s * (sqrt(shared) * g + sqrt(1 - shared) * e_i),  s = std of the tensor's values
(or their mean |w| when the std is 0, as for norms at 1.0), g one Gaussian draw shared by all
fine-tunes (so pairs of task vectors have cosine ~shared), e_i each one's own; a fraction `zeros`
of each tau_i's entries is set to exactly 0. The result is rounded to the base's dtype (bf16: round
to nearest even), so a delta under half a bf16 step of its weight also comes out 0; the default
rel 0.01 is ~1.6 bf16 steps of a typical weight (1e-3 would round almost every delta away).
Every fine-tune keeps the base's header bytes (names, dtypes, offsets) and config.json. Streamed
in chunks of 8M elements with np.memmap and one open output per fine-tune: memory is bounded by
the chunk, not the model. The draws depend on (seed, tensor index, chunk index) only.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

CHUNK = 8 << 20


def read_header(fn):
    with open(fn, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
    return n, raw, json.loads(raw)


def to_f32(raw, dtype):
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def from_f32(x, dtype):
    if dtype == "BF16":
        u = x.view(np.uint32)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    return x.astype({"F16": np.float16, "F32": np.float32}[dtype])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("out_prefix")
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--rel", type=float, default=0.01, help="delta std relative to the tensor's std")
    ap.add_argument("--shared", type=float, default=0.3, help="variance fraction shared by all fine-tunes")
    ap.add_argument("--zeros", type=float, default=0.1, help="fraction of exact zeros in each task vector")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    index_fn = os.path.join(a.base, "model.safetensors.index.json")
    with open(index_fn) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    outs = [f"{a.out_prefix}-ft{i + 1}" for i in range(a.n)]
    for o in outs:
        os.makedirs(o, exist_ok=True)
        for extra in ("model.safetensors.index.json", "config.json"):
            if os.path.exists(os.path.join(a.base, extra)):
                shutil.copy(os.path.join(a.base, extra), o)
    ws, wp = np.sqrt(a.shared), np.sqrt(1.0 - a.shared)
    t_index = 0
    for fname in files:
        fn = os.path.join(a.base, fname)
        n, raw_header, header = read_header(fn)
        mm = np.memmap(fn, dtype=np.uint8, mode="r")
        handles = [open(os.path.join(o, fname), "wb") for o in outs]
        for h in handles:
            h.write(struct.pack("<Q", n) + raw_header)
        tensors = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                         key=lambda kv: kv[1]["data_offsets"][0])
        for name, info in tensors:
            b, e = info["data_offsets"]
            dt = info["dtype"]
            view = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}.get(dt)
            raw = mm[8 + n + b:8 + n + e]
            if view is None:  # not floating point: copied unchanged
                for h in handles:
                    h.write(raw.tobytes())
                continue
            raw = raw.view(view)
            count = raw.size
            sample = to_f32(raw[::max(1, count // (1 << 20))], dt)
            s = float(sample.std()) or float(np.abs(sample).mean()) or 1.0
            for c, lo in enumerate(range(0, count, CHUNK)):
                base = to_f32(raw[lo:lo + CHUNK], dt)
                rng = np.random.default_rng([a.seed, t_index, c])
                g = rng.standard_normal(base.size, dtype=np.float32) * np.float32(a.rel * s * ws)
                for h in handles:
                    tau = rng.standard_normal(base.size, dtype=np.float32) * np.float32(a.rel * s * wp) + g
                    tau[rng.random(base.size, dtype=np.float32) < a.zeros] = 0
                    h.write(from_f32(base + tau, dt).tobytes())
            t_index += 1
        for h in handles:
            h.flush()
            os.fsync(h.fileno())
            h.close()
        del mm
    print(json.dumps({"fine_tunes": outs, "rel": a.rel, "shared": a.shared, "zeros": a.zeros, "seed": a.seed}))


if __name__ == "__main__":
    main()
