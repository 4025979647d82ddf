#!/usr/bin/python3
"""Writes the PyTorch reader's fixtures to tests/data/pytorch/ and their expected contents to
tests/data/pytorch/expected.json.

Run with Debian's interpreter (it has python3-torch 1.13):  /usr/bin/python3 tests/tools/make_pytorch_fixtures.py

Every file except three is written by the real torch.save, and every file torch 1.13 can read is
loaded back with torch.load and compared with what was saved. The exceptions are hand-made because
torch 1.13 cannot write them: bigendian.pt (a "byteorder" record says "big"; newer torch writes that
record on big-endian machines), v3_dtypes.pt (float8/uint16 tensors, which newer torch saves with
torch._utils._rebuild_tensor_v3 and an UntypedStorage) and zip64_full.pt (ZIP64 fields in the
central directory, which Python's zipfile writes only for entries over 2 GiB; torch.load checks it).

expected.json lists, per fixture, the model tensors in the order the reader must report them (name,
dtype, shape, role, numel, sum of all values as float64, first values) and the optimizer tensors,
plus metadata entries that must be present.
"""
import argparse
import collections
import io
import pathlib
import json
import pickle
import struct
import sys
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

OUT = Path(__file__).resolve().parents[1] / "data" / "pytorch"

DTYPE_NAMES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


class TinyNet(nn.Module):
    """Pickled whole, as __main__.TinyNet: a class the reader cannot know."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 3)
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2, bias=False)])
        self.norm = nn.BatchNorm1d(2)
        self.register_buffer("scale", torch.tensor([0.5, 2.0]))
        self.register_buffer("cache", torch.zeros(3), persistent=False)  # not in state_dict()
        self.register_parameter("unused", None)  # None entries are skipped by state_dict()
        self.aux = None  # a None submodule


class ScriptNet(nn.Module):
    """Saved with torch.jit.save: a TorchScript archive, whose data.pkl holds __torch__ objects."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)

    def forward(self, x):
        return self.bn(self.fc(x))


def tensor_entry(name, t, role="parameter"):
    flat = t.detach().contiguous().reshape(-1)
    return {
        "name": name,
        "dtype": DTYPE_NAMES[t.dtype],
        "shape": list(t.shape),
        "role": role,
        "numel": t.numel(),
        "sum": float(flat.double().sum()) if t.numel() else 0.0,
        "first": [float(v) for v in flat[:6].float()],
    }


def state_dict_entries(sd, module=None):
    """Tensors of a state dict. A state dict cannot tell buffers from parameters (the reader says
    "parameter"); a pickled module can, so roles come from the module when it is the one saved."""
    buffers = {n for n, _ in module.named_buffers()} if module is not None else set()
    return [tensor_entry(k, v, "buffer" if k in buffers else "parameter") for k, v in sd.items()]


def optimizer_entries(prefix, opt_sd):
    out = []
    for pid, st in opt_sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                out.append(tensor_entry(f"{prefix}.state.{pid}.{k}", v, "optimizer"))
    return out


def write_json(path, obj):
    """Indented down to the fixture level, one tensor per line: readable and small."""
    def compact(o, depth):
        if depth >= 4 or not isinstance(o, (dict, list)) or not o:
            return json.dumps(o)
        pad = "  " * (depth + 1)
        if isinstance(o, dict):
            body = ",\n".join(f"{pad}{json.dumps(k)}: {compact(v, depth + 1)}" for k, v in o.items())
            return "{\n" + body + "\n" + "  " * depth + "}"
        body = ",\n".join(pad + compact(v, depth + 1) for v in o)
        return "[\n" + body + "\n" + "  " * depth + "]"
    path.write_text(compact(obj, 0) + "\n")


