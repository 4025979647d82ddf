"""Writes safetensors files from numpy arrays or torch tensors exactly as the reference writer
lays them out (used by the fixture scripts; no safetensors package in Debian 12)."""
import json
import os
import struct

import numpy as np

ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
NUMPY = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
         np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
         np.dtype(np.bool_): "BOOL"}


def _raw(t):
    """(dtype name, shape, bytes) of a numpy array or torch tensor."""
    try:
        import torch
        if isinstance(t, torch.Tensor):
            t = t.detach().contiguous().cpu()
            if t.dtype == torch.bfloat16:
                return "BF16", list(t.shape), t.view(torch.int16).numpy().tobytes()
            t = t.numpy()
    except ImportError:
        pass
    a = np.ascontiguousarray(t)
    return NUMPY[a.dtype], list(a.shape), a.astype(a.dtype.newbyteorder("<")).tobytes()


def save(path, tensors, metadata=None):
    items = [(name,) + _raw(t) for name, t in tensors.items()]
    items.sort(key=lambda x: (-ORDER.index(x[1]), x[0]))
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, dt, shape, raw in items:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for item in items:
            f.write(item[3])
    os.replace(path + ".tmp", path)
