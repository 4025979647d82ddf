#!/usr/bin/python3
"""Writes the Keras fixtures of tests/io/test_keras_reader.cpp into tests/data/keras/.

Debian has no Keras or TensorFlow, so the files are written with h5py in the exact layouts Keras
writes (attribute names, attribute types, group nesting and creation order), following:
  - Keras 2 (tf.keras 2.x) keras/saving/hdf5_format.py: save_model_to_hdf5,
    save_weights_to_hdf5_group, save_optimizer_weights_to_hdf5_group,
    save_attributes_to_hdf5_group (layer_names / weight_names as numpy arrays of fixed-length
    byte strings; h5py stores an empty list as an empty float64 array).
  - Keras 3 keras/src/saving/saving_lib.py: _save_state, _save_container_state, H5IOStore,
    H5Entry (groups <path>/vars with datasets "0", "1", ...; container entries named by the
    snake_case class name with _1, _2 suffixes; the .keras zip is written with ZIP_STORED).
Expected values (names, shapes, dtypes, sums, first values, metadata) go to expected.json beside
the fixtures. Run with Debian's Python: /usr/bin/python3 tests/tools/make_keras_fixtures.py
"""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "keras")
rng = np.random.RandomState(20240611)
expected = {}


def values(shape, dtype=np.float32, scale=1.0):
    """Deterministic small values, rounded so that sums are exact enough in any precision."""
    v = np.round(rng.standard_normal(shape) * scale, 3)
    return v.astype(dtype)


def describe(arr):
    flat = np.asarray(arr).reshape(-1)
    dt = flat.dtype
    name = {"float16": "F16", "float32": "F32", "float64": "F64", "int8": "I8", "uint8": "U8",
            "int16": "I16", "uint16": "U16", "int32": "I32", "uint32": "U32", "int64": "I64",
            "uint64": "U64", "bool": "BOOL"}[dt.newbyteorder("=").name]
    as_f32 = flat.astype(np.float32)
    as_f64 = as_f32.astype(np.float64)
    # wsum weights element i by (i % 7 + 1): it changes when elements are read out of order.
    return {"dtype": name, "shape": list(np.shape(arr)), "sum": float(np.sum(as_f64)),
            "wsum": float(np.sum(as_f64 * (np.arange(as_f64.size) % 7 + 1))),
            "first": [float(x) for x in as_f32[:4]]}


def entry(name, arr, role="Parameter"):
    d = describe(arr)
    d["name"] = name
    d["role"] = role
    return d


def s_array(strings):
    """What Keras 2 stores: np.asarray(list of bytes) -> fixed-length 'S' strings."""
    return np.array([s.encode("utf8") for s in strings])


