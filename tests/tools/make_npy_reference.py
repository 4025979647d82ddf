#!/usr/bin/python3
"""Writes tests/data/npy/*.npy with numpy's own np.save: the byte-exact references for
ParamScope's NPY writer (tests/io/test_npy_writer.cpp writes the same arrays and compares)."""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "npy")

ARRAYS = {
    "f32_2x3": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
    "f16_5": np.array([1, -2, 0.5, 65504, 0], dtype=np.float16),
    "bool_4": np.array([True, False, False, True]),
    "i64_scalar": np.array(-7, dtype=np.int64),
    "u8_2x2x2": np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
    "f64_empty": np.zeros((0, 3), dtype=np.float64),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, a in ARRAYS.items():
        np.save(os.path.join(OUT, name + ".npy"), a)


if __name__ == "__main__":
    main()
