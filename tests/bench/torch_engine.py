#!/usr/bin/python3
"""torch's side of the execution-engine benchmark: the measurements of paramscope-bench-engine
on the torch module a model was exported from (Debian's python3-torch; 2 threads by default).

  torch_engine.py FOLDER/NAME.onnx --batch B --iters N [--warmup W] [--backward] [--threads T]

FOLDER is what engine_models.py wrote; NAME.pt and models.json beside the ONNX file give the
module and its weights. Forward runs under torch.no_grad(); forward+backward computes
L = sum(seed * output) and L.backward() with requires_grad on the input and the parameters,
clearing the gradients each iteration. The input and seed are the engine benchmark's (a hash of
the element index), so the checksums printed can be compared with the engine's. Prints JSON with
the same fields as paramscope-bench-engine.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_models  # noqa: E402


def hashed(shape, salt):
    """paramscope-bench-engine's pseudo-random array: Knuth's multiplicative hash of index + salt."""
    i = np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(salt)
    h = (i * np.uint64(2654435761)) % np.uint64(1 << 32)
    return torch.from_numpy((h.astype(np.float64) / 4294967296.0 * 2.0 - 1.0).astype(np.float32).reshape(shape))


def time_it(f, warmup, iters):
    for _ in range(warmup):
        f()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return {"median": ms[len(ms) // 2], "min": ms[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--backward", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.dirname(os.path.abspath(a.model)), os.path.splitext(os.path.basename(a.model))[0]
    with open(os.path.join(folder, "models.json")) as f:
        info = json.load(f)[name]
    model = engine_models.torch_module(folder, name)
    x = hashed([a.batch] + info["input_shape"], 0)
    out = {}

    def forward():
        with torch.no_grad():
            out["y"] = model(x)

    result = {"batch": a.batch, "iters": a.iters, "forward_ms": time_it(forward, a.warmup, a.iters)}
    y = out["y"].double()
    result.update(output_sum=y.sum().item(), output_abs_sum=y.abs().sum().item())

    if a.backward:
        seed = hashed(list(out["y"].shape), 1000003)
        xg = x.clone().requires_grad_(True)
        params = list(model.parameters())

        def forward_backward():
            model.zero_grad()
            xg.grad = None
            (model(xg) * seed).sum().backward()

        result["forward_backward_ms"] = time_it(forward_backward, a.warmup, a.iters)
        result.update(parameters=len(params), input_grad_abs_sum=xg.grad.double().abs().sum().item(),
                      param_grad_abs_sum=sum(p.grad.double().abs().sum().item() for p in params))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