def check_same(a, b, path="root"):
    """torch.load(file) must give back what was saved."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, path
        if a.is_sparse:
            a, b = a.to_dense(), b.to_dense()
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), path
        for k in a:
            check_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            check_same(x, y, f"{path}.{i}")
    elif isinstance(a, nn.Module):
        check_same(a.state_dict(), b.state_dict(), path)
    else:
        assert a == b, path


def save(obj, name, **kw):
    path = OUT / name
    torch.save(obj, path, **kw)
    check_same(obj, torch.load(path))
    return path


def conv_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def rewrite_zip(src, dst, compression=zipfile.ZIP_STORED, force_zip64=False, edit=None, extra=None):
    """Copies a torch.save zip entry by entry (optionally deflating, forcing ZIP64 local headers,
    editing entries, adding entries)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if edit:
                data = edit(info.filename, data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = compression
            with zout.open(zi, "w", force_zip64=force_zip64) as f:
                f.write(data)
        for name, data in (extra or {}).items():
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zout.writestr(zi, data)


def write_zip64_full(entries, dst):
    """A STORED zip whose central directory keeps every size and offset in ZIP64 extra fields
    (0xFFFFFFFF in the 32-bit fields), with a ZIP64 end record and locator."""
    out = io.BytesIO()
    central = []
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data)
        offset = out.tell()
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                              len(nb), len(local_extra)))
        out.write(nb + local_extra + data)
        central.append((nb, crc, len(data), offset))
    cd_start = out.tell()
    for nb, crc, size, offset in central:
        extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                              0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF))
        out.write(nb + extra)
    cd_end = out.tell()
    n = len(central)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_end - cd_start, cd_start))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, cd_end, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    dst.write_bytes(out.getvalue())


# --- Hand-made _rebuild_tensor_v3 pickles (float8, uint16), as torch >= 2.1 writes them. --------

