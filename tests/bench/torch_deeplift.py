#!/usr/bin/python3
"""torch's side of the DeepLIFT benchmark (paramscope-bench-deeplift): DeepLIFT-Rescale with a
zero baseline in Debian's python3-torch on 2 threads, attributions of each input's top-class logit
to the input, the approach of tests/xai/references/make_deeplift_refs.py made fast: the module's
ReLU, ReLU6 and MaxPool2d modules are wrapped; a no_grad pass on the baseline records their
inputs, then a pass on x (requires_grad on x only) runs them through custom autograd Functions
whose backward gives the multipliers: Rescale m = (f(z) - f(z0)) / (z - z0), the gradient where
|z - z0| <= 1e-6 max(|z|, |z0|) or 1e-10 (ParamScope's threshold); MaxPool: Captum's rule (g *
(max(y, y0) - y0) to x's argmax, g * (y - max(y, y0)) to x0's, divided by Δx). Linear layers,
BatchNorm (eval), residual sums and average pooling pass gradients unchanged, as in DeepLIFT.
Two forward passes and one backward pass over the batch: ParamScope's computation.

  torch_deeplift.py FOLDER/NAME.onnx [--batch B] [--repeat R] [--threads T] [--save MAP.f32]

FOLDER is what engine_models.py wrote (CNN models only: digits-cnn, mbv2). Prints JSON with the
fields of paramscope-bench-deeplift.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_models  # noqa: E402
from torch_engine import hashed  # noqa: E402


def multiplier(z, z0, y, y0, grad):
    d = z - z0
    small = (d.abs() <= 1e-10) | (d.abs() <= 1e-6 * torch.maximum(z.abs(), z0.abs()))
    return torch.where(small, grad, (y - y0) / torch.where(small, torch.ones_like(d), d))


class Rescale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, z0, hi):  # ReLU (hi = None) or ReLU6 (hi = 6): clamp(z, 0, hi)
        y = z.clamp(0, hi)
        ctx.save_for_backward(z, z0, y)
        ctx.hi = hi
        return y

    @staticmethod
    def backward(ctx, g):
        z, z0, y = ctx.saved_tensors
        grad = (z > 0) if ctx.hi is None else (z > 0) & (z < ctx.hi)
        return g * multiplier(z, z0, y, z0.clamp(0, ctx.hi), grad.to(z.dtype)), None, None


class MaxPoolRule(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, x0, k):
        y, ix = F.max_pool2d(x, k, return_indices=True)
        y0, ix0 = F.max_pool2d(x0, k, return_indices=True)
        ctx.save_for_backward(x, x0, y, y0, ix, ix0)
        ctx.k = k
        return y

    @staticmethod
    def backward(ctx, g):
        x, x0, y, y0, ix, ix0 = ctx.saved_tensors
        hi = torch.maximum(y, y0)
        size = x.shape[-2:]
        dy = F.max_unpool2d(g * (hi - y0), ix, ctx.k, output_size=size) + F.max_unpool2d(
            g * (y - hi), ix0, ctx.k, output_size=size)
        grad = F.max_unpool2d(g, ix, ctx.k, output_size=size)
        d = x - x0
        small = (d.abs() <= 1e-10) | (d.abs() <= 1e-6 * torch.maximum(x.abs(), x0.abs()))
        return torch.where(small, grad, dy / torch.where(small, torch.ones_like(d), d)), None, None


class Rule(nn.Module):
    """A ReLU, ReLU6 or MaxPool2d that records its baseline input, then applies its DeepLIFT rule."""

    def __init__(self, inner, state):
        super().__init__()
        self.inner, self.state = inner, state

    def forward(self, z):
        s = self.state
        if s["record"]:
            s["base"].append(z)
            return self.inner(z)
        z0 = s["base"][s["i"]]
        s["i"] += 1
        if isinstance(self.inner, nn.MaxPool2d):
            return MaxPoolRule.apply(z, z0, self.inner.kernel_size)
        return Rescale.apply(z, z0, 6.0 if isinstance(self.inner, nn.ReLU6) else None)


def wrap(module, state):
    for name, child in module.named_children():
        if isinstance(child, (nn.ReLU, nn.ReLU6)) or (isinstance(child, nn.MaxPool2d) and child.stride == child.kernel_size
                                                     and child.padding == 0 and child.dilation == 1):
            setattr(module, name, Rule(child, state))
        else:
            wrap(child, state)


def deeplift(model, state, x, x0):
    state.update(record=True, base=[], i=0)
    with torch.no_grad():
        out0 = model(x0)
    state["record"] = False
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    cls = out.detach().argmax(1)
    score = out.gather(1, cls[:, None])
    score.sum().backward()
    attr = xg.grad * (x - x0)
    delta = attr.flatten(1).sum(1) - (score.detach()[:, 0] - out0.gather(1, cls[:, None])[:, 0])
    state["base"] = []
    return attr, cls, delta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.dirname(os.path.abspath(a.model)), os.path.splitext(os.path.basename(a.model))[0]
    with open(os.path.join(folder, "models.json")) as f:
        info = json.load(f)[name]
    model = engine_models.torch_module(folder, name)
    for p in model.parameters():
        p.requires_grad_(False)  # gradients to the input only, as ParamScope computes
    state = {}
    wrap(model, state)
    x = hashed([a.batch] + info["input_shape"], 0)
    x0 = torch.zeros_like(x)
    ms = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        attr, cls, delta = deeplift(model, state, x, x0)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    if a.save:
        attr.detach().numpy().astype("<f4").tofile(a.save)
    m = attr.detach().double()
    print(json.dumps({"batch": a.batch, "ms": {"median": ms[len(ms) // 2], "min": ms[0]}, "classes": cls.tolist(),
                      "map_sum": m.sum().item(), "map_abs_sum": m.abs().sum().item(),
                      "max_abs_delta": delta.abs().max().item()}))


if __name__ == "__main__":
    main()
