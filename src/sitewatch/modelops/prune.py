"""Drop from a change-model graph what is computed from zeros: a features-only member's first level.

Why: a features-only member (`--features-only`, members FTm and FT3am of the shipped
ensemble) multiplies its image input by zero, so its first U-Net level convolves zeros at
full resolution and its output is exactly 0 (docs/model-card.md). Its readers still
pay for it: the first level itself, the pooled zeros stacked onto the next level's input,
and the zero skip stacked onto the last decoder's, about 4 % of the shipped file's time.
This module finds such tensors without running the graph: it follows a multiplication
by the constant 0 through convolutions (whose output on zeros is their bias),
quantisation, ReLU and pooling, keeping each tensor's per-channel constant, and calls a
tensor zero when every channel is exactly 0 after the (de)quantisation rounding. Each
Concat then loses its zero inputs and each convolution reading it the matching input
channels of its weights; nodes nothing reads any more are dropped. In integer
arithmetic a zero input channel adds (zero point - zero point) x weight = 0, so the
output is the same to the last bit (the `prune` command checks it on a random input).
Needs `onnx`, not torch.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from sitewatch.base.errors import InputError
from sitewatch.base.model_metadata import write_props
from sitewatch.detect.learned import ChangeModel, cpu_session, load_model

#: Operators that map a constant-per-channel input to the same constant (spatially).
_PASS_THROUGH = ("MaxPool", "Identity")


def _constant_of(node, values: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """The per-channel constant `node` outputs when its data input is constant, or None.

    `values`: the constants known so far; `arrays`: initializers, constants and dequantised
    weights. A value of shape () stands for every channel; (c,) for c channels.
    """
    data = values.get(node.input[0]) if node.input else None
    op = node.op_type
    if data is None:
        return None
    if op in _PASS_THROUGH:
        return data
    if op == "Relu":
        return np.maximum(data, 0)
    if op == "QuantizeLinear" and node.input[1] in arrays:
        zero_point = arrays[node.input[2]] if len(node.input) > 2 else np.zeros((), "uint8")
        info = np.iinfo(zero_point.dtype)
        scaled = np.round(data / arrays[node.input[1]]) + zero_point.astype("int64")
        return np.clip(scaled, info.min, info.max).astype(zero_point.dtype)
    if op == "DequantizeLinear" and node.input[1] in arrays:
        zero_point = arrays[node.input[2]] if len(node.input) > 2 else np.zeros((), "int64")
        return ((data.astype("int64") - zero_point.astype("int64")) * arrays[node.input[1]]).astype("float32")
    if op == "Conv" and not data.any():  # zeros in, zero padding: the bias everywhere
        weight = arrays.get(node.input[1])
        channels = weight.shape[0] if weight is not None and weight.ndim == 4 else None
        if len(node.input) > 2:
            bias = arrays.get(node.input[2])
            return None if bias is None else bias.astype("float32")
        return None if channels is None else np.zeros(channels, "float32")
    return None


def _constants(graph) -> dict[str, np.ndarray]:  # graph: onnx.GraphProto
    """The values of the initializers and Constant nodes, by name."""

    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        for attribute in node.attribute if node.op_type == "Constant" else ():
            if attribute.name == "value":
                arrays[node.output[0]] = numpy_helper.to_array(attribute.t)
    return arrays


def _float_zeros(arrays: dict[str, np.ndarray]) -> set[str]:
    return {name for name, v in arrays.items() if v.dtype == np.float32 and v.size == 1 and not v.any()}


def zero_constants(graph) -> set[str]:  # graph: onnx.GraphProto
    """Names of the float scalar constants equal to zero, as initializers or Constant nodes."""
    return _float_zeros(_constants(graph))


def zero_tensors(graph) -> dict[str, int]:  # graph: onnx.GraphProto
    """Tensors that are exactly 0 whatever the (finite) graph inputs, with their channel counts."""
    arrays = _constants(graph)
    initializers = set(arrays)
    zeros = _float_zeros(arrays)
    values: dict[str, np.ndarray] = {}
    for node in graph.node:  # graph order is topological: a DequantizeLinear of a weight comes before its Conv
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            scale = arrays[node.input[1]]
            zero_point = arrays[node.input[2]] if len(node.input) > 2 else np.zeros((), "int64")
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            shape = [1] * arrays[node.input[0]].ndim
            if scale.ndim == 1 and shape:  # per channel along `axis` (a 1-D bias: along its only axis)
                shape[axis if len(shape) > 1 else 0] = -1
            arrays[node.output[0]] = (
                (arrays[node.input[0]].astype("int64") - zero_point.reshape(shape).astype("int64"))
                * scale.reshape(shape)
            ).astype("float32")
            zeros |= _float_zeros({node.output[0]: arrays[node.output[0]]})  # a quantised constant 0
            continue
        if node.op_type == "Mul" and zeros.intersection(node.input):  # 0 for finite inputs (no data is fed as 0)
            values[node.output[0]] = np.zeros((), "float32")
            continue
        constant = _constant_of(node, values, arrays)
        if constant is not None and len(node.output) == 1:
            values[node.output[0]] = constant
    return {name: int(v.shape[0]) for name, v in values.items() if v.ndim == 1 and not v.any()}


def _readers(graph) -> dict[str, list]:
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def _convolutions_reading(name: str, readers: dict[str, list]) -> list | None:
    """The Conv nodes reading `name` (directly, or through one QuantizeLinear -> DequantizeLinear), else None."""
    found = []
    for reader in readers.get(name, []):
        if reader.op_type == "Conv" and reader.input[0] == name:
            found.append(reader)
        elif reader.op_type in ("QuantizeLinear", "DequantizeLinear") and reader.input[0] == name:
            deeper = _convolutions_reading(reader.output[0], readers)
            if deeper is None:
                return None
            found += deeper
        else:
            return None
    return found


def drop_zero_inputs(graph) -> int:  # graph: onnx.GraphProto, changed in place
    """Remove zero inputs from Concats and the matching weight channels of their readers; return nodes dropped."""

    zeros = zero_tensors(graph)
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    readers = _readers(graph)
    for node in graph.node:
        if node.op_type != "Concat" or next((a.i for a in node.attribute if a.name == "axis"), None) != 1:
            continue
        kept_inputs = [name for name in node.input if name not in zeros]
        if len(kept_inputs) != 1 or len(kept_inputs) == len(node.input):
            continue  # nothing to drop, all zero, or the other inputs' channel counts are unknown
        convs = _convolutions_reading(node.output[0], readers)
        if not convs or any(next((a.i for a in c.attribute if a.name == "group"), 1) != 1 for c in convs):
            continue
        weights = []
        for conv in convs:
            weight = producer.get(conv.input[1])
            source = weight.input[0] if weight is not None and weight.op_type == "DequantizeLinear" else conv.input[1]
            if source not in inits or len(readers.get(source, [])) != 1:
                break  # a shared weight: slicing it would change another reader
            weights.append(source)
        else:
            total = numpy_helper.to_array(inits[weights[0]]).shape[1]
            known = total - sum(zeros[name] for name in node.input if name in zeros)
            counts = [zeros.get(name, known) for name in node.input]
            keep = np.concatenate(
                [
                    np.arange(start, start + count)
                    for name, start, count in zip(node.input, np.cumsum([0, *counts[:-1]]), counts, strict=True)
                    if name not in zeros
                ]
            )
            for name in weights:
                sliced = numpy_helper.to_array(inits[name])[:, keep]
                inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(sliced), name))
            node.input[:] = kept_inputs
    return _drop_unread(graph)


def _drop_unread(graph) -> int:  # graph: onnx.GraphProto, changed in place
    """Remove nodes whose outputs nothing reads (and initializers no node reads); return nodes removed."""
    needed = {value.name for value in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    removed = len(graph.node) - len(kept)
    nodes = [copy.deepcopy(node) for node in reversed(kept)]  # detached from the field cleared below
    del graph.node[:]
    graph.node.extend(nodes)
    initializers = [copy.deepcopy(t) for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return removed


def prune_file(src: Path, out: Path, command: str = "", log: Callable[[str], None] | None = None) -> ChangeModel:
    """Rewrite a change model without what it computes from zeros, checking that its output is unchanged.

    Its threshold and minimum region stay: the graph written gives the same probabilities
    (checked on a random 64 x 64 px input, to 1e-6). `out` appears only when complete.
    """

    model = load_model(src)
    proto = onnx.load(str(src))
    removed = drop_zero_inputs(proto.graph)
    metadata = model.meta.updated(zero_inputs_dropped=removed, pruned_by=command) if removed else model.meta
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{uuid.uuid4().hex}.part")  # unique: sessions are cached by path
    try:
        onnx.checker.check_model(proto)
        write_props(proto, metadata)
        onnx.save(proto, str(part))
        rng = np.random.default_rng(0)
        feed = {
            i.name: rng.uniform(1, 5000, (1, len(model.bands), 64, 64)).astype("float32")
            for i in cpu_session(src, 1).get_inputs()
        }
        before, after = (cpu_session(path, 1).run(None, feed)[0] for path in (src, part))
        difference = float(np.abs(before - after).max())
        if not difference <= 1e-6:
            raise InputError(f"{src}: pruning changed its output by {difference:.2g}; keep the file as it is")
        part.replace(out)
    except (onnx.checker.ValidationError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
        raise InputError(f"{src}: the pruned graph is not valid ({exc}); keep the file as it is") from exc
    finally:
        part.unlink(missing_ok=True)
    if log:
        log(f"{out.name}: {removed} nodes computed from zeros dropped, output unchanged")
    return load_model(out)
