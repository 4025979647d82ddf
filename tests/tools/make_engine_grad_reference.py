#!/usr/bin/python3
"""Writes tests/data/engine/grads/: gradients computed by torch 1.13's autograd for two models
exported to ONNX, so that the engine's reverse mode is checked against the real tool.

  nn_stack      tests/data/engine/nn_stack.onnx (Conv / BatchNorm / pooling / ConvTranspose /
                Conv3d / LayerNorm / Gemm / Softmax; made by make_engine_nn_reference.py)
  tiny_mlp      y = Gemm(Relu(Gemm(x, W1)), W2) with hand-picked weights (W1 = [[1, 3], [2, 1]],
                W2 = [[1, -1]], no biases) for hand-checked gradients and hooks
  attention     a pre-norm transformer block with causal self-attention, GELU MLP and a mean-pooled
                classifier head, exported here (opset 17) as attention.onnx

For each: <name>.input.npy, <name>.seed<k>.npy (dL/d(output k), pseudo-random), and
<name>.grads.npz holding dL/d(input) under the input's name and dL/d(initializer) for every
initializer that is one of torch's parameters (or its transpose, as torch exports nn.Linear on
3-D inputs as MatMul with a transposed weight). Initializers torch computed during export
(BatchNorm folded into a Conv) have no torch parameter and are left out.
Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx)."""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "engine", "grads")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Attention(nn.Module):
    def __init__(self, d=16, heads=2, classes=5):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        split = lambda z: z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        att = q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        att = torch.softmax(att.masked_fill(causal, -1e9), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))
        return self.head(x.mean(dim=1))


def reference(name, model, onnx_path, x):
    """Runs model on x, seeds each output, backpropagates and writes the files."""
    x = x.clone().requires_grad_(True)
    outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs,)
    g = torch.Generator().manual_seed(11)
    loss = 0
    for k, o in enumerate(outs):
        seed = torch.rand(o.shape, generator=g) * 2 - 1
        np.save(os.path.join(OUT, f"{name}.seed{k}.npy"), seed.numpy().astype(np.float32))
        loss = loss + (seed * o).sum()
    model.zero_grad()
    loss.backward()
    graph = onnx.load(onnx_path).graph
    input_name = graph.input[0].name
    grads = {input_name: x.grad.numpy()}
    params = dict(model.named_parameters())
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        for p in params.values():
            pv = p.detach().numpy()
            if pv.shape == w.shape and np.array_equal(pv, w):
                grads[init.name] = p.grad.numpy()
                break
            if pv.ndim == 2 and pv.T.shape == w.shape and np.array_equal(pv.T, w):
                grads[init.name] = p.grad.numpy().T.copy()
                break
    np.save(os.path.join(OUT, f"{name}.input.npy"), x.detach().numpy())
    np.savez(os.path.join(OUT, f"{name}.grads.npz"), **grads)
    print(name, "outputs", [tuple(o.shape) for o in outs], "gradients of", sorted(grads))


def tiny_mlp():
    from onnx import TensorProto, helper
    w1 = numpy_helper.from_array(np.array([[1, 3], [2, 1]], np.float32), "W1")
    w2 = numpy_helper.from_array(np.array([[1, -1]], np.float32), "W2")
    nodes = [helper.make_node("Gemm", ["x", "W1"], ["z"], name="fc1", transB=1),
             helper.make_node("Relu", ["z"], ["h"], name="relu"),
             helper.make_node("Gemm", ["h", "W2"], ["y"], name="fc2", transB=1)]
    g = helper.make_graph(nodes, "tiny_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "tiny_mlp.onnx"))


def main():
    os.makedirs(OUT, exist_ok=True)
    tiny_mlp()
    # nn_stack: rebuild the exact model make_engine_nn_reference.py exported.
    import make_engine_nn_reference as nnref
    torch.manual_seed(7)
    stack = nnref.Stack().eval()
    for bn in (stack.bn1, stack.bn2, stack.bn3):  # as make_engine_nn_reference.py, same RNG sequence
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    reference("nn_stack", stack, os.path.join(ROOT, "tests", "data", "engine", "nn_stack.onnx"),
              torch.rand(2, 3, 13, 13, generator=torch.Generator().manual_seed(3)) * 2 - 1)

    torch.manual_seed(5)
    att = Attention().eval()
    with torch.no_grad():  # distinct LayerNorm parameters, or the exporter shares equal initializers
        for ln in (att.ln1, att.ln2):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.2, 0.2)
    path = os.path.join(OUT, "attention.onnx")
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(4))
    torch.onnx.export(att, x, path + ".tmp", input_names=["x"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(path + ".tmp", path)
    reference("attention", att, path, x)


if __name__ == "__main__":
    main()
