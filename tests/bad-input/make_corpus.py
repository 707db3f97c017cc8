#!/usr/bin/env python3
"""Build the bad-input corpus: malformed models, each with the status and a
piece of the message Ember must give (expected.tsv: file, status, text).

Run from anywhere; writes next to this script.  The files are committed,
so the test needs no Python.  Re-running reproduces them byte for byte.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rows = []


def write(name, data, status, text):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    rows.append((name, status, text))


def model(nodes, inputs, outputs, inits=(), opset=13, ir=8, **kw):
    g = helper.make_graph(nodes, "bad", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)
    m.ir_version = ir
    return m.SerializeToString()


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


good = model([helper.make_node("Relu", ["x"], ["y"], name="r")],
             [vi("x", [2, 3])], [vi("y", [2, 3])])

write("empty.onnx", b"", "EMBER_ERR_PARSE", "0 bytes")
write("text.onnx", b"this is not a model\n", "EMBER_ERR_PARSE", "not a valid ONNX model")
rng = np.random.default_rng(7)
write("garbage.onnx", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
      "EMBER_ERR_PARSE", "byte offset")
write("truncated.onnx", good[: len(good) - 9], "EMBER_ERR_PARSE", "truncated")
write("no_graph.onnx", b"\x08\x08", "EMBER_ERR_PARSE", "no graph")
write("unknown_op.onnx",
      model([helper.make_node("FooBar", ["x"], ["y"], name="mystery")],
            [vi("x", [2])], [vi("y", [2])]),
      "EMBER_ERR_UNSUPPORTED", "node 'mystery' (FooBar): unsupported operator FooBar")
write("unknown_domain.onnx",
      model([helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.acme")],
            [vi("x", [2])], [vi("y", [2])]),
      "EMBER_ERR_INVALID_MODEL", "domain 'com.acme'")
write("ir_version_2.onnx",
      model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])],
            [vi("y", [2])], ir=2),
      "EMBER_ERR_UNSUPPORTED", "IR version 2")
write("cycle.onnx",
      model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")],
            [vi("x", [2])], [vi("b", [2])]),
      "EMBER_ERR_INVALID_MODEL", "cycle")
write("undefined_input.onnx",
      model([helper.make_node("Relu", ["nowhere"], ["y"], name="r")],
            [vi("x", [2])], [vi("y", [2])]),
      "EMBER_ERR_INVALID_MODEL", "input 0 'nowhere' is not defined")
write("duplicate_output.onnx",
      model([helper.make_node("Relu", ["x"], ["y"], name="r1"),
             helper.make_node("Relu", ["x"], ["y"], name="r2")],
            [vi("x", [2])], [vi("y", [2])]),
      "EMBER_ERR_INVALID_MODEL", "'y' is defined more than once")
write("missing_output.onnx",
      model([helper.make_node("Relu", ["x"], ["y"], name="r")],
            [vi("x", [2])], [vi("z", [2])]),
      "EMBER_ERR_INVALID_MODEL", "output 0 'z'")
write("arity.onnx",
      model([helper.make_node("Relu", ["x", "x"], ["y"], name="r")],
            [vi("x", [2])], [vi("y", [2])]),
      "EMBER_ERR_INVALID_MODEL", "node 'r' (Relu) has 2 inputs")
bad_raw = numpy_helper.from_array(np.zeros(4, np.float32), "w")
bad_raw.raw_data = b"\0" * 7
write("raw_data_size.onnx",
      model([helper.make_node("Add", ["x", "w"], ["y"], name="a")],
            [vi("x", [4])], [vi("y", [4])], [bad_raw]),
      "EMBER_ERR_INVALID_MODEL", "raw_data has 7 bytes")
neg = numpy_helper.from_array(np.zeros(4, np.float32), "w")
neg.dims[:] = [-4]
write("negative_dim.onnx",
      model([helper.make_node("Add", ["x", "w"], ["y"], name="a")],
            [vi("x", [4])], [vi("y", [4])], [neg]),
      "EMBER_ERR_INVALID_MODEL", "negative")
huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 30])
write("huge_dims.onnx",
      model([helper.make_node("Add", ["x", "w"], ["y"], name="a")],
            [vi("x", [4])], [vi("y", [4])], [huge]),
      "EMBER_ERR_LIMIT", "tensor 'w'")
few = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1000000],
                  float_data=[1.0, 2.0])
write("short_float_data.onnx",
      model([helper.make_node("Add", ["x", "w"], ["y"], name="a")],
            [vi("x", [4])], [vi("y", [4])], [few]),
      "EMBER_ERR_INVALID_MODEL", "tensor 'w'")
esc = numpy_helper.from_array(np.zeros(4, np.float32), "w")
esc.ClearField("raw_data")
esc.data_location = TensorProto.EXTERNAL
for k, v in (("location", "../../../etc/passwd"), ("length", "16")):
    e = esc.external_data.add()
    e.key, e.value = k, v
write("external_escape.onnx",
      model([helper.make_node("Add", ["x", "w"], ["y"], name="a")],
            [vi("x", [4])], [vi("y", [4])], [esc]),
      "EMBER_ERR_INVALID_MODEL", "leaves the model's folder")
write("bad_attr_type.onnx",
      model([helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", alpha="big")],
            [vi("x", [4])], [vi("y", [4])]),
      "EMBER_ERR_INVALID_MODEL", "node 'lr' (LeakyRelu): attribute 'alpha'")
a = numpy_helper.from_array(np.zeros((2, 3), np.float32), "a")
b = numpy_helper.from_array(np.zeros((4, 5), np.float32), "b")
write("broadcast_mismatch.onnx",
      model([helper.make_node("Add", ["x", "a"], ["t"], name="add1"),
             helper.make_node("Add", ["t", "b"], ["y"], name="add2")],
            [vi("x", [2, 3])], [vi("y", [4, 5])], [a, b]),
      "EMBER_ERR_SHAPE", "node 'add2' (Add)")
write("opset_too_new.onnx",
      model([helper.make_node("Relu", ["x"], ["y"], name="r")],
            [vi("x", [2])], [vi("y", [2])], opset=99),
      "EMBER_ERR_UNSUPPORTED", "opset 99")

with open(os.path.join(HERE, "expected.tsv"), "w") as f:
    f.write("# file\tstatus\tmessage must contain\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
