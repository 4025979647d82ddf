#!/usr/bin/python3
"""An independent safetensors reader in numpy, written from the spec, used by the tests to check
that ParamScope's writer output is readable by other tools. Validates like the reference
implementation (header size, offsets tiling the buffer) and prints, as JSON, each tensor's numpy
dtype, shape and float64 sum. Exit 2 on a malformed file, 3 when numpy is missing."""
import json
import struct
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(3)

NUMPY = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16, "I32": np.int32,
         "U32": np.uint32, "I64": np.int64, "U64": np.uint64, "F16": np.float16, "F32": np.float32, "F64": np.float64}


def main(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        sys.exit("bad header size")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    out, end = {}, 0
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"])
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != end:
            sys.exit(f"{name}: offsets do not tile the buffer")
        end = e
        raw = buf[b:e]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr, dt = u.view(np.float32), "bfloat16"
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(NUMPY[info["dtype"]]).newbyteorder("<"))
            dt = str(arr.dtype)
        arr = arr.reshape(info["shape"])
        out[name] = {"dtype": dt, "shape": list(arr.shape), "sum": float(arr.astype(np.float64).sum())}
    if end != len(buf):
        sys.exit("trailing bytes")
    out["__metadata__"] = header.get("__metadata__", {})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
