#!/usr/bin/env python3
"""Build the small models the unit tests load (tests/models/*.onnx).

Each model exercises one loader feature: model-local functions, external
data, symbolic dimensions shared between inputs, metadata.  Re-running the
script reproduces the committed files byte for byte.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def function_model():
    # y = LeakyRelu(x + b, alpha) through a model-local function whose
    # alpha is an attribute reference, called twice (names must not clash).
    leaky = helper.make_node("LeakyRelu", ["T"], ["Y"])
    leaky.attribute.append(
        helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    fn = helper.make_function(
        "custom", "AddLeaky", ["X", "B"], ["Y"],
        [helper.make_node("Add", ["X", "B"], ["T"]), leaky],
        opset_imports=[helper.make_opsetid("", 13)],
        attributes=["alpha"])
    b = numpy_helper.from_array(np.array([-1.0, 0.5, 2.0], np.float32), "b")
    nodes = [helper.make_node("AddLeaky", ["x", "b"], ["h"], domain="custom",
                              name="call1", alpha=0.1),
             helper.make_node("AddLeaky", ["h", "b"], ["y"], domain="custom",
                              name="call2", alpha=0.5)]
    g = helper.make_graph(
        nodes, "fn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [b])
    m = helper.make_model(g, functions=[fn],
                          opset_imports=[helper.make_opsetid("", 13),
                                         helper.make_opsetid("custom", 1)])
    m.ir_version = 8
    save(m, "function.onnx")


def external_model():
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    t = numpy_helper.from_array(w, "w")
    t.data_location = TensorProto.EXTERNAL
    raw = w.tobytes()
    with open(os.path.join(HERE, "external.bin"), "wb") as f:
        f.write(b"\0" * 16 + raw)
    del t.external_data[:]
    for k, v in (("location", "external.bin"), ("offset", "16"),
                 ("length", str(len(raw)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    t.ClearField("raw_data")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    save(m, "external.onnx", check=False)


def symbolic_model():
    # z = x + y, both [batch, 3]; meta data and producer set.
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["z"], name="add")], "sym",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 3])])
    m = helper.make_model(g, producer_name="ember-tests", producer_version="2.5",
                          opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    m.model_version = 7
    m.doc_string = "z = x + y"
    helper.set_model_props(m, {"author": "ember", "purpose": "unit tests"})
    save(m, "symbolic.onnx")


if __name__ == "__main__":
    function_model()
    external_model()
    symbolic_model()
