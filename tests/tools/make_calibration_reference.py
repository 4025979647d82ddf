#!/usr/bin/python3
"""Writes tests/data/engine/calibration/: what `paramscope-cli calibrate` must produce on the digits
sample (resources/samples/digits-cnn/model.onnx, the first 32 samples of calibration.npz),
computed here by torch 1.13's autograd on the ONNX model's own initializers, with the graph run by
a small interpreter of its five operators (Conv, Relu, MaxPool, Flatten, Gemm) in torch.functional:

  digits_b1.safetensors          batch 1, the given labels: <w>@act_l2, <w>@grad, <w>@grad_sq
                                 (samples = 32); F.cross_entropy's mean per batch
  digits_b4_predicted.safetensors batch 4, labels = the model's own argmax (samples = 8 batches),
                                 without classifier.1.weight (to keep the fixture small)

  digits_png/<label>/<n>.png     the first 60 images of digits-cnn/test.npz as 8-bit grey PNGs
                                 (pixel = 16 * x, so --scale 0.0625 gives x back exactly) in
                                 class folders; expected.json: torch's accuracy on them

Layout as docs/statistics.md: act_l2 of a Conv weight (group 1) is [in channels], summed over
batch and positions; of a Gemm weight with transB = 1 is [in features].
Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx)."""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "engine", "calibration")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def run(graph, weights, x, act):
    """The graph in torch; act[w] accumulates the squared input features of the node reading w."""
    v = {graph.input[0].name: x}
    v.update(weights)
    for n in graph.node:
        a = attrs(n)
        i = [v[name] for name in n.input]
        if n.op_type == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3] and a.get("group", 1) == 1
            act[n.input[1]] = act.get(n.input[1], 0) + i[0].detach().pow(2).sum(dim=(0, 2, 3))
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a.get("strides", [1, 1]),
                         padding=(p[0], p[1]), dilation=a.get("dilations", [1, 1]))
        elif n.op_type == "Relu":
            y = torch.relu(i[0])
        elif n.op_type == "MaxPool":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (p[0], p[1]))
        elif n.op_type == "Flatten":
            y = i[0].flatten(a.get("axis", 1))
        elif n.op_type == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("transA", 0) == 0
            act[n.input[1]] = act.get(n.input[1], 0) + i[0].detach().pow(2).sum(dim=0)
            y = a.get("alpha", 1.0) * i[0] @ i[1].T + a.get("beta", 1.0) * i[2]
        else:
            raise SystemExit("unexpected operator " + n.op_type)
        v[n.output[0]] = y
    return v[graph.output[0].name]


def gather(graph, inits, x, y, batch, predicted, skip=()):
    weights = {k: torch.tensor(w, requires_grad=True) for k, w in inits.items()}
    act, s, q = {}, {}, {}
    for b in range(0, len(x), batch):
        logits = run(graph, weights, x[b:b + batch], act)
        labels = logits.argmax(1) if predicted else y[b:b + batch]
        loss = F.cross_entropy(logits, labels)
        for w in weights.values():
            w.grad = None
        loss.backward()
        for k, w in weights.items():
            s[k] = s.get(k, 0) + w.grad.double()
            q[k] = q.get(k, 0) + w.grad.double() ** 2
    out = {}
    for k in weights:
        if k in skip:
            continue
        if k in act:
            out[k + "@act_l2"] = act[k].double().sqrt().float()
        out[k + "@grad"] = s[k].float()
        out[k + "@grad_sq"] = q[k].float()
    return out, (len(x) + batch - 1) // batch


def digits_png(graph, inits):
    from PIL import Image
    import json
    import shutil
    test = np.load(os.path.join(ROOT, "resources", "samples", "digits-cnn", "test.npz"))
    x, y = test["x"][:60], test["labels"][:60]
    root = os.path.join(OUT, "digits_png")
    shutil.rmtree(root, ignore_errors=True)
    for n, (img, label) in enumerate(zip(x, y)):
        os.makedirs(os.path.join(root, str(label)), exist_ok=True)
        Image.fromarray((img[0] * 16).round().astype(np.uint8), "L").save(os.path.join(root, str(label), f"{n:02d}.png"))
    weights = {k: torch.tensor(w) for k, w in inits.items()}
    with torch.no_grad():
        pred = run(graph, weights, torch.tensor(x), {}).argmax(1).numpy()
    correct = int((pred == y).sum())
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump({"images": len(y), "correct": correct, "accuracy": correct / len(y)}, f)
        f.write("\n")
    print("digits_png", correct, "of", len(y))


def main():
    os.makedirs(OUT, exist_ok=True)
    model = onnx.load(os.path.join(ROOT, "resources", "samples", "digits-cnn", "model.onnx"))
    inits = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    data = np.load(os.path.join(ROOT, "resources", "samples", "digits-cnn", "calibration.npz"))
    x, y = torch.tensor(data["x"][:32]), torch.tensor(data["labels"][:32])
    stats, n = gather(model.graph, inits, x, y, 1, False)
    safetensors_io.save(os.path.join(OUT, "digits_b1.safetensors"), stats, {"samples": str(n)})
    stats, n = gather(model.graph, inits, x, y, 4, True, skip=("classifier.1.weight",))
    safetensors_io.save(os.path.join(OUT, "digits_b4_predicted.safetensors"), stats, {"samples": str(n)})
    print(sorted(stats), n)
    digits_png(model.graph, inits)


if __name__ == "__main__":
    main()
