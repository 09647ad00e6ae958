"""Several exported change models averaged in one ONNX file, post-processed for the average.

Why: fold models trained with different recipes err in different places in a city they
never saw, so their mean probability ranks changed pixels better than any one of them
(docs/model-card.md). Keeping the ensemble one ONNX file leaves the detector unchanged:
the members' graphs sit side by side in it, each fed from the graph inputs `before` and
`after`, or `before_matched` and `after_matched` for members trained on pairs matched by
`sitewatch.base.pair_radiometry` (the detector fills those whenever a model asks for them),
and a Mean node averages their probabilities; what several members compute alike (a
shared frozen encoder on the same dates) is computed once (`share_common_nodes`). A member
trained on fewer bands (an RGB+NIR recipe) picks its bands from the shared inputs, so it
can vote in a 10-band ensemble.
`--int8` then quantises the graph (about 1.35x faster on CPU, no measurable change in F1)
except a member's frozen pretrained layers, which stay float (`frozen_region`), with 7-bit
weights so that CPUs without VNNI do not saturate (`narrow_int8_weights`). The
threshold and minimum region are chosen last, for exactly the graph written, on the
members' training cities, never on a city the ensemble is tested on. What a
features-only member computes from zeros is dropped last (`sitewatch.modelops.prune`). Needs
`onnx` (the [train] extra), not torch.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from sitewatch.base.errors import InputError
from sitewatch.base.model_metadata import ModelMetadata, write_props
from sitewatch.base.pair_radiometry import METHOD as PAIR_MATCHING
from sitewatch.detect.learned import MATCHED_INPUTS, ChangeModel, graph_inputs, input_names, learned_score, load_model
from sitewatch.modelops.int8 import narrow_int8_weights, quantize_int8
from sitewatch.modelops.prune import drop_zero_inputs
from sitewatch.train.data import City, TrainingData
from sitewatch.train.postprocess import choose_postprocessing

KIND = "change-unet-ef-ensemble"
#: What each member contributes to the ensemble's metadata (the rest is the ensemble's own).
MEMBER_KEYS = ("sitewatch_model", "train_config", "command", "threshold", "min_region_px")


def _member_graph(model: ChangeModel, proto, index: int, bands: tuple[str, ...]):  # -> onnx.GraphProto
    """The member's graph with its names prefixed, reading the ensemble's shared inputs.

    A member trained on fewer bands than the ensemble (`bands`) picks its own from the
    shared inputs with a Gather node, so an RGB+NIR member can vote in a Sentinel-2 ensemble.
    """
    graph = compose.add_prefix(proto, f"m{index}_").graph
    as_matched = dict(zip(("before", "after"), MATCHED_INPUTS, strict=True))
    rename = {}
    for value in graph.input:  # a member may itself be an ensemble, with matched inputs of its own
        name = value.name.removeprefix(f"m{index}_")
        rename[value.name] = as_matched.get(name, name) if model.pair_radiometry == PAIR_MATCHING else name
    picks = []
    if model.bands != bands:
        indices = numpy_helper.from_array(np.array([bands.index(b) for b in model.bands], np.int64), f"m{index}_bands")
        graph.initializer.append(indices)
        for member_input, shared in list(rename.items()):
            picked = f"{member_input}_picked"
            picks.append(helper.make_node("Gather", [shared, indices.name], [picked], axis=1, name=f"{picked}_gather"))
            rename[member_input] = picked
    for node in graph.node:
        node.input[:] = [rename.get(name, name) for name in node.input]
    if not picks:
        for value in graph.input:
            value.name = rename[value.name]
        return graph
    nodes = picks + list(graph.node)  # Gathers first: they read the shared inputs (topological order)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]  # the member's narrower inputs give way to the shared full-band ones
    graph.input.extend(_band_input(name, len(bands)) for name in sorted({n.input[0] for n in picks}))
    return graph


def _band_input(name: str, bands: int):  # -> onnx.ValueInfoProto

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", bands, "h", "w"])


def merge_members(members: list[ChangeModel]):  # -> onnx.ModelProto
    """One ONNX model whose output `probability` is the mean of the members' probabilities."""
    if not members:
        raise InputError("an ensemble needs at least one member model")
    bands = members[0].bands
    for model in members[1:]:
        if not set(model.bands) <= set(bands) or model.size_multiple != members[0].size_multiple:
            raise InputError(
                f"{model.name}: bands not among those of {members[0].name} ({', '.join(bands)}) or size multiple "
                "differs; cannot average them (list the member with the most bands first)"
            )
        if model.train_cities != members[0].train_cities:
            raise InputError(f"{model.name}: trained on other cities than {members[0].name}; cannot average them")
    protos = [onnx.load(str(model.path)) for model in members]
    graphs = [
        _member_graph(model, proto, i, bands) for i, (model, proto) in enumerate(zip(members, protos, strict=True))
    ]
    inputs = {value.name: value for graph in graphs for value in graph.input}
    output = onnx.ValueInfoProto()
    output.CopyFrom(graphs[0].output[0])
    output.name = "probability"
    mean = helper.make_node("Mean", [g.output[0].name for g in graphs], ["probability"], name="ensemble_mean")
    graph = helper.make_graph(
        [node for g in graphs for node in g.node] + [mean],
        "sitewatch_ensemble",
        [inputs[name] for name in ("before", "after", *MATCHED_INPUTS) if name in inputs],
        [output],
        initializer=[init for g in graphs for init in g.initializer],
    )
    share_common_nodes(graph)
    merged = helper.make_model(graph, opset_imports=list(protos[0].opset_import), ir_version=protos[0].ir_version)
    onnx.checker.check_model(merged)
    return merged


