"""The learned detector: ONNX inference mechanics, band handling, and accuracy on real OSCD cities.

Accuracy is asserted with the fixed-split model, which never saw the four cities it is
scored on (its metadata says which cities it was trained on, and a test checks that).
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import xarray as xr

from sitewatch.base.errors import InputError
from sitewatch.base.pair_radiometry import match_pair
from sitewatch.bench import oscd_scenes, run_benchmark
from sitewatch.bench.metrics import confusion
from sitewatch.detect import default_config, detect
from sitewatch.detect.learned import (
    FIXED_SPLIT_MODEL,
    MODELS_DIR,
    blend_weights,
    choose_model,
    learned_score,
    load_model,
    tile_grid,
    tile_layout,
)
from sitewatch.imagery import load_pair

FIXED_TEST_CITIES = ["aguasclaras", "beirut", "cupertino", "paris"]
# Measured pooled F1 of the shipped fixed-split model on its four test cities (see the
# model card) less a margin for library differences; falls when inference breaks.
FIXED_SPLIT_FLOOR = 0.60


def _cube(bands: list[str], shape=(40, 48), seed=0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    values = rng.uniform(500, 3000, size=(len(bands), *shape)).astype("float32")
    return xr.DataArray(values, dims=("band", "y", "x"), coords={"band": bands})


def test_blend_weights_fall_to_the_edges_but_never_to_zero():
    w = blend_weights(64, 64, 16)
    assert w.shape == (64, 64)
    assert w.min() > 0 and w.max() == pytest.approx(1.0)
    assert w[32, 32] == 1.0 and w[0, 0] < w[8, 8] < w[32, 32]
    np.testing.assert_allclose(w, w[::-1, ::-1])


def test_shipped_models_carry_their_metadata():
    for name in ("oscd-rgbn.onnx", "oscd-rgbn-fixed.onnx"):
        model = load_model(MODELS_DIR / name)
        assert 0 < model.threshold < 1
        assert model.min_region_px >= 1
        assert (MODELS_DIR / name).stat().st_size < 5 * 2**20
        assert model.members and all("train_config" in m and "command" in m for m in model.members)  # traceable
        pretrained = {json.loads(m["train_config"]).get("pretrained", "none") for m in model.members} - {"none"}
        if pretrained:  # third-party weights inside: their licence ships beside them
            assert pretrained <= {"csmask-b4", "csmask-b4-l2a"} and (MODELS_DIR / "LICENSE-ukis-csmask.txt").is_file()
    assert load_model(MODELS_DIR / "oscd-rgbn.onnx").bands == ("blue", "green", "red", "nir")


def test_fixed_split_model_never_saw_its_test_cities():
    trained_on = set(load_model(FIXED_SPLIT_MODEL).train_cities)
    assert len(trained_on) == 10
    assert not trained_on & set(FIXED_TEST_CITIES)


def test_model_is_chosen_by_bands():
    s2 = ["coastal", "blue", "green", "red", "rededge071", "nir", "nir08", "swir16", "swir22"]
    assert choose_model(s2).name == "oscd-rgbn.onnx"
    assert choose_model(["red", "green", "blue", "nir"]).name == "oscd-rgbn.onnx"
    with pytest.raises(InputError, match="needs the bands"):
        choose_model(["red", "green", "blue"])
    with pytest.raises(InputError, match="lacks"):
        choose_model(["red", "green", "blue", "swir16"], FIXED_SPLIT_MODEL)


def test_not_a_model_is_a_clear_error(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not onnx")
    with pytest.raises(InputError, match="not a readable ONNX model"):
        load_model(bogus)
    with pytest.raises(InputError, match="no such model"):
        load_model(tmp_path / "missing.onnx")


def test_three_band_image_is_refused_not_guessed():
    cube = _cube(["red", "green", "blue"])
    with pytest.raises(InputError, match="use --method cva"):
        detect(cube, cube, default_config("learned"), 100.0)


def test_odd_sizes_and_nodata(tmp_path):
    model = load_model(MODELS_DIR / "oscd-rgbn.onnx")
    before, after = _cube(list(model.bands), (37, 53)).values, _cube(list(model.bands), (37, 53), seed=1).values
    before[:, 0, 0] = np.nan
    score = learned_score(before, after, model)
    assert score.shape == (37, 53)
    assert np.isnan(score[0, 0]) and np.isfinite(score[1:, 1:]).all()
    assert np.nanmin(score) >= 0 and np.nanmax(score) <= 1


def test_a_model_trained_on_matched_pairs_gets_matched_pairs(tmp_path):
    """The metadata's pair_radiometry decides whether the detector matches the dates first."""
    pytest.importorskip("onnx")
    from tests.onnx_models import tiny_model

    plain = tiny_model(tmp_path / "plain.onnx", 0)
    matched = tiny_model(tmp_path / "matched.onnx", 0, pair_radiometry="pair-median-iqr")
    before = _cube(list(plain.bands), (64, 64)).values
    after = before * 1.5 + 400  # a scene-wide radiometric difference, nothing built
    expected = learned_score(*match_pair(before, after), plain)
    np.testing.assert_allclose(learned_score(before, after, matched), expected, atol=1e-6)
    assert np.abs(learned_score(before, after, plain) - expected).max() > 0.01  # matching did something
    with pytest.raises(InputError, match="unknown pair_radiometry"):
        learned_score(
            before, after, dataclasses.replace(plain, meta=dataclasses.replace(plain.meta, pair_radiometry="histogram"))
        )