# ---------------------------------------------------------------------------------------------
# Keras 2 full model: model.save("keras2_full.h5") of
#   Sequential([Conv2D(2, 3, input_shape=(4, 4, 1)), BatchNormalization(), Flatten(), Dense(3)])
# compiled with Adam, after one training step.
def keras2_full():
    path = os.path.join(OUT, "keras2_full.h5")
    layers = {
        "conv2d": [("conv2d/kernel:0", values((3, 3, 1, 2))), ("conv2d/bias:0", values((2,)))],
        "batch_normalization": [
            ("batch_normalization/gamma:0", values((2,)) + 1),
            ("batch_normalization/beta:0", values((2,))),
            ("batch_normalization/moving_mean:0", values((2,))),
            ("batch_normalization/moving_variance:0", np.abs(values((2,))) + 0.5),
        ],
        "flatten": [],
        "dense": [("dense/kernel:0", values((8, 3))), ("dense/bias:0", values((3,)))],
    }
    order = ["conv2d", "batch_normalization", "flatten", "dense"]
    layer_cfg = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 4, 1], "name": "conv2d_input"}},
                 {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3]}},
                 {"class_name": "BatchNormalization", "config": {"name": "batch_normalization"}},
                 {"class_name": "Flatten", "config": {"name": "flatten"}},
                 {"class_name": "Dense", "config": {"name": "dense", "units": 3}}]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layer_cfg}}
    training_config = {"loss": "mse", "metrics": None, "weighted_metrics": None, "loss_weights": None,
                       "optimizer_config": {"class_name": "Adam", "config": {
                           "name": "Adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999}}}
    trainable = [w for l in order for w in layers[l] if "moving" not in w[0]]
    opt = [("Adam/iter:0", np.array(1, dtype=np.int64))]
    opt += [("Adam/" + n.replace(":0", "/m:0"), values(v.shape, scale=0.01)) for n, v in trainable]
    opt += [("Adam/" + n.replace(":0", "/v:0"), np.abs(values(v.shape, scale=0.001))) for n, v in trainable]

    with h5py.File(path, "w") as f:
        # saving_utils.model_metadata: str values as they are, dicts as JSON bytes.
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = s_array(order)
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.11.0"
        for layer in sorted(order):  # Keras creates the groups sorted by name
            lg = g.create_group(layer)
            lg.attrs["weight_names"] = s_array([n for n, _ in layers[layer]]) if layers[layer] else []
            for n, v in layers[layer]:
                lg.create_dataset(n, v.shape, dtype=v.dtype)[...] = v
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = s_array([n for n, _ in opt])
        for n, v in opt:
            og.create_dataset(n, v.shape, dtype=v.dtype)[()] = v

    expected["keras2_full.h5"] = {
        "format": "keras-h5",
        "tensors": [entry(n, v, "Buffer" if "moving" in n else "Parameter") for l in order for n, v in layers[l]],
        "optimizer": [entry(n, v, "Optimizer") for n, v in opt],
        "metadata": {"keras_version": "2.11.0", "backend": "tensorflow", "model_class": "Sequential",
                     "model_name": "sequential", "layer_count": "4",
                     "layer_classes": "Conv2D, BatchNormalization, Flatten, Dense",
                     "optimizer": "Adam (learning_rate 0.001)", "loss": "mse"},
    }


# ---------------------------------------------------------------------------------------------
# Keras 2 weights only: model.save_weights("keras2_weights.h5") of a functional model
#   input_1 -> embedding (float16 policy) -> ... -> sequential (nested: dense_1, dense_2)
# Attributes as h5py 3 writes a Python list of bytes (variable-length strings) to cover both.
def keras2_weights():
    path = os.path.join(OUT, "keras2_weights.h5")
    layers = {
        "input_1": [],
        "embedding": [("embedding/embeddings:0", values((6, 4), np.float16))],
        "dense": [("dense/kernel:0", values((4, 5))), ("dense/bias:0", values((5,)))],
        "sequential": [("sequential/dense_1/kernel:0", values((5, 3))), ("sequential/dense_1/bias:0", values((3,))),
                       ("sequential/dense_2/kernel:0", values((3, 2))), ("sequential/dense_2/bias:0", values((2,)))],
    }
    order = ["input_1", "embedding", "dense", "sequential"]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode("utf8") for n in order]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.13.1"
        for layer in sorted(order):
            lg = f.create_group(layer)
            lg.attrs["weight_names"] = [n.encode("utf8") for n, _ in layers[layer]]
            for n, v in layers[layer]:
                lg.create_dataset(n, v.shape, dtype=v.dtype)[...] = v
    expected["keras2_weights.h5"] = {
        "format": "keras-h5",
        "tensors": [entry(n, v) for l in order for n, v in layers[l]],
        "optimizer": [],
        "metadata": {"keras_version": "2.13.1", "backend": "tensorflow", "layer_count": "4"},
    }


# ---------------------------------------------------------------------------------------------
# Storage variants Keras itself never writes but HDF5 files in the wild hold, in a Keras 2 weights
# layout: chunked + gzip (shape not a multiple of the chunk), big-endian float32/float64/int64,
# h5py bool, a never-written dataset (fill value), a scalar, and HDF5 bfloat16.
def keras2_storage():
    path = os.path.join(OUT, "keras2_storage.h5")
    kernel = values((37, 23))
    big_f32 = values((5,)).astype(">f4")
    big_f64 = values((2, 3)).astype(">f8")
    big_i64 = np.arange(-3, 3, dtype=">i8").reshape(2, 3)
    mask = np.array([[True, False, True], [False, False, True]])
    scalar = np.array(2.5, dtype=np.float32)
    bf16_src = values((4,))
    fill = np.full((2, 2), 0.25, dtype=np.float32)
    names = ["dense/kernel:0", "dense/bias:0", "dense/scale:0", "dense/steps:0", "dense/mask:0",
             "dense/temperature:0", "dense/bf16:0", "dense/unwritten:0"]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = s_array(["dense"])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        g = f.create_group("dense")
        g.attrs["weight_names"] = s_array(names)
        g.create_dataset(names[0], data=kernel, chunks=(8, 5), compression="gzip", compression_opts=4, shuffle=True)
        g.create_dataset(names[1], data=big_f32)
        g.create_dataset(names[2], data=big_f64, chunks=(1, 3))  # chunked, no filter, big-endian
        g.create_dataset(names[3], data=big_i64)
        g.create_dataset(names[4], data=mask)
        g.create_dataset(names[5], data=scalar)
        # bfloat16 as a custom HDF5 float (ParamScope's HDF5 writer does the same): bits of float32 >> 16.
        bf16 = h5py.h5t.IEEE_F32LE.copy()
        bf16.set_fields(15, 7, 8, 0, 7)
        bf16.set_size(2)
        bf16.set_ebias(127)
        bits = (bf16_src.view(np.uint32) >> 16).astype("<u2")
        space = h5py.h5s.create_simple((4,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_obj_track_times(False)  # as h5py does: reproducible files
        dsid = h5py.h5d.create(g["dense"].id, b"bf16:0", bf16, space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=bf16)  # raw bits, no conversion
        g.create_dataset(names[7], shape=(2, 2), dtype=np.float32, fillvalue=0.25)
    bf16_values = (bits.astype(np.uint32) << 16).view(np.float32)
    expected["keras2_storage.h5"] = {
        "format": "keras-h5",
        "tensors": [entry(names[0], kernel), entry(names[1], big_f32), entry(names[2], big_f64),
                    entry(names[3], big_i64), entry(names[4], mask), entry(names[5], scalar),
                    dict(entry(names[6], bf16_values), dtype="BF16"), entry(names[7], fill)],
        "optimizer": [],
        # Tensors whose stored bytes are exposed as they are: contiguous, allocated, little-endian.
        # (The big-endian ones are mapped too, but swapped on reading; the rest go through HDF5.)
        "raw_bytes": [names[4], names[5], names[6]],
        "metadata": {"keras_version": "2.11.0", "backend": "tensorflow", "layer_count": "1"},
    }


# ---------------------------------------------------------------------------------------------
# Keras 3: model.save_weights("keras3_nested.weights.h5") of
#   inputs = Input((5,))
#   x = Dense(4)(inputs)                                   -> layers/dense
#   x = inner(x)  # Functional: Input(4) -> Dense(3) -> Dense(3)   -> layers/functional/layers/...
#   x = BatchNormalization()(x)                            -> layers/batch_normalization
#   x = Dense(2, use_bias=False)(x)                        -> layers/dense_1 (one variable)
#   x = Scale()(x)   # custom layer with one variable      -> layers/scale
#   x = Dense(2)(x)                                        -> layers/dense_2
# compiled with Adam (optimizer/vars: iteration, learning_rate, then m and v per variable).
def keras3_model():
    model = [  # (container entry, [(shown name, value, role)]) in model order
        ("input_layer", []),
        ("dense", [("dense/kernel", values((5, 4))), ("dense/bias", values((4,)))]),
        ("functional", None),  # nested, below
        ("batch_normalization", [("batch_normalization/gamma", values((3,)) + 1),
                                 ("batch_normalization/beta", values((3,))),
                                 ("batch_normalization/moving_mean", values((3,))),
                                 ("batch_normalization/moving_variance", np.abs(values((3,))) + 0.5)]),
        ("dense_1", [("dense_1/kernel", values((3, 2)))]),
        ("scale", [("scale/vars/0", values((2,)))]),
        ("dense_2", [("dense_2/kernel", values((2, 2))), ("dense_2/bias", values((2,)))]),
    ]
    inner = [("input_layer", []),
             ("dense", [("functional/dense/kernel", values((4, 3))), ("functional/dense/bias", values((3,)))]),
             ("dense_1", [("functional/dense_1/kernel", values((3, 3))), ("functional/dense_1/bias", values((3,)))])]
    return model, inner


def write_keras3_weights(f, model, inner, opt):
    f.create_group("vars")  # the model's own variables (none)

    def save_layer(prefix, entry_name, weights):
        g = f.create_group(prefix + entry_name).create_group("vars")
        for i, (_, v) in enumerate(weights):
            g[str(i)] = v

    for name, weights in model:
        if weights is None:
            f.create_group("layers/functional").create_group("vars")
            for iname, iweights in inner:
                save_layer("layers/functional/layers/", iname, iweights)
        else:
            save_layer("layers/", name, weights)
    og = f.create_group("optimizer").create_group("vars")
    for i, v in enumerate(opt):
        og[str(i)] = v


def keras3_weights():
    model, inner = keras3_model()
    ordered = []
    for name, weights in model:
        ordered += inner_weights(inner) if weights is None else weights
    trainable = [v for n, v in ordered if "moving" not in n]
    opt = [np.array(3, dtype=np.int64), np.array(0.001, dtype=np.float32)]
    for v in trainable:
        opt += [values(v.shape, scale=0.01), np.abs(values(v.shape, scale=0.001))]
    path = os.path.join(OUT, "keras3_nested.weights.h5")
    with h5py.File(path, "w") as f:
        write_keras3_weights(f, model, inner, opt)
    opt_entries = [entry("optimizer/vars/%d" % i, v, "Optimizer") for i, v in enumerate(opt)]
    tensors = [entry(n, v, "Buffer" if "moving" in n else "Parameter") for n, v in ordered]
    expected["keras3_nested.weights.h5"] = {
        "format": "keras3-weights", "tensors": tensors, "optimizer": opt_entries,
        "metadata": {"layer_count": "7"},
    }
    return model, inner, opt, tensors, opt_entries


def inner_weights(inner):
    return [w for _, ws in inner for w in ws]


# ---------------------------------------------------------------------------------------------
# Keras 3 .keras archive: model.save("keras3_model.keras"), a zip (ZIP_STORED) of metadata.json,
# config.json and model.weights.h5; and the same archive deflated, as a re-zipping tool makes it.
def keras3_archives(model, inner, opt, tensors, opt_entries):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write_keras3_weights(f, model, inner, opt)
    weights = buf.getvalue()
    config = {"module": "keras", "class_name": "Functional", "config": {
        "name": "functional_1", "trainable": True,
        "layers": [{"module": "keras.layers", "class_name": c, "config": {"name": n}, "name": n} for c, n in [
            ("InputLayer", "input_layer"), ("Dense", "dense"), ("Functional", "functional"),
            ("BatchNormalization", "batch_normalization"), ("Dense", "dense_1"), ("Scale", "scale"),
            ("Dense", "dense_2")]]},
        "registered_name": "Functional",
        "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                         "config": {"name": "adam", "learning_rate": 0.001}},
                           "loss": "mean_squared_error"}}
    metadata = {"keras_version": "3.3.3", "date_saved": "2024-06-11@12:00:00"}
    for name, method in [("keras3_model.keras", zipfile.ZIP_STORED), ("keras3_deflated.keras", zipfile.ZIP_DEFLATED)]:
        with zipfile.ZipFile(os.path.join(OUT, name), "w") as zf:
            for member, data in [("metadata.json", json.dumps(metadata).encode()),
                                 ("config.json", json.dumps(config).encode()), ("model.weights.h5", weights)]:
                info = zipfile.ZipInfo(member, date_time=(2024, 6, 11, 12, 0, 0))  # fixed: reproducible
                info.compress_type = method
                zf.writestr(info, data)
        expected[name] = {
            "format": "keras3-weights", "tensors": tensors, "optimizer": opt_entries,
            "metadata": {"keras_version": "3.3.3", "date_saved": "2024-06-11@12:00:00", "model_class": "Functional",
                         "model_name": "functional_1", "layer_count": "6",
                         "layer_classes": "Dense x3, Functional, BatchNormalization, Scale",
                         "optimizer": "Adam (learning_rate 0.001)", "loss": "mean_squared_error"},
        }


def main():
    os.makedirs(OUT, exist_ok=True)
    keras2_full()
    keras2_weights()
    keras2_storage()
    keras3_archives(*keras3_weights())
    # One tensor per line: readable diffs, small file.
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        f.write("{\n")
        for i, (name, fx) in enumerate(sorted(expected.items())):
            f.write(' "%s": {\n' % name)
            keys = sorted(fx)
            for j, k in enumerate(keys):
                v = fx[k]
                end = "," if j + 1 < len(keys) else ""
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    f.write('  "%s": [\n' % k)
                    f.write(",\n".join("   " + json.dumps(e, sort_keys=True) for e in v))
                    f.write("\n  ]%s\n" % end)
                else:
                    f.write('  "%s": %s%s\n' % (k, json.dumps(v, sort_keys=True), end))
            f.write(" }%s\n" % ("," if i + 1 < len(expected) else ""))
        f.write("}\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote %d fixtures, %d bytes in %s" % (len(expected), total, os.path.normpath(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