def share_common_nodes(graph) -> None:  # graph: onnx.GraphProto, changed in place
    """Compute once what several members compute alike: equal weights, then equal nodes on equal inputs.

    Why: two members with the same frozen pretrained encoder on the same dates (PTd and
    FO, docs/experiments.md) would otherwise each run it, and it is the most expensive part of
    the file. Initializers with the same type, shape and values become one; then, in
    graph order, a node with the same operator, attributes and inputs as an earlier one
    is dropped and its readers read the earlier node's outputs. The operators exported
    change models use are deterministic (no Random* nodes), so the result is the same.
    """

    canonical: dict[tuple, str] = {}
    rename: dict[str, str] = {}
    kept_initializers = []
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        key = (init.data_type, tuple(init.dims), hashlib.sha256(values.tobytes()).hexdigest())
        if key in canonical:
            rename[init.name] = canonical[key]
        else:
            canonical[key] = init.name
            kept_initializers.append(copy.deepcopy(init))  # detached from the field
    seen: dict[tuple, list[str]] = {}
    kept_nodes = []
    for node in graph.node:
        node.input[:] = [rename.get(name, name) for name in node.input]
        attributes = tuple(sorted((a.name, a.SerializeToString(deterministic=True)) for a in node.attribute))
        key = (node.domain, node.op_type, tuple(node.input), attributes)
        if key in seen and len(seen[key]) == len(node.output):
            rename.update(zip(node.output, seen[key], strict=True))
        else:
            seen[key] = list(node.output)
            kept_nodes.append(copy.deepcopy(node))
    if {value.name for value in graph.output} & set(rename):
        raise ValueError("a graph output would be shared; name the members' outputs apart")
    del graph.initializer[:]
    graph.initializer.extend(kept_initializers)
    del graph.node[:]
    graph.node.extend(kept_nodes)


def _calibration_feeds(
    model: ChangeModel, cities: list[City], bands: list[int], per_city: int = 4, size: int = 128
) -> list[dict[str, np.ndarray]]:
    """Random windows of the training cities, as the graph sees them, to calibrate int8 ranges."""
    names = input_names(model)
    rng = np.random.default_rng(0)
    feeds = []
    for city in cities:
        inputs = graph_inputs(city.before[bands], city.after[bands], model, names)
        h, w = city.changed.shape
        for _ in range(per_city):
            y, x = int(rng.integers(0, max(1, h - size))), int(rng.integers(0, max(1, w - size)))
            feeds.append({k: np.ascontiguousarray(v[None, :, y : y + size, x : x + size]) for k, v in inputs.items()})
    return feeds


def _member_record(model: ChangeModel) -> dict[str, str]:
    record = {"file": model.name, "pair_radiometry": model.pair_radiometry}
    return record | {k: model.metadata[k] for k in MEMBER_KEYS if k in model.metadata}


def save_with_metadata(proto: onnx.ModelProto, metadata: ModelMetadata, path: Path) -> None:
    """Write `proto` to `path` with `metadata` as its only metadata."""
    write_props(proto, metadata)
    onnx.save(proto, str(path))


