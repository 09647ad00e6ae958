"""`sitewatch model`, no torch needed: one error line for a wrong option, a missing extra or a dead
worker, and how `plan` reads the settings of models trained before an option existed."""

import sys

import numpy as np
import pytest

from sitewatch.base.bands import RGBN_BANDS
from sitewatch.train.data import City, TrainingData
from tests.cli.run import sitewatch


def _tiny_training_file(tmp_path):
    pixels = np.full((4, 16, 16), 1000.0, dtype="float32")
    path = tmp_path / "t.npz"
    TrainingData(RGBN_BANDS, {"x": City("x", pixels, pixels, np.zeros((16, 16), bool))}).save(path)
    return path


def _refusal(tmp_path, command: str, *options: str) -> str:
    """Run `command` on a tiny training file; assert exit 2 and no output, return the one error line."""
    data = _tiny_training_file(tmp_path)
    out = tmp_path / ("m.onnx" if command == "fit" else "models")
    result = sitewatch("model", command, data, "--out", out, *options)
    assert result.returncode == 2
    assert not out.exists()
    err = result.stderr.strip()
    assert "\n" not in err
    return err


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_a_negative_edge_weight_is_refused_with_one_line(tmp_path, command):
    assert _refusal(tmp_path, command, "--edge-weight", "-0.5").startswith("error: --edge-weight -0.5:")


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_training_without_torch_says_which_extra_to_install(tmp_path, monkeypatch, command):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if the [train] extra were not installed
    err = _refusal(tmp_path, command)
    assert err.startswith("error: training needs PyTorch") and ".[train]" in err


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_a_pretrained_encoder_on_other_bands_is_refused_with_one_line(tmp_path, command):
    err = _refusal(tmp_path, command, "--pretrained", "csmask-b4", "--band-set", "s2")
    assert err.startswith("error: --pretrained csmask-b4:") and "rgbn" in err


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_features_only_without_a_pretrained_encoder_is_refused_with_one_line(tmp_path, command):
    err = _refusal(tmp_path, command, "--features-only")
    assert err.startswith("error: --features-only:") and "--pretrained csmask-b4" in err


def test_a_pretrained_encoder_without_its_weights_package_says_what_to_install(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "ukis_csmask", None)  # as if ukis-csmask were not installed
    err = _refusal(tmp_path, "fit", "--pretrained", "csmask-b4")
    assert err.startswith("error: ") and "ukis-csmask" in err and ".[train]" in err


def _model_recording(path, settings: dict, cities: list[str]):
    """A tiny ONNX file whose metadata records training settings, as `fit` writes them."""
    import json

    import onnx
    from onnx import TensorProto, helper

    value = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    model = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", value[:1], value[1:])
    )
    helper.set_model_props(model, {"train_config": json.dumps(settings), "train_cities": json.dumps(cities)})
    onnx.save(model, str(path))
    return path


def test_plan_reads_a_setting_older_metadata_lacks_as_it_was_then_not_as_todays_default(tmp_path):
    """A model trained before --joint-gain-jitter existed was trained without it: `plan` must not keep it
    for today's default recipe (which uses it), nor retrain it for a recipe without it."""
    from dataclasses import asdict, replace

    from sitewatch.train.config import FIRST_RECIPE, TrainConfig
    from sitewatch.train.jobs import trained_with as _trained_with

    settings = asdict(FIRST_RECIPE)
    del settings["joint_gain_jitter"], settings["edge_weight"]
    path = _model_recording(tmp_path / "old.onnx", settings, ["a"])
    assert _trained_with(path, FIRST_RECIPE, ["a"])
    assert not _trained_with(path, replace(FIRST_RECIPE, joint_gain_jitter=TrainConfig().joint_gain_jitter), ["a"])
    assert not _trained_with(path, FIRST_RECIPE, ["a", "b"])


def test_plan_says_in_one_line_when_a_worker_process_dies(tmp_path, monkeypatch):
    """A worker killed (e.g. by the out-of-memory killer) ends `plan` with advice, not a traceback."""
    from concurrent.futures.process import BrokenProcessPool

    import sitewatch.cli.model_cmd as cli
    import sitewatch.train.jobs as jobs

    def worker_died(*args):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(cli, "_require_torch", lambda pretrained="none": None)
    monkeypatch.setattr(jobs, "run_tasks", worker_died)
    result = sitewatch("model", "plan", _tiny_training_file(tmp_path), "--out", tmp_path / "models", "--jobs", "2")
    assert result.returncode == 2
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("error: a training worker process died") and "--jobs 2" in err


def test_the_option_defaults_are_the_training_defaults():
    """`sitewatch model fit` restates TrainConfig's defaults (to keep `--help` fast): they must agree."""
    from sitewatch.cli.model_cmd import config_of, read_recorded
    from sitewatch.train.config import TrainConfig

    _, options = read_recorded("sitewatch model fit t.npz --out m.onnx")
    assert config_of(options) == TrainConfig()


def test_a_recorded_command_of_the_earlier_training_program_reads_the_same():
    from sitewatch.cli.model_cmd import read_recorded

    old = read_recorded("python -m sitewatch.train fit t.npz --out m.onnx --seed 2 --split fixed --match-pairs")
    new = read_recorded("sitewatch model fit t.npz --out m.onnx --seed 2 --split fixed --match-pairs")
    assert old == new and old[1]["seed"] == 2 and old[1]["split"] == "fixed"
