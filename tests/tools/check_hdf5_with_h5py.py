#!/usr/bin/python3
"""Reads an HDF5 file with h5py and prints what h5py sees, as JSON: every dataset's numpy dtype,
shape, sum and first values, and the attributes of the file and of each dataset.

tests/data/keras/hdf5_writer_h5py.json is this script's output for the file that
tests/io/test_keras_reader.cpp (writer_matches_h5py_reference) writes with write_hdf5; the test
compares its own reading with it, so h5py itself is not needed when the tests run. To remake it:
  PARAMSCOPE_KEEP_HDF5_WRITER_OUTPUT=/tmp/writer.h5 ctest -R test_keras_reader
  /usr/bin/python3 tests/tools/check_hdf5_with_h5py.py /tmp/writer.h5 > tests/data/keras/hdf5_writer_h5py.json
"""
import json
import sys

import h5py
import numpy as np


def plain(value):
    """An attribute value as JSON: text for strings, a number for numbers."""
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def main(path):
    out = {"attributes": {}, "datasets": {}}
    with h5py.File(path, "r") as f:
        out["attributes"] = {k: plain(v) for k, v in f.attrs.items()}

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            values = np.asarray(obj[()])
            as_f64 = values.astype(np.float64).reshape(-1)
            out["datasets"][name] = {
                "dtype": str(obj.dtype), "shape": list(obj.shape), "sum": float(as_f64.sum()),
                "first": [float(x) for x in as_f64[:4]],
                "attributes": {k: plain(v) for k, v in obj.attrs.items()},
            }
        f.visititems(visit)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_hdf5_with_h5py.py FILE.h5")
    main(sys.argv[1])
