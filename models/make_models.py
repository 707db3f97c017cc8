#!/usr/bin/env python3
"""Build the small models Ember ships (models/*.onnx).

tiny_cnn.onnx: a small image classifier (Conv, BatchNormalization, Relu,
MaxPool, GlobalAveragePool, Gemm, Softmax) with a symbolic batch dimension
and fixed pseudo-random weights, used by the README's quick start and by
tests.  Weights come from a seeded generator, so the file is reproducible:
run `python3 models/make_models.py` and git shows no change.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_cnn():
    rng = np.random.default_rng(20261128)

    def w(name, *shape, scale=0.2):
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        w("conv1.w", 8, 3, 3, 3), w("conv1.b", 8, scale=0.05),
        numpy_helper.from_array(np.ones(8, np.float32) * 1.1, "bn1.scale"),
        w("bn1.bias", 8, scale=0.1),
        w("bn1.mean", 8, scale=0.1),
        numpy_helper.from_array((rng.random(8) + 0.5).astype(np.float32), "bn1.var"),
        w("conv2.w", 16, 8, 3, 3, scale=0.1), w("conv2.b", 16, scale=0.05),
        w("fc.w", 10, 16, scale=0.3), w("fc.b", 10, scale=0.05),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv1.w", "conv1.b"], ["c1"],
                         name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization",
                         ["c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"],
                         ["b1"], name="bn1", epsilon=1e-5),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"],
                         name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="fc",
                         transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax",
                         axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                       ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT,
                                       ["batch", 10])],
        inits)
    model = helper.make_model(graph, producer_name="ember-make-models",
                              producer_version="1",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"description": "Ember quick-start CNN",
                                   "license": "Apache-2.0"})
    onnx.checker.check_model(model)
    return model


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    onnx.save(tiny_cnn(), os.path.join(out, "tiny_cnn.onnx"))


if __name__ == "__main__":
    main()