class FakeGlobal:
    """Pickles as a reference to a global torch 1.13 does not have (torch.float8_e4m3fn, ...)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __reduce__(self):
        return self.name

    def __call__(self, *args):  # pickle only accepts callables as the first item of a reduce tuple
        raise NotImplementedError


def fake_global(module_name, name):
    cls = type("Fake_" + name, (FakeGlobal,), {"__module__": module_name})
    obj = cls(module_name, name)
    setattr(sys.modules[module_name], name, obj)  # pickle checks the name resolves to the object
    return obj


class RawStorage:
    def __init__(self, storage_type, key, numel, data):
        self.storage_type, self.key, self.numel, self.data = storage_type, key, numel, data


class RawTensor:
    def __init__(self, rebuild, args):
        self.rebuild, self.args = rebuild, args

    def __reduce__(self):
        return (self.rebuild, self.args)


class RawPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, RawStorage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def write_raw_torch_zip(path, obj, storages, prefix, byteorder=None):
    buf = io.BytesIO()
    RawPickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", buf.getvalue())
        if byteorder:
            z.writestr(f"{prefix}/byteorder", byteorder)
        for s in storages:
            z.writestr(f"{prefix}/data/{s.key}", s.data)
        z.writestr(f"{prefix}/version", "3\n")


def f8_e4m3fn(v):
    """Encodes a value exactly representable in OCP float8 E4M3FN (bias 7)."""
    if v == 0:
        return 0
    sign = 0x80 if v < 0 else 0
    m, e = np.frexp(abs(v))  # v = m * 2**e, 0.5 <= m < 1
    exp = int(e) - 1 + 7
    mant = int(round((m * 2 - 1) * 8))
    assert 1 <= exp <= 15 and 0 <= mant < 8 and (m * 2 - 1) * 8 == mant, v
    return sign | (exp << 3) | mant


def f8_e5m2(v):
    """Encodes a value exactly representable in float8 E5M2 (bias 15): the top byte of its float16."""
    h = np.array([v], dtype=np.float16).view(np.uint16)[0]
    assert float(np.array([h & 0xFF00], dtype=np.uint16).view(np.float16)[0]) == v, v
    return int(h) >> 8


def raw_entry(name, dtype_name, shape, values):
    flat = list(values)
    return {"name": name, "dtype": dtype_name, "shape": shape, "role": "parameter", "numel": len(flat),
            "sum": float(sum(flat)), "first": [float(v) for v in flat[:6]]}


# --- Plain pickles for the unpickler's opcode tests (tests/data/pytorch/pickles.json) -----------

def canon(v, seen=()):
    """The text test_pytorch_unpickler.cpp prints for the Value the reader builds."""
    if v is None or v is True or v is False:
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return "s:" + v
    if isinstance(v, (bytes, bytearray)):
        return "b:" + bytes(v).hex()
    if id(v) in seen:
        return "<cycle>"
    seen = seen + (id(v),)
    if isinstance(v, list):
        return "[" + ", ".join(canon(x, seen) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(canon(x, seen) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(canon(k, seen) + ": " + canon(x, seen) for k, x in v.items()) + "}"
    if isinstance(v, (set, frozenset)):
        return "set(" + ", ".join(canon(x, seen) for x in v) + ")"
    raise TypeError(type(v))


def canon_big(v, protocol):
    """Integers beyond 64 bits: the reader keeps protocol 0/1 digits, and LONG1/LONG4 bytes."""
    if protocol >= 2:
        return "bigint:" + pickle.encode_long(v).hex()
    return str(v)


def pickle_vectors():
    shared = [1, 2]
    cyclic_list = [1]
    cyclic_list.append(cyclic_list)
    cyclic_dict = {"name": "d"}
    cyclic_dict["self"] = cyclic_dict
    objects = {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63 - 1, -2**63],
        "floats": [3.5, -0.0, 1e-05, 1e16, 0.1, float("inf"), float("-inf"), -2.5e-300],
        "constants": (True, False, None),
        "strings": ["", "hello", "\u00fcn\u00efc\u00f8d\u00e9 \u2713 \U0001f600", "quote'\"\\\n\t\r", "a" * 300],
        "bytes": [b"", b"\x00\xff abc", bytes(range(256)), bytearray(b"xyz")],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((1,), [2])],
        "dicts": [{}, {"a": 1, "b": [1, 2]}, {1: "x", (1, 2): "y", None: 2.5}],
        "ordered": collections.OrderedDict([("x", 1), ("y", collections.OrderedDict([("z", 2)]))]),
        "sets": [set(), {1, 2, 3}, frozenset({"a"})],
        "shared": [shared, shared, (shared,)],
        "cyclic_list": cyclic_list,
        "cyclic_dict": cyclic_dict,
        "nested": [1, [2, [3, [4, [5, []]]]]],
    }
    vectors = []
    for protocol in range(6):
        for name, obj in objects.items():
            data = pickle.dumps(obj, protocol=protocol)
            vectors.append({"name": f"{name} protocol {protocol}", "hex": data.hex(), "repr": canon(obj)})
        for big in (2**64, -2**70 - 3, 2**200):
            data = pickle.dumps(big, protocol=protocol)
            vectors.append({"name": f"bigint {big} protocol {protocol}", "hex": data.hex(),
                            "repr": canon_big(big, protocol)})
    for protocol in (2, 4):  # APPENDS / SETITEMS batches of 1000, FRAMEs
        long_list = list(range(1001))
        long_dict = {i: -i for i in range(1001)}
        vectors.append({"name": f"long list protocol {protocol}", "hex": pickle.dumps(long_list, protocol).hex(),
                        "repr": canon(long_list)})
        vectors.append({"name": f"long dict protocol {protocol}", "hex": pickle.dumps(long_dict, protocol).hex(),
                        "repr": canon(long_dict)})
    for v in vectors:  # the vectors must mean what canon says
        obj = pickle.loads(bytes.fromhex(v["hex"]))
        if not v["name"].startswith("bigint"):
            assert canon(obj) == v["repr"], v["name"]
    return vectors


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.is_file():
            old.unlink()
    (OUT / "sharded").mkdir(exist_ok=True)
    for old in (OUT / "sharded").iterdir():
        old.unlink()
    torch.manual_seed(0)
    fixtures = []

    # 1. state_dict of a small conv + linear model (float32), written by torch.save (zip).
    model = conv_model()
    model(torch.randn(2, 1, 4, 4))  # BatchNorm running stats move away from 0/1
    sd = model.state_dict()
    save(sd, "state_dict_f32.pt")
    fixtures.append({"file": "state_dict_f32.pt", "format": "pytorch", "tensors": state_dict_entries(sd),
                     "metadata": {}})

    # Same state dict with pickle protocols 1 and 4 (old opcodes; FRAME, MEMOIZE, STACK_GLOBAL).
    for proto in (1, 4):
        name = f"state_dict_proto{proto}.pt"
        save(sd, name, pickle_protocol=proto)
        fixtures.append({"file": name, "format": "pytorch", "tensors": state_dict_entries(sd), "metadata": {}})

    # 2. Other dtypes, a 0-d and an empty tensor.
    mixed = collections.OrderedDict()
    mixed["half"] = torch.randn(3, 4).half()
    mixed["bf16"] = torch.randn(5).bfloat16()
    mixed["f64"] = torch.randn(2, 2).double()
    mixed["long"] = torch.arange(-3, 6, dtype=torch.int64).reshape(3, 3)
    mixed["int"] = torch.tensor([7, -8, 9], dtype=torch.int32)
    mixed["short"] = torch.tensor([-300, 300], dtype=torch.int16)
    mixed["char"] = torch.tensor([-128, 127, 5], dtype=torch.int8)
    mixed["byte"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    mixed["mask"] = torch.tensor([True, False, True, True])
    mixed["scalar"] = torch.tensor(3.5)
    mixed["empty"] = torch.zeros(0, 3)
    save(mixed, "mixed_dtypes.pt")
    fixtures.append({"file": "mixed_dtypes.pt", "format": "pytorch", "tensors": state_dict_entries(mixed),
                     "metadata": {}})

    # 3. Legacy (pre-1.6) format: a state dict, and a whole module (persistent 'module' ids).
    save(sd, "legacy.pt", _use_new_zipfile_serialization=False)
    fixtures.append({"file": "legacy.pt", "format": "pytorch-legacy", "tensors": state_dict_entries(sd),
                     "metadata": {"format_version": "1001"}})

    # 4. A training checkpoint: model + Adam state + scalars.
    net = conv_model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = net(torch.randn(2, 1, 4, 4)).pow(2).sum()
    loss.backward()
    opt.step()
    # Hyperparameters as scripts keep them: objects of classes the reader does not know.
    args = argparse.Namespace(lr=1e-3, out=pathlib.PosixPath("runs/convnet"), cfg=types.SimpleNamespace(depth=3))
    ckpt = {"epoch": 3, "step": 120, "best_loss": 0.25, "arch": "convnet", "args": args,
            "model": net.state_dict(), "optimizer": opt.state_dict()}
    save(ckpt, "training_checkpoint.pt")
    fixtures.append({"file": "training_checkpoint.pt", "format": "pytorch",
                     "tensors": state_dict_entries(net.state_dict()),
                     "optimizer": optimizer_entries("optimizer", opt.state_dict()),
                     "metadata": {"epoch": "3", "step": "120", "best_loss": "0.25", "arch": "convnet"}})

    # ... and as PyTorch Lightning lays it out: "state_dict", a list of optimizer states, and
    # callback state with a tensor, which is not part of the model and is listed apart.
    lightning = {"epoch": 2, "global_step": 10, "pytorch-lightning_version": "2.0.0",
                 "state_dict": net.state_dict(), "optimizer_states": [opt.state_dict()],
                 "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.5), "monitor": "val_loss"}}}
    save(lightning, "lightning_style.ckpt")
    fixtures.append({"file": "lightning_style.ckpt", "format": "pytorch",
                     "tensors": state_dict_entries(net.state_dict()),
                     "optimizer": optimizer_entries("optimizer_states.0", opt.state_dict()) +
                     [tensor_entry("callbacks.ModelCheckpoint.best_model_score", torch.tensor(0.5), "optimizer")],
                     "metadata": {"epoch": "2", "global_step": "10", "pytorch-lightning_version": "2.0.0"}})

    # 5. A whole pickled nn.Module of a class defined here (__main__.TinyNet).
    tiny = TinyNet()
    tiny.norm(torch.randn(4, 2))
    save(tiny, "module_pickle.pt")
    fixtures.append({"file": "module_pickle.pt", "format": "pytorch",
                     "tensors": state_dict_entries(tiny.state_dict(), tiny),
                     "metadata": {"module_class": "__main__.TinyNet"}})
    # ... nested inside a dict, and in the legacy format.
    save({"net": tiny, "step": 7}, "module_in_dict.pt")
    fixtures.append({"file": "module_in_dict.pt", "format": "pytorch",
                     "tensors": state_dict_entries(tiny.state_dict(), tiny),
                     "metadata": {"step": "7", "module_class": "__main__.TinyNet"}})
    save(tiny, "legacy_module.pt", _use_new_zipfile_serialization=False)
    fixtures.append({"file": "legacy_module.pt", "format": "pytorch-legacy",
                     "tensors": state_dict_entries(tiny.state_dict(), tiny),
                     "metadata": {"module_class": "__main__.TinyNet"}})

    # 6. Shared storages: tied weights, a transposed (non-contiguous) view, slices with a storage
    # offset, an expanded tensor (stride 0).
    w = torch.randn(3, 5)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = collections.OrderedDict()
    views["weight"] = w
    views["tied"] = w
    views["transposed"] = w.t()
    views["rows"] = base[1:3]
    views["column"] = base[:, 2]
    views["expanded"] = torch.tensor([1.0, 2.0]).expand(3, 2)
    save(views, "views.pt")
    assert not views["transposed"].is_contiguous() and views["column"].storage_offset() == 2
    fixtures.append({"file": "views.pt", "format": "pytorch", "tensors": state_dict_entries(views), "metadata": {}})

    # Tensors ParamScope cannot read (complex, quantized, sparse) are skipped with a metadata note.
    odd = collections.OrderedDict()
    odd["w"] = torch.randn(2, 2)
    odd["complex"] = torch.randn(3, dtype=torch.complex64)
    odd["quantized"] = torch.quantize_per_tensor(torch.randn(4), 0.1, 3, torch.qint8)
    odd["sparse"] = torch.eye(3).to_sparse()
    save(odd, "unsupported_tensors.pt")
    fixtures.append({"file": "unsupported_tensors.pt", "format": "pytorch", "tensors": [tensor_entry("w", odd["w"])],
                     "metadata": {"skipped tensor complex": "complex64 tensors are not supported",
                                  "skipped tensor quantized": "quantized tensors are not supported",
                                  "skipped tensor sparse": "sparse tensors are not supported"}})

    # 7. ZIP64: the state dict's zip rewritten by Python's zipfile with ZIP64 local headers, and a
    # hand-written archive with ZIP64 central-directory fields.
    rewrite_zip(OUT / "state_dict_f32.pt", OUT / "zip64.pt", force_zip64=True)
    check_same(sd, torch.load(OUT / "zip64.pt"))
    with zipfile.ZipFile(OUT / "state_dict_f32.pt") as z:
        entries = [(i.filename.replace("state_dict_f32/", "zip64_full/"), z.read(i.filename)) for i in z.infolist()]
    write_zip64_full(entries, OUT / "zip64_full.pt")
    check_same(sd, torch.load(OUT / "zip64_full.pt"))
    with zipfile.ZipFile(OUT / "zip64_full.pt") as z:
        assert z.testzip() is None
    for name in ("zip64.pt", "zip64_full.pt"):
        fixtures.append({"file": name, "format": "pytorch", "tensors": state_dict_entries(sd), "metadata": {}})

    # 8. DEFLATEd entries (data.pkl and storages), which torch.load also reads.
    rewrite_zip(OUT / "mixed_dtypes.pt", OUT / "deflated.pt", compression=zipfile.ZIP_DEFLATED)
    check_same(mixed, torch.load(OUT / "deflated.pt"))
    fixtures.append({"file": "deflated.pt", "format": "pytorch", "tensors": state_dict_entries(mixed),
                     "metadata": {}})

    # 9. Big-endian storages (hand-made: the mixed state dict with every storage byte-swapped and
    # a "byteorder" record, as torch >= 2.1 writes on big-endian machines).
    def swap_storage(name, data):
        if "/data/" not in name:
            return data
        size = swap_sizes[name.rsplit("/", 1)[1]]
        if size == 1:
            return data
        a = np.frombuffer(data, dtype=np.dtype(f"u{size}"))
        return a.byteswap().tobytes()

    # torch.save numbers storages in the order tensors are pickled; each tensor here owns one.
    swap_sizes = {str(i): t.element_size() for i, t in enumerate(mixed.values())}
    with zipfile.ZipFile(OUT / "mixed_dtypes.pt") as z:
        for i, t in enumerate(mixed.values()):
            assert z.getinfo(f"mixed_dtypes/data/{i}").file_size == t.numel() * t.element_size()
    rewrite_zip(OUT / "mixed_dtypes.pt", OUT / "bigendian.pt", edit=swap_storage,
                extra={"mixed_dtypes/byteorder": b"big"})
    fixtures.append({"file": "bigendian.pt", "format": "pytorch", "tensors": state_dict_entries(mixed),
                     "metadata": {"byteorder": "big"}})

    # 10. float8 / uint16 tensors through _rebuild_tensor_v3 (hand-made, see the module docstring).
    rebuild_v3 = fake_global("torch._utils", "_rebuild_tensor_v3")
    f8a, f8b, u16 = fake_global("torch", "float8_e4m3fn"), fake_global("torch", "float8_e5m2"), fake_global("torch", "uint16")
    a_vals = [0.5, -2.0, 1.5, 448.0, -0.015625, 0.0]
    b_vals = [1.0, -3.0, 57344.0, 0.25]
    c_vals = [0, 1, 65535, 300]
    sa = RawStorage(torch.UntypedStorage, "0", 6, bytes(f8_e4m3fn(v) for v in a_vals))
    sb = RawStorage(torch.UntypedStorage, "1", 4, bytes(f8_e5m2(v) for v in b_vals))
    sc = RawStorage(torch.UntypedStorage, "2", 8, struct.pack("<4H", *c_vals))
    hooks = collections.OrderedDict()
    obj = collections.OrderedDict()
    obj["f8_e4m3"] = RawTensor(rebuild_v3, (sa, 0, (2, 3), (3, 1), False, hooks, f8a))
    obj["f8_e5m2"] = RawTensor(rebuild_v3, (sb, 0, (4,), (1,), False, hooks, f8b))
    obj["u16"] = RawTensor(rebuild_v3, (sc, 0, (2, 2), (2, 1), False, hooks, u16))
    write_raw_torch_zip(OUT / "v3_dtypes.pt", obj, [sa, sb, sc], "v3_dtypes", byteorder="little")
    fixtures.append({"file": "v3_dtypes.pt", "format": "pytorch", "metadata": {},
                     "tensors": [raw_entry("f8_e4m3", "F8_E4M3", [2, 3], a_vals),
                                 raw_entry("f8_e5m2", "F8_E5M2", [4], b_vals),
                                 raw_entry("u16", "U16", [2, 2], c_vals)]})

    # 11. TorchScript (torch.jit.save): the same zip layout; tensors are attributes of __torch__ objects.
    scripted = torch.jit.script(ScriptNet())
    scripted.save(str(OUT / "torchscript.pt"))
    reloaded = torch.jit.load(str(OUT / "torchscript.pt"))
    check_same(scripted.state_dict(), reloaded.state_dict())
    fixtures.append({"file": "torchscript.pt", "format": "pytorch", "tensors": state_dict_entries(reloaded.state_dict()),
                     "metadata": {"torchscript": "true"}})

    # 12. A sharded Hugging Face folder: pytorch_model.bin.index.json + two shards.
    keys = list(sd.keys())
    shards = {"pytorch_model-00001-of-00002.bin": keys[:4], "pytorch_model-00002-of-00002.bin": keys[4:]}
    weight_map, total, tensors = {}, 0, []
    for shard, names in shards.items():
        part = collections.OrderedDict((k, sd[k].clone()) for k in names)
        save(part, f"sharded/{shard}")
        for k in names:
            weight_map[k] = shard
            total += sd[k].numel() * sd[k].element_size()
    tensors = state_dict_entries(sd)
    (OUT / "sharded" / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
    (OUT / "sharded" / "config.json").write_text(json.dumps({"model_type": "tiny-convnet"}) + "\n")
    fixtures.append({"file": "sharded/pytorch_model.bin.index.json", "format": "pytorch", "tensors": tensors,
                     "metadata": {"total_size": str(total)}, "config_json": True})
    fixtures.append({"file": "sharded", "format": "pytorch", "tensors": tensors,
                     "metadata": {"total_size": str(total)}, "config_json": True})

    for f in fixtures:
        f.setdefault("optimizer", [])
    write_json(OUT / "expected.json", {"fixtures": fixtures})
    write_json(OUT / "pickles.json", {"pickles": pickle_vectors()})
    total_bytes = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(fixtures)} fixtures to {OUT} ({total_bytes} bytes)")


if __name__ == "__main__":
    main()
