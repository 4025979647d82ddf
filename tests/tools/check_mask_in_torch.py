#!/usr/bin/python3
"""Shows that a ParamScope mask opens in PyTorch: loads MASK.safetensors the way
safetensors.torch does (json header, torch.frombuffer with the dtype, reshape; the `safetensors`
package is not in Debian 12), finds each masked tensor's weight among the *.safetensors files of
CHECKPOINT_DIR, prunes a module holding it with torch.nn.utils.prune.custom_from_mask and prints
per tensor {kept, total, density, pruned_matches} plus the mask's __metadata__ as JSON.

Usage: /usr/bin/python3 tests/tools/check_mask_in_torch.py MASK.safetensors CHECKPOINT_DIR
Exit status 3 when torch cannot be imported (the caller skips), 1 on any mismatch or bad file.
"""
import glob
import json
import os
import struct
import sys

try:
    import torch
    import torch.nn.utils.prune as prune
except ImportError:
    sys.exit(3)

DTYPES = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "I32": torch.int32,
          "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
          "F64": torch.float64}


def load(path):
    """{name: tensor}, metadata: as safetensors.torch.load_file, from the spec."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])  # writable copy for frombuffer
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out, metadata


def holder(weight):
    """An nn.Linear for 2-D weights (the usual case), else a module with one `weight` parameter."""
    if weight.dim() == 2:
        m = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    else:
        m = torch.nn.Module()
        m.weight = torch.nn.Parameter(torch.empty(weight.shape))
    with torch.no_grad():
        m.weight.copy_(weight.float())
    return m


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    masks, metadata = load(sys.argv[1])
    weights = {}
    for f in sorted(glob.glob(os.path.join(sys.argv[2], "*.safetensors"))):
        weights.update(load(f)[0])
    report = {"__metadata__": metadata}
    for name, mask in masks.items():
        if mask.dtype not in (torch.bool, torch.uint8):
            print(f"{name}: mask dtype {mask.dtype} is not bool/uint8", file=sys.stderr)
            return 1
        if name not in weights or tuple(weights[name].shape) != tuple(mask.shape):
            print(f"{name}: no weight of shape {list(mask.shape)} in {sys.argv[2]}", file=sys.stderr)
            return 1
        m = holder(weights[name])
        prune.custom_from_mask(m, "weight", mask=mask.bool())
        kept = int(m.weight_mask.sum().item())
        total = mask.numel()
        matches = bool(torch.equal(m.weight, m.weight_orig * m.weight_mask))
        report[name] = {"kept": kept, "total": total, "density": kept / total if total else 0.0,
                        "pruned_matches": matches}
    json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
