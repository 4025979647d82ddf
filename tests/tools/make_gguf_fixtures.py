#!/usr/bin/python3
"""Writes the GGUF test fixtures and the malformed-GGUF corpus, following ggml's docs/gguf.md
byte for byte with struct + numpy (no gguf package, so the reader is checked against the spec and
not against another implementation of it).

  tests/data/gguf/<name>.gguf            valid files: F32, F16, BF16, F64, integer, Q8_0 and Q4_0
                                         tensors; key/values of every type incl. nested arrays;
                                         custom alignment; version 2 and 3
  tests/data/gguf/<name>.json            expected metadata (in the order ParamScope lists it),
                                         tensors (name, dtype, shape outermost first, nbytes) and
                                         every value, dequantized as ggml does for Q8_0
  tests/data/malformed/gguf/*.gguf       broken files, one defect each (see MALFORMED below)

Q8_0 is quantized as ggml's quantize_row_q8_0_ref does: d = max|x| / 127 (float32),
q = roundf(x * (1/d)) (halves away from zero), d stored as float16; a value reads back as
float(q) * float(float16(d)).

Run with Debian's interpreter: /usr/bin/python3 tests/tools/make_gguf_fixtures.py
"""
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
OUT = os.path.join(ROOT, "gguf")
BAD = os.path.join(ROOT, "malformed", "gguf")

# gguf_metadata_value_type
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
              FLOAT32: "<f", BOOL: "<B", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml_type ids (ggml.h) and block layouts (ggml-common.h)
GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "I8": 24, "I16": 25, "I32": 26, "I64": 27, "F64": 28, "BF16": 30}
BLOCK = {"Q4_0": (32, 18), "Q8_0": (32, 34)}
ITEM = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I16": 2, "I32": 4, "I64": 8}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    """Encodes a value of vtype; arrays are (elem_type, [values])."""
    if vtype == STRING:
        return gstr(v)
    if vtype == ARRAY:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(value(etype, x) for x in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + struct.pack("<I", vtype) + value(vtype, v)


def tensor_info(name, ne, type_id, offset):
    return gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne) + \
        struct.pack("<IQ", type_id, offset)


def align(n, a):
    return (n + a - 1) // a * a


def build(kvs, tensors, alignment=32, version=3, offsets=None, tensor_count=None, kv_count=None):
    """kvs: encoded key/value bytes; tensors: (name, ne, type_id, data bytes). Offsets are laid out
    as ggml's writer does (each tensor aligned) unless given."""
    if offsets is None:
        offsets, at = [], 0
        for _, _, _, data in tensors:
            offsets.append(at)
            at = align(at + len(data), alignment)
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if tensor_count is None else tensor_count,
                                 len(kvs) if kv_count is None else kv_count)
    head += b"".join(kvs)
    head += b"".join(tensor_info(n, ne, t, o) for (n, ne, t, _), o in zip(tensors, offsets))
    out = bytearray(head)
    if tensors:
        out += b"\0" * (align(len(out), alignment) - len(out))
    start = len(out)
    for (_, _, _, data), o in zip(tensors, offsets):
        if o >= 1 << 40:
            continue  # a deliberately bad offset: its data is not written
        if start + o > len(out):
            out += b"\0" * (start + o - len(out))
        end = start + o + len(data)
        if end > len(out):
            out += b"\0" * (end - len(out))
        out[start + o:end] = data
    if tensors:
        out += b"\0" * (align(len(out), alignment) - len(out))
    return bytes(out)


# ---- element encodings and what ParamScope must read back --------------------------------------

def to_bf16(x):
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # nearest even
    return rounded, (rounded.astype(np.uint32) << 16).view(np.float32)


def quantize_q8_0(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, 32)
    data, back = bytearray(), []
    for blk in x:
        amax = np.float32(np.max(np.abs(blk)))
        d = np.float32(amax / np.float32(127))
        inv = np.float32(1) / d if d != 0 else np.float32(0)
        scaled = (blk * inv).astype(np.float32)
        q = (np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))).astype(np.int8)  # roundf
        d16 = np.float16(d)
        data += d16.tobytes() + q.tobytes()
        back.append(q.astype(np.float32) * np.float32(d16))
    return bytes(data), np.concatenate(back)


