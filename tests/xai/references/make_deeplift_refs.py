#!/usr/bin/python3
"""Writes tests/data/xai/deeplift/: DeepLIFT attributions computed independently in torch 1.13
(float64) for small models exported to ONNX, and tiny hand-built ONNX graphs for the per-rule
hand checks of tests/xai/test_deeplift.cpp.

torch references (<name>.onnx, <name>.input.npy, <name>.baseline.npy, <name>.<rule>.npy):
  mlp      Linear-ReLU-Linear-ReLU-Linear           rescale (autograd) and revealcancel (by hand)
  sigtanh  Linear-Sigmoid-Linear-Tanh-Linear        rescale and revealcancel
  cnn      Conv-ReLU-MaxPool-Conv-ReLU-MaxPool-Linear  rescale (autograd, Captum's maxpool rule)
  resmlp   h1 = ReLU(L1 x); h2 = ReLU(L2 h1 + h1); h3 = ReLU(L3 h2 + Ls x); L4 h3
           rescale and revealcancel through the residual Adds (see resmlp_reveal_cancel)
  resblock a ResNet basic block with a projection shortcut, BatchNorms kept; resblock_folded.onnx
           the same with them folded (no reference map: the two must agree)
The explained score is the logit of each sample's top class on x (the default Target).

Rescale is computed with custom autograd Functions whose backward returns g * Δy/Δx (the gradient
where |Δx| <= 1e-10 or <= 1e-6 max(|x|, |x0|)); MaxPool's backward routes g * (max(y, y0) - y0)
to x's argmax and g * (y - max(y, y0)) to x0's argmax and divides by Δx (Captum's rule).
RevealCancel (Shrikumar et al. 2017, 3.5.3) is written layer by layer: for z = W a + b followed
by f, Δz+ = W+ Δa+ + W- Δa-, Δz- = W- Δa+ + W+ Δa-, Δy+ = ½(f(z0+Δz+) - f(z0)) + ½(f(z) - f(z0+Δz-)),
Δy- likewise, m± = Δy±/Δz±; the multiplier of a_j is W+ᵀ(g m+) + W-ᵀ(g m-) where Δa_j > 0,
W-ᵀ(g m+) + W+ᵀ(g m-) where Δa_j < 0, Wᵀ(g Δy/Δz) where Δa_j = 0.

Third-party-style models (summation-to-delta only, no torch reference; <name>.onnx + input):
  mobile   Conv-BatchNorm-HardSwish, depthwise Conv-BatchNorm-ReLU, a squeeze-excitation block
           (GlobalAveragePool-Conv-ReLU-Conv-HardSigmoid, Mul), GlobalAveragePool, Linear;
           BatchNormalization nodes kept (exported without constant folding); mobile_folded.onnx
           is the same network with the BatchNorms folded into the convolutions
  bnmlp    Linear-BatchNorm1d-ReLU-Linear (Gemm then BatchNormalization); bnmlp_folded.onnx the
           same function with the BatchNorm folded into the Linear by hand
  lnmlp    Linear-LayerNorm-GELU-Linear-LayerNorm-Tanh-Linear (opset 13: LayerNorm and GELU as
           primitive nodes; lnmlp17: opset 17, LayerNormalization nodes)

Hand-check graphs (onnx.helper, opset 13/14): unary_<Op>.onnx  x[N,2] -> Op -> MatMul ones[2,1];
softmax.onnx  x[N,2] -> Softmax -> MatMul [[1],[0]] (p_0); maxpool.onnx x[N,1,1,2] -> MaxPool
1x2 -> Flatten; product.onnx  x[N,2] -> x[:,0:1] * x[:,1:2].
Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
from torch import nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "tests", "data", "xai", "deeplift")


def small_step(x, x0):
    d = (x - x0).abs()
    return (d <= 1e-10) | (d <= 1e-6 * torch.maximum(x.abs(), x0.abs()))


class Rescale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, x0, f):
        y = f(x)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(f(xg).sum(), xg)
        ctx.save_for_backward(x, x0, y, f(x0), grad)
        return y

    @staticmethod
    def backward(ctx, g):
        x, x0, y, y0, grad = ctx.saved_tensors
        small = small_step(x, x0)
        m = torch.where(small, grad, (y - y0) / torch.where(small, torch.ones_like(x), x - x0))
        return g * m, None, None


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
        u = F.max_unpool2d(g * (hi - y0), ix, ctx.k, output_size=size) + F.max_unpool2d(
            g * (y - hi), ix0, ctx.k, output_size=size)
        y_, grad_ix = F.max_pool2d(x, ctx.k, return_indices=True)
        grad = F.max_unpool2d(g, grad_ix, ctx.k, output_size=size)
        small = small_step(x, x0)
        m = torch.where(small, grad, u / torch.where(small, torch.ones_like(x), x - x0))
        return m, None, None


class Mlp(nn.Module):
    def __init__(self, acts, sizes):
        super().__init__()
        self.lin = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.acts = acts

    def forward(self, x, base=None, record=None):
        for i, lin in enumerate(self.lin):
            x = lin(x)
            if i < len(self.acts):
                f = self.acts[i]
                if record is not None:
                    record.append(x)
                x = f(x) if base is None else Rescale.apply(x, base[i], f)
        return x


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 2 * 2, 4)

    def forward(self, x, base=None, record=None):
        seq = [self.c1, torch.relu, "pool", self.c2, torch.relu, "pool"]
        i = 0
        for layer in seq:
            if layer == "pool" or layer is torch.relu:
                if record is not None:
                    record.append(x)
                if base is None:
                    x = F.max_pool2d(x, 2) if layer == "pool" else torch.relu(x)
                elif layer == "pool":
                    x = MaxPoolRule.apply(x, base[i], 2)
                else:
                    x = Rescale.apply(x, base[i], torch.relu)
                i += 1
            else:
                x = layer(x)
        return self.fc(x.flatten(1))


class Mobile(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU())
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 1),
                                nn.Hardsigmoid())
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.dw(self.stem(x))
        x = x * self.se(x)
        return self.fc(x.mean(dim=(2, 3)))


class LnMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 10), nn.LayerNorm(10),
                                 nn.Tanh(), nn.Linear(10, 4))

    def forward(self, x):
        return self.net(x)


def third_party():
    torch.manual_seed(11)
    mobile, lnmlp = Mobile(), LnMlp()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for bn in (mobile.stem[1], mobile.dw[1]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        mobile.fc.weight.mul_(30)  # global averages move little: make the logits move
    xl = torch.randn(6, 12)
    for name, model, x, opset in [("mobile", mobile, torch.randn(6, 1, 8, 8), 13), ("lnmlp", lnmlp, xl, 13),
                                  ("lnmlp17", lnmlp, xl, 17)]:
        model.eval()
        torch.onnx.export(model, (x,), os.path.join(OUT, name + ".onnx"), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
        save(name, input=x)
    # The same network with each BatchNorm folded into the convolution before it (the exporter's
    # default in eval mode): RevealCancel must give the same maps on both.
    torch.onnx.export(mobile, (torch.zeros(6, 1, 8, 8),), os.path.join(OUT, "mobile_folded.onnx"), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)


def rescale_attr(model, x, x0):
    """DeepLIFT-Rescale through the custom Functions: multipliers times Δx."""
    base = []
    with torch.no_grad():
        model(x0, record=base)
        cls = model(x).argmax(1)
    xg = x.clone().requires_grad_(True)
    out = model(xg, base=base)
    out.gather(1, cls[:, None]).sum().backward()
    return (xg.grad * (x - x0)).detach()


def reveal_multipliers(f, z, z0, dzp, dzn):
    """RevealCancel's m+ and m- for y = f(z) given Δz+ and Δz-, and Rescale's m (the gradient
    where a step is too small to divide by)."""
    y, y0 = f(z), f(z0)
    fp, fn = f(z0 + dzp), f(z0 + dzn)
    dyp = 0.5 * (fp - y0) + 0.5 * (y - fn)
    dyn = 0.5 * (fn - y0) + 0.5 * (y - fp)
    zg = z.clone().requires_grad_(True)
    with torch.enable_grad():
        (fgrad,) = torch.autograd.grad(f(zg).sum(), zg)
    small = small_step(z, z0)
    mr = torch.where(small, fgrad, (y - y0) / torch.where(small, torch.ones_like(z), z - z0))
    safe = lambda d: torch.where(small_step(z, z - d), torch.ones_like(d), d)
    mp = torch.where(small_step(z, z - dzp), mr, dyp / safe(dzp))
    mn = torch.where(small_step(z, z - dzn), mr, dyn / safe(dzn))
    return mp, mn, mr


def reveal_cancel_attr(model, x, x0):
    """RevealCancel for a Linear/activation stack, layer by layer."""
    def run(inp):
        a, zs, ins = inp, [], []
        for i, lin in enumerate(model.lin):
            ins.append(a)
            a = lin(a)
            if i < len(model.acts):
                zs.append(a)
                a = model.acts[i](a)
        return a, zs, ins

    with torch.no_grad():
        out, zs, ins = run(x)
        _, zs0, ins0 = run(x0)
        cls = out.argmax(1)
        g = torch.zeros_like(out)
        g[torch.arange(len(cls)), cls] = 1
        m = g @ model.lin[-1].weight  # multiplier on the last activation
        for i in reversed(range(len(model.acts))):
            f, W = model.acts[i], model.lin[i].weight
            z, z0, a, a0 = zs[i], zs0[i], ins[i], ins0[i]
            da = a - a0
            dap, dan = da.clamp(min=0), da.clamp(max=0)
            Wp, Wn = W.clamp(min=0), W.clamp(max=0)
            dzp = dap @ Wp.T + dan @ Wn.T
            dzn = dap @ Wn.T + dan @ Wp.T
            mp, mn, mr = reveal_multipliers(f, z, z0, dzp, dzn)
            gp, gn = m * mp, m * mn
            pos = gp @ Wp + gn @ Wn
            neg = gp @ Wn + gn @ Wp
            zero = (m * mr) @ W
            m = torch.where(da > 0, pos, torch.where(da < 0, neg, zero))
        return m * (x - x0)


class ResMlp(nn.Module):
    """Residual Adds before the nonlinearities: one of an activation and a Linear, one of two
    Linears (a projection shortcut)."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3, self.ls = (nn.Linear(8, 8) for _ in range(4))
        self.l4 = nn.Linear(8, 3)

    def forward(self, x, base=None, record=None):
        def act(z, i):
            if record is not None:
                record.append(z)
            return torch.relu(z) if base is None else Rescale.apply(z, base[i], torch.relu)

        h1 = act(self.l1(x), 0)
        h2 = act(self.l2(h1) + h1, 1)
        h3 = act(self.l3(h2) + self.ls(x), 2)
        return self.l4(h3)


