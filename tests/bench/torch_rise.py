#!/usr/bin/python3
"""torch's side of the RISE benchmark (paramscope-bench-rise): the RISE paper's computation in
Debian's python3-torch on 2 threads, masks made batch by batch as the C++ side does (memory
independent of N): a binary s x s grid per mask (rand < p), bilinear upsampling to (s + 1) * c
(F.interpolate, align_corners=False), a random crop in [0, c), the masked copies run under
torch.no_grad(), softmax, and saliency += probabilities^T @ masks, divided by N p at the end.

  torch_rise.py FOLDER/NAME.onnx [--masks N] [--cells S] [--p P] [--batch B] [--repeat R] [--threads T]

FOLDER is what engine_models.py wrote. Prints JSON with the fields of paramscope-bench-rise.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_models  # noqa: E402
from torch_engine import hashed  # noqa: E402


def rise(model, x, masks, s, p, batch, gen):
    _, _, h, w = x.shape
    ch, cw = math.ceil(h / s), math.ceil(w / s)
    with torch.no_grad():
        c = model(x).softmax(dim=1)[0].argmax().item()
        sal = torch.zeros(h * w, dtype=torch.float64)
        for first in range(0, masks, batch):
            n = min(batch, masks - first)
            grid = (torch.rand(n, 1, s, s, generator=gen) < p).float()
            up = F.interpolate(grid, size=((s + 1) * ch, (s + 1) * cw), mode="bilinear", align_corners=False)
            m = torch.empty(n, 1, h, w)
            dy = torch.randint(0, ch, (n,), generator=gen)
            dx = torch.randint(0, cw, (n,), generator=gen)
            for i in range(n):
                m[i] = up[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
            prob = model(x * m).softmax(dim=1)[:, c]
            sal += (prob.double() @ m.view(n, h * w).double())
        return c, model(x).softmax(dim=1)[0, c].item(), sal / (masks * p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--masks", type=int, default=4000)
    ap.add_argument("--cells", type=int, default=7)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.dirname(os.path.abspath(a.model)), os.path.splitext(os.path.basename(a.model))[0]
    with open(os.path.join(folder, "models.json")) as f:
        info = json.load(f)[name]
    model = engine_models.torch_module(folder, name)
    x = hashed([1] + info["input_shape"], 0)
    ms = []
    for _ in range(a.repeat):
        gen = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        c, score, sal = rise(model, x, a.masks, a.cells, a.p, a.batch, gen)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    print(json.dumps({"masks": a.masks, "cells": a.cells, "batch": a.batch,
                      "ms": {"median": ms[len(ms) // 2], "min": ms[0]}, "class": c, "score": score,
                      "map_sum": sal.sum().item()}))


if __name__ == "__main__":
    main()