@pytest.fixture(scope="module")
def beirut_pair(oscd_root):
    scene = next(oscd_scenes(oscd_root, ["beirut"]))
    return scene, load_pair(scene.before, scene.after, geobox=scene.geobox)


def test_tiles_stitch_without_seams(beirut_pair):
    """Overlapping tiles give the map of one tile the size of the image; blending beats butting."""
    _, pair = beirut_pair
    model = load_model(FIXED_SPLIT_MODEL)
    b = pair.before.sel(band=list(model.bands)).values
    a = pair.after.sel(band=list(model.bands)).values
    whole = learned_score(b, a, model, tile=2048, overlap=0)
    tiled = learned_score(b, a, model, tile=256)  # 6 x 5 tiles of 224 px (of 256 at most), 32 px overlap
    assert np.nanmean(np.abs(whole - tiled)) < 0.01
    assert np.nanmean((whole > model.threshold) == (tiled > model.threshold)) > 0.995
    b, a, whole = b[:, :512, :512], a[:, :512, :512], whole[:512, :512]
    butted = learned_score(b, a, model, tile=128, overlap=0)
    blended = learned_score(b, a, model, tile=128, overlap=32)
    assert np.abs(whole - blended).mean() < 0.75 * np.abs(whole - butted).mean()


def test_shipped_int8_files_give_the_same_answer_without_vnni(beirut_pair):
    """7-bit weights: fused int8 kernels agree with the quantised graph run in float.

    On x86 CPUs without VNNI (AVX2 only) onnxruntime's uint8 x int8 convolution adds
    products in int16 pairs; 8-bit weights saturated there and the ensemble shipped until
    2026-11-28 fell to F1 0.18 on Beirut. On any CPU, the optimised session (fused
    integer kernels) must match the unoptimised one (Dequantize -> float Conv).
    """
    pytest.importorskip("onnx")
    from sitewatch.detect.learned import graph_inputs, input_names
    from tests.onnx_models import fused_and_reference, int8_conv_weights

    _, pair = beirut_pair
    for path in (MODELS_DIR / "oscd-rgbn.onnx", FIXED_SPLIT_MODEL):
        int8 = int8_conv_weights(path)
        assert int8 and all(w.min() >= -64 and w.max() <= 63 for w in int8)  # 7-bit
        model = load_model(path)
        b = pair.before.sel(band=list(model.bands)).values[:, 300:556, 200:456]
        a = pair.after.sel(band=list(model.bands)).values[:, 300:556, 200:456]
        feed = {k: v[None] for k, v in graph_inputs(b, a, model, input_names(model)).items()}
        outputs = fused_and_reference(path, feed)
        assert np.abs(outputs[0] - outputs[1]).max() < 0.05, path.name


def test_an_8_bit_int8_file_is_refused_only_where_it_would_be_wrong(monkeypatch):
    import sitewatch.detect.learned as learned

    model = load_model(MODELS_DIR / "oscd-rgbn.onnx")
    old = dataclasses.replace(model, meta=dataclasses.replace(model.meta, weight_bits=None))
    cube = _cube(list(model.bands), (32, 32)).values
    monkeypatch.setattr(learned, "cpu_lacks_vnni", lambda: True)
    with pytest.raises(InputError, match="8-bit weights, which this CPU"):
        learned_score(cube, cube, old)
    assert learned_score(cube, cube, model).shape == (32, 32)  # 7-bit: fine on any CPU
    monkeypatch.setattr(learned, "cpu_lacks_vnni", lambda: False)
    assert learned_score(cube, cube, old).shape == (32, 32)