def resmlp_reveal_cancel(model, x, x0):
    """RevealCancel with residual Adds, layer by layer. The terms of z = u + v are those of each
    operand: a Linear's W_ij Δa_j (split by the signs of W and Δa), any other activation's own Δu
    split by sign (as kundajelab's deeplift splits a layer's input). Δz± sum the positive and the
    negative terms; each term then receives g m+ or g m- by its sign (Rescale's g Δy/Δz where it is
    0); a value read on several paths sums what each path gives it."""
    f = torch.relu

    def run(inp):
        v = {"x": inp}
        v["z1"] = model.l1(inp)
        v["h1"] = f(v["z1"])
        v["z2"] = model.l2(v["h1"]) + v["h1"]
        v["h2"] = f(v["z2"])
        v["z3"] = model.l3(v["h2"]) + model.ls(inp)
        v["h3"] = f(v["z3"])
        return model.l4(v["h3"]), v

    with torch.no_grad():
        out, v = run(x)
        _, v0 = run(x0)
        cls = out.argmax(1)
        g = torch.zeros_like(out)
        g[torch.arange(len(cls)), cls] = 1
        m = {k: torch.zeros_like(v[k]) for k in ("x", "h1", "h2")}
        m["h3"] = g @ model.l4.weight

        def nonlinearity(zk, yk, terms):
            z, z0 = v[zk], v0[zk]
            dzp, dzn = torch.zeros_like(z), torch.zeros_like(z)
            for t in terms:
                if t[0] == "lin":
                    W, a = t[1], t[2]
                    da = v[a] - v0[a]
                    dap, dan, Wp, Wn = da.clamp(min=0), da.clamp(max=0), W.clamp(min=0), W.clamp(max=0)
                    dzp += dap @ Wp.T + dan @ Wn.T
                    dzn += dap @ Wn.T + dan @ Wp.T
                else:
                    du = v[t[1]] - v0[t[1]]
                    dzp += du.clamp(min=0)
                    dzn += du.clamp(max=0)
            mp, mn, mr = reveal_multipliers(f, z, z0, dzp, dzn)
            gp, gn, gr = m[yk] * mp, m[yk] * mn, m[yk] * mr
            for t in terms:
                if t[0] == "lin":
                    W, a = t[1], t[2]
                    da = v[a] - v0[a]
                    Wp, Wn = W.clamp(min=0), W.clamp(max=0)
                    pos, neg, zero = gp @ Wp + gn @ Wn, gp @ Wn + gn @ Wp, gr @ W
                    m[a] += torch.where(da > 0, pos, torch.where(da < 0, neg, zero))
                else:
                    du = v[t[1]] - v0[t[1]]
                    m[t[1]] += torch.where(du > 0, gp, torch.where(du < 0, gn, gr))

        nonlinearity("z3", "h3", [("lin", model.l3.weight, "h2"), ("lin", model.ls.weight, "x")])
        nonlinearity("z2", "h2", [("lin", model.l2.weight, "h1"), ("sign", "h1")])
        nonlinearity("z1", "h1", [("lin", model.l1.weight, "x")])
        return m["x"] * (x - x0)


