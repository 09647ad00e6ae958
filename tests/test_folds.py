"""The fold models kept in folds/: each is what its folder says, trained without its own city.

The leave-one-city-out figures rest on these files, so a file that saw the city it is
named after, or a folder whose recipe is not one of the shipped ensemble's members,
would make those figures wrong without any test of detection noticing.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from pathlib import Path

import pytest

from sitewatch.bench.folds import fold_model_name
from sitewatch.detect.learned import MODELS_DIR, load_model
from sitewatch.train.__main__ import build_parser, config_from_args
from sitewatch.train.config import TRAIN_PROG, as_recorded, recorded_settings

REPO = Path(__file__).resolve().parents[1]
FOLDS = REPO / "folds"
#: The float members of the shipped files (`members/README.md`).
MEMBERS = REPO / "members"
#: The folders of the shipped members (since 2026-12-07 R1, FTm and FT3am, whose encoders
#: are fine-tuned), in `folds/` and in `members/`. The other folders of `folds/` hold members
#: shipped before or screened, kept for comparison.
SHIPPED = ("r1", "ftm", "ft3am")


def _settings(path: Path) -> dict:
    return recorded_settings(load_model(path).metadata["train_config"])


@functools.cache
def _folder_recipe(folder: str) -> dict:
    """The training settings of a folder's fold models (one recipe per folder, tested below), read once."""
    return _settings(next((FOLDS / folder).glob("*.onnx")))


def _folder_of(member: dict) -> str:
    """The shipped folder whose fold models were trained with this member's settings."""
    settings = recorded_settings(member["train_config"])
    folders = [f for f in SHIPPED if _folder_recipe(f) == settings]
    assert len(folders) == 1, f"{member['command']}: {len(folders)} folders of folds/ hold its recipe"
    return folders[0]


def _recorded_command(command: str) -> argparse.Namespace:
    """A model's recorded training command, read by the training command line itself."""
    prog = shlex.split(TRAIN_PROG)
    words = shlex.split(command)  # written with shlex.quote (config.command_line)
    assert words[: len(prog)] == prog, command
    return build_parser().parse_args(words[len(prog) :])


def _fold_files(recipe: str, cities: list[str]) -> dict[str, Path]:
    """Each city's fold file in the folder, under the name `bench --cv loco` looks for."""
    return {city: FOLDS / recipe / fold_model_name("loco", city) for city in cities}


def test_every_member_of_the_shipped_ensemble_has_a_fold_folder():
    shipped = load_model(MODELS_DIR / "oscd-rgbn.onnx")
    folders = [_folder_of(member) for member in shipped.members]
    assert sorted(folders) == sorted(SHIPPED)
    for folder in SHIPPED:
        files = _fold_files(folder, shipped.train_cities)
        missing = [city for city, path in files.items() if not path.is_file()]
        assert not missing, f"folds/{folder} lacks {missing}"


#: Every folder of fold models, the shipped members' and those of members shipped before or
#: screened (such a folder may hold only some cities: its figures are partial until it is full).
FOLDERS = sorted(p.name for p in FOLDS.iterdir() if p.is_dir())


@pytest.mark.parametrize("recipe", FOLDERS)
def test_fold_models_never_saw_their_own_city(recipe):
    every_city = load_model(MODELS_DIR / "oscd-rgbn.onnx").train_cities
    files = _fold_files(recipe, every_city)
    strays = set((FOLDS / recipe).glob("*.onnx")) - set(files.values())
    assert not strays, f"folds/{recipe} holds files for no city: {sorted(strays)}"
    present = {city: path for city, path in files.items() if path.is_file()}
    assert present, f"folds/{recipe} holds no fold model"
    for city, path in present.items():
        model = load_model(path)
        assert model.train_cities == [c for c in every_city if c != city], path
        recorded = _recorded_command(model.metadata["command"])
        assert recorded.command == "fit" and recorded.exclude == [city], path  # the recorded command redoes it
        assert recorded.split is None, path
        # Run today, that command trains with the settings the file records (a default changed
        # since would make the model card's commands train something else).
        assert as_recorded(config_from_args(recorded)) == _settings(path), path
        assert model.bands == ("blue", "green", "red", "nir"), path


@pytest.mark.parametrize("recipe", FOLDERS)
def test_a_folder_holds_one_recipe(recipe):
    """Its files differ only in the city left out, so their ensemble is one member's folds."""
    settings = [_settings(p) for p in (FOLDS / recipe).glob("*.onnx")]
    assert settings and all(s == settings[0] for s in settings), f"folds/{recipe} mixes training settings"


@pytest.mark.parametrize("shipped_file", ["oscd-rgbn.onnx", "oscd-rgbn-fixed.onnx"])
def test_the_float_members_of_each_shipped_file_are_kept(shipped_file):
    """Each member recorded in a shipped file is in members/, trained as recorded, so the file can be rebuilt."""
    shipped = load_model(MODELS_DIR / shipped_file)
    for member in shipped.members:
        kept = load_model(MEMBERS / _folder_of(member) / member["file"])
        assert kept.metadata["command"] == member["command"], kept
        assert kept.metadata["train_config"] == member["train_config"], kept
        assert kept.train_cities == shipped.train_cities, kept
        recorded = _recorded_command(member["command"])
        left_out = "fixed" if shipped_file.endswith("-fixed.onnx") else None
        assert recorded.exclude is None and recorded.split == left_out, kept
        assert as_recorded(config_from_args(recorded)) == recorded_settings(member["train_config"]), kept  # redone
