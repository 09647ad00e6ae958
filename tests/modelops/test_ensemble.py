"""Averaging exported models into one ONNX file (needs `onnx`, not torch).

Mechanics only, on tiny float change models (tests/onnx_models.py) (one 3x3
convolution over both dates' log DN): the merged graph must compute the members' mean
probability, feed each member the inputs it was trained on (plain or radiometrically
matched dates), quantise to int8 on request, and refuse members that cannot be averaged.
Whether ensembles detect change better is measured on real OSCD cities (docs/model-card.md,
`sitewatch bench oscd --cv loco`).
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from sitewatch.base.errors import InputError  # noqa: E402
from sitewatch.detect.learned import MATCHED_INPUTS, input_names, learned_score, load_model  # noqa: E402
from sitewatch.modelops.ensemble import (  # noqa: E402
    KIND,
    build_ensemble,
    merge_members,
)
from sitewatch.modelops.int8 import FROZEN_SCOPE, frozen_region, narrow_int8_weights  # noqa: E402
from sitewatch.train.data import RGBN_BANDS, TrainingData  # noqa: E402
from tests.cli.run import assert_one_line_error, sitewatch  # noqa: E402
from tests.onnx_models import (  # noqa: E402
    CITIES,
    fused_and_reference,
    int8_conv_weights,
    random_dates,
    tiny_model,
    tiny_training_data,
)


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return tiny_training_data()


def test_ensemble_is_the_mean_of_its_members_each_fed_its_own_inputs(tmp_path, data):
    plain = tiny_model(tmp_path / "plain.onnx", 0)
    matched = tiny_model(tmp_path / "matched.onnx", 1, pair_radiometry="pair-median-iqr")
    ensemble = build_ensemble([plain.path, matched.path], data, tmp_path / "ens.onnx", command="test")
    assert input_names(ensemble) == {"before", "after", *MATCHED_INPUTS}
    before, after = random_dates(1), random_dates(2) * 1.4 + 200  # a scene-wide radiometric difference
    expected = (learned_score(before, after, plain) + learned_score(before, after, matched)) / 2
    np.testing.assert_allclose(learned_score(before, after, ensemble), expected, atol=1e-5)
    assert ensemble.metadata["sitewatch_model"] == KIND and ensemble.metadata["command"] == "test"
    assert ensemble.train_cities == CITIES
    assert [m["pair_radiometry"] for m in ensemble.members] == ["none", "pair-median-iqr"]
    assert 0 < ensemble.threshold < 1 and ensemble.min_region_px >= 1

    nested = build_ensemble([ensemble.path, plain.path], data, tmp_path / "nested.onnx")  # an ensemble as member
    expected = (learned_score(before, after, ensemble) + learned_score(before, after, plain)) / 2
    np.testing.assert_allclose(learned_score(before, after, nested), expected, atol=1e-5)


def test_what_members_compute_alike_is_computed_once_with_the_same_result(tmp_path, data):
    """Two members with the same layers on the same inputs (as PTd's and FO's frozen encoder) share them."""
    one = tiny_model(tmp_path / "one.onnx", 0)
    same = tiny_model(tmp_path / "same.onnx", 0)  # the same weights under the same names
    other = tiny_model(tmp_path / "other.onnx", 1)  # other weights: its convolution is its own
    graph = merge_members([one, same, other]).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Conv") == 2 and ops.count("Log") == 2  # the dates' log DN: computed once for all three
    assert len(graph.initializer) == 4  # one, axis, and two convolution weights
    ensemble = build_ensemble([one.path, same.path, other.path], data, tmp_path / "ens.onnx")
    before, after = random_dates(1), random_dates(2)
    expected = (2 * learned_score(before, after, one) + learned_score(before, after, other)) / 3
    np.testing.assert_allclose(learned_score(before, after, ensemble), expected, atol=1e-5)


def test_a_member_with_fewer_bands_reads_its_own_bands_of_the_shared_inputs(tmp_path, data):
    rgbn = tiny_model(tmp_path / "rgbn.onnx", 0)
    subset = ("blue", "nir")  # not a prefix: the Gather must pick by name, in the member's order
    plain = tiny_model(tmp_path / "bn.onnx", 1, bands=subset[::-1])
    matched = tiny_model(tmp_path / "bn-matched.onnx", 2, bands=subset, pair_radiometry="pair-median-iqr")
    ensemble = build_ensemble([rgbn.path, plain.path, matched.path], data, tmp_path / "mixed.onnx")
    assert ensemble.bands == rgbn.bands and input_names(ensemble) == {"before", "after", *MATCHED_INPUTS}
    before, after = random_dates(5), random_dates(6) * 1.3 + 100
    pick = [[RGBN_BANDS.index(b) for b in m.bands] for m in (plain, matched)]
    expected = (
        learned_score(before, after, rgbn)
        + learned_score(before[pick[0]], after[pick[0]], plain)
        + learned_score(before[pick[1]], after[pick[1]], matched)
    ) / 3
    np.testing.assert_allclose(learned_score(before, after, ensemble), expected, atol=1e-5)


def test_members_that_cannot_be_averaged_are_refused(tmp_path):
    rgbn = tiny_model(tmp_path / "rgbn.onnx", 0)
    with pytest.raises(InputError, match="bands not among"):  # the first member must have every band
        merge_members([tiny_model(tmp_path / "rgb.onnx", 1, bands=("red", "green", "blue")), rgbn])
    with pytest.raises(InputError, match="other cities"):
        merge_members([rgbn, tiny_model(tmp_path / "fewer.onnx", 1, cities=["a"])])


def test_int8_ensemble_is_quantised_and_stays_close_to_float(tmp_path, data):
    members = [tiny_model(tmp_path / f"m{i}.onnx", i).path for i in range(2)]
    out = tmp_path / "out"
    floats = build_ensemble(members, data, out / "f32.onnx")
    int8 = build_ensemble(members, data, out / "int8.onnx", int8=True)
    assert "QuantizeLinear" in {node.op_type for node in onnx.load(str(int8.path)).graph.node}
    assert int8.metadata["weights"] == "int8" and floats.metadata["weights"] == "float32"
    assert sorted(p.name for p in out.iterdir()) == ["f32.onnx", "int8.onnx"]  # no temporary files left
    before, after = random_dates(3), random_dates(4)
    expected = learned_score(before, after, floats)
    assert np.abs(learned_score(before, after, int8) - expected).mean() < 0.02
    with pytest.raises(InputError, match="already int8"):
        build_ensemble([int8.path, floats.path], data, out / "again.onnx", int8=True)


def test_int8_weights_are_7_bit_so_cpus_without_vnni_agree(tmp_path, data):
    members = [tiny_model(tmp_path / f"m{i}.onnx", i).path for i in range(2)]
    int8 = build_ensemble(members, data, tmp_path / "int8.onnx", int8=True)
    weights = int8_conv_weights(int8.path)
    assert weights and all(w.min() >= -64 and w.max() <= 63 for w in weights)
    assert int8.metadata["weight_bits"] == "7"
    fused, reference = fused_and_reference(int8.path, {"before": random_dates(3)[None], "after": random_dates(4)[None]})
    assert np.abs(fused - reference).max() < 0.02


def test_narrow_repairs_an_8_bit_file_and_chooses_its_post_processing_again(tmp_path, data):
    members = [tiny_model(tmp_path / f"m{i}.onnx", i).path for i in range(2)]
    seven = build_ensemble(members, data, tmp_path / "seven.onnx", int8=True)
    proto = onnx.load(str(seven.path))  # widened to 8 bits, as files were quantised before 2026-11-28
    inits = {t.name: t for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "DequantizeLinear" and inits.get(node.input[0]) is not None:
            q = onnx.numpy_helper.to_array(inits[node.input[0]])
            if q.dtype == np.int8:
                scale = onnx.numpy_helper.to_array(inits[node.input[1]])
                inits[node.input[0]].CopyFrom(onnx.numpy_helper.from_array((q * 2).astype(np.int8), node.input[0]))
                inits[node.input[1]].CopyFrom(onnx.numpy_helper.from_array(scale / 2, node.input[1]))
    wide, out = tmp_path / "old" / "all.onnx", tmp_path / "new"
    wide.parent.mkdir()
    onnx.save(proto, str(wide))
    assert max(np.abs(w.astype(int)).max() for w in int8_conv_weights(wide)) > 64
    data.save(tmp_path / "train.npz")
    assert sitewatch("model", "narrow", tmp_path / "train.npz", wide, "--out", out).returncode == 0
    narrowed = load_model(out / "all.onnx")
    assert all(w.min() >= -64 and w.max() <= 63 for w in int8_conv_weights(narrowed.path))
    before, after = random_dates(5), random_dates(6)
    feed = {"before": before[None], "after": after[None]}
    _, old = fused_and_reference(wide, feed)
    fused, new = fused_and_reference(narrowed.path, feed)
    assert np.abs(new - old).max() < 0.02 and np.abs(fused - new).max() < 0.02  # one weight bit less, same answer
    assert narrowed.metadata["weight_bits"] == "7" and "narrow" in narrowed.metadata["command"]
    assert 0 < narrowed.threshold < 1 and "threshold" in narrowed.metadata["narrowed_from"]
    assert narrow_int8_weights(onnx.load(str(narrowed.path)).graph) == 0  # already narrow: left as it is
    assert_one_line_error(
        sitewatch("model", "narrow", tmp_path / "train.npz", members[0], "--out", out), "not an int8 file"
    )
    fewer = TrainingData(data.bands, {name: data.cities[name] for name in CITIES[:1]})
    fewer.save(tmp_path / "fewer.npz")
    assert_one_line_error(
        sitewatch("model", "narrow", tmp_path / "fewer.npz", wide, "--out", out), "which the training file lacks"
    )


def test_int8_leaves_frozen_pretrained_layers_float(tmp_path, data):
    frozen = tiny_model(tmp_path / "frozen.onnx", 0, conv_name=f"/net{FROZEN_SCOPE}conv")
    trained = tiny_model(tmp_path / "trained.onnx", 1, conv_name="/net/encoders.0/conv")
    int8 = build_ensemble([frozen.path, trained.path], data, tmp_path / "int8.onnx", int8=True)
    graph = onnx.load(str(int8.path)).graph
    dequantised = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    convs = {node.name: node for node in graph.node if node.op_type == "Conv"}
    assert set(convs) == {f"m0_/net{FROZEN_SCOPE}conv", "m1_/net/encoders.0/conv"}
    assert convs[f"m0_/net{FROZEN_SCOPE}conv"].input[1] not in dequantised  # float weights
    assert dequantised  # the rest is quantised (which nodes is the quantiser's call)


def test_frozen_region_spans_the_dates_stacked_for_it_and_its_feature_change_up_to_a_trained_layer():
    from onnx import helper

    def node(op, inputs, name):
        return helper.make_node(op, inputs, [name], name=name)

    graph = helper.make_graph(
        [
            node("Concat", ["before", "after"], "stack"),  # read only by the frozen layers
            node("Conv", ["stack", "w0"], f"/net{FROZEN_SCOPE}conv"),
            node("Slice", [f"/net{FROZEN_SCOPE}conv", "start", "mid"], "b"),
            node("Slice", [f"/net{FROZEN_SCOPE}conv", "mid", "end"], "a"),
            node("Sub", ["a", "b"], "diff"),
            node("Abs", ["diff"], "change"),
            node("Conv", ["change", "w1"], "injection"),  # trained: quantised
            node("Log", ["before"], "log"),  # the trained network's own input
            node("Add", ["log", "injection"], "out"),
        ],
        "g",
        [],
        [],
    )
    assert frozen_region(graph) == sorted(["stack", f"/net{FROZEN_SCOPE}conv", "b", "a", "diff", "change"])


def test_frozen_region_keeps_a_features_only_member_s_zeroed_image_input_float():
    """Its dates times a zero constant: quantised, the all-zero range broke onnxruntime."""
    from onnx import TensorProto, helper

    def node(op, inputs, name):
        return helper.make_node(op, inputs, [name], name=name)

    graph = helper.make_graph(
        [
            node("Log", ["before"], "log_b"),
            node("Log", ["after"], "log_a"),
            node("Sub", ["log_a", "log_b"], "diff"),
            node("Concat", ["log_b", "log_a", "diff"], "dates"),
            node("Mul", ["dates", "zero"], "zeroed"),
            node("Conv", ["zeroed", "w0"], "encoder"),  # trained: quantised
            node("Mul", ["encoder", "half"], "scaled"),  # times a constant that is not zero
            node("Log", ["after"], "other_member"),  # read by a member that reads the dates
        ],
        "g",
        [],
        [],
        initializer=[
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        ],
    )
    assert frozen_region(graph) == sorted(["log_b", "log_a", "diff", "dates", "zeroed"])


def test_command_averages_same_named_models_and_refuses_folders_without_any(tmp_path, data):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    tiny_model(a / "all.onnx", 0)
    tiny_model(b / "all.onnx", 1)
    tiny_model(a / "only-in-a.onnx", 2)
    data.save(tmp_path / "train.npz")
    assert sitewatch("model", "ensemble", tmp_path / "train.npz", a, b, "--out", out).returncode == 0
    assert [p.name for p in out.iterdir()] == ["all.onnx"]
    assert [m["file"] for m in load_model(out / "all.onnx").members] == ["all.onnx", "all.onnx"]
    assert_one_line_error(
        sitewatch("model", "ensemble", tmp_path / "train.npz", a, tmp_path, "--out", out), "nothing to average"
    )
    (tmp_path / "junk.npz").write_text("not an npz")
    assert_one_line_error(
        sitewatch("model", "ensemble", tmp_path / "junk.npz", a, b, "--out", out), "not a training file"
    )
