#!/usr/bin/python3
"""Writes tests/data/malformed/keras/: broken Keras HDF5 files and .keras archives, one per check
the reader makes, and expected.json mapping each file to the Error kind it must raise and a
substring its message must contain. Run with Debian's Python (h5py):
  /usr/bin/python3 tests/tools/make_malformed_keras.py
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "malformed", "keras")
FIXTURES = os.path.join(HERE, "..", "data", "keras")
SIGNATURE = b"\x89HDF\r\n\x1a\n"


def group(parent, path):
    """create_group without modification times: reproducible files."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    g = parent
    for part in path.split("/"):
        if part not in g:
            h5py.h5g.create(g.id, part.encode(), gcpl=gcpl)
        g = g[part]
    return g


def dataset(parent, path, **kw):
    head, _, leaf = path.rpartition("/")
    return (group(parent, head) if head else parent).create_dataset(leaf, track_times=False, **kw)


def s_array(strings):
    return np.array([s.encode() for s in strings])


def keras2_weights(path, layers, layer_names=None, extra=None):
    """A Keras 2 save_weights layout: layers is {layer: [(weight name, value)]}."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = s_array(layer_names if layer_names is not None else list(layers))
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        for layer, weights in sorted(layers.items()):
            g = group(f, layer)
            g.attrs["weight_names"] = s_array([n for n, _ in weights])
            for n, v in weights:
                if v is not None:
                    dataset(g, n, data=v)
        if extra:
            extra(f)


DENSE = [("dense/kernel:0", np.ones((2, 3), np.float32)), ("dense/bias:0", np.zeros(3, np.float32))]


def case_missing_layer_group(p):
    keras2_weights(p, {"dense": DENSE}, layer_names=["dense", "dense_9"])


def case_duplicate_layer_names(p):
    keras2_weights(p, {"dense": DENSE}, layer_names=["dense", "dense"])


def case_duplicate_weight_names(p):
    keras2_weights(p, {"dense": DENSE + [("dense/kernel:0", None)]})


def case_weight_missing(p):
    keras2_weights(p, {"dense": DENSE + [("dense/gamma:0", None)]})


def case_weight_is_group(p):
    # weight_names names the group "dense" (which holds kernel:0), not a dataset.
    keras2_weights(p, {"dense": DENSE + [("dense", None)]})


def case_string_weight(p):
    keras2_weights(p, {"dense": [("dense/kernel:0", np.array([b"not", b"numbers"]))]})


def case_vlen_string_weight(p):
    keras2_weights(p, {"dense": [("dense/kernel:0", np.array(["text"], dtype=h5py.string_dtype()))]})


def case_compound_weight(p):
    rec = np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")])
    keras2_weights(p, {"dense": [("dense/kernel:0", rec)]})


def case_vlen_weight(p):
    def extra(f):
        d = dataset(f["dense"], "dense/kernel:0", shape=(2,), dtype=h5py.vlen_dtype(np.float32))
        d[0] = np.arange(3, dtype=np.float32)
        d[1] = np.arange(2, dtype=np.float32)
    keras2_weights(p, {"dense": [("dense/kernel:0", None)]}, extra=extra)


def case_layer_names_not_text(p):
    with h5py.File(p, "w") as f:
        f.attrs["layer_names"] = np.array([1, 2, 3], dtype=np.int32)
        f.attrs["keras_version"] = b"2.11.0"


def case_lzf_compressed(p):
    # h5py's own LZF filter (id 32000): libhdf5 does not have it.
    def extra(f):
        dataset(f["dense"], "dense/kernel:0", data=np.ones((64, 4), np.float32), compression="lzf")
    keras2_weights(p, {"dense": [("dense/kernel:0", None)]}, extra=extra)


def case_external_link(p):
    def extra(f):
        f["dense"]["dense"] = h5py.ExternalLink("/etc/elsewhere.h5", "/secret")
    keras2_weights(p, {"dense": [("dense/kernel:0", None)]}, extra=extra)


def case_external_storage(p):
    # Raw data in another file, named by the dataset: the reader must not follow it.
    def extra(f):
        dataset(f["dense"], "dense/kernel:0", shape=(4,), dtype=np.float32, external=[("/etc/hostname", 0, 16)])
    keras2_weights(p, {"dense": [("dense/kernel:0", None)]}, extra=extra)


def case_group_cycle(p):
    # Keras 3 layout with a hard link from a layer back to the layers container.
    with h5py.File(p, "w") as f:
        group(f, "vars")
        dataset(f, "layers/dense/vars/0", data=np.ones((2, 2), np.float32))
        f["layers/dense/loop"] = f["layers"]


def case_keras3_vars_group(p):
    # A variable that is a group instead of a dataset.
    with h5py.File(p, "w") as f:
        group(f, "vars")
        group(f, "layers/dense/vars/0")


def case_truncated_half(p):
    with open(os.path.join(HERE, "..", "data", "keras", "keras2_full.h5"), "rb") as src:
        data = src.read()
    with open(p, "wb") as f:
        f.write(data[: len(data) // 2])


def raw(data):
    def write(p):
        with open(p, "wb") as f:
            f.write(data)
    return write


def member(name, method=zipfile.ZIP_STORED):
    info = zipfile.ZipInfo(name, date_time=(2024, 6, 11, 12, 0, 0))  # fixed: reproducible files
    info.compress_type = method
    return info


def archive(members, method=zipfile.ZIP_STORED):
    def write(p):
        with zipfile.ZipFile(p, "w") as zf:
            for name, data in members:
                zf.writestr(member(name, method), data)
    return write


def truncated_archive(p):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member("metadata.json"), b'{"keras_version": "3.3.3"}')
        zf.writestr(member("model.weights.h5"), SIGNATURE + bytes(4000))
    with open(p, "wb") as f:
        f.write(buf.getvalue()[:-30])  # end-of-central-directory record cut off


def case_libhdf5_segfault(path):
    # Four bytes of the Keras 2 weights fixture changed (found by mutation fuzzing): libhdf5 1.10.8
    # itself segfaults parsing the result. ParamScope parses HDF5 in a child process first.
    data = bytearray(open(os.path.join(FIXTURES, "keras2_weights.h5"), "rb").read())
    for offset, value in ((6045, 128), (8185, 62), (8807, 165), (11173, 76)):
        data[offset] = value
    raw(bytes(data))(path)


rng = np.random.RandomState(7)
# name: (writer, Error kind, message substring)
CASES = {
    "zero_bytes.h5": (raw(b""), "BadInput", "empty file"),
    "not_hdf5.h5": (raw(b"this is not an HDF5 file at all\n" * 8), "BadInput", "not an HDF5 file"),
    "signature_then_garbage.h5": (raw(SIGNATURE + rng.bytes(4096)), "BadInput", "not a readable HDF5 file"),
    "signature_only.h5": (raw(SIGNATURE), "BadInput", "not a readable HDF5 file"),
    "truncated_half.h5": (case_truncated_half, "BadInput", "not a readable HDF5 file"),
    "missing_layer_group.h5": (case_missing_layer_group, "BadInput", "layer_names lists 'dense_9'"),
    "duplicate_layer_names.h5": (case_duplicate_layer_names, "BadInput", "lists 'dense' twice"),
    "duplicate_weight_names.h5": (case_duplicate_weight_names, "BadInput", "lists 'dense/kernel:0' twice"),
    "weight_missing.h5": (case_weight_missing, "BadInput", "weight_names lists 'dense/gamma:0'"),
    "weight_is_group.h5": (case_weight_is_group, "BadInput", "weight 'dense' is a group, not a dataset"),
    "string_weight.h5": (case_string_weight, "BadInput", "holds strings, not numbers"),
    "vlen_string_weight.h5": (case_vlen_string_weight, "BadInput", "holds strings, not numbers"),
    "compound_weight.h5": (case_compound_weight, "BadInput", "holds compound records"),
    "vlen_weight.h5": (case_vlen_weight, "BadInput", "variable-length sequences"),
    "layer_names_not_text.h5": (case_layer_names_not_text, "BadInput", "'layer_names' is not a list of names"),
    "lzf_compressed.h5": (case_lzf_compressed, "Unsupported", "HDF5 filter 32000"),
    "external_link.h5": (case_external_link, "Unsupported", "external link"),
    "external_storage.h5": (case_external_storage, "Unsupported", "external files"),
    "group_cycle.weights.h5": (case_group_cycle, "BadInput", "links back to one of its parents"),
    "variable_is_group.weights.h5": (case_keras3_vars_group, "BadInput", "is not a dataset"),
    "no_weights.keras": (archive([("metadata.json", b"{}"), ("config.json", b"{}")]), "BadInput",
                         "without model.weights.h5"),
    "npz_weights.keras": (archive([("config.json", b"{}"), ("model.weights.npz", b"PK")]), "Unsupported",
                          "model.weights.npz"),
    "weights_not_hdf5.keras": (archive([("model.weights.h5", b"garbage" * 100)]), "BadInput",
                               "model.weights.h5 in the archive is not an HDF5 file"),
    "weights_garbage_hdf5.keras": (archive([("model.weights.h5", SIGNATURE + rng.bytes(2048))]), "BadInput",
                                   "not a readable HDF5 file"),
    # Where libhdf5 goes wrong depends on the heap: the child may crash or report nonsense.
    "libhdf5_segfault.h5": (case_libhdf5_segfault, "BadInput", ""),
    "truncated_archive.keras": (truncated_archive, "BadInput", "end-of-central-directory"),
    "bzip2_weights.keras": (archive([("model.weights.h5", SIGNATURE + bytes(100))], zipfile.ZIP_BZIP2), "Unsupported",
                            "compression method 12"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, (write, kind, message) in CASES.items():
        path = os.path.join(OUT, name)
        if os.path.exists(path):
            os.remove(path)
        write(path)
        expected[name] = {"kind": kind, "message": message}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
