"""The training command line answers a wrong option with one error line (no torch needed)."""

import sys

import numpy as np
import pytest

from sitewatch.train.__main__ import main
from sitewatch.train.data import RGBN_BANDS, City, TrainingData


def _refusal(tmp_path, capsys, command: str, *options: str) -> str:
    """Run `command` on a tiny training file; assert exit 2 and no output, return the one error line."""
    pixels = np.full((4, 16, 16), 1000.0, dtype="float32")
    TrainingData(RGBN_BANDS, {"x": City("x", pixels, pixels, np.zeros((16, 16), bool))}).save(tmp_path / "t.npz")
    out = tmp_path / ("m.onnx" if command == "fit" else "models")
    with pytest.raises(SystemExit) as exit_info:
        main([command, str(tmp_path / "t.npz"), "--out", str(out), *options])
    assert exit_info.value.code == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_a_negative_edge_weight_is_refused_with_one_line(tmp_path, capsys, command):
    assert _refusal(tmp_path, capsys, command, "--edge-weight", "-0.5").startswith("error: --edge-weight -0.5:")


@pytest.mark.parametrize("command", ["fit", "plan"])
def test_training_without_torch_says_which_extra_to_install(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if the [train] extra were not installed
    err = _refusal(tmp_path, capsys, command)
    assert err.startswith("error: training needs PyTorch") and ".[train]" in err
