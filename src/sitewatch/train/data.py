"""Training data: each labelled city's two dates on the label grid, kept as one `.npz`.

Reading and aligning rasters needs GDAL; training needs only arrays. `prepare_oscd`
(the only function here that reads rasters) does the alignment once with the same
`load_pair` the detectors use, so the network learns from exactly the cube it will see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitewatch.base.bands import RGBN_BANDS, S2_BANDS

BAND_SETS = {"s2": S2_BANDS, "rgbn": RGBN_BANDS}


#: Bands Sentinel-2 measures at 20 m: stored at 20 m in the training file.
S2_20M = frozenset({"rededge071", "rededge075", "rededge078", "nir08", "swir16", "swir22"})

# Storage code: q = round((log1p(DN) - LOG_OFFSET) * LOG_SCALE) in uint8, i.e. steps of 2 %
# in reflectance from DN 90 to 14,700. The quantisation noise (at most ±1 %) is below the
# sensor's own and acts as a mild augmentation; it keeps all 14 cities in ~45 MB, small
# enough to carry to a GPU machine. Inference always sees the exact DN.
LOG_OFFSET = 4.5
LOG_SCALE = 50.0


def encode_dn(dn: np.ndarray) -> np.ndarray:
    values = np.log1p(np.clip(dn.astype("float32"), 0, None))
    return np.clip(np.round((values - LOG_OFFSET) * LOG_SCALE), 0, 255).astype(np.uint8)


def decode_dn(code: np.ndarray) -> np.ndarray:
    return np.expm1(code.astype("float32") / LOG_SCALE + LOG_OFFSET)


def _halve(values: np.ndarray) -> np.ndarray:
    """2x2 block mean of (band, y, x): back to the native 20 m grid."""
    pad_y, pad_x = values.shape[1] % 2, values.shape[2] % 2
    values = np.pad(values.astype("float32"), ((0, 0), (0, pad_y), (0, pad_x)), mode="edge")
    b, h, w = values.shape
    return values.reshape(b, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def _double(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear 2x upsampling of (band, y, x) onto `shape`, as the aligned cube resamples 20 m bands."""
    from scipy import ndimage

    _, h, w = values.shape
    ys = (np.arange(shape[0]) + 0.5) / 2 - 0.5
    xs = (np.arange(shape[1]) + 0.5) / 2 - 0.5
    yy, xx = np.meshgrid(np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1), indexing="ij")
    return np.stack([ndimage.map_coordinates(band, [yy, xx], order=1) for band in values]).astype("float32")


@dataclass
class City:
    """One labelled pair: reflectance DN (float32, 0 = no data) and the change label."""

    name: str
    before: np.ndarray  # (band, y, x)
    after: np.ndarray
    changed: np.ndarray  # (y, x) bool

    @property
    def pixels(self) -> int:
        return int(self.changed.size)


@dataclass
class TrainingData:
    bands: tuple[str, ...]
    cities: dict[str, City]

    def subset(self, names: list[str] | tuple[str, ...]) -> list[City]:
        unknown = [n for n in names if n not in self.cities]
        if unknown:
            raise ValueError(f"no city {', '.join(unknown)} in the training data (have {', '.join(self.cities)})")
        return [self.cities[n] for n in names]

    def band_indices(self, bands: tuple[str, ...]) -> list[int]:
        missing = [b for b in bands if b not in self.bands]
        if missing:
            raise ValueError(f"training data lacks bands {', '.join(missing)}")
        return [self.bands.index(b) for b in bands]

    def save(self, path: str | Path) -> None:
        """Write the compact file (see LOG_SCALE); atomic, so a killed run leaves no half file."""
        coarse = [i for i, b in enumerate(self.bands) if b in S2_20M]
        fine = [i for i, b in enumerate(self.bands) if b not in S2_20M]
        arrays: dict[str, np.ndarray] = {"bands": np.array(self.bands), "coarse": np.array(coarse, dtype=int)}
        for name, city in self.cities.items():
            for date, dn in (("before", city.before), ("after", city.after)):
                arrays[f"{name}/{date}/fine"] = encode_dn(dn[fine])
                arrays[f"{name}/{date}/coarse"] = encode_dn(_halve(dn[coarse]))
            arrays[f"{name}/changed"] = np.packbits(city.changed, axis=None)
            arrays[f"{name}/shape"] = np.array(city.changed.shape)
        tmp = Path(f"{path}.part.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> TrainingData:
        with np.load(path) as z:
            bands = tuple(str(b) for b in z["bands"])
            coarse = [int(i) for i in z["coarse"]]
            fine = [i for i in range(len(bands)) if i not in coarse]
            names = sorted({k.split("/")[0] for k in z.files if "/" in k})
            cities = {}
            for name in names:
                shape = tuple(int(v) for v in z[f"{name}/shape"])
                changed = np.unpackbits(z[f"{name}/changed"], count=shape[0] * shape[1]).reshape(shape).astype(bool)
                dates = []
                for date in ("before", "after"):
                    dn = np.empty((len(bands), *shape), dtype="float32")
                    dn[fine] = decode_dn(z[f"{name}/{date}/fine"])
                    if coarse:
                        dn[coarse] = _double(decode_dn(z[f"{name}/{date}/coarse"]), shape)
                    dates.append(dn)
                cities[name] = City(name, dates[0], dates[1], changed)
        return cls(bands, cities)


def prepare_oscd(root: str | Path, bands: tuple[str, ...] = S2_BANDS) -> TrainingData:
    """Every labelled OSCD city aligned on its label grid, as the benchmark reads it."""
    # Lazy: the rest of this module must import where GDAL is not installed (training machines).
    from sitewatch.bench.datasets import oscd_scenes
    from sitewatch.imagery import load_pair

    cities = {}
    for scene in oscd_scenes(root):
        pair = load_pair(scene.before, scene.after, geobox=scene.geobox)  # a cube of two looks
        missing = [b for b in bands if b not in pair.bands]
        if missing:
            raise ValueError(f"{scene.name}: no band {', '.join(missing)}")
        before = np.nan_to_num(pair.before.sel(band=list(bands)).values, nan=0.0)
        after = np.nan_to_num(pair.after.sel(band=list(bands)).values, nan=0.0)
        cities[scene.name] = City(scene.name, before, after, scene.changed)
    return TrainingData(tuple(bands), cities)
