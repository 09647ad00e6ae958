"""The float models behind the published figures, restored from git history (scripts/restore_models.py).

`models.json` is all the working tree keeps of them; a registry entry that does not
restore, or a file that is not what its folder says (a fold model that saw its own city,
a member the shipped files do not record), would make the model card's figures
unrepeatable without any detection test noticing.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sitewatch.bench.folds import fold_model_name
from sitewatch.cli.model_cmd import config_of, read_recorded
from sitewatch.detect.learned import MODELS_DIR, load_model
from sitewatch.train.config import as_recorded, recorded_settings
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "restore_models.py"
REGISTRY = json.loads((REPO / "models.json").read_text())
#: The folders of the shipped members, in `folds/` and in `members/`.
SHIPPED = ("r1", "ftm", "ft3am")


def _script():
    spec = importlib.util.spec_from_file_location("restore_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def restored(tmp_path_factory) -> Path:
    """Every registered file, restored once from git history into a temporary folder."""
    if subprocess.run(["git", "-C", str(REPO), "rev-parse"], capture_output=True).returncode != 0:
        pytest.skip("not a git clone: the registered models live in its history")
    dest = tmp_path_factory.mktemp("models")
    restored, kept = _script().restore(REGISTRY["files"], dest)
    assert (restored, kept) == (len(REGISTRY["files"]), 0)
    return dest


def test_every_registered_file_restores_with_its_checksum(restored):
    for entry in REGISTRY["files"]:
        path = restored / entry["path"]
        assert path.stat().st_size == entry["bytes"], path
    again = _script().restore(REGISTRY["files"], restored)
    assert again == (0, len(REGISTRY["files"]))  # checked and kept, nothing read twice


def test_the_script_refuses_unknown_groups_and_damaged_files_in_one_line(restored, tmp_path):
    unknown = subprocess.run([sys.executable, SCRIPT, "nowhere", "--dest", tmp_path], capture_output=True, text=True)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "nowhere" in unknown.stderr
    entry = REGISTRY["files"][0]
    damaged = [{**entry, "sha256": "0" * 64}]
    with pytest.raises(SystemExit) as stop:
        _script().restore(damaged, tmp_path)
    assert stop.value.code == 2 and not (tmp_path / entry["path"]).exists()


def _settings(path: Path) -> dict:
    return recorded_settings(load_model(path).metadata["train_config"])


def _folder_of(member: dict, restored: Path) -> str:
    """The shipped folder whose fold models were trained with this member's settings."""
    settings = recorded_settings(member["train_config"])
    folders = [f for f in SHIPPED if _settings(next((restored / "folds" / f).glob("*.onnx"))) == settings]
    assert len(folders) == 1, f"{member['command']}: {len(folders)} folders of folds/ hold its recipe"
    return folders[0]


@functools.cache
def _every_city() -> list[str]:
    return load_model(MODELS_DIR / "oscd-rgbn.onnx").train_cities


FOLDERS = sorted(g.split("/")[1] for g in REGISTRY["groups"] if g.startswith("folds/"))


@pytest.mark.parametrize("recipe", FOLDERS)
def test_fold_models_never_saw_their_own_city_and_hold_one_recipe(restored, recipe):
    folder = restored / "folds" / recipe
    files = {city: folder / fold_model_name("loco", city) for city in _every_city()}
    assert set(folder.glob("*.onnx")) == set(files.values()), f"folds/{recipe}: strays or missing cities"
    settings = [_settings(p) for p in files.values()]
    assert all(s == settings[0] for s in settings), f"folds/{recipe} mixes training settings"
    for city, path in files.items():
        model = load_model(path)
        assert model.train_cities == [c for c in _every_city() if c != city], path
        assert model.bands == ("blue", "green", "red", "nir"), path
        command, options = read_recorded(model.metadata["command"])
        assert command == "fit" and options["exclude"] == [city] and options["split"] is None, path
        # Run today, the recorded command trains with the settings the file records.
        assert as_recorded(config_of(options)) == settings[0], path


@pytest.mark.parametrize("shipped_file", ["oscd-rgbn.onnx", "oscd-rgbn-fixed.onnx"])
def test_the_float_members_of_each_shipped_file_are_registered(restored, shipped_file):
    shipped = load_model(MODELS_DIR / shipped_file)
    assert sorted(_folder_of(m, restored) for m in shipped.members) == sorted(SHIPPED)
    for member in shipped.members:
        kept = load_model(restored / "members" / _folder_of(member, restored) / member["file"])
        assert kept.metadata["command"] == member["command"], kept
        assert kept.metadata["train_config"] == member["train_config"], kept
        assert kept.train_cities == shipped.train_cities, kept
        command, options = read_recorded(member["command"])
        left_out = "fixed" if shipped_file.endswith("-fixed.onnx") else None
        assert command == "fit" and not options["exclude"] and options["split"] == left_out, kept
        assert as_recorded(config_of(options)) == recorded_settings(member["train_config"]), kept
