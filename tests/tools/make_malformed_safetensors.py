#!/usr/bin/python3
"""Writes tests/data/malformed/safetensors/: one deliberately broken file per check the reader
makes, and expected.json mapping each file to a substring its error message must contain."""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "malformed", "safetensors")


def st(header, data=b"", raw_header=None, size=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if size is None else size) + h + data


def t(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


CASES = {
    "zero_bytes": (b"", "empty file"),
    "short": (b"\x10\x00\x00", "truncated"),
    "header_beyond_file": (st(None, raw_header=b'{"a":1}', size=4096), "beyond the end of the file"),
    "header_too_large": (st(None, raw_header=b"{}", size=1 << 40), "exceeds the 100 MB limit"),
    "not_json": (st(None, raw_header=b"{not json at all}"), "not valid JSON"),
    "not_object": (st(None, raw_header=b"[1,2,3] "), "does not start with '{'"),
    "invalid_utf8": (st(None, raw_header=b'{"\xff\xfe":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', data=b"\0" * 4),
                     "not valid JSON"),
    "duplicate_names": (st(None, raw_header=b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                            b'"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data=b"\0" * 8),
                        "'w' twice"),
    "unknown_dtype": (st({"w": t("F33", [1], 0, 4)}, b"\0" * 4), "unknown dtype 'F33'"),
    "gguf_dtype_name": (st({"w": t("Q8_0", [32], 0, 34)}, b"\0" * 34), "unknown dtype 'Q8_0'"),
    "missing_dtype": (st({"w": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "missing or non-string 'dtype'"),
    "entry_not_object": (st({"w": [1, 2]}), "entry must be an object"),
    "negative_dim": (st({"w": t("F32", [-1], 0, 4)}, b"\0" * 4), "non-negative integers"),
    "float_dim": (st({"w": t("F32", [1.5], 0, 4)}, b"\0" * 4), "non-negative integers"),
    "shape_overflow": (st({"w": t("F32", [1 << 62, 1 << 62], 0, 4)}, b"\0" * 4), "overflows"),
    "offsets_reversed": (st({"w": t("F32", [1], 8, 4)}, b"\0" * 8), "end before they begin"),
    "offsets_not_pair": (st({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, b"\0" * 4), "[begin, end]"),
    "size_mismatch": (st({"w": t("F32", [2, 2], 0, 12)}, b"\0" * 12), "needs 16"),
    "offset_beyond_file": (st({"w": t("F32", [4], 0, 16)}, b"\0" * 8), "past the end of the data"),
    "huge_offsets": (st({"w": t("U8", [16], (1 << 64) - 17, (1 << 64) - 1)}, b"\0" * 16), "past the end of the data"),
    "overlapping": (st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, b"\0" * 12), "overlap"),
    "gap": (st({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, b"\0" * 12), "gap of 4 bytes"),
    "trailing_bytes": (st({"a": t("F32", [1], 0, 4)}, b"\0" * 12), "8 bytes after the last tensor"),
    "metadata_not_strings": (st({"__metadata__": {"epoch": 3}, "a": t("F32", [1], 0, 4)}, b"\0" * 4), "not a string"),
    "deep_nesting": (st(None, raw_header=b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"), "nests deeper"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, (data, message) in CASES.items():
        fname = name + ".safetensors"
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)
        expected[fname] = message
    # A sharded folder whose index points outside it, and one whose shard is missing.
    for folder, weight_map, msg in (("index_escapes", {"w": "../outside.safetensors"}, "not a file in the same folder"),
                                    ("index_missing_shard", {"w": "model-00001-of-00002.safetensors"}, "is missing")):
        d = os.path.join(OUT, folder)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
        expected[folder] = msg
    d = os.path.join(OUT, "index_wrong_shard")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "a.safetensors"), "wb") as f:
        f.write(st({"w": t("F32", [1], 0, 4)}, b"\0" * 4))
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"w": "a.safetensors", "v": "a.safetensors"}}, f)
    expected["index_wrong_shard"] = "'v' in a.safetensors, which does not hold it"
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