def make_tensor(name, kind, shape, rng):
    """shape is outermost first; returns (tensor tuple, expected dict)."""
    n = int(np.prod(shape)) if shape else 1
    ne = list(reversed(shape))
    readable = True
    if kind == "F32":
        vals = rng.normal(0, 1, n).astype(np.float32)
        data, back = vals.tobytes(), vals
    elif kind == "F16":
        vals = rng.normal(0, 1, n).astype(np.float16)
        data, back = vals.tobytes(), vals.astype(np.float32)
    elif kind == "BF16":
        bits, back = to_bf16(rng.normal(0, 1, n).astype(np.float32))
        data = bits.tobytes()
    elif kind == "F64":
        vals = rng.normal(0, 1, n)
        data, back = vals.tobytes(), vals.astype(np.float32)
    elif kind in ("I8", "I16", "I32", "I64"):
        dt = {"I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64}[kind]
        vals = rng.integers(-100, 100, n).astype(dt)
        data, back = vals.tobytes(), vals.astype(np.float32)
    elif kind == "Q8_0":
        vals = rng.normal(0, 0.5, n).astype(np.float32)
        vals[-32:] = 0  # an all-zero block: d = 0
        data, back = quantize_q8_0(vals)
    elif kind == "Q4_0":
        blocks = n // 32
        data = b"".join(np.float16(0.25).tobytes() + bytes(rng.integers(0, 256, 16, dtype=np.uint8))
                        for _ in range(blocks))
        back, readable = None, False
    else:
        raise ValueError(kind)
    nbytes = len(data)
    exp = {"name": name, "dtype": kind, "shape": list(shape), "nbytes": nbytes, "readable": readable}
    if back is not None:
        exp["values"] = [float(v) for v in np.asarray(back, dtype=np.float32)]
        exp["sum"] = float(np.sum(np.asarray(back, dtype=np.float64)))
    return (name, ne, GGML[kind], data), exp


def write(name, blob, expected=None):
    with open(os.path.join(OUT, name + ".gguf"), "wb") as f:
        f.write(blob)
    if expected is not None:
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(expected, f, indent=1)
            f.write("\n")


def fixtures():
    rng = np.random.default_rng(20240611)
    tokens = ["<unk>", "<s>", "</s>"] + [f"tok{i}" for i in range(37)]
    # (encoded kv, key, the text ParamScope shows, worked out by hand from the rules in
    # core/src/io/gguf/gguf_values.h: up to 16 array elements in full, strings quoted inside arrays)
    kvs = [
        (kv("general.quantization_version", UINT32, 2), "general.quantization_version", "2"),
        (kv("general.name", STRING, "Tiny Llama"), "general.name", "Tiny Llama"),
        (kv("general.architecture", STRING, "llama"), "general.architecture", "llama"),
        (kv("test.u8", UINT8, 200), "test.u8", "200"),
        (kv("test.i8", INT8, -7), "test.i8", "-7"),
        (kv("test.u16", UINT16, 65535), "test.u16", "65535"),
        (kv("test.i16", INT16, -32768), "test.i16", "-32768"),
        (kv("llama.context_length", UINT32, 4096), "llama.context_length", "4096"),
        (kv("test.i32", INT32, -123456), "test.i32", "-123456"),
        (kv("llama.attention.layer_norm_rms_epsilon", FLOAT32, 1e-5), "llama.attention.layer_norm_rms_epsilon", "1e-05"),
        (kv("test.f32", FLOAT32, 0.5), "test.f32", "0.5"),
        (kv("test.bool_true", BOOL, 1), "test.bool_true", "true"),
        (kv("test.bool_false", BOOL, 0), "test.bool_false", "false"),
        (kv("test.u64", UINT64, 2**63 + 5), "test.u64", "9223372036854775813"),
        (kv("test.i64", INT64, -2**62), "test.i64", "-4611686018427387904"),
        (kv("test.f64", FLOAT64, 0.1), "test.f64", "0.1"),
        (kv("test.empty_string", STRING, ""), "test.empty_string", ""),
        (kv("test.ints", ARRAY, (INT32, [1, -2, 3])), "test.ints", "[1, -2, 3]"),
        (kv("test.floats", ARRAY, (FLOAT32, [0.25, -1.5])), "test.floats", "[0.25, -1.5]"),
        (kv("test.bools", ARRAY, (BOOL, [1, 0, 1])), "test.bools", "[true, false, true]"),
        (kv("general.tags", ARRAY, (STRING, ["a", 'say "hi"'])), "general.tags", '["a", "say \\"hi\\""]'),
        (kv("test.empty_array", ARRAY, (UINT8, [])), "test.empty_array", "[]"),
        (kv("test.nested", ARRAY, (ARRAY, [(UINT16, [1, 2]), (UINT16, [3]), (UINT16, [])])),
         "test.nested", "[[1, 2], [3], []]"),
        (kv("test.nested_strings", ARRAY, (ARRAY, [(STRING, ["x"]), (STRING, tokens)])),
         "test.nested_strings", '[["x"], [array of 40 string]]'),
        (kv("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)), "tokenizer.ggml.tokens", "[array of 40 string]"),
        (kv("tokenizer.ggml.scores", ARRAY, (FLOAT32, [float(-i) for i in range(40)])),
         "tokenizer.ggml.scores", "[array of 40 float32]"),
        (kv("test.sixteen", ARRAY, (UINT64, list(range(16)))), "test.sixteen",
         "[" + ", ".join(str(i) for i in range(16)) + "]"),
        (kv("test.seventeen", ARRAY, (INT64, list(range(17)))), "test.seventeen", "[array of 17 int64]"),
    ]
    metadata = [[k, v] for _, k, v in kvs]
    lead = [m for m in metadata if m[0] == "general.architecture"] + [m for m in metadata if m[0] == "general.name"]
    metadata = lead + [m for m in metadata if m[0] not in ("general.architecture", "general.name")]

    specs = [
        ("token_embd.weight", "Q8_0", [3, 64]),
        ("blk.0.attn_norm.weight", "F32", [8]),
        ("blk.0.attn_q.weight", "F16", [4, 8]),
        ("blk.0.ffn_up.weight", "BF16", [2, 2, 8]),
        ("blk.0.ffn_down.weight", "Q4_0", [2, 32]),
        ("rope_freqs.weight", "F64", [4]),
        ("test.i8", "I8", [6]),
        ("test.i16", "I16", [3]),
        ("test.i32", "I32", [5]),
        ("test.i64", "I64", [2]),
        ("test.scalar", "F32", []),
        ("test.four_d", "F32", [2, 1, 3, 2]),
        ("test.empty", "F32", [0, 4]),
    ]
    tensors, expected = [], []
    for name, kind, shape in specs:
        t, e = make_tensor(name, kind, shape, rng)
        tensors.append(t)
        expected.append(e)
    blob = build([k for k, _, _ in kvs], tensors)
    write("tiny_llama_v3", blob, {"version": 3, "alignment": 32, "metadata": metadata, "tensors": expected})

    # Version 2 with a custom alignment: the data section and every tensor sit on 64-byte bounds.
    kvs2 = [(kv("general.architecture", STRING, "gpt2"), "general.architecture", "gpt2"),
            (kv("general.alignment", UINT32, 64), "general.alignment", "64")]
    t1, e1 = make_tensor("a.weight", "F32", [5], rng)
    t2, e2 = make_tensor("b.weight", "Q8_0", [2, 32], rng)
    t3, e3 = make_tensor("c.bias", "F16", [3], rng)
    blob = build([k for k, _, _ in kvs2], [t1, t2, t3], alignment=64, version=2)
    write("aligned64_v2", blob, {"version": 2, "alignment": 64, "metadata": [[k, v] for _, k, v in kvs2],
                                 "tensors": [e1, e2, e3]})

    # Metadata only: no tensors, so no padding and no data section.
    kvs3 = [(kv("general.architecture", STRING, "llama"), "general.architecture", "llama"),
            (kv("general.type", STRING, "vocab"), "general.type", "vocab")]
    blob = build([k for k, _, _ in kvs3], [])
    write("vocab_only", blob, {"version": 3, "alignment": 32, "metadata": [[k, v] for _, k, v in kvs3],
                               "tensors": []})


# ---- the malformed corpus ----------------------------------------------------------------------
# Each file carries one defect; tests/io/test_gguf_reader.cpp lists the Error kind and a phrase of
# the message it must produce.

def malformed():
    arch = kv("general.architecture", STRING, "llama")
    f32 = np.arange(8, dtype=np.float32).tobytes()
    good = [("a", [8], GGML["F32"], f32), ("b", [8], GGML["F32"], f32)]
    valid = build([arch], good)
    cases = {}
    cases["zero_bytes"] = b""
    cases["bad_magic"] = b"GGUX" + valid[4:]
    cases["truncated_in_header"] = valid[:10]
    cases["truncated_in_kv"] = build([arch, kv("general.name", STRING, "x" * 40)], [])[:-10]
    cases["truncated_in_tensor_info"] = valid[:24 + len(arch) + 10]
    cases["truncated_in_data"] = valid[:len(valid) - 40]
    cases["version_1"] = b"GGUF" + struct.pack("<I", 1) + valid[8:]
    cases["version_0"] = b"GGUF" + struct.pack("<I", 0) + valid[8:]
    cases["version_99"] = b"GGUF" + struct.pack("<I", 99) + valid[8:]
    cases["big_endian"] = b"GGUF" + struct.pack(">IQQ", 3, 2, 1) + valid[24:]
    cases["kv_count_huge"] = build([arch], good, kv_count=2**60)
    cases["tensor_count_huge"] = build([arch], good, tensor_count=2**60)
    cases["key_length_beyond_file"] = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"general"
    cases["string_value_beyond_file"] = build([gstr("general.name") + struct.pack("<IQ", STRING, 10**9) + b"abc"], [])
    cases["array_length_huge"] = build([gstr("tokens") + struct.pack("<IIQ", ARRAY, STRING, 2**61)], [])
    deep = (UINT8, [1])
    for _ in range(9):
        deep = (ARRAY, [deep])
    cases["arrays_nested_too_deep"] = build([kv("deep", ARRAY, deep)], [])
    cases["bool_value_2"] = build([kv("flag", BOOL, 2)], [])
    cases["unknown_value_type"] = build([gstr("odd") + struct.pack("<I", 13) + b"\0" * 8], [])
    cases["empty_key"] = build([kv("", UINT8, 1)], [])
    cases["duplicate_keys"] = build([arch, kv("general.architecture", STRING, "gpt2")], good)
    cases["alignment_not_power_of_two"] = build([kv("general.alignment", UINT32, 48)], good, alignment=48)
    cases["alignment_zero"] = build([kv("general.alignment", UINT32, 0)], [])
    cases["alignment_wrong_type"] = build([kv("general.alignment", UINT64, 64)], good, alignment=64)
    cases["n_dims_5"] = build([arch], [("a", [2, 2, 2, 1, 1], GGML["F32"], f32)])
    cases["dims_overflow"] = build([arch], [("a", [2**32, 2**32, 2**32], GGML["F32"], f32)])
    cases["unknown_type_id"] = build([arch], [("a", [8], 77, f32)])
    cases["removed_type_id"] = build([arch], [("a", [32], 4, b"\0" * 20)])
    cases["q8_0_row_not_whole_blocks"] = build([arch], [("a", [33], GGML["Q8_0"], b"\0" * 68)])
    cases["misaligned_offset"] = build([arch], good, offsets=[0, 36])
    cases["offset_beyond_file"] = build([arch], good, offsets=[0, 2**40])
    cases["offset_wraps_around"] = build([arch], good, offsets=[0, 2**64 - 32])
    cases["overlapping_tensors"] = build([arch], [("a", [16], GGML["F32"], f32 * 2), good[1]], offsets=[0, 32])
    cases["duplicate_tensor_names"] = build([arch], [good[0], ("a", [8], GGML["F32"], f32)])
    cases["empty_tensor_name"] = build([arch], [("", [8], GGML["F32"], f32)])
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    fixtures()
    for old in os.listdir(BAD):
        if old.endswith(".gguf"):
            os.remove(os.path.join(BAD, old))
    for name, blob in malformed().items():
        with open(os.path.join(BAD, name + ".gguf"), "wb") as f:
            f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
