"""Int8 quantisation of change-model graphs, right on every x86 CPU.

Static QDQ quantisation with per-channel weights narrowed to 7 bits: with 8-bit weights,
ONNX Runtime's integer kernels saturate on CPUs without VNNI (AVX2 only) and the files
gave wrong answers there (docs/experiments.md). A member's frozen pretrained layers stay
float (`frozen_region`): quantised, they lost the pretrained member's gain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from sitewatch.modelops.prune import zero_constants

#: Name scope of a member's frozen pretrained layers (`ChangeUNet.context`) in exported graphs.
FROZEN_SCOPE = "/context/"
_TRAINED_LAYERS = ("Conv", "ConvTranspose")


def frozen_region(graph) -> list[str]:  # graph: onnx.GraphProto
    """Names of the nodes int8 must leave float: frozen pretrained layers and the arithmetic around them.

    That is every node in `FROZEN_SCOPE`, every node whose outputs only they read (the
    dates stacked for them), and every node that reads their outputs, up to the first
    trained convolution (the slicing of the dates and |after - before| of the features).
    Quantising the stacked dates would also round the other members' reflectance input to
    uint8 steps, and quantising the features before their difference would round it away.
    A features-only member's image input, multiplied by zero, stays float with what feeds
    it: quantised, its all-zero range made onnxruntime fail ("Cannot concatenate scalars").
    """
    nodes = list(graph.node)
    zeros = zero_constants(graph)
    region = {
        i
        for i, node in enumerate(nodes)
        if FROZEN_SCOPE in node.name or (node.op_type == "Mul" and any(name in zeros for name in node.input))
    }
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            readers.setdefault(name, []).append(i)
    grown = True
    while grown:
        grown = False
        for i, node in enumerate(nodes):
            if i in region:
                continue
            read_by = [j for out in node.output for j in readers.get(out, [])]
            feeds_only_region = bool(read_by) and all(j in region for j in read_by)
            reads_region = (
                node.op_type not in _TRAINED_LAYERS and bool(node.input) and producer.get(node.input[0]) in region
            )
            if feeds_only_region or reads_region:
                region.add(i)
                grown = True
    return sorted(nodes[i].name for i in region if nodes[i].name)  # the quantiser excludes nodes by name


#: Largest magnitude of a 7-bit weight: uint8 activations times such weights, summed in
#: pairs, fit in int16 (2 x 255 x 64 = 32,640 <= 32,767).
WEIGHT_LIMIT = 64


def narrow_int8_weights(graph) -> int:  # graph: onnx.GraphProto, changed in place
    """Requantise every int8 weight to 7 bits (scale doubled) and its int32 bias to match; return how many.

    Why: on x86 CPUs without VNNI (AVX2 or AVX-512F only, e.g. AMD EPYC before Zen 4),
    onnxruntime runs uint8 x int8 convolutions with VPMADDUBSW, which adds products in
    pairs into int16 and saturates: 2 x 255 x 127 overflows. The ensemble shipped until
    2026-11-28 scored pooled F1 0.18 instead of 0.59 on the fixed split on such a CPU
    (docs/model-card.md). Weights within [-64, 63] cannot overflow there and lose one bit
    everywhere else; this is onnxruntime's `reduce_range`, applied to a graph already
    quantised, so files made before can be repaired as well as new ones built. A bias
    stays quantised with the product of its input's and weight's scales, as the fused
    integer convolution requires, so it is halved with its weight's step.
    """

    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def rescale(quantized: str, scale: str, divisor: int, limit: tuple[int, int] | None) -> None:
        values = numpy_helper.to_array(inits[quantized])
        narrowed = np.round(values.astype(np.int64) / divisor)
        if limit is not None:
            narrowed = np.clip(narrowed, *limit)
        inits[quantized].CopyFrom(numpy_helper.from_array(narrowed.astype(values.dtype), quantized))
        factor = numpy_helper.to_array(inits[scale]) * np.float32(divisor)
        inits[scale].CopyFrom(numpy_helper.from_array(factor.astype(np.float32), scale))

    def dequantized(name: str | None):  # -> the DequantizeLinear node reading an initializer, or None
        node = producer.get(name) if name else None
        return node if node is not None and node.op_type == "DequantizeLinear" and node.input[0] in inits else None

    convs = [
        n for n in graph.node if n.op_type in _TRAINED_LAYERS and dequantized(n.input[1] if len(n.input) > 1 else None)
    ]
    narrowed: set[str] = set()
    for node in convs:
        weight = dequantized(node.input[1])
        quantized = weight.input[0]
        values = numpy_helper.to_array(inits[quantized])
        if values.dtype != np.int8 or quantized in narrowed:
            continue
        if len(weight.input) > 2 and numpy_helper.to_array(inits[weight.input[2]]).any():
            raise ValueError(f"{quantized}: asymmetric int8 weights (zero point not 0) cannot be narrowed")
        if values.min() >= -WEIGHT_LIMIT and values.max() <= WEIGHT_LIMIT - 1:
            continue  # already 7-bit (narrowed before): leave it
        rescale(quantized, weight.input[1], 2, (-WEIGHT_LIMIT, WEIGHT_LIMIT - 1))
        narrowed.add(quantized)
    biases: set[str] = set()
    for node in convs:
        bias = dequantized(node.input[2] if len(node.input) > 2 else None)
        if bias is not None and dequantized(node.input[1]).input[0] in narrowed and bias.input[0] not in biases:
            rescale(bias.input[0], bias.input[1], 2, None)
            biases.add(bias.input[0])
    return len(narrowed)


def quantize_int8(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> None:
    """Static int8 quantisation (QDQ, per-channel 7-bit weights): ~1.35x faster on CPUs with VNNI.

    A member's frozen pretrained layers stay float (`frozen_region`): quantised, its swish
    and squeeze-excitation activations lost the pretrained member's gain (docs/model-card.md).
    Weights are narrowed to 7 bits (`narrow_int8_weights`) so the file gives the same
    answer on CPUs with and without VNNI.
    """

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    prepared = dst.with_name(dst.name + ".pre")
    quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
    try:
        frozen = frozen_region(onnx.load(str(prepared)).graph)
        quantize_static(
            str(prepared),
            str(dst),
            Feeds(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=frozen,
        )
        quantized = onnx.load(str(dst))
        narrow_int8_weights(quantized.graph)
        onnx.save(quantized, str(dst))
    finally:
        prepared.unlink(missing_ok=True)
