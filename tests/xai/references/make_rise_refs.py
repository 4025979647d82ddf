#!/usr/bin/python3
"""Reference data for tests/xai/test_rise.cpp, written with Debian's numpy 1.24, scipy 1.10, torch 1.13
and onnx 1.12 (run: /usr/bin/python3 tests/xai/references/make_rise_refs.py). Outputs go to
tests/data/xai/rise/:

  linear.onnx                 score = Flatten(x) @ W + b, 3 classes, input [batch, ?, ?, ?] (60 values)
  linear_x.npy                two samples [2, 3, 4, 5] (NCHW); linear_x_nhwc.npy the same as [2, 4, 5, 3]
  linear_masks.npy            7 explicit masks [7, 4, 5], float64, not binary (any values are used as given)
  linear_expected_*.npy       RISE saliency sum_i score(x * M_i) M_i / (N p) in float64, p = 0.5:
                              raw_fixed (classes 0 and 2, raw scores), softmax_top (top class, probability),
                              nhwc_raw_fixed (the NHWC input, mask over axes 1, 2, shared over the channels)
  tabular.onnx                [batch, 12] -> Gemm -> 3 classes; only features 0..2 matter for class 1
  tabular_fixed.onnx          the same with its input fixed to [1, 12] (RISE runs it one row at a time)
  tabular_x.npy               [1, 12]; tabular_masks.npy [5, 12]; tabular_expected.npy (class 1, raw, p = 0.25)
  masks_<case>.npy            rise_masks(sizes, cells, p, seed, first, n) re-implemented here: the same
                              splitmix64 draw, then skimage's resize(order=1, mode='reflect',
                              anti_aliasing=False) as scipy.ndimage.zoom(order=1, mode='mirror',
                              grid_mode=True), cropped at the drawn shift (the RISE paper's generate_masks)
  draws_<case>_grid.npy / _shift.npy   the drawn grids [n, s, ...] and shifts [n, axes] of those masks

The upsampling is checked here three ways: scipy's zoom, an explicit numpy formula, and torch's
grid_sample on a mirror-padded grid; torch's F.interpolate(bilinear, align_corners=False) clamps at the
edges instead of mirroring and is reported (it agrees only away from the edges).
"""
import os

import numpy as np
import onnx
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "xai", "rise")
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Stream:
    def __init__(self, seed, index):
        self.state = mix64(mix64((seed + GOLDEN) & M64) ^ index)

    def uniform(self):
        self.state = (self.state + GOLDEN) & M64
        return (mix64(self.state) >> 11) * 2.0 ** -53


def draw(sizes, s, p, seed, index):
    rng = Stream(seed, index)
    grid = np.array([1.0 if rng.uniform() < p else 0.0 for _ in range(s ** len(sizes))]).reshape((s,) * len(sizes))
    cells = [-(-n // s) for n in sizes]
    shift = [min(int(rng.uniform() * c), c - 1) for c in cells]
    return grid, shift, cells


def upsample_scipy(grid, s, cells):
    up = [(s + 1) * c for c in cells]
    return ndi.zoom(grid, [u / s for u in up], order=1, mode="mirror", grid_mode=True)


def mirror(i, n):
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


def upsample_numpy(grid, s, cells):
    out = grid.astype(np.float64)
    for a, c in enumerate(cells):
        n = (s + 1) * c
        src = (np.arange(n) + 0.5) * s / n - 0.5
        i0 = np.floor(src).astype(np.int64)
        f = src - i0
        lo, hi = mirror(i0, s), mirror(i0 + 1, s)
        a0 = np.take(out, lo, axis=a)
        a1 = np.take(out, hi, axis=a)
        shape = [1] * out.ndim
        shape[a] = n
        out = a0 + f.reshape(shape) * (a1 - a0)
    return out


def upsample_torch_2d(grid, s, cells):
    """grid_sample on the grid padded by one mirrored cell per side (torch 'reflect' padding is
    numpy's reflect), at the same half-sample source positions."""
    g = torch.from_numpy(grid.astype(np.float64))[None, None]
    g = F.pad(g, (1, 1, 1, 1), mode="reflect") if s > 1 else F.pad(g, (1, 1, 1, 1), mode="replicate")
    h, w = [(s + 1) * c for c in cells]
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) * s / h - 0.5 + 1  # in the padded grid
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) * s / w - 0.5 + 1
    ny = 2 * ys / (s + 1) - 1  # align_corners=True: -1 .. 1 over centres 0 .. s + 1
    nx = 2 * xs / (s + 1) - 1
    gy, gx = torch.meshgrid(ny, nx, indexing="ij")
    coords = torch.stack([gx, gy], dim=-1)[None]
    return F.grid_sample(g, coords, mode="bilinear", padding_mode="border", align_corners=True)[0, 0].numpy()


def crop(up, shift, sizes):
    return up[tuple(slice(k, k + n) for k, n in zip(shift, sizes))]


