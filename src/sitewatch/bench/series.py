"""Image series with a known change date, built from a real labelled pair.

Labelled multi-date change data is scarce, so the dating benchmark rebuilds a series
from each real OSCD pair: several looks of the first real date, then several of the
second, every look with its own small radiometric difference (gain per band, pixel noise)
and its own clouds, spatially coherent blobs masked out as a cloud mask would. The real
change lies between the last look of date 1 and the first look of date 2, so a correctly
dated changed pixel has its bracket exactly there; the labels say which pixels changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

from sitewatch.base.bands import S2_BANDS
from sitewatch.base.errors import InputError
from sitewatch.detect.phases import detect_phases
from sitewatch.imagery import load_pair
from sitewatch.sites import read_sites, write_sites

#: Days between looks (Sentinel-2 revisit with both satellites).
REVISIT_DAYS = 5


@dataclass
class LabelledSeries:
    series: np.ndarray  # (time, band, pixel) float32, NaN = cloud
    times: np.ndarray  # datetime64[D] (time,)
    shape: tuple[int, int]  # (y, x) of the pixel axis
    looks_before: int  # the first this many looks are of the first real date
    changed: np.ndarray  # (pixel,) bool reference
    cloud_share: float  # share of masked pixel-looks


def cloud_masks(rng: np.random.Generator, looks: int, shape: tuple[int, int], max_cover: float) -> np.ndarray:
    """(looks, y, x) bool: smooth random fields thresholded to a random cover in [0, max_cover]."""
    masks = np.zeros((looks, *shape), dtype=bool)
    for i in range(looks):
        cover = rng.uniform(0, max_cover)
        if cover <= 0.01:
            continue
        field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=max(shape) / 12)
        masks[i] = field > np.quantile(field, 1 - cover)
    return masks


def labelled_series(
    before: np.ndarray,
    after: np.ndarray,
    changed: np.ndarray,
    date_before: np.datetime64,
    date_after: np.datetime64,
    looks: int = 6,
    max_cloud: float = 0.5,
    gain_sd: float = 0.02,
    noise_sd: float = 0.01,
    seed: int = 0,
) -> LabelledSeries:
    """`looks` looks of each real (band, y, x) image ending/starting at the real dates."""
    rng = np.random.default_rng(seed)
    bands, h, w = before.shape
    clouds = cloud_masks(rng, 2 * looks, (h, w), max_cloud)
    frames, times = [], []
    for i in range(2 * looks):
        source = before if i < looks else after
        gain = 1 + gain_sd * rng.standard_normal((bands, 1, 1))
        look = source * gain * (1 + noise_sd * rng.standard_normal(source.shape))
        look = look.astype("float32")
        look[:, clouds[i]] = np.nan
        frames.append(look.reshape(bands, -1))
        offset = (i - (looks - 1)) if i < looks else (i - looks)
        base = date_before if i < looks else date_after
        times.append(np.datetime64(base, "D") + np.timedelta64(offset * REVISIT_DAYS, "D"))
    series = np.stack(frames)
    return LabelledSeries(series, np.array(times), (h, w), looks, changed.ravel(), float(clouds.mean()))


def _scene_pair(scene, bands: tuple[str, ...] | None) -> tuple[np.ndarray, np.ndarray, tuple]:
    """A labelled scene's two (band, y, x) images on its grid, in `bands` (default Sentinel-2's), and their days."""
    pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
    keys = list(bands or S2_BANDS)
    days = pair.files[0].time.value, pair.files[1].time.value
    return pair.before.sel(band=keys).values, pair.after.sel(band=keys).values, days


def _brackets(breaks, at: int) -> np.ndarray:
    """Pixels whose break lies between look `at - 1` and look `at` (bracket around the change)."""
    return breaks.changed & (breaks.last_before < at) & (breaks.first_after >= at)


def dating_counts(scene, looks: int = 6, bands: tuple[str, ...] | None = None) -> dict[str, float]:
    """Detection and dating counts of the break detector on a series built from one labelled scene.

    `extra_phases` counts changed pixels given a further break although the series holds
    one real change: false phases.
    """
    before, after, days = _scene_pair(scene, bands)
    built = labelled_series(before, after, scene.changed, *days, looks=looks)
    phases = detect_phases(built.series)
    result = phases.main
    ref, flag = built.changed, result.changed
    correct = (result.last_before < built.looks_before) & (result.first_after >= built.looks_before)
    return {
        "tp": int((flag & ref).sum()),
        "fp": int((flag & ~ref).sum()),
        "fn": int((~flag & ref).sum()),
        "dated": int((flag & ref & correct).sum()),
        "unchanged": int((~ref).sum()),
        "cloud_share": built.cloud_share,
        "extra_phases": int((flag & (phases.earlier.changed | phases.later.changed)).sum()),
    }


def two_change_counts(scene, looks: int = 6, bands: tuple[str, ...] | None = None) -> dict[str, int]:
    """Both changes found? A series there and back: `looks` of date 1, 2 x `looks` of date 2, `looks` of date 1.

    Labelled pixels change twice, at look `looks` and at look 3 x `looks`: the real pair read
    forwards, then backwards, a real second change as a demolition after a build would be.
    Counts the labelled changed pixels whose main break is found (`found`) and those with
    both changes bracketed by their main break and one further phase (`both`).
    """
    before, after, days = _scene_pair(scene, bands)
    there = labelled_series(before, after, scene.changed, *days, looks=looks, seed=0)
    back = labelled_series(after, before, scene.changed, *days, looks=looks, seed=1)
    phases = detect_phases(np.concatenate([there.series, back.series]))
    first, second = looks, 3 * looks  # the first look of each changed state
    found = phases.main.changed & there.changed
    hits_first = _brackets(phases.main, first) | _brackets(phases.earlier, first)
    hits_second = _brackets(phases.main, second) | _brackets(phases.later, second)
    return {
        "changed": int(there.changed.sum()),
        "found": int(found.sum()),
        "both": int((found & hits_first & hits_second).sum()),
    }


#: Looks of each real date in a demo series, and how far apart they are.
DEMO_LOOKS = 4


def write_dated_series(city_folder: Path, out: Path, looks: int = DEMO_LOOKS, seed: int = 0) -> tuple[Path, Path]:
    """Dated GeoTIFFs of one OSCD city, built from its real pair, and a site file for it.

    `looks` looks of each real date (the first ending at date 1, the second starting at
    date 2, `REVISIT_DAYS` apart), each with its own gain, noise and clouds written as no
    data, plus one look clouded over most of the site: a series that `monitor` and the
    watchlist read as they would a folder of the analyst's own scenes. Returns (site
    file, scene folder). The real change lies between the two real dates.
    """

    name = city_folder.name
    site = read_sites(city_folder / f"{name}.geojson").get(None)
    site.id, site.name = f"oscd-{name}", f"OSCD {name} (demo)"
    pair = load_pair(city_folder / "imgs_1", city_folder / "imgs_2", site=site)
    if any(f.time.value is None for f in pair.files):
        raise InputError(f"{city_folder}: no acquisition dates (dates.txt); give an OSCD city folder")
    days = [date.fromisoformat(str(f.time.value)[:10]) for f in pair.files]
    scenes = out / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    clouds = cloud_masks(rng, 2 * looks, pair.geobox.shape.yx, 0.3)
    profile = {
        "driver": "GTiff",
        "width": pair.geobox.shape.x,
        "height": pair.geobox.shape.y,
        "count": len(pair.bands),
        "dtype": "float32",
        "crs": str(pair.geobox.crs),
        "transform": pair.geobox.affine,
        "nodata": float("nan"),
        "tiled": True,
        "compress": "deflate",
    }

    def write(day: date, values: np.ndarray) -> None:
        with rasterio.open(scenes / f"{name}_{day.isoformat()}.tif", "w", **profile) as dst:
            dst.write(values.astype("float32"))
            for i, band in enumerate(pair.bands, start=1):
                dst.set_band_description(i, band)

    for i in range(2 * looks):
        first = i < looks
        real = (pair.before if first else pair.after).values
        day = (
            days[0] - timedelta(days=REVISIT_DAYS * (looks - 1 - i))
            if first
            else days[1] + timedelta(days=REVISIT_DAYS * (i - looks))
        )
        look = real * (1 + 0.01 * rng.standard_normal((real.shape[0], 1, 1)))
        look[:, clouds[i]] = np.nan
        write(day, look)
    overcast = pair.after.values.copy()
    overcast[:, : int(overcast.shape[1] * 0.8)] = np.nan
    write(days[1] + timedelta(days=2), overcast)
    site_file = out / "site.geojson"
    write_sites([site], site_file)
    return site_file, scenes
