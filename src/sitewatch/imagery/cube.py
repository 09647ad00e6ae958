"""The one input model of every later stage: a site's looks as a (time, band, y, x) cube.

Two dates and many dates are the same thing here: the two-date job holds a cube of two
looks, the series job a cube of every usable look. Every stage that cleans a series
(masks, co-registration, normalisation, composites) takes and returns a `SceneCube` and
appends to each scene's notes what it did to it, so the report can say why a scene was
dropped or how far it was shifted; detection, events and reports read the same type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from sitewatch.base.errors import InputError
from sitewatch.base.geo import metres_per_degree
from sitewatch.imagery.local import ImageSource
from sitewatch.sites import Site


@dataclass
class SceneInfo:
    """Provenance and quality of one scene of a cube."""

    id: str
    datetime: str  # ISO 8601 UTC
    source: str  # "stac:<url>" or "local"
    sensor: str | None = None
    cloud_cover: float | None = None  # as reported by the provider, percent
    hrefs: dict[str, str] = field(default_factory=dict)  # band -> asset/file
    valid_fraction: float | None = None  # share of site pixels with data after masking
    shift_px: tuple[float, float] | None = None  # co-registration shift applied (dy, dx)
    normalisation: dict[str, list[float]] | None = None  # band -> [gain, offset]
    #: band -> [gain, bias] applied to the provider's digital numbers (their declared scale and offset)
    radiometry: dict[str, list[float]] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_image(cls, source: ImageSource, keys: list[str]) -> SceneInfo:
        """The scene record of a local image file (or folder of band files)."""
        by_key = {b.key: b for b in source.bands}
        return cls(
            id=source.path.name,
            datetime=source.time.iso or "",
            source="local",
            sensor=source.sensor,
            hrefs={k: str(by_key[k].path) for k in keys},
            notes=[f"date from {source.time.source}"],
        )


@dataclass
class SceneCube:
    """Scenes of one site on one grid; NaN marks cloud, shadow and no data."""

    data: xr.DataArray  # (time, band, y, x) float32
    scenes: list[SceneInfo]
    geobox: GeoBox
    site_mask: np.ndarray  # (y, x) True inside the site polygon (all True without a site)
    dropped: list[SceneInfo] = field(default_factory=list)  # with a note saying why
    site: Site | None = None
    files: list[ImageSource] = field(default_factory=list)  # the local images behind the looks, when read from files

    def __post_init__(self) -> None:
        if self.data.sizes["time"] != len(self.scenes):
            raise ValueError("one SceneInfo per time step is required")

    def look(self, index: int) -> xr.DataArray:
        """One look as a (band, y, x) array (index -1: the last)."""
        return self.data.isel(time=index)

    @property
    def before(self) -> xr.DataArray:
        """The first look: the "before" of a two-date comparison."""
        return self.look(0)

    @property
    def after(self) -> xr.DataArray:
        """The last look: the "after" of a two-date comparison."""
        return self.look(-1)

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel in m² (grid in UTM; approximated at the centre otherwise)."""
        res = self.geobox.resolution
        if self.geobox.crs.geographic:
            per_lon, per_lat = metres_per_degree(float(self.geobox.extent.centroid.coords[0][1]))
            return abs(res.x * per_lon * res.y * per_lat)
        return abs(res.x * res.y)

    @property
    def bands(self) -> list[str]:
        return [str(b) for b in self.data.band.values]

    @property
    def times(self) -> np.ndarray:
        return self.data.time.values

    def __len__(self) -> int:
        return len(self.scenes)

    def valid_fractions(self) -> np.ndarray:
        """Per scene, the share of site pixels with data in every band (one look at a time: no cube-sized mask)."""
        out = np.empty(len(self))
        for index, look in enumerate(self.data.values):
            valid = np.isfinite(look).all(axis=0)
            out[index] = valid[self.site_mask].mean() if self.site_mask.any() else valid.mean()
        return out

    def select(self, keep: np.ndarray | list[int]) -> SceneCube:
        """A cube of the scenes at `keep` (indices or boolean mask), same grid."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=int)
        return replace(
            self,
            data=self.data.isel(time=index),
            scenes=[self.scenes[i] for i in index],
            dropped=list(self.dropped),
            files=[self.files[i] for i in index] if self.files else [],
        )

    def drop(self, index: int, reason: str) -> None:
        """Record that scene `index` is dropped, and why (the caller then selects the rest)."""
        self.scenes[index].notes.append(f"dropped: {reason}")
        self.dropped.append(self.scenes[index])


def cube_array(data: np.ndarray, times: list[np.datetime64], bands: list[str], geobox: GeoBox) -> xr.DataArray:
    """Wrap a (time, band, y, x) array with its coordinates."""
    coords = {"time": np.array(times, dtype="datetime64[ns]"), "band": bands, **xr_coords(geobox, dims=("y", "x"))}
    return xr.DataArray(data.astype("float32", copy=False), dims=("time", "band", "y", "x"), coords=coords)


def merge_cubes(cubes: list[SceneCube]) -> SceneCube:
    """One cube from several on the same grid, bands in common, scenes in time order."""
    cubes = [c for c in cubes if len(c)]
    if not cubes:
        raise InputError("no scene to merge: every source came back empty")
    if len(cubes) == 1:
        return cubes[0]
    first = cubes[0]
    for other in cubes[1:]:
        if other.geobox != first.geobox:
            raise ValueError("cubes to merge must share one grid")
    bands = [b for b in first.bands if all(b in c.bands for c in cubes[1:])]
    if not bands:
        raise InputError(
            "the sources share no band: "
            + "; ".join(", ".join(c.bands) for c in cubes)
            + " - name the bands of local files with --bands"
        )
    data = xr.concat([c.data.sel(band=bands) for c in cubes], dim="time")
    scenes = [s for c in cubes for s in c.scenes]
    order = np.argsort(data.time.values, kind="stable")
    merged = SceneCube(
        data.isel(time=order),
        [scenes[i] for i in order],
        first.geobox,
        first.site_mask,
        [s for c in cubes for s in c.dropped],
        first.site,
    )
    return merged
