"""Labelled change data sets laid out exactly as their public downloads.

* OSCD (Daudt et al. 2018): `<root>/Onera Satellite Change Detection dataset - Images/<city>/
  imgs_1|imgs_2/*_B??.tif` and `... - Train Labels/<city>/cm/<city>-cm.tif` (1 = no change,
  2 = change). Labels sit on the grid of the older image's 10 m bands, so that grid is used.
* Landsat pairs (Wu et al. 2014): `<root>/<City>/` with two ENVI images, `change.bmp` and
  `unchanged.bmp`; only pixels in one of the two masks are scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox

from sitewatch.base.errors import InputError
from sitewatch.imagery import geobox_of, open_image
from sitewatch.imagery.local import ImageSource

OSCD_IMAGES = "Onera Satellite Change Detection dataset - Images"
OSCD_LABELS = "Onera Satellite Change Detection dataset - Train Labels"


@dataclass
class Scene:
    """One labelled pair: the images, the grid to score on and the reference."""

    name: str
    before: ImageSource
    after: ImageSource
    geobox: GeoBox
    changed: np.ndarray  # bool (y, x)
    scored: np.ndarray  # bool (y, x): pixels with a label


def _read_label(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def oscd_change_mask(label: np.ndarray) -> np.ndarray:
    """Change pixels of an OSCD label: 2 in the .tif files (1 = no change); 1 or 255 if 0-based."""
    values = set(np.unique(label).tolist())
    if values <= {1, 2}:
        return label == 2
    if values <= {0, 1} or values <= {0, 255}:
        return label > 0
    raise InputError(f"OSCD label with unexpected values {sorted(values)}; expected 1/2")


def oscd_cities(root: Path) -> list[str]:
    labels = root / OSCD_LABELS
    if not (root / OSCD_IMAGES).is_dir() or not labels.is_dir():
        raise InputError(
            f"{root}: not an OSCD folder (expected '{OSCD_IMAGES}' and '{OSCD_LABELS}' inside); "
            "point at the unpacked OSCD download"
        )
    return sorted(p.name for p in labels.iterdir() if (p / "cm" / f"{p.name}-cm.tif").is_file())


def oscd_scenes(root: str | Path, cities: list[str] | None = None) -> Iterator[Scene]:
    root = Path(root)
    available = oscd_cities(root)
    unknown = sorted(set(cities or []) - set(available))
    if unknown:
        raise InputError(f"{root}: no labelled OSCD city {', '.join(unknown)} (have: {', '.join(available)})")
    for city in cities or available:
        before = open_image(root / OSCD_IMAGES / city / "imgs_1")
        after = open_image(root / OSCD_IMAGES / city / "imgs_2")
        reference = min(before.bands, key=lambda b: b.resolution_m)
        label = _read_label(root / OSCD_LABELS / city / "cm" / f"{city}-cm.tif")
        geobox = geobox_of(str(reference.path))
        if label.shape != geobox.shape.yx:
            raise InputError(f"{city}: label {label.shape} is not on the 10 m grid {geobox.shape.yx}")
        yield Scene(city, before, after, geobox, oscd_change_mask(label), np.ones(label.shape, bool))


def landsat_scenes(root: str | Path, cities: list[str] | None = None) -> Iterator[Scene]:
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if (p / "change.bmp").is_file()) if root.is_dir() else []
    if not folders:
        raise InputError(f"{root}: no <City>/change.bmp folders; point at the landsat-cd data")
    for folder in folders:
        if cities and folder.name not in cities:
            continue
        images = sorted(
            (p for p in folder.iterdir() if p.with_suffix(".hdr").exists() or p.with_suffix(".HDR").exists()),
            key=lambda p: p.name,
        )
        images = [p for p in images if p.suffix.lower() not in (".hdr", ".bmp", ".jpg")]
        if len(images) != 2:
            raise InputError(f"{folder}: expected two ENVI images, found {len(images)}")
        sources = sorted(
            (open_image(p) for p in images), key=lambda s: (s.time.value is None, s.time.value or 0, s.path.name)
        )
        changed = _read_label(folder / "change.bmp") > 0
        unchanged = _read_label(folder / "unchanged.bmp") > 0
        yield Scene(folder.name, sources[0], sources[1], geobox_of(str(images[0])), changed, changed | unchanged)
