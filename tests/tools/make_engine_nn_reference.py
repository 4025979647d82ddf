#!/usr/bin/python3
"""Writes tests/data/engine/nn_stack.onnx and nn_stack.json: a small Conv / BatchNorm / pooling /
Gemm network exported by torch 1.13 (opset 17), with an input batch and what torch computes for
it, so that the engine's convolution, normalisation, pooling and linear kernels are checked
against the real tool. Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx)."""
import json
import os

import onnx
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "engine")


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 13 -> 6 (ceil)
        self.dw = nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=8, bias=False)  # depthwise x2
        self.bn2 = nn.BatchNorm2d(16)
        self.up = nn.ConvTranspose2d(16, 4, 3, stride=2, padding=1, output_padding=1)  # 6 -> 12
        self.conv3 = nn.Conv3d(1, 2, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.bn3 = nn.BatchNorm2d(4, eps=1e-3)
        self.norm = nn.LayerNorm(2 * 3 * 6 * 6)
        self.fc = nn.Linear(2 * 3 * 6 * 6, 10)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool1(x)
        x = torch.relu(self.bn2(self.dw(x)))
        u = self.up(x)                                        # [N, 4, 12, 12]
        pooled = self.bn3(self.pool2(u))                      # [N, 4, 6, 6]; not folded into a Conv
        v = self.conv3(u.unsqueeze(1)).flatten(1)             # [N, 2 * 3 * 6 * 6]
        log_probs = torch.log_softmax(self.fc(self.norm(v)), dim=1)
        gap = self.gap(pooled).flatten(1)                     # [N, 4]
        probs = torch.softmax(gap * 3 + pooled.mean(dim=(2, 3)), dim=-1)
        return log_probs, pooled, probs


def main():
    torch.manual_seed(7)
    m = Stack().eval()
    # Non-trivial running statistics, as a trained network has. torch folds bn1 and bn2 into the
    # convolutions before them when it exports; bn3 stays a BatchNormalization node.
    for bn in (m.bn1, m.bn2, m.bn3):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 13, 13)
    with torch.no_grad():
        outs = m(x)
    names = ["log_probs", "pooled", "probs"]
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "nn_stack.onnx")
    torch.onnx.export(m, (x,), path, opset_version=17, input_names=["x"], output_names=names,
                      do_constant_folding=True)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    ref = {"operators": ops, "x": {"shape": list(x.shape), "values": x.flatten().tolist()}}
    for name, t in zip(names, outs):
        ref[name] = {"shape": list(t.shape), "values": t.flatten().tolist()}
    with open(os.path.join(OUT, "nn_stack.json"), "w") as f:
        json.dump(ref, f)
    print(path, ops, os.path.getsize(path))


if __name__ == "__main__":
    main()