def mask_cases():
    cases = {
        "a": dict(sizes=[13, 10], s=3, p=0.4, seed=7, first=0, n=6),
        "b": dict(sizes=[13, 10], s=3, p=0.4, seed=7, first=1000, n=3),
        "c": dict(sizes=[8, 8], s=4, p=0.5, seed=0, first=0, n=5),
        "d": dict(sizes=[11], s=4, p=0.6, seed=3, first=0, n=5),
        "e": dict(sizes=[5, 6, 7], s=2, p=0.5, seed=11, first=2, n=4),
        "f": dict(sizes=[30, 17], s=7, p=0.5, seed=12345678901234, first=0, n=4),
        "g": dict(sizes=[9, 9], s=1, p=0.5, seed=1, first=0, n=8),
    }
    worst_torch_interp = 0.0
    for name, c in cases.items():
        masks, grids, shifts = [], [], []
        for i in range(c["first"], c["first"] + c["n"]):
            grid, shift, cells = draw(c["sizes"], c["s"], c["p"], c["seed"], i)
            up = upsample_scipy(grid, c["s"], cells)
            ref = upsample_numpy(grid, c["s"], cells)
            assert up.shape == ref.shape, (up.shape, ref.shape)
            assert np.abs(up - ref).max() < 1e-12, (name, np.abs(up - ref).max())
            if len(c["sizes"]) == 2:
                tg = upsample_torch_2d(grid, c["s"], cells)
                assert np.abs(tg - ref).max() < 1e-12, (name, np.abs(tg - ref).max())
                ti = F.interpolate(torch.from_numpy(grid)[None, None], size=up.shape, mode="bilinear",
                                   align_corners=False)[0, 0].numpy()
                worst_torch_interp = max(worst_torch_interp, np.abs(ti - ref).max())
                # away from a half-cell border both agree
                # source positions outside [0, s - 1]: the first and last ceil(n / (2 s)) samples
                b = [-(-n // (2 * c["s"])) for n in up.shape]
                inner = (slice(b[0], up.shape[0] - b[0]), slice(b[1], up.shape[1] - b[1]))
                if ti[inner].size:
                    assert np.abs(ti[inner] - ref[inner]).max() < 1e-12, name
            masks.append(crop(up, shift, c["sizes"]))
            grids.append(grid)
            shifts.append(shift)
        np.save(os.path.join(OUT, f"masks_{name}.npy"), np.stack(masks).astype(np.float32))
        np.save(os.path.join(OUT, f"draws_{name}_grid.npy"), np.stack(grids).astype(np.float32))
        np.save(os.path.join(OUT, f"draws_{name}_shift.npy"), np.array(shifts, dtype=np.int64))
    print("torch F.interpolate(bilinear, align_corners=False) vs skimage reflect: max difference",
          worst_torch_interp, "(at the edges only)")


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def gemm_model(path, features, classes, w, b, input_dims):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", classes])
    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
             helper.make_node("Gemm", ["flat", "W", "B"], ["scores"])]
    inits = [numpy_helper.from_array(w.astype(np.float32), "W"), numpy_helper.from_array(b.astype(np.float32), "B")]
    g = helper.make_graph(nodes, "rise_toy", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_rise_refs.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def saliency(x, masks, w, b, classes, p, soft, axes_last=False):
    """x [B, ...] float32, masks [N, *spatial] float64 -> [B, *spatial] float64, in float64 throughout
    except the model's float32 weights."""
    w64, b64 = w.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    out = []
    for bi in range(x.shape[0]):
        acc = np.zeros(masks.shape[1:])
        for m in masks:
            mm = m[..., None] if axes_last else m
            xm = (x[bi].astype(np.float32) * mm.astype(np.float32)).astype(np.float32)  # float32 as the engine
            z = xm.reshape(-1).astype(np.float64) @ w64 + b64
            sc = softmax(z)[classes[bi]] if soft else z[classes[bi]]
            acc += sc * m
        out.append(acc / (len(masks) * p))
    return np.stack(out)


def toys():
    rng = np.random.default_rng(20261127)
    w = rng.normal(size=(60, 3)).astype(np.float32)
    b = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    gemm_model(os.path.join(OUT, "linear.onnx"), 60, 3, w, b, ["batch", "d1", "d2", "d3"])
    x = rng.uniform(0, 1, size=(2, 3, 4, 5)).astype(np.float32)
    masks = rng.uniform(0, 1, size=(7, 4, 5))
    masks[0] = 1.0
    masks[1] = 0.0
    np.save(os.path.join(OUT, "linear_x.npy"), x)
    np.save(os.path.join(OUT, "linear_masks.npy"), masks)
    p = 0.5
    np.save(os.path.join(OUT, "linear_expected_raw_fixed.npy"), saliency(x, masks, w, b, [0, 2], p, False))
    top = (x.reshape(2, -1).astype(np.float64) @ w.astype(np.float64) + b).argmax(axis=1)
    print("linear top classes", top)
    np.save(os.path.join(OUT, "linear_top.npy"), top.astype(np.int64))
    np.save(os.path.join(OUT, "linear_expected_softmax_top.npy"), saliency(x, masks, w, b, list(top), p, True))
    # the same model fed NHWC: Flatten of [4, 5, 3] uses the weights in that order
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.save(os.path.join(OUT, "linear_x_nhwc.npy"), xn)
    np.save(os.path.join(OUT, "linear_expected_nhwc_raw_fixed.npy"),
            saliency(xn, masks, w, b, [0, 2], p, False, axes_last=True))

    wt = np.zeros((12, 3), dtype=np.float32)
    wt[0:3, 1] = [2.0, 1.5, 1.0]
    wt[5:12, 0] = 0.3
    wt[:, 2] = -0.1
    bt = np.zeros(3, dtype=np.float32)
    gemm_model(os.path.join(OUT, "tabular.onnx"), 12, 3, wt, bt, ["batch", 12])
    gemm_model(os.path.join(OUT, "tabular_fixed.onnx"), 12, 3, wt, bt, [1, 12])  # a batch of exactly 1
    xt = np.linspace(0.5, 1.0, 12, dtype=np.float32)[None]
    mt = rng.uniform(0, 1, size=(5, 12)) > 0.5
    np.save(os.path.join(OUT, "tabular_x.npy"), xt)
    np.save(os.path.join(OUT, "tabular_masks.npy"), mt)  # bool
    np.save(os.path.join(OUT, "tabular_expected.npy"), saliency(xt, mt.astype(np.float64), wt, bt, [1], 0.25, False))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mask_cases()
    toys()
