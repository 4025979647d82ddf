#!/usr/bin/python3
"""Writes the execution engine's fixtures (run with Debian's /usr/bin/python3: python3-torch 1.13,
python3-onnx, python3-numpy):

  tests/data/engine/<name>.onnx, <name>.input.npy, <name>.output.npy
      small models exported by torch.onnx.export, with torch's own outputs as the reference:
      chain_opset13   element-wise math, the Shape/Gather/Unsqueeze/Concat/Reshape chain of
                      x.view(x.size(0), -1), slicing, chunk, cat, permute, where, expand
      chain_opset9    the same module at opset 9 (Slice/Squeeze/Unsqueeze/Split/Clip with
                      attributes instead of inputs)
  tests/data/engine/external/model.onnx + weights.bin
      a model whose initializer is external data (onnx.save's save_as_external_data)
  tests/data/engine/typed_fields.onnx, typed_fields.json
      initializers in every typed TensorProto field (float_data, int32_data for INT8/UINT8/INT16/
      BOOL/FLOAT16, int64_data, double_data, uint64_data) added together into outputs
  tests/data/engine/reshape_fixed.onnx
      Relu then Reshape to a fixed [2, 2]: loads, and fails at run time for other batch sizes
  tests/data/engine/odd_names.onnx
      outputs named "logits/out:0", "logits_out_0" and "..", for the CLI's file names
  tests/data/malformed/engine/*.onnx + expected.json
      one broken model per check the loader makes: kind and a substring of the message
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
OUT = os.path.join(DATA, "engine")
BROKEN = os.path.join(DATA, "malformed", "engine")


class Chain(torch.nn.Module):
    """Ops the first engine step implements, in the shapes torch.onnx.export gives them."""

    def __init__(self, stepped=True):
        super().__init__()
        self.stepped = stepped  # Slice steps need opset 10
        g = torch.Generator().manual_seed(1)
        self.w = torch.nn.Parameter(torch.randn(4, 6, generator=g))
        self.b = torch.nn.Parameter(torch.randn(6, generator=g))

    def forward(self, x):  # x: [N, 3, 4]
        y = x * self.w[:, :4].t()[:3] + 0.5            # Mul with a sliced, transposed weight, Add
        y = torch.nn.functional.leaky_relu(y, 0.1)     # LeakyRelu
        y = torch.sigmoid(y) - torch.tanh(y) / 3.0     # Sigmoid Tanh Div Sub
        y = y.clamp(-0.2, 0.7)                          # Clip
        z = y.permute(0, 2, 1)                          # Transpose -> [N, 4, 3]
        a, b = z.chunk(2, dim=1)                        # Split -> two [N, 2, 3]
        c = torch.cat([b, a * 2], dim=2)                # Concat -> [N, 2, 6]
        c = c + self.b                                  # broadcasting Add
        d = c.view(c.size(0), -1)                       # Shape Gather Unsqueeze Concat Reshape
        e = torch.sqrt(d.abs() + 1).pow(2) - torch.exp(-d.abs()) * torch.log(d.abs() + 2)
        f = torch.nn.functional.hardsigmoid(e) + torch.nn.functional.hardswish(d)
        g = torch.where(torch.eq(d, d[:, :1]), f, -f)   # Equal Where with broadcasting
        h = (g[:, 1:10:2] if self.stepped else g[:, 1:6]) * torch.erf(g[:, -5:])  # Slice (steps), Erf
        return torch.relu(h).unsqueeze(1).expand(-1, 2, -1).flatten(1), -g.neg()


def export_chain():
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(2))
    for opset in (13, 9):
        m = Chain(stepped=opset >= 10).eval()
        with torch.no_grad():
            ys = m(x)
        name = f"chain_opset{opset}"
        path = os.path.join(OUT, name + ".onnx")
        torch.onnx.export(m, x, path, input_names=["x"], output_names=["y", "g"], opset_version=opset,
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}, "g": {0: "batch"}})
        np.save(os.path.join(OUT, name + ".input.npy"), x.numpy())
        np.save(os.path.join(OUT, name + ".output.npy"), ys[0].numpy())
        np.save(os.path.join(OUT, name + ".output_g.npy"), ys[1].numpy())
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        print(name, "ops:", " ".join(ops))


def model(nodes, inputs, outputs, inits=(), opset=13, domain_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domain_opsets]
    return helper.make_model(g, opset_imports=opsets, producer_name="make_engine_models")


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def export_external():
    d = os.path.join(OUT, "external")
    os.makedirs(d, exist_ok=True)
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) / 4, "w")
    m = model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", [3, 4])], [vi("y", [3, 4])], [w])
    onnx.save(m, os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)


def export_typed_fields():
    """Initializers in the typed fields (no raw_data), each cast to FLOAT and added to the input."""
    specs = [
        ("f32", TensorProto.FLOAT, [1.5, -2.25]),
        ("f64", TensorProto.DOUBLE, [0.125, 3.0]),
        ("i8", TensorProto.INT8, [-128, 127]),
        ("u8", TensorProto.UINT8, [0, 255]),
        ("i16", TensorProto.INT16, [-300, 300]),
        ("u16", TensorProto.UINT16, [65535, 1]),
        ("i32", TensorProto.INT32, [-70000, 70000]),
        ("i64", TensorProto.INT64, [-(1 << 40), 7]),
        ("u32", TensorProto.UINT32, [4000000000, 5]),
        ("u64", TensorProto.UINT64, [1 << 50, 9]),
        ("b", TensorProto.BOOL, [1, 0]),
        ("f16", TensorProto.FLOAT16, [1.5, -0.5]),
    ]
    inits, nodes, outputs, expected = [], [], [], {}
    for name, t, vals in specs:
        tp = helper.make_tensor(name, t, [2], vals)  # FLOAT16 goes to int32_data as bit patterns
        assert not tp.raw_data
        inits.append(tp)
        nodes.append(helper.make_node("Cast", [name], [name + "_f"], to=TensorProto.DOUBLE, name="cast_" + name))
        nodes.append(helper.make_node("Identity", [name + "_f"], [name + "_out"], name="id_" + name))
        outputs.append(vi(name + "_out", [2], TensorProto.DOUBLE))
        expected[name + "_out"] = [float(v) for v in vals]
    m = model(nodes, [], outputs, inits)
    onnx.save(m, os.path.join(OUT, "typed_fields.onnx"))
    with open(os.path.join(OUT, "typed_fields.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def tensor(name, data_type, dims, **fields):
    """A TensorProto built field by field, so that it may be inconsistent (make_tensor checks)."""
    t = TensorProto(name=name, data_type=data_type, dims=dims)
    for k, v in fields.items():
        if isinstance(v, list):
            getattr(t, k).extend(v)
        else:
            setattr(t, k, v)
    return t


def export_reshape_fixed():
    """Loads fine, fails at run time when the batch is not 2: Reshape to a fixed [2, 2]."""
    shape = numpy_helper.from_array(np.array([2, 2], dtype=np.int64), "shape")
    m = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
               helper.make_node("Reshape", ["r", "shape"], ["y"], name="fixed_reshape")],
              [vi("x", ["batch", 2])], [vi("y", [2, 2])], [shape])
    onnx.save(m, os.path.join(OUT, "reshape_fixed.onnx"))


def export_odd_names():
    """Outputs whose names are not file names, two of which sanitise to the same one."""
    m = model([helper.make_node("Identity", ["in:0"], ["logits/out:0"], name="a"),
               helper.make_node("Neg", ["in:0"], ["logits_out_0"], name="b"),
               helper.make_node("Relu", ["in:0"], [".."], name="c")],
              [vi("in:0", [2])], [vi("logits/out:0", [2]), vi("logits_out_0", [2]), vi("..", [2])])
    onnx.save(m, os.path.join(OUT, "odd_names.onnx"))


def broken_models():
    x, y = vi("x", [2]), vi("y", [2])
    relu = helper.make_node("Relu", ["x"], ["y"], name="r")
    cases = {}

    def add(name, m, kind, message):
        cases[name] = (m, kind, message)

    add("unsupported_op", model([helper.make_node("NonMaxSuppression", ["x", "x"], ["y"], name="n3")], [x], [y]),
        "Unsupported", "node 'n3' (NonMaxSuppression): operator not supported (supported: ")
    add("opset_8", model([relu], [x], [y], opset=8), "Unsupported", "opset 8")
    add("opset_18", model([relu], [x], [y], opset=18), "Unsupported", "opset 18")
    add("cycle", model([helper.make_node("Add", ["x", "c"], ["a"], name="first"),
                        helper.make_node("Relu", ["a"], ["c"], name="second"),
                        helper.make_node("Relu", ["a"], ["y"], name="last")], [x], [y]),
        "BadInput", "cycle through node '")
    add("missing_input", model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="adder")], [x], [y]),
        "BadInput", "node 'adder' (Add): input 'nowhere' is not a graph input")
    add("duplicate_output", model([helper.make_node("Relu", ["x"], ["y"], name="one"),
                                   helper.make_node("Neg", ["x"], ["y"], name="two")], [x], [y]),
        "BadInput", "value 'y' is produced twice, by node 'one' (Relu) and node 'two' (Neg)")
    add("wrong_attribute_kind", model([helper.make_node("Flatten", ["x"], ["y"], name="flat", axis=1.5)], [x], [y]),
        "BadInput", "node 'flat' (Flatten): attribute 'axis' is a float, expected an int")
    add("other_domain", model([helper.make_node("Gelu", ["x"], ["y"], name="g", domain="com.microsoft")], [x], [y],
                              domain_opsets=[("com.microsoft", 1)]),
        "Unsupported", "node 'g' (Gelu): domain 'com.microsoft'")
    add("no_default_opset", model([relu], [x], [y], opset=13), "BadInput", "no opset for the default ONNX domain")
    cases["no_default_opset"][0].ClearField("opset_import")
    add("too_many_inputs", model([helper.make_node("Relu", ["x", "x"], ["y"], name="r2")], [x], [y]),
        "BadInput", "node 'r2' (Relu): the operator takes 1 inputs, the node gives 2")
    add("unnamed_node_unsupported", model([helper.make_node("Loop", ["x"], ["y"])], [x], [y]),
        "Unsupported", "node '#0 (Loop)' (Loop)")
    add("undefined_output", model([relu], [x], [y, vi("z", [2])]), "BadInput", "graph output 'z' is not produced")
    bad_raw = tensor("w", TensorProto.FLOAT, [2, 2], raw_data=b"\0" * 12)
    add("raw_data_size", model([helper.make_node("Add", ["x", "w"], ["y"], name="a")], [x], [y], [bad_raw]),
        "BadInput", "initializer 'w': raw_data holds 12 bytes, F32 [2, 2] needs 16")
    short = tensor("w", TensorProto.INT64, [3], int64_data=[1, 2])
    add("typed_count", model([helper.make_node("Add", ["x", "w"], ["y"], name="a")], [x], [y], [short]),
        "BadInput", "int64_data holds 2 values, I64 [3] needs 3")
    wide = tensor("w", TensorProto.INT8, [1], int32_data=[300])
    add("int8_out_of_range", model([helper.make_node("Add", ["x", "w"], ["y"], name="a")], [x], [y], [wide]),
        "BadInput", "int32_data value 300 does not fit INT8")
    escape = tensor("w", TensorProto.FLOAT, [2], data_location=TensorProto.EXTERNAL)
    escape.external_data.add(key="location", value="../../weights.bin")
    add("external_escapes", model([helper.make_node("Add", ["x", "w"], ["y"], name="a")], [x], [y], [escape]),
        "BadInput", "leaves the model's folder")
    two = helper.make_node("Constant", [], ["c"], name="k", value_float=1.0, value_int=2)
    add("constant_two_values", model([two, helper.make_node("Add", ["x", "c"], ["y"], name="a")], [x], [y]),
        "BadInput", "node 'k' (Constant): must set exactly one value attribute, it sets 2")
    add("string_tensor", model([relu], [x], [y], [tensor("s", TensorProto.STRING, [1], string_data=[b"a"])]),
        "Unsupported", "initializer 's': data type STRING")
    add("duplicate_initializer", model([relu], [x], [y], [numpy_helper.from_array(np.zeros(1, np.float32), "w"),
                                                          numpy_helper.from_array(np.zeros(1, np.float32), "w")]),
        "BadInput", "initializer 'w' is listed twice")
    add("sequence_input", model([relu], [helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [2])], [y]),
        "Unsupported", "graph input 'x' is not a tensor")
    add("slice_without_starts", model([helper.make_node("Slice", ["x"], ["y"], name="s", ends=[1])], [x], [y], opset=9),
        "BadInput", "node 's' (Slice): needs the 'starts' attribute")
    add("subgraph_attribute", model([helper.make_node("Relu", ["x"], ["y"], name="r",
                                                      body=helper.make_graph([], "b", [], []))], [x], [y]),
        "Unsupported", "attribute 'body' holds a subgraph")

    os.makedirs(BROKEN, exist_ok=True)
    expected = {}
    for name, (m, kind, message) in cases.items():
        with open(os.path.join(BROKEN, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        expected[name + ".onnx"] = {"kind": kind, "message": message}
    raw = {
        "not_protobuf": (b"\xff\xff\xff\xff not a model", "BadInput", "is not an ONNX model"),
        "empty_model": (b"", "BadInput", "is not an ONNX model (it holds no graph)"),
        "truncated": (cases["cycle"][0].SerializeToString()[:-7], "BadInput", "is not an ONNX model"),
    }
    for name, (data, kind, message) in raw.items():
        with open(os.path.join(BROKEN, name + ".onnx"), "wb") as f:
            f.write(data)
        expected[name + ".onnx"] = {"kind": kind, "message": message}
    with open(os.path.join(BROKEN, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    export_chain()
    export_external()
    export_typed_fields()
    export_reshape_fixed()
    export_odd_names()
    broken_models()


if __name__ == "__main__":
    main()
