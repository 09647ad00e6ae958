"""Dropping what a features-only member computes from zeros (needs `onnx`, not torch).

On tiny float and int8 graphs shaped like a features-only member (tests/onnx_models.py):
the pruned graph must give the same probabilities (to 1e-6) and lose the zero
branch; a branch that is not zero must stay. The shipped files were pruned this way.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import sitewatch.modelops.ensemble as ensemble_module  # noqa: E402
from sitewatch.detect.learned import FIXED_SPLIT_MODEL, MODELS_DIR, learned_score, load_model  # noqa: E402
from sitewatch.modelops.ensemble import build_ensemble  # noqa: E402
from sitewatch.modelops.prune import drop_zero_inputs, zero_tensors  # noqa: E402
from sitewatch.train.data import TrainingData  # noqa: E402
from tests.cli.run import assert_one_line_error, sitewatch  # noqa: E402
from tests.onnx_models import features_only_model, random_dates, tiny_training_data  # noqa: E402

#: Pruning removes operators whose inputs are zeros; the kernels left may then sum in another
#: order (on an AVX2 EPYC 15 of 6,336 probabilities moved by 1.2e-7), so "the same output" is
#: judged to the tolerance `prune_file` itself checks.
SAME = 1e-6


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return tiny_training_data()


def _ops(path) -> list[str]:
    return [node.name or node.op_type for node in onnx.load(str(path)).graph.node]


def test_the_zero_first_level_is_dropped_and_the_output_is_the_same(tmp_path):
    model = features_only_model(tmp_path / "fo.onnx", 0)
    assert set(zero_tensors(onnx.load(str(model.path)).graph)) >= {"first", "pooled"}
    result = sitewatch("model", "prune", model.path, "--out", tmp_path / "out")
    pruned = load_model(tmp_path / "out" / "fo.onnx")
    assert "nodes computed from zeros dropped, output unchanged" in result.stdout
    assert "first" not in _ops(pruned.path) and "Mul" not in _ops(pruned.path)
    assert onnx.load(str(pruned.path)).graph.initializer  # weights kept, the output conv's sliced
    out_weight = {t.name: t for t in onnx.load(str(pruned.path)).graph.initializer}["w_out"]
    assert list(out_weight.dims) == [1, 5, 3, 3]  # the 3 zero channels' weights are gone
    before, after = random_dates(1), random_dates(2)
    np.testing.assert_allclose(learned_score(before, after, pruned), learned_score(before, after, model), atol=SAME)
    assert pruned.metadata["zero_inputs_dropped"] == "4"  # Mul, Conv, Relu, MaxPool
    assert "prune" in pruned.metadata["pruned_by"]


def test_a_level_that_is_not_zero_is_kept(tmp_path):
    """A positive bias on zeros is a constant, not zero: nothing may be dropped."""
    model = features_only_model(tmp_path / "fo.onnx", 0, first_bias=0.25)
    graph = onnx.load(str(model.path)).graph
    assert "first" not in zero_tensors(graph)
    assert drop_zero_inputs(graph) == 0 and "first" in [n.name for n in graph.node]


@pytest.mark.parametrize("zero_name", ["zero_image", ""], ids=["float zero", "quantised zero"])
def test_an_int8_ensemble_is_built_pruned_with_the_same_answer(tmp_path, data, monkeypatch, zero_name):
    members = [features_only_model(tmp_path / "fo.onnx", 0, zero_name=zero_name).path]
    pruned = build_ensemble(members, data, tmp_path / "pruned.onnx", int8=True)
    monkeypatch.setattr(ensemble_module, "drop_zero_inputs", lambda graph: 0)
    whole = build_ensemble(members, data, tmp_path / "whole.onnx", int8=True)
    assert int(pruned.metadata["zero_inputs_dropped"]) > 0 and len(_ops(pruned.path)) < len(_ops(whole.path))
    assert "m0_first" not in _ops(pruned.path) and "m0_first" in _ops(whole.path)
    before, after = random_dates(1), random_dates(2)
    np.testing.assert_allclose(learned_score(before, after, pruned), learned_score(before, after, whole), atol=SAME)
    assert (pruned.threshold, pruned.min_region_px) == (whole.threshold, whole.min_region_px)


def test_the_shipped_files_compute_nothing_from_zeros():
    for path in (MODELS_DIR / "oscd-rgbn.onnx", FIXED_SPLIT_MODEL):
        graph = onnx.load(str(path)).graph
        read = {name for node in graph.node for name in node.input}
        assert not set(zero_tensors(graph)) & read, path.name
        assert int(load_model(path).metadata["zero_inputs_dropped"]) > 0


def test_prune_of_a_missing_file_is_one_error_line(tmp_path):
    assert_one_line_error(sitewatch("model", "prune", tmp_path / "nope.onnx", "--out", tmp_path / "out"), "nope.onnx")
    assert not (tmp_path / "out").exists()
