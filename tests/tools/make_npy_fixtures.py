#!/usr/bin/python3
"""Writes the NPY reader's fixtures (run with Debian's /usr/bin/python3 and python3-numpy):

  tests/data/engine/npy/*.npy, *.npz
      arrays written by numpy itself in every dtype the reader takes, big-endian, Fortran order
      and format versions 2.0 and 3.0; every array holds (arange(n) * 3 - 5) cast to its dtype
      (bool: odd elements True), so the test knows each value. NPZ archives from np.savez and
      np.savez_compressed.
  tests/data/malformed/npy/*.npy + expected.json
      one broken file per check the reader makes: error kind and a substring of the message;
      bad_member.npz and text_member.npz for read_npz
"""
import json
import os
import zipfile

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
GOOD = os.path.join(DATA, "engine", "npy")
BROKEN = os.path.join(DATA, "malformed", "npy")


def values(shape, dtype):
    n = int(np.prod(shape))
    if np.dtype(dtype) == np.bool_:
        return (np.arange(n) % 2 == 1).reshape(shape)
    return (np.arange(n) * 3 - 5).astype(dtype).reshape(shape)


def save(name, a, version=None):
    with open(os.path.join(GOOD, name + ".npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=version)


def good():
    os.makedirs(GOOD, exist_ok=True)
    for code in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]:
        save(code, values((2, 3), "<" + code if code not in ("i1", "u1", "b1") else "|" + code))
    save("f4_big_endian", values((2, 3), ">f4"))
    save("i8_big_endian", values((2, 3), ">i8"))
    save("f4_fortran", np.asfortranarray(values((2, 3, 4), "<f4")))
    save("f4_v2", values((2, 3), "<f4"), version=(2, 0))
    save("f4_v3", values((2, 3), "<f4"), version=(3, 0))
    save("f4_scalar", np.array(-5, dtype="<f4"))
    save("f4_empty", np.zeros((0, 3), dtype="<f4"))
    np.savez(os.path.join(GOOD, "stored.npz"), a=values((2, 3), "<f4"), b=values((4,), "<i8"))
    np.savez_compressed(os.path.join(GOOD, "deflated.npz"), a=values((2, 3), "<f4"), b=values((4,), "<i8"))


def npy(header, data=b"", version=1, header_len=None, magic=b"\x93NUMPY"):
    h = header.encode("latin1")
    pad = (64 - (len(h) + 11) % 64) % 64 if version == 1 else (64 - (len(h) + 13) % 64) % 64
    h = h + b" " * pad + b"\n"
    n = len(h) if header_len is None else header_len
    size = n.to_bytes(2 if version == 1 else 4, "little")
    return magic + bytes([version, 0]) + size + h + data


F4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
CASES = {
    "zero_bytes": (b"", "BadInput", "is not an NPY file"),
    "bad_magic": (npy(F4, b"\0" * 8, magic=b"\x93NUMPZ"), "BadInput", "is not an NPY file"),
    "version_4": (npy(F4, b"\0" * 8, version=4), "Unsupported", "NPY format version 4.0"),
    "header_len_beyond_file": (npy(F4, b"\0" * 8, header_len=5000), "BadInput", "passes the end of the file"),
    "truncated_in_magic": (b"\x93NUMPY\x01", "BadInput", "is not an NPY file"),
    "truncated_data": (npy(F4, b"\0" * 7), "BadInput", "its data holds 7 bytes, F32 [2] needs 8"),
    "trailing_bytes": (npy(F4, b"\0" * 12), "BadInput", "4 bytes after the data"),
    "not_a_dict": (npy("['descr', '<f4']", b"\0" * 8), "BadInput", "expected '{'"),
    "missing_shape": (npy("{'descr': '<f4', 'fortran_order': False, }", b"\0" * 8), "BadInput", "lacks the key 'shape'"),
    "missing_descr": (npy("{'fortran_order': False, 'shape': (2,), }", b"\0" * 8), "BadInput", "lacks the key 'descr'"),
    "duplicate_key": (npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
                      "BadInput", "'descr' appears twice"),
    "unknown_key": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", b"\0" * 8),
                    "BadInput", "unknown key 'extra'"),
    "negative_dim": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", b"\0" * 8),
                     "BadInput", "non-negative integers"),
    "shape_overflow": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", b"\0" * 8),
                       "BadInput", "more elements than fit in 64 bits"),
    "dim_overflow": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", b"\0" * 8),
                     "BadInput", "overflows 64 bits"),
    "fortran_not_bool": (npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", b"\0" * 8),
                         "BadInput", "must be True or False"),
    "unclosed_string": (npy("{'descr: '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8), "BadInput",
                        "expected ':'"),
    "unclosed_dict": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", b"\0" * 8), "BadInput",
                      "ends inside its dictionary"),
    "text_after_dict": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", b"\0" * 8), "BadInput",
                        "text after its dictionary"),
    "complex_dtype": (npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16), "Unsupported",
                      "NPY dtype '<c8' is not supported"),
    "object_dtype": (npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16), "Unsupported",
                     "NPY dtype '|O' is not supported"),
    "structured_dtype": (npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
                         "Unsupported", "structured dtypes"),
    "no_byte_order": (npy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8), "BadInput",
                      "no byte order for a multi-byte type"),
    "too_many_dims": (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 65 + "), }", b"\0" * 4),
                      "BadInput", "more than 64 dimensions"),
}


def broken():
    os.makedirs(BROKEN, exist_ok=True)
    expected = {}
    for name, (data, kind, message) in CASES.items():
        with open(os.path.join(BROKEN, name + ".npy"), "wb") as f:
            f.write(data)
        expected[name + ".npy"] = {"kind": kind, "message": message}
    # NPZ archives: a member that is a broken NPY, and a member that is not an NPY at all.
    with zipfile.ZipFile(os.path.join(BROKEN, "bad_member.npz"), "w") as z:
        z.writestr("good.npy", npy(F4, b"\0" * 8))
        z.writestr("bad.npy", CASES["truncated_data"][0])
    with zipfile.ZipFile(os.path.join(BROKEN, "text_member.npz"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("notes.txt", "not an array")
    with open(os.path.join(BROKEN, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    good()
    broken()
