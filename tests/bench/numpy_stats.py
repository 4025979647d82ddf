#!/usr/bin/python3
"""Baseline for `paramscope-cli inspect --stats`: the same statistics (min, max, mean, std,
mean of |x|, NaN and Inf counts over finite values) of every tensor of a safetensors checkpoint
(file or sharded folder), with numpy over np.memmap in 4M-element chunks, float64 accumulators.
Prints elements/s and GB/s of stored bytes."""
import json
import os
import struct
import sys
import time

import numpy as np

NP = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}


def files_of(path):
    if os.path.isdir(path):
        with open(os.path.join(path, "model.safetensors.index.json")) as f:
            return [os.path.join(path, s) for s in sorted(set(json.load(f)["weight_map"].values()))]
    return [path]


def stats(x):
    # float32 values, float64 accumulators (as ParamScope); non-finite values are masked out only
    # when present, the common case costs one isfinite pass.
    fin = np.isfinite(x)
    if not fin.all():
        nan = int(np.isnan(x).sum())
        x = x[fin]
        inf = int(fin.size - x.size - nan)
    else:
        nan = inf = 0
    return (x.size, nan, inf, x.min(initial=np.inf), x.max(initial=-np.inf), x.sum(dtype=np.float64),
            np.square(x).sum(dtype=np.float64), np.abs(x).sum(dtype=np.float64))


def main(path):
    t0 = time.perf_counter()
    total_elems = total_bytes = 0
    for fn in files_of(path):
        with open(fn, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        mm = np.memmap(fn, dtype=np.uint8, mode="r")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            raw = mm[8 + n + b: 8 + n + e].view(NP[info["dtype"]])
            acc = [0, 0, 0, np.inf, -np.inf, 0.0, 0.0, 0.0]
            for s in range(0, raw.size, 1 << 22):
                chunk = raw[s:s + (1 << 22)]
                if info["dtype"] == "BF16":
                    chunk = (chunk.astype(np.uint32) << 16).view(np.float32)
                c = stats(chunk)
                acc = [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2], min(acc[3], c[3]), max(acc[4], c[4]),
                       acc[5] + c[5], acc[6] + c[6], acc[7] + c[7]]
            cnt = max(acc[0], 1)
            mean = acc[5] / cnt
            _ = (acc[3], acc[4], mean, np.sqrt(max(acc[6] / cnt - mean * mean, 0)), acc[7] / cnt, acc[1], acc[2])
            total_elems += raw.size
            total_bytes += e - b
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "elements": total_elems, "bytes": total_bytes,
                      "gb_per_s": total_bytes / dt / 1e9, "melem_per_s": total_elems / dt / 1e6}))


if __name__ == "__main__":
    main(sys.argv[1])
