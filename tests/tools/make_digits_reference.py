#!/usr/bin/python3
"""Writes tests/data/engine/digits_logits.npy: the logits torch computes for the bundled digits
CNN (resources/samples/digits-cnn/model.pt) on its inputs.npy, the reference for the engine's
end-to-end run of model.onnx. Run with Debian's /usr/bin/python3 (python3-torch)."""
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "resources", "samples", "digits-cnn")
sys.path.insert(0, os.path.join(ROOT, "resources", "samples"))

from make_samples import DigitsCNN  # noqa: E402  (the class the sample was trained with)


def main():
    model = DigitsCNN()
    model.load_state_dict(torch.load(os.path.join(SAMPLE, "model.pt")))
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(SAMPLE, "inputs.npy")))
    with torch.no_grad():
        logits = model(x).numpy()
    labels = np.load(os.path.join(SAMPLE, "labels.npy"))
    np.save(os.path.join(ROOT, "tests", "data", "engine", "digits_logits.npy"), logits)
    print("accuracy on the 16 inputs:", (logits.argmax(1) == labels).mean())


if __name__ == "__main__":
    main()
