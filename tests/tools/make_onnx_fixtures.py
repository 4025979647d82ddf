#!/usr/bin/python3
"""Writes the ONNX test fixtures and the malformed-ONNX corpus with the real tools: torch.onnx.export
(PyTorch 1.13) and onnx.helper (ONNX 1.12) from Debian.

  tests/data/onnx/tiny_cnn.onnx               torch export, default settings (BatchNorm folded into
                                              the conv: initializers named "onnx::Conv_NN")
  tests/data/onnx/tiny_cnn_unfolded.onnx      do_constant_folding=False, keep_initializers_as_inputs=True
                                              (BatchNorm statistics kept; weights repeated as graph inputs;
                                              Constant nodes for shapes)
  tests/data/onnx/constants_only.onnx         weights only in Constant nodes: value (raw and typed),
                                              value_float(s), value_int(s), value_string, plus an If
                                              node whose subgraphs hold more Constants
  tests/data/onnx/typed_fields.onnx           initializers in the typed fields: float_data, double_data,
                                              int64_data, uint64_data, int32_data holding float16 /
                                              bfloat16 bit patterns, int8, uint8, int16, uint16, bool;
                                              float8 in raw_data; a STRING tensor; an empty tensor
  tests/data/onnx/external/model.onnx(.data)  tiny_cnn saved with all weights in one external file
  tests/data/onnx/big_external.onnx           two tensors in "big_external.bin" at offsets past 2 GiB;
                                              the test creates that (sparse) file at run time
  tests/data/onnx/<name>.json                 expected tensors (name, dtype, shape, values from
                                              onnx.numpy_helper, sum), skipped tensors and metadata
  tests/data/malformed/onnx/*.onnx            broken models, one defect each (see malformed())

Run with Debian's interpreter: /usr/bin/python3 tests/tools/make_onnx_fixtures.py
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
OUT = os.path.join(ROOT, "onnx")
BAD = os.path.join(ROOT, "malformed", "onnx")

# ONNX data type -> ParamScope's DType name
DTYPE = {TensorProto.FLOAT: "F32", TensorProto.UINT8: "U8", TensorProto.INT8: "I8", TensorProto.UINT16: "U16",
         TensorProto.INT16: "I16", TensorProto.INT32: "I32", TensorProto.INT64: "I64", TensorProto.BOOL: "BOOL",
         TensorProto.FLOAT16: "F16", TensorProto.DOUBLE: "F64", TensorProto.UINT32: "U32",
         TensorProto.UINT64: "U64", TensorProto.BFLOAT16: "BF16", 17: "F8_E4M3", 19: "F8_E5M2"}
TYPE_NAME = {v: k for k, v in TensorProto.DataType.items()}


def bf16_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def expected_tensor(t, name=None, values=None):
    """What ParamScope must report for TensorProto t; values as float32 (numpy_helper unless given)."""
    if values is None:
        arr = numpy_helper.to_array(t)
        if t.data_type == TensorProto.BFLOAT16 and not t.raw_data:
            arr = bf16_to_f32(np.asarray(t.int32_data))  # onnx 1.12 returns the raw bits here
        values = np.asarray(arr).astype(np.float32).reshape(-1)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    return {"name": name or t.name, "dtype": DTYPE[t.data_type], "shape": list(t.dims),
            "values": [json_float(v) for v in values], "sum": json_float(np.sum(values.astype(np.float64)))}


def json_float(v):
    """JSON has no NaN or infinity: those are written as the strings "nan", "inf", "-inf"."""
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def type_text(vi):
    tt = vi.type.tensor_type
    dims = []
    for d in tt.shape.dim:
        dims.append(str(d.dim_value) if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else "?")
    return TYPE_NAME[tt.elem_type] + " [" + ", ".join(dims) + "]"


def expected_model(model, extra_tensors=(), skipped=(), notes=()):
    g = model.graph
    init_names = {t.name for t in g.initializer}
    md = [["ir_version", str(model.ir_version)]]
    if model.producer_name:
        md.append(["producer_name", model.producer_name])
    if model.producer_version:
        md.append(["producer_version", model.producer_version])
    for o in model.opset_import:
        md.append(["opset:" + (o.domain or "ai.onnx"), str(o.version)])
    if g.name:
        md.append(["graph_name", g.name])
    md += [["input:" + i.name, type_text(i)] for i in g.input if i.name not in init_names]
    md += [["output:" + o.name, type_text(o)] for o in g.output]
    md += [list(n) for n in notes]
    md += [["skipped:" + n, why] for n, why in skipped]
    tensors = [expected_tensor(t) for t in g.initializer if t.data_type in DTYPE and t.data_type not in (17, 19)]
    for node in g.node:
        if node.op_type != "Constant":
            continue
        attr = node.attribute[0]
        if attr.name == "value" and attr.t.data_type in DTYPE:
            tensors.append(expected_tensor(attr.t, node.output[0]))
    tensors += list(extra_tensors)
    return {"tensors": tensors, "metadata": md}


def save(model, name, expected):
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    return path


class TinyCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.reshape(x.size(0), -1))  # Shape/Gather/Constant nodes in the graph


def torch_fixtures():
    torch.manual_seed(7)
    net = TinyCnn()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding changes the conv
        net.bn.running_mean.copy_(torch.randn(4) * 0.1)
        net.bn.running_var.copy_(torch.rand(4) + 0.5)
        net.bn.weight.copy_(torch.rand(4) + 0.5)
        net.bn.bias.copy_(torch.randn(4) * 0.1)
    net.eval()
    x = torch.randn(1, 3, 8, 8)
    # Eval-mode export folds BatchNorm into the conv even without constant folding; training mode
    # keeps the BatchNormalization node and its four tensors.
    unfolded = {"do_constant_folding": False, "keep_initializers_as_inputs": True,
                "training": torch.onnx.TrainingMode.TRAINING}
    for name, kwargs in (("tiny_cnn", {}), ("tiny_cnn_unfolded", unfolded)):
        path = os.path.join(OUT, name + ".onnx")
        torch.onnx.export(net, (x,), path, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, **kwargs)
        model = onnx.load(path)
        onnx.checker.check_model(model)
        save(model, name, expected_model(model))
    return os.path.join(OUT, "tiny_cnn.onnx")


def constants_only():
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5
    nodes = [
        helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w, "w_tensor")),
        helper.make_node("Constant", [], ["w_typed"], value=helper.make_tensor("", TensorProto.FLOAT, [3], [1.5, -2, 0.25])),
        helper.make_node("Constant", [], ["scale"], value_float=0.125),
        helper.make_node("Constant", [], ["bias"], value_floats=[0.5, -1.25]),
        helper.make_node("Constant", [], ["axis"], value_int=-1),
        helper.make_node("Constant", [], ["shape"], value_ints=[1, -1, 7]),
        helper.make_node("Constant", [], ["label"], value_string="hello"),
        helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
        helper.make_node("Mul", ["h", "scale"], ["h2"], name="mul"),
        helper.make_node("Greater", ["scale", "scale"], ["cond"], name="greater"),
    ]
    then_g = helper.make_graph([helper.make_node("Constant", [], ["t_out"], value_floats=[1.0])], "then_branch", [],
                               [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [1])])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e_out"], value_floats=[2.0])], "else_branch", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1])])
    nodes.append(helper.make_node("If", ["cond"], ["picked"], name="choose", then_branch=then_g, else_branch=else_g))
    graph = helper.make_graph(nodes, "constants", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
                              [helper.make_tensor_value_info("h2", TensorProto.FLOAT, ["n", 3]),
                               helper.make_tensor_value_info("picked", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, producer_name="paramscope-fixtures", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    extra = [
        {"name": "scale", "dtype": "F32", "shape": [], "values": [0.125], "sum": 0.125},
        {"name": "bias", "dtype": "F32", "shape": [2], "values": [0.5, -1.25], "sum": -0.75},
        {"name": "axis", "dtype": "I64", "shape": [], "values": [-1.0], "sum": -1.0},
        {"name": "shape", "dtype": "I64", "shape": [3], "values": [1.0, -1.0, 7.0], "sum": 7.0},
    ]
    notes = [["note:subgraphs", "1 node(s) hold subgraphs (If 'choose'); their initializers and Constant nodes "
                                "are not listed"]]
    exp = expected_model(model, extra, skipped=[("label", "Constant value_string: text, not numbers")], notes=notes)
    save(model, "constants_only", exp)


def typed_fields():
    rng = np.random.default_rng(11)
    f32 = rng.normal(size=(2, 3)).astype(np.float32)
    f16 = np.array([1.0, -2.5, 65504, 6.1e-5, -0.0, np.inf], dtype=np.float16)
    bf = np.array([1.0, -3.140625, 1e30, -1e-20], dtype=np.float32)
    inits = [
        helper.make_tensor("t_float", TensorProto.FLOAT, f32.shape, f32.flatten().tolist()),
        helper.make_tensor("t_double", TensorProto.DOUBLE, [3], [0.1, -2.0, 1e10]),
        helper.make_tensor("t_int64", TensorProto.INT64, [2, 2], [1, -2, 2**40, -(2**40)]),
        helper.make_tensor("t_int32", TensorProto.INT32, [3], [7, -7, 2**31 - 1]),
        helper.make_tensor("t_int16", TensorProto.INT16, [2], [-32768, 32767]),
        helper.make_tensor("t_uint16", TensorProto.UINT16, [2], [0, 65535]),
        helper.make_tensor("t_int8", TensorProto.INT8, [4], [-128, -1, 0, 127]),
        helper.make_tensor("t_uint8", TensorProto.UINT8, [3], [0, 128, 255]),
        helper.make_tensor("t_bool", TensorProto.BOOL, [3], [True, False, True]),
        helper.make_tensor("t_uint32", TensorProto.UINT32, [2], [0, 2**32 - 1]),
        helper.make_tensor("t_uint64", TensorProto.UINT64, [2], [1, 2**53]),
        helper.make_tensor("t_float16", TensorProto.FLOAT16, f16.shape, f16.tolist()),  # int32_data bit patterns
        helper.make_tensor("t_bfloat16", TensorProto.BFLOAT16, bf.shape, bf.tolist()),  # int32_data bit patterns
        helper.make_tensor("t_empty", TensorProto.FLOAT, [0, 3], []),
        helper.make_tensor("t_raw_f16", TensorProto.FLOAT16, [2], np.array([0.5, -8], dtype=np.float16).tobytes(), raw=True),
    ]
    assert not inits[11].raw_data and len(inits[11].int32_data) == f16.size
    assert not inits[12].raw_data and len(inits[12].int32_data) == bf.size
    # float8 in raw_data (data types 17 and 19 postdate ONNX 1.12's helper): hand-checked bytes.
    e4m3 = TensorProto(name="t_f8e4m3", data_type=17, dims=[6], raw_data=bytes([0x38, 0x40, 0xC0, 0x01, 0x7E, 0x7F]))
    e5m2 = TensorProto(name="t_f8e5m2", data_type=19, dims=[4], raw_data=bytes([0x3C, 0xC4, 0x7C, 0x01]))
    text = helper.make_tensor("t_string", TensorProto.STRING, [2], [b"a", b"bc"])
    inits += [e4m3, e5m2, text]
    graph = helper.make_graph([helper.make_node("Identity", ["t_float"], ["y"])], "typed",
                              [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializer=inits)
    model = helper.make_model(graph, producer_name="paramscope-fixtures", opset_imports=[helper.make_opsetid("", 17)])
    exp = expected_model(model, skipped=[("t_string", "STRING tensor: text, not numbers")])
    # 0x38 = 1, 0x40 = 2, 0xC0 = -2, 0x01 = 2^-9 (subnormal), 0x7E = 448 (largest), 0x7F = NaN (E4M3FN);
    # 0x3C = 1, 0xC4 = -4, 0x7C = +inf, 0x01 = 2^-16 (E5M2).
    exp["tensors"] += [
        {"name": "t_f8e4m3", "dtype": "F8_E4M3", "shape": [6], "values": [1.0, 2.0, -2.0, 2.0**-9, 448.0, "nan"],
         "sum": "nan"},
        {"name": "t_f8e5m2", "dtype": "F8_E5M2", "shape": [4], "values": [1.0, -4.0, "inf", 2.0**-16], "sum": "inf"},
    ]
    save(model, "typed_fields", exp)


def external(tiny_cnn_path):
    folder = os.path.join(OUT, "external")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    model = onnx.load(tiny_cnn_path)
    onnx.save_model(model, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    saved = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in saved.graph.initializer)
    with open(os.path.join(OUT, "tiny_cnn.json")) as f:
        exp = json.load(f)
    exp["external"] = [{"name": t.name, **{e.key: e.value for e in t.external_data}} for t in saved.graph.initializer]
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")


HUGE = 600_000_000  # float32 elements: 2.4 GB, past what a signed 32-bit offset can address


def ext_tensor(name, dims, location, offset, length):
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        t.external_data.add(key=k, value=v)
    return t


def big_external():
    inits = [ext_tensor("huge", [HUGE], "big_external.bin", 0, HUGE * 4),
             ext_tensor("tail", [4], "big_external.bin", HUGE * 4, 16)]
    graph = helper.make_graph([helper.make_node("Identity", ["tail"], ["y"])], "big", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=inits)
    model = helper.make_model(graph, producer_name="paramscope-fixtures", opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, os.path.join(OUT, "big_external.onnx"))


# ---- the malformed corpus ----------------------------------------------------------------------
# Each model carries one defect; tests/io/test_onnx_reader.cpp lists the Error kind and a phrase of
# the message it must produce.

def model_with(inits=(), nodes=()):
    graph = helper.make_graph(list(nodes) or [helper.make_node("Identity", ["a"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def f32(name, dims):
    n = int(np.prod(dims))
    return helper.make_tensor(name, TensorProto.FLOAT, dims, np.arange(n, dtype=np.float32).tobytes(), raw=True)


def malformed(tiny_cnn_path):
    with open(tiny_cnn_path, "rb") as f:
        good = f.read()
    cases = {}
    cases["zero_bytes"] = b""
    cases["random_bytes"] = bytes(np.random.default_rng(3).integers(0, 256, 300, dtype=np.uint8))
    cases["truncated_protobuf"] = good[:len(good) // 2]
    cases["no_graph"] = onnx.ModelProto(ir_version=8, producer_name="not a model").SerializeToString()
    cases["group_wire_type"] = b"\x08\x08\x1b\x1c"
    cases["overlong_varint"] = b"\x08" + b"\xff" * 11
    cases["length_beyond_message"] = b"\x08\x08\x3a\xff\xff\x03" + b"\x00" * 10
    cases["raw_data_too_short"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[2, 3],
                                                          raw_data=np.arange(5, dtype=np.float32).tobytes())])
    cases["negative_dim"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[-1, 2])])
    cases["dims_overflow"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[2**40, 2**40])])
    cases["missing_data_type"] = model_with([TensorProto(name="a", dims=[1], raw_data=b"\0\0\0\0")])
    cases["no_values"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[3])])
    cases["typed_count_mismatch"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[4], float_data=[1, 2, 3])])
    cases["typed_wrong_field"] = model_with([TensorProto(name="a", data_type=TensorProto.INT64, dims=[2], float_data=[1, 2])])
    cases["int32_data_out_of_range"] = model_with([TensorProto(name="a", data_type=TensorProto.INT8, dims=[2], int32_data=[1, 300])])
    cases["raw_and_typed"] = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[1], raw_data=b"\0" * 4,
                                                     float_data=[1.0])])
    cases["unnamed_initializer"] = model_with([f32("", [2])])
    cases["duplicate_initializer_names"] = model_with([f32("a", [2]), f32("a", [3])])
    cases["constant_output_clashes"] = model_with([f32("a", [2])], [helper.make_node("Constant", [], ["a"], value_float=1.0)])
    cases["constant_two_values"] = model_with(nodes=[helper.make_node("Constant", [], ["c"], value_float=1.0, value_int=2)])
    # Python's protobuf refuses unknown enum values: write EXTERNAL (1), then patch field 14 to 5.
    blob = model_with([TensorProto(name="a", data_type=TensorProto.FLOAT, dims=[1], data_location=1, raw_data=b"\0" * 4)])
    assert blob.count(b"\x70\x01") == 1
    cases["data_location_invalid"] = blob.replace(b"\x70\x01", b"\x70\x05")
    cases["external_escapes_folder"] = model_with([ext_tensor("a", [4], "../outside.bin", 0, 16)])
    cases["external_absolute_path"] = model_with([ext_tensor("a", [4], "/etc/passwd", 0, 16)])
    cases["external_file_missing"] = model_with([ext_tensor("a", [4], "missing.bin", 0, 16)])
    cases["external_offset_beyond_file"] = model_with([ext_tensor("a", [4], "external_side.bin", 1024, 16)])
    cases["external_length_mismatch"] = model_with([ext_tensor("a", [4], "external_side.bin", 0, 12)])
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    cnn = torch_fixtures()
    constants_only()
    typed_fields()
    external(cnn)
    big_external()
    for old in os.listdir(BAD):
        os.remove(os.path.join(BAD, old))
    with open(os.path.join(BAD, "external_side.bin"), "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    for name, blob in malformed(cnn).items():
        with open(os.path.join(BAD, name + ".onnx"), "wb") as f:
            f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