def test_tiles_are_even_and_cover_the_image_with_the_overlap():
    for length in (37, 256, 257, 1070, 1180, 4000):
        size, starts = tile_layout(length, 512, 32, 8)
        assert size % 8 == 0 and size <= max(512, -(-length // 8) * 8)
        assert starts[0] == 0 and starts[-1] + size == -(-length // 8) * 8
        assert all(size - (b - a) >= 31 for a, b in itertools.pairwise(starts))  # rounding: one px
    assert tile_layout(1180, 512, 32, 8) == (416, [0, 384, 768])  # three tiles, not 512+512+512


def test_tiles_are_cut_so_every_core_has_work():
    """Tiles run side by side, one per core: the grid with the least work per core, not the fewest tiles."""
    one_core = tile_grid(1180, 1070, 512, 32, 8, workers=1)
    assert (one_core.size_y, one_core.starts_y) == tile_layout(1180, 512, 32, 8)  # 3 x 3: fewest is best
    two_cores = tile_grid(1180, 1070, 512, 32, 8, workers=2)
    assert (len(two_cores.starts_y), len(two_cores.starts_x)) == (4, 3)  # 6 rounds of 320 x 384, not 5 of 416 x 384
    assert len(tile_grid(500, 500, 512, 32, 8, workers=2).origins) == 2  # one tile's worth, split in two
    assert len(tile_grid(37, 53, 512, 32, 8, workers=2).origins) == 1  # too small to share
    assert len(tile_grid(500, 500, 512, 0, 8, workers=2).origins) == 1  # no overlap: no extra seams
    for height, width, workers in itertools.product((37, 500, 1070, 4000), (53, 1180), (1, 2, 4)):
        grid = tile_grid(height, width, 512, 32, 8, workers)
        for size, starts, length in ((grid.size_y, grid.starts_y, height), (grid.size_x, grid.starts_x, width)):
            assert size % 8 == 0 and size <= max(512, -(-length // 8) * 8)
            assert starts[0] == 0 and starts[-1] + size == -(-length // 8) * 8
            assert all(size - (b - a) >= 31 for a, b in itertools.pairwise(starts))


def test_tiles_run_side_by_side_give_what_one_at_a_time_gives(beirut_pair):
    _, pair = beirut_pair
    model = load_model(FIXED_SPLIT_MODEL)
    b = pair.before.sel(band=list(model.bands)).values[:, :1000, :600]
    a = pair.after.sel(band=list(model.bands)).values[:, :1000, :600]
    assert tile_grid(1000, 600, 512, 32, 8, 1) == tile_grid(1000, 600, 512, 32, 8, 2)  # 3 x 2 tiles either way
    side_by_side = learned_score(b, a, model, workers=2)
    np.testing.assert_array_equal(side_by_side, learned_score(b, a, model, workers=1))
    np.testing.assert_array_equal(side_by_side, learned_score(b, a, model, workers=2, side_by_side=False))


def test_learned_detect_on_a_city_it_never_saw(beirut_pair):
    scene, pair = beirut_pair
    result = detect(
        pair.before, pair.after, default_config("learned", model=str(FIXED_SPLIT_MODEL)), pair.pixel_area_m2
    )
    assert result.config.threshold_value == load_model(FIXED_SPLIT_MODEL).threshold
    assert result.diagnostics["model"]["model"] == "oscd-rgbn-fixed.onnx"
    counts = confusion(result.mask.values, scene.changed, scene.scored)
    assert counts.f1 > 0.4


def test_fixed_split_accuracy(oscd_root):
    result = run_benchmark(
        "oscd",
        str(oscd_root),
        oscd_scenes(oscd_root, FIXED_TEST_CITIES),
        default_config("learned", model=str(FIXED_SPLIT_MODEL)),
    )
    assert result.pooled.f1 >= FIXED_SPLIT_FLOOR
    assert result.scenes["beirut"].f1 > 0.4 and result.scenes["cupertino"].f1 > 0.5


def test_the_shipped_files_are_the_released_bytes(tmp_path, monkeypatch):
    """Each shipped file matches models/SHA256SUMS; an altered copy there is refused with one line."""
    import hashlib
    import shutil

    import sitewatch.detect.learned as learned

    sums = learned.shipped_checksums()
    assert set(sums) == {"oscd-rgbn.onnx", "oscd-rgbn-fixed.onnx"}
    for name, digest in sums.items():
        assert hashlib.sha256((MODELS_DIR / name).read_bytes()).hexdigest() == digest
    altered = tmp_path / "models"
    altered.mkdir()
    shutil.copy(MODELS_DIR / "SHA256SUMS", altered)
    (altered / "oscd-rgbn.onnx").write_bytes((MODELS_DIR / "oscd-rgbn.onnx").read_bytes() + b"\0")
    monkeypatch.setattr(learned, "MODELS_DIR", altered)
    with pytest.raises(InputError, match="not the one shipped"):
        load_model(altered / "oscd-rgbn.onnx")