class ResBlock(nn.Module):
    """A ResNet basic block with a projection shortcut: Conv-BN-ReLU-Conv-BN + Conv-BN(x), Add,
    ReLU; then global average pooling and a Linear."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.c2, self.b2 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.cs, self.bs = nn.Conv2d(2, 4, 1, bias=False), nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = torch.relu(self.b2(self.c2(h)) + self.bs(self.cs(x)))
        return self.fc(h.mean((2, 3)))


def residual_reference():
    torch.manual_seed(17)
    model = ResMlp().eval()
    x = torch.randn(6, 8)
    export(model, x, "resmlp")
    x0 = (torch.randn_like(x) * 0.5).float()
    save("resmlp", input=x.float(), baseline=x0)
    m64 = model.double()
    rescale = rescale_attr(m64, x.double(), x0.double())
    reveal = resmlp_reveal_cancel(m64, x.double(), x0.double())
    save("resmlp", rescale=rescale, revealcancel=reveal)
    out = m64(x.double())
    cls = out.argmax(1)
    change = out.gather(1, cls[:, None])[:, 0] - m64(x0.double()).gather(1, cls[:, None])[:, 0]
    # resblock.onnx keeps its BatchNorms, resblock_folded.onnx has them folded (the exporter's
    # default in eval mode): RevealCancel through the residual Add must give the same maps on both.
    torch.manual_seed(19)
    block = ResBlock()
    with torch.no_grad():
        for bn in (block.b1, block.b2, block.bs):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        block.fc.weight.mul_(10)
    block.eval()
    xb = torch.randn(4, 2, 6, 6)
    for name, fold in (("resblock", False), ("resblock_folded", True)):
        torch.onnx.export(block, (xb,), os.path.join(OUT, name + ".onnx"), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
                          do_constant_folding=fold,
                          training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE)
    save("resblock", input=xb)
    print(f"resmlp: |revealcancel - rescale| max {float((reveal - rescale).abs().max()):.3g} of "
          f"max |map| {float(reveal.abs().max()):.3g}; summation error "
          f"{float((reveal.sum(1) - change).abs().max()):.3g}")


def export(model, x, name):
    torch.onnx.export(model, (x,), os.path.join(OUT, name + ".onnx"), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


def batchnorm_mlp():
    """bnmlp: Linear-BatchNorm1d-ReLU-Linear with the BatchNorm kept (a Gemm, then a
    BatchNormalization node); bnmlp_folded.onnx: the same function with the BatchNorm folded into
    the Linear by hand (W' = s W, b' = s (b - mean) + beta, s = gamma / sqrt(var + eps))."""
    torch.manual_seed(13)
    kept = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    bn = kept[1]
    folded = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(-1.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded[0].weight.copy_(s[:, None] * kept[0].weight)
        folded[0].bias.copy_(s * (kept[0].bias - bn.running_mean) + bn.bias)
        folded[2].load_state_dict(kept[3].state_dict())
    x = torch.randn(5, 6)
    for name, model in (("bnmlp", kept), ("bnmlp_folded", folded)):
        model.eval()
        torch.onnx.export(model, (x,), os.path.join(OUT, name + ".onnx"), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    save("bnmlp", input=x)


def save(name, **arrays):
    for k, v in arrays.items():
        np.save(os.path.join(OUT, f"{name}.{k}.npy"), v.detach().float().numpy() if torch.is_tensor(v) else v)


def torch_references():
    torch.manual_seed(7)
    mlp = Mlp([torch.relu, torch.relu], [16, 12, 8, 3])
    sigtanh = Mlp([torch.sigmoid, torch.tanh], [10, 8, 6, 3])
    cnn = Cnn()
    cases = [("mlp", mlp, torch.randn(5, 16), True), ("sigtanh", sigtanh, torch.randn(5, 10) * 2, True),
             ("cnn", cnn, torch.randn(4, 1, 8, 8), False)]
    for name, model, x, rc in cases:
        model.eval()
        export(model, x, name)
        x0 = torch.randn_like(x) * 0.5
        # float32 in the files; float64 for the reference computation from exactly those values
        x, x0 = x.float(), x0.float()
        save(name, input=x, baseline=x0)
        m64 = model.double()
        save(name, rescale=rescale_attr(m64, x.double(), x0.double()))
        if rc:
            save(name, revealcancel=reveal_cancel_attr(m64, x.double(), x0.double()))
        model.float()


def tiny_graph(name, nodes, inits, in_shape, out_shape, opset=14):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(np.asarray(v, np.float32 if v.dtype.kind == "f" else v.dtype), k)
                           for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def hand_graphs():
    ones = {"ones": np.ones((2, 1), np.float32)}
    attrs = {"LeakyRelu": {"alpha": 0.1}, "HardSigmoid": {"alpha": 0.2, "beta": 0.5}}
    for op in ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Exp", "Abs"]:
        nodes = [helper.make_node(op, ["x"], ["a"], **attrs.get(op, {})), helper.make_node("MatMul", ["a", "ones"], ["y"])]
        tiny_graph("unary_" + op, nodes, ones, ["N", 2], ["N", 1])
    tiny_graph("softmax", [helper.make_node("Softmax", ["x"], ["p"], axis=-1),
                           helper.make_node("MatMul", ["p", "first"], ["y"])],
               {"first": np.array([[1], [0]], np.float32)}, ["N", 2], ["N", 1])
    tiny_graph("maxpool", [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[1, 2]),
                           helper.make_node("Flatten", ["p"], ["y"])], {}, ["N", 1, 1, 2], ["N", 1])
    i64 = lambda v: np.array(v, np.int64)
    tiny_graph("product", [helper.make_node("Slice", ["x", "s0", "e0", "ax"], ["a"]),
                           helper.make_node("Slice", ["x", "s1", "e1", "ax"], ["b"]),
                           helper.make_node("Mul", ["a", "b"], ["y"])],
               {"s0": i64([0]), "e0": i64([1]), "s1": i64([1]), "e1": i64([2]), "ax": i64([1])}, ["N", 2], ["N", 1])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch_references()
    third_party()
    batchnorm_mlp()
    residual_reference()
    hand_graphs()
