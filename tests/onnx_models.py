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
from sitewatch.train.data import RGBN_BANDS, City, TrainingData

CITIES = ["a", "b", "c"]


def random_dates(seed: int, shape=(4, 72, 88)) -> np.ndarray:
    """One date of random DN (300-3,000), float32 (band, y, x)."""
    return np.random.default_rng(seed).uniform(300, 3000, shape).astype("float32")


def tiny_training_data() -> TrainingData:
    """A training file's worth of random cities named CITIES, each with one bright changed block."""
    cities = {}
    for i, name in enumerate(CITIES):
        before, after = random_dates(i), random_dates(i + 100)
        changed = np.zeros(before.shape[1:], bool)
        changed[10:30, 20:40] = True
        after[:, changed] *= 2.5
        cities[name] = City(name, before, after, changed)
    return TrainingData(RGBN_BANDS, cities)


def _log_dates() -> list:
    """Nodes stacking log(1 + DN) of both dates as `x` (reads the initializer `one`)."""
    return [
        helper.make_node("Add", ["before", "one"], ["b1"]),
        helper.make_node("Log", ["b1"], ["lb"]),
        helper.make_node("Add", ["after", "one"], ["a1"]),
        helper.make_node("Log", ["a1"], ["la"]),
        helper.make_node("Concat", ["lb", "la"], ["x"], axis=1),
    ]


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
    nodes = [*_log_dates(), helper.make_node("Conv", ["x", "w"], ["logit"], name=conv_name, pads=[1, 1, 1, 1])]
    return _save(nodes, [one, numpy_helper.from_array(weights, "w")], path, bands, cities, pair_radiometry)


def _save(nodes, initializer, path, bands, cities, pair_radiometry: str = "none") -> ChangeModel:
    """A model file of `nodes` (before, after -> logit) then a sigmoid, with the metadata the detector reads."""
    graph = helper.make_graph(
        [
            *nodes,
            helper.make_node("Sigmoid", ["logit"], ["p"]),
            helper.make_node("Squeeze", ["p", "axis"], ["probability"]),
        ],
        "tiny",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["n", len(bands), "h", "w"]) for k in ("before", "after")],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["n", "h", "w"])],
        initializer=[*initializer, numpy_helper.from_array(np.array([1]), "axis")],
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


def features_only_model(
    path, seed: int, first_bias: float = -0.5, zero_name: str = "zero_image", bands=RGBN_BANDS, cities=CITIES
) -> ChangeModel:
    """A features-only member in miniature: its image level convolves the dates times zero.

    As in `ChangeUNet` with `--features-only`: log DN of both dates times 0, a 3x3
    convolution and ReLU (the first level: exactly 0 when `first_bias` <= 0, the bias
    otherwise), max-pooled, stacked before the "features" (a convolution of the dates) and
    read by the output convolution. `ensemble --int8` leaves the named multiplication by
    zero float, as in exported members; unnamed (""), it is quantised with its zero.
    """
    n = len(bands)
    rng = np.random.default_rng(seed)
    arrays = {
        "one": np.array(1.0, "float32"),
        "zero": np.array(0.0, "float32"),
        "w_first": rng.normal(0, 0.3, (3, 2 * n, 3, 3)).astype("float32"),
        "b_first": np.full(3, first_bias, "float32"),
        "w_features": rng.normal(0, 0.3, (5, 2 * n, 3, 3)).astype("float32"),
        "w_out": rng.normal(0, 0.3, (1, 8, 3, 3)).astype("float32"),
    }
    same = {"pads": [1, 1, 1, 1]}
    nodes = [
        *_log_dates(),
        helper.make_node("Mul", ["x", "zero"], ["nothing"], name=zero_name),
        helper.make_node("Conv", ["nothing", "w_first", "b_first"], ["first_raw"], name="first", **same),
        helper.make_node("Relu", ["first_raw"], ["first"]),
        helper.make_node("MaxPool", ["first"], ["pooled"], kernel_shape=[3, 3], **same),
        helper.make_node("Conv", ["x", "w_features"], ["features_raw"], name="features", **same),
        helper.make_node("Relu", ["features_raw"], ["features"]),
        helper.make_node("Concat", ["pooled", "features"], ["stacked"], axis=1),
        helper.make_node("Conv", ["stacked", "w_out"], ["logit"], name="out", **same),
    ]
    return _save(nodes, [numpy_helper.from_array(v, k) for k, v in arrays.items()], path, bands, cities)


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
