"""Tiny float change models written with onnx.helper, for tests of the ONNX mechanics (needs `onnx`).

One 3x3 convolution over both dates' log DN: cheap, deterministic, and with the metadata
the detector reads, so tests of the detector and of ensembling do not depend on which
networks ship.
"""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sitewatch.detect.learned import ChangeModel, load_model
from sitewatch.train.data import RGBN_BANDS

CITIES = ["a", "b", "c"]


def tiny_model(
    path, seed: int, bands=RGBN_BANDS, cities=CITIES, pair_radiometry: str = "none", conv_name: str = "conv"
) -> ChangeModel:
    """A float change model: sigmoid(conv3x3(log1p(before), log1p(after))) with sitewatch metadata.

    `conv_name` names the convolution node, e.g. into the scope of frozen pretrained layers.
    """
    n = len(bands)
    weights = np.random.default_rng(seed).normal(0, 0.3, (1, 2 * n, 3, 3)).astype("float32")
    weights[0, n:] -= weights[0, :n]  # roughly: responds to the difference of the dates
    one = numpy_helper.from_array(np.array(1.0, "float32"), "one")
    nodes = [
        helper.make_node("Add", ["before", "one"], ["b1"]),
        helper.make_node("Log", ["b1"], ["lb"]),
        helper.make_node("Add", ["after", "one"], ["a1"]),
        helper.make_node("Log", ["a1"], ["la"]),
        helper.make_node("Concat", ["lb", "la"], ["x"], axis=1),
        helper.make_node("Conv", ["x", "w"], ["logit"], name=conv_name, pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["logit"], ["p"]),
        helper.make_node("Squeeze", ["p", "axis"], ["probability"]),
    ]
    dims = ["n", n, "h", "w"]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, dims) for k in ("before", "after")],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["n", "h", "w"])],
        initializer=[one, numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([1]), "axis")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(
        model,
        {
            "sitewatch_model": "tiny-test",
            "bands": json.dumps(list(bands)),
            "threshold": "0.5",
            "size_multiple": "8",
            "pair_radiometry": pair_radiometry,
            "train_cities": json.dumps(cities),
        },
    )
    onnx.save(model, str(path))
    return load_model(path)


def int8_conv_weights(path) -> list[np.ndarray]:
    """The int8 weight arrays of a quantised file's convolutions (what must fit 7 bits)."""
    graph = onnx.load(str(path)).graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    dq = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    return [arrays[dq[n.input[1]]] for n in convs if n.input[1] in dq and arrays[dq[n.input[1]]].dtype == np.int8]


def fused_and_reference(path, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The graph run with onnxruntime's fused integer kernels, and with them off (Dequantize -> float)."""
    import onnxruntime as ort

    outputs = []
    for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        outputs.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, feed)[0])
    return outputs[0], outputs[1]
