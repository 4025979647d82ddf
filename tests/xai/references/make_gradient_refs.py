#!/usr/bin/python3
"""Writes the references of tests/xai/test_gradient_methods.cpp and test_faithfulness.cpp into
tests/data/xai/gradients/. Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx).

Tiny hand-checkable ONNX models (built with onnx.helper):
  quadratic.onnx   x [N, 4] -> logits = (x * x) @ W, W [4, 2]: class 0 scores sum_i w_i x_i^2.
  toy_linear.onnx  x [N, 2, 2, 2] -> logits = [v . x, -(v . x)] with v = 1 (a linear model).
  quadratic_b1.onnx, toy_linear_b1.onnx: the same with the batch size fixed to 1.

References on the bundled digits CNN (resources/samples/digits-cnn, model.pt = model.onnx),
computed in float64 torch, for its first 4 inputs and each sample's top logit:
  digits_x.npy                the inputs
  digits_scores.npy           [4, 4]: class, f(x), f(zeros), f(0.25) (raw logits)
  digits_gxi.npy              gradient x input
  digits_ig_gl32.npy          Integrated Gradients, Gauss-Legendre 32 points, baseline zeros
  digits_ig_trap16_c025.npy   trapezoid rule 16 points (weights 1/15, ends halved), baseline 0.25
  digits_ig_gl16_softmax.npy  Gauss-Legendre 16 points, baseline zeros, softmax probability
  digits_sg.npy               SmoothGrad, noise 0.15 of (max - min), 8 copies, seed 7
  digits_sg_sq_input.npy      the same, squared gradients, times the input
  digits_noise.npy            standard_normal(7, b, s, e) for b < 2, s < 2, e < 64 (float64)
  faith_<case>.npz            deletion / insertion curves of RISE's CausalMetric (evaluation.py,
                              re-implemented in torch, ties broken by lower index) with the
                              map and settings the test uses; keys del, ins ([4, points]), fraction.
"""
import math
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SAMPLE = os.path.join(ROOT, "resources", "samples", "digits-cnn")
OUT = os.path.join(ROOT, "tests", "data", "xai", "gradients")
sys.path.insert(0, os.path.join(ROOT, "resources", "samples"))

from make_samples import DigitsCNN  # noqa: E402

M64 = (1 << 64) - 1


def save_model(path, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, os.path.basename(path)[:-5], inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_gradient_refs")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def tiny_models(batch="batch", suffix=""):
    w = np.array([[1, 0], [0.5, 1], [2, 1], [-3, 1]], dtype=np.float32)
    save_model(os.path.join(OUT, "quadratic%s.onnx" % suffix),
               [helper.make_node("Mul", ["x", "x"], ["sq"]), helper.make_node("MatMul", ["sq", "W"], ["logits"])],
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
               [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 2])],
               [numpy_helper.from_array(w, "W")])
    v = np.ones((2, 8), dtype=np.float32)
    v[1] = -1
    save_model(os.path.join(OUT, "toy_linear%s.onnx" % suffix),
               [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
                helper.make_node("Gemm", ["flat", "V"], ["logits"], transB=1)],
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 2, 2, 2])],
               [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 2])],
               [numpy_helper.from_array(v, "V")])


def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def standard_normal(seed, b, s, e):
    key = mix(mix(mix(mix(seed) ^ b) ^ s) ^ (e >> 1))
    h1, h2 = mix(key), mix(key ^ 0xD1B54A32D192ED03)
    u1 = ((h1 >> 11) + 1) * 2.0 ** -53
    u2 = (h2 >> 11) * 2.0 ** -53
    r = math.sqrt(-2 * math.log(u1))
    a = 2 * math.pi * u2
    return r * math.sin(a) if e & 1 else r * math.cos(a)


def gauss_legendre(n):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (1 + x), 0.5 * w


def trapezoid(n):
    w = np.full(n, 1 / (n - 1))
    w[0] /= 2
    w[-1] /= 2
    return np.linspace(0, 1, n), w


def grad(model, x, cls, softmax):
    x = x.clone().requires_grad_(True)
    out = model(x)
    if softmax:
        out = torch.softmax(out, 1)
    out[torch.arange(len(x)), cls].sum().backward()
    return x.grad


def integrated_gradients(model, x, x0, cls, alphas, weights, softmax=False):
    total = torch.zeros_like(x)
    for a, w in zip(alphas, weights):
        total += float(w) * grad(model, x0 + float(a) * (x - x0), cls, softmax)
    return (x - x0) * total


def smoothgrad(model, x32, cls, noise, copies, seed, squared):
    x = x32.astype(np.float64)
    per = x[0].size
    acc = torch.zeros(x.shape, dtype=torch.float64)
    for b in range(x.shape[0]):
        flat = x[b].reshape(-1)
        sd = noise * (flat.max() - flat.min())
        for s in range(copies):
            n = np.array([standard_normal(seed, b, s, e) for e in range(per)])
            noisy = (flat + sd * n).astype(np.float32).astype(np.float64).reshape((1,) + x.shape[1:])
            g = grad(model, torch.from_numpy(noisy), cls[b:b + 1], False)[0]
            acc[b] += g * g if squared else g
    return acc / copies


