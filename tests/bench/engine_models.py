#!/usr/bin/python3
"""The models of the execution-engine benchmark (run_benchmarks.py --only engine), written to a
folder at benchmark time. Run with Debian's python3-torch and python3-onnx:

  engine_models.py OUT_DIR

For each model OUT_DIR gets NAME.onnx (what ParamScope's engine runs) and NAME.pt (the state dict
of the torch module that was exported, so that torch_engine.py runs exactly the exported model
with the same weights), and models.json lists them:

  digits-cnn          the bundled sample (resources/samples/digits-cnn: model.onnx, model.pt,
                      make_samples.DigitsCNN), opset 13, input [batch, 1, 8, 8]
  digits-transformer  the bundled sample (resources/samples/digits-transformer: model.onnx,
                      model.safetensors, make_samples.DigitsTransformer: 2 pre-norm layers, d = 32,
                      4 heads, the 8 rows of an 8x8 digit as tokens, GELU MLP, mean-pool), opset 17
  mbv2                a MobileNetV2-shaped CNN (inverted residuals, depthwise 3x3, ReLU6;
                      3.5 M parameters), seeded, untrained, random BatchNorm statistics,
                      input [batch, 3, 224, 224], opset 13

The exporter folds each eval-mode BatchNorm into the convolution before it, so the ONNX graphs
have no BatchNormalization node while the torch modules still run theirs.

Also importable: torch_module(folder, name) returns the eval-mode torch module of a model the
folder holds.
"""
import json
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "resources", "samples")
sys.path.insert(0, SAMPLES)
import make_samples  # noqa: E402  (DigitsCNN, DigitsTransformer, load_safetensors)


# ----------------------------------------------------------------------------- MobileNetV2
def conv_bn_relu6(cin, cout, k, stride, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU6()]


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        h = cin * expand
        layers = conv_bn_relu6(cin, h, 1, 1) if expand != 1 else []
        layers += conv_bn_relu6(h, h, 3, stride, h) + [nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.b = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.b(x) if self.residual else self.b(x)


class MBV2(nn.Module):
    """MobileNetV2 (width 1.0) without torchvision: 3.5 M parameters, 1000 classes."""

    def __init__(self):
        super().__init__()
        layers, c = conv_bn_relu6(3, 32, 3, 2), 32
        for t, cout, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                              (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                layers.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
                c = cout
        layers += conv_bn_relu6(c, 1280, 1, 1)
        self.f = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.f(x), 1).flatten(1))


# ----------------------------------------------------------------------------- the folder
CLASSES = {"DigitsCNN": make_samples.DigitsCNN, "DigitsTransformer": make_samples.DigitsTransformer, "MBV2": MBV2}


def torch_module(folder, name):
    with open(os.path.join(folder, "models.json")) as f:
        info = json.load(f)[name]
    m = CLASSES[info["class"]]()
    m.load_state_dict(torch.load(os.path.join(folder, name + ".pt")))
    return m.eval()


def export(model, path, input_shape, opset):
    torch.onnx.export(model, torch.zeros(1, *input_shape), path, opset_version=opset, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {}
    cnn = os.path.join(SAMPLES, "digits-cnn")
    shutil.copyfile(os.path.join(cnn, "model.onnx"), os.path.join(out, "digits-cnn.onnx"))
    shutil.copyfile(os.path.join(cnn, "model.pt"), os.path.join(out, "digits-cnn.pt"))
    models["digits-cnn"] = {"class": "DigitsCNN", "input_shape": [1, 8, 8], "source": "resources/samples/digits-cnn"}

    sample = os.path.join(SAMPLES, "digits-transformer")
    shutil.copyfile(os.path.join(sample, "model.onnx"), os.path.join(out, "digits-transformer.onnx"))
    # A state dict as torch.save writes it, so that every model loads the same way.
    torch.save(make_samples.load_safetensors(os.path.join(sample, "model.safetensors")),
               os.path.join(out, "digits-transformer.pt"))
    models["digits-transformer"] = {"class": "DigitsTransformer", "input_shape": [1, 8, 8],
                                    "source": "resources/samples/digits-transformer"}

    torch.manual_seed(0)
    m = MBV2().eval()
    with torch.no_grad():
        for mod in m.modules():  # statistics away from the identity, so folding them matters
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    torch.save(m.state_dict(), os.path.join(out, "mbv2.pt"))
    export(m, os.path.join(out, "mbv2.onnx"), [3, 224, 224], 13)
    models["mbv2"] = {"class": "MBV2", "input_shape": [3, 224, 224], "source": "tests/bench/engine_models.py (untrained)"}

    write_json(os.path.join(out, "models.json"), models)
    for name, info in models.items():  # counted on the modules as torch_engine.py loads them
        info["parameters"] = sum(p.numel() for p in torch_module(out, name).parameters())
    write_json(os.path.join(out, "models.json"), models)
    for name, info in models.items():
        print(f"{name}: {info['parameters']} parameters, from {info['source']}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