def build_ensemble(
    member_paths: list[Path],
    data: TrainingData,
    out: str | os.PathLike[str],
    command: str = "",
    int8: bool = False,
    log: Callable[[str], None] | None = None,
) -> ChangeModel:
    """Merge the members (int8 if asked), choose post-processing for the result on their training cities.

    The threshold is chosen on exactly the graph that is written, quantised or not. `out`
    appears only when complete.
    """

    members = [load_model(p) for p in member_paths]
    quantised = [m.name for m in members if m.meta.weights == "int8"]
    if int8 and quantised:
        raise InputError(f"{quantised[0]} is already int8; quantise an ensemble of float members instead")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{uuid.uuid4().hex}.part")  # unique: sessions are cached by path
    base = members[0].meta
    metadata = ModelMetadata(
        kind=KIND,
        bands=base.bands,
        threshold=0.5,
        min_region_px=1,
        pixel_size_m=base.pixel_size_m,
        size_multiple=base.size_multiple,
        pair_radiometry="none",  # matched members read the *_matched inputs instead
        train_cities=base.train_cities,
        members=tuple(_member_record(m) for m in members),
        weights="int8" if int8 else "float32",
        weight_bits=7 if int8 else None,  # see narrow_int8_weights
        command=command,
        extra={"input": base.extra["input"]} if "input" in base.extra else {},
    )
    try:
        merged = merge_members(members)
        cities = data.subset(members[0].train_cities)
        bands = data.band_indices(members[0].bands)
        if int8:  # quantised as merged, so the calibration is what it was before pruning existed
            save_with_metadata(merged, metadata, part)
            floats = part.with_name(part.name + ".f32")
            part.replace(floats)
            try:
                quantize_int8(floats, part, _calibration_feeds(load_model(floats), cities, bands))
            finally:
                floats.unlink(missing_ok=True)
            merged = onnx.load(str(part))
        metadata = metadata.updated(zero_inputs_dropped=drop_zero_inputs(merged.graph))
        save_with_metadata(merged, metadata, part)
        threshold, min_px, f1 = _choose_postprocessing_for(part, metadata, cities, bands)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    if log:
        kind = "int8" if int8 else "float32"
        log(f"{out.name}: {len(members)} members, {kind}, threshold {threshold}, min region {min_px} px, F1 {f1:.3f}")
    return load_model(out)


def _choose_postprocessing_for(
    path: Path, metadata: ModelMetadata, cities: list[City], bands: list[int]
) -> tuple[float, int, float]:
    """Choose threshold and minimum region for the graph at `path` on `cities`; write them into it."""
    model = load_model(path)
    probs = [learned_score(c.before[bands], c.after[bands], model) for c in cities]
    threshold, min_px, f1 = choose_postprocessing(probs, [c.changed for c in cities])
    chosen = metadata.updated(threshold=threshold, min_region_px=min_px, train_f1=f"{f1:.4f}")
    save_with_metadata(onnx.load(str(path)), chosen, path)
    return threshold, min_px, f1


def narrow_ensemble(
    src: Path, data: TrainingData, out: Path, command: str = "", log: Callable[[str], None] | None = None
) -> ChangeModel:
    """Rewrite an int8 file quantised with 8-bit weights (before 2026-11-28) with 7-bit ones.

    Its post-processing is chosen again on its training cities, for exactly the graph
    written, as `build_ensemble` does; the old choice and command stay in the metadata.
    """

    model = load_model(src)
    if model.meta.weights != "int8":
        raise InputError(f"{src}: not an int8 file (weights {model.meta.weights}); nothing to narrow")
    missing = sorted(set(model.train_cities) - set(data.cities))
    if missing:
        raise InputError(
            f"{src}: trained on {', '.join(missing)}, which the training file lacks; give the file it was built from"
        )
    proto = onnx.load(str(src))
    try:
        count = narrow_int8_weights(proto.graph)
    except ValueError as exc:
        raise InputError(f"{src}: {exc}") from exc
    props = model.metadata
    metadata = model.meta.updated(
        weight_bits=7,
        narrowed_from=json.dumps({k: props.get(k, "") for k in ("threshold", "min_region_px", "train_f1", "command")}),
        command=command or model.meta.command,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{uuid.uuid4().hex}.part")
    try:
        save_with_metadata(proto, metadata, part)
        cities = data.subset(model.train_cities)
        threshold, min_px, f1 = _choose_postprocessing_for(part, metadata, cities, data.band_indices(model.bands))
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    if log:
        log(
            f"{out.name}: {count} weight tensors narrowed to 7 bits, "
            f"threshold {threshold}, min region {min_px} px, F1 {f1:.3f}"
        )
    return load_model(out)