def blur(x, sigma):
    """Our gaussian_blur over axes 2, 3: taps to ceil(3 sigma), renormalised inside the array."""
    r = math.ceil(3 * sigma)
    out = x.astype(np.float64)
    for axis in (2, 3):
        n = out.shape[axis]
        res = np.zeros_like(out)
        for i in range(n):
            js = np.arange(max(0, i - r), min(n - 1, i + r) + 1)
            w = np.exp(-0.5 * (js - i) ** 2 / sigma ** 2)
            taken = np.take(out, js, axis=axis)
            shape = [1] * out.ndim
            shape[axis] = len(js)
            val = (taken * w.reshape(shape)).sum(axis=axis) / w.sum()
            idx = [slice(None)] * out.ndim
            idx[axis] = i
            res[tuple(idx)] = val
        out = res.astype(np.float32).astype(np.float64)  # float32 between the passes, as ours
    return out.astype(np.float32)


def causal_metric(model, img, saliency, mode, step, substrate):
    """RISE's CausalMetric.evaluate (evaluation.py) for a batch, on the softmax of the model's
    logits; the order is by decreasing saliency with ties by lower index (a stable sort)."""
    n, c, h, w = img.shape
    hw = h * w
    with torch.no_grad():
        top = torch.softmax(model(torch.from_numpy(img).double()), 1).argmax(1).numpy()
    n_steps = (hw + step - 1) // step
    scores = np.empty((n, n_steps + 1))
    order = np.argsort(-saliency.reshape(n, hw), axis=1, kind="stable")
    start, finish = (img.copy(), substrate.copy()) if mode == "del" else (substrate.copy(), img.copy())
    for i in range(n_steps + 1):
        with torch.no_grad():
            p = torch.softmax(model(torch.from_numpy(start).double()), 1).numpy()
        scores[:, i] = p[np.arange(n), top]
        coords = order[:, step * i:step * (i + 1)]
        for b in range(n):
            start.reshape(n, c, hw)[b][:, coords[b]] = finish.reshape(n, c, hw)[b][:, coords[b]]
    fraction = np.minimum(np.arange(n_steps + 1) * step, hw) / hw
    return scores, fraction


def main():
    os.makedirs(OUT, exist_ok=True)
    tiny_models()
    tiny_models(1, "_b1")  # the same models with a fixed batch size of 1

    model = DigitsCNN()
    model.load_state_dict(torch.load(os.path.join(SAMPLE, "model.pt")))
    model.eval()
    model.double()
    x32 = np.load(os.path.join(SAMPLE, "inputs.npy"))[:4]
    x = torch.from_numpy(x32.astype(np.float64))
    with torch.no_grad():
        logits = model(x)
    cls = logits.argmax(1)
    zeros, c025 = torch.zeros_like(x), torch.full_like(x, 0.25)
    with torch.no_grad():
        f0, fc = model(zeros), model(c025)
    r = torch.arange(4)
    np.save(os.path.join(OUT, "digits_x.npy"), x32)
    np.save(os.path.join(OUT, "digits_scores.npy"),
            torch.stack([cls.double(), logits[r, cls], f0[r, cls], fc[r, cls]], 1).numpy())

    def save(name, a):
        np.save(os.path.join(OUT, name), a.detach().numpy().astype(np.float32))

    save("digits_gxi.npy", x * grad(model, x, cls, False))
    save("digits_ig_gl32.npy", integrated_gradients(model, x, zeros, cls, *gauss_legendre(32)))
    save("digits_ig_trap16_c025.npy", integrated_gradients(model, x, c025, cls, *trapezoid(16)))
    save("digits_ig_gl16_softmax.npy", integrated_gradients(model, x, zeros, cls, *gauss_legendre(16), softmax=True))
    save("digits_sg.npy", smoothgrad(model, x32, cls, 0.15, 8, 7, False))
    save("digits_sg_sq_input.npy", smoothgrad(model, x32, cls, 0.15, 8, 7, True) * x)
    np.save(os.path.join(OUT, "digits_noise.npy"),
            np.array([[[standard_normal(7, b, s, e) for e in range(64)] for s in range(2)] for b in range(2)]))

    # Faithfulness: a random map without ties over the spatial sizes; the gradient x input map
    # (x's shape, many ties where x is 0).
    rand_map = np.random.default_rng(3).random((4, 8, 8)).astype(np.float32)
    np.save(os.path.join(OUT, "faith_rand_map.npy"), rand_map)
    gxi = np.load(os.path.join(OUT, "digits_gxi.npy"))
    # case rand_s16: 16 steps of 4 pixels; deletion to zeros, insertion from blur sigma 1
    d, fr = causal_metric(model, x32, rand_map, "del", 4, np.zeros_like(x32))
    i, _ = causal_metric(model, x32, rand_map, "ins", 4, blur(x32, 1.0))
    np.savez(os.path.join(OUT, "faith_rand_s16.npz"), **{"del": d, "ins": i, "fraction": fr})
    # case gxi_s10: 10 steps -> 7 pixels a step, 11 points; deletion to 0.5, insertion from blur 2
    d, fr = causal_metric(model, x32, gxi.sum(1), "del", 7, np.full_like(x32, 0.5))
    i, _ = causal_metric(model, x32, gxi.sum(1), "ins", 7, blur(x32, 2.0))
    np.savez(os.path.join(OUT, "faith_gxi_s10.npz"), **{"del": d, "ins": i, "fraction": fr})
    print("classes", cls.tolist(), "logits", logits[r, cls].tolist())


if __name__ == "__main__":
    main()
