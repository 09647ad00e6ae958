"""The looks of a stored run kept as small true-colour COGs, for the workbench's map and chips.

The workbench shows what the detector saw: the run's looks after masking and
co-registration. Each look is one RGB uint8 Cloud-Optimised GeoTIFF (0 = no data or cloud)
with the same stretch for every look of the run, so brightness can be compared through
time; `looks.json` lists them with date, sensor, ground resolution and SHA-256. They are
kept in Web Mercator at the run's ground resolution (nearest neighbour, so no pixel is
invented): map tiles are then windows of the file, not warps, and cost half as much.
The folder is written through a staging folder, so a run killed half-way leaves no looks
that its store row does not have.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from sitewatch.base.atomic import staged_folder
from sitewatch.base.keys import sha256_file
from sitewatch.base.safety import inside
from sitewatch.imagery.cube import SceneCube
from sitewatch.report.score_map import write_score_map

MANIFEST = "looks.json"
SCORE = "score.tif"
MERCATOR = "EPSG:3857"
WGS84 = "EPSG:4326"
#: Pixels sampled per band to set the shared stretch (enough for stable 2nd/98th percentiles).
STRETCH_SAMPLE = 200_000


def _rgb_indices(bands: list[str]) -> list[int]:
    if all(b in bands for b in ("red", "green", "blue")):
        return [bands.index(b) for b in ("red", "green", "blue")]
    return [0, 0, 0]  # grey from the first band


def shared_stretch(cube: SceneCube, indices: list[int]) -> np.ndarray:
    """(3, 2) low/high per channel: the 2nd and 98th percentile over every look's valid pixels."""
    rng = np.random.default_rng(0)  # the same looks give the same files
    limits = np.zeros((3, 2), dtype="float64")
    for channel, band in enumerate(indices):
        values = np.asarray(cube.data.isel(band=band).values).ravel()
        values = values[np.isfinite(values)]
        if values.size > STRETCH_SAMPLE:
            values = rng.choice(values, STRETCH_SAMPLE, replace=False)
        low, high = np.percentile(values, [2, 98]) if values.size else (0.0, 1.0)
        limits[channel] = (low, high if high > low else low + 1e-6)
    return limits


def _look_rgb(look: np.ndarray, indices: list[int], limits: np.ndarray) -> np.ndarray:
    """(3, y, x) uint8, 1..255 where every band has data, 0 elsewhere."""
    rgb = np.stack([look[b] for b in indices]).astype("float64")
    scaled = (rgb - limits[:, :1, None]) / (limits[:, 1:, None] - limits[:, :1, None])
    out = (1 + np.clip(scaled, 0, 1) * 254).round()
    valid = np.isfinite(look).all(axis=0)
    return np.where(valid, out, 0).astype("uint8")


#: Context around an event in its chips: this share of its size on each side, at least CHIP_MIN_PAD_M.
CHIP_PAD = 0.6
CHIP_MIN_PAD_M = 150.0


def chip_window(outline) -> tuple[float, float, float, float]:
    """WGS84 bounds around an event (a shapely geometry) with context on every side."""
    west, south, east, north = outline.bounds
    lat = (south + north) / 2
    metres_x = 111_320 * np.cos(np.radians(lat))
    pad_x = max((east - west) * CHIP_PAD, CHIP_MIN_PAD_M / metres_x)
    pad_y = max((north - south) * CHIP_PAD, CHIP_MIN_PAD_M / 110_540)
    return west - pad_x, south - pad_y, east + pad_x, north + pad_y


def run_looks_dir(root: Path, site_id: str, run_id: int) -> Path:
    """The folder of one run's looks under the looks root (site ids are checked when stored)."""
    return inside(root, site_id, f"run-{int(run_id)}")


def _mercator_grid(cube: SceneCube) -> tuple[Affine, int, int]:
    """Transform and size in Web Mercator keeping the cube's ground resolution at the site."""
    gb = cube.geobox
    _, south, _, north = transform_bounds(gb.crs.to_wkt(), WGS84, *gb.boundingbox)
    stretch_at_site = 1 / np.cos(np.radians((south + north) / 2))  # Mercator metres per ground metre
    ground = abs(float(gb.resolution.x))
    if gb.crs.geographic:
        ground *= 111_320 / stretch_at_site
    resolution = ground * stretch_at_site
    transform, width, height = calculate_default_transform(
        gb.crs.to_wkt(), MERCATOR, gb.shape.x, gb.shape.y, *gb.boundingbox, resolution=resolution
    )
    return transform, width, height


def write_looks(
    cube: SceneCube, folder: Path, score: np.ndarray | None = None, mask: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Write every look of `cube` into `folder` with its manifest; the manifest's entries.

    With `score` and `mask` (the run's per-pixel change magnitude and cleaned mask), also
    the score map `score.tif` on the run's grid, for evidence bundles.
    """
    gb = cube.geobox
    indices = _rgb_indices(cube.bands)
    limits = shared_stretch(cube, indices)
    transform, width, height = _mercator_grid(cube)
    profile = {
        "driver": "COG",
        "width": width,
        "height": height,
        "count": 3,
        "dtype": "uint8",
        "crs": MERCATOR,
        "transform": transform,
        "nodata": 0,
        "compress": "deflate",
        "blocksize": 256,
    }
    entries = []
    with staged_folder(folder) as staging:
        for index, scene in enumerate(cube.scenes):
            name = f"look-{index:03d}.tif"
            rgb = _look_rgb(np.asarray(cube.look(index).values), indices, limits)
            shown = np.zeros((3, height, width), "uint8")
            reproject(
                rgb,
                shown,
                src_transform=gb.affine,
                src_crs=gb.crs.to_wkt(),
                dst_transform=transform,
                dst_crs=MERCATOR,
                src_nodata=0,
                dst_nodata=0,
                resampling=Resampling.nearest,
            )
            with rasterio.open(staging / name, "w", **profile) as dst:
                dst.write(shown)
            entries.append(
                {
                    "index": index,
                    "file": name,
                    "scene_id": scene.id,
                    "datetime": scene.datetime,
                    "sensor": scene.sensor,
                    "resolution_m": round(abs(float(gb.resolution.x)), 3),
                    "valid_fraction": scene.valid_fraction,
                    "sha256": sha256_file(staging / name),
                }
            )
        if score is not None and mask is not None:
            write_score_map(staging / SCORE, cube.geobox, score, mask, score_name="change_magnitude")
        manifest = {
            "crs": MERCATOR,
            "grid_crs": gb.crs.to_wkt(),
            "bands": [cube.bands[i] for i in indices],
            "looks": entries,
        }
        if score is not None and mask is not None:
            manifest["score"] = {
                "file": SCORE,
                "bands": ["change_magnitude", "change_mask"],
                "sha256": sha256_file(staging / SCORE),
            }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return entries


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a run's looks, or None where none were kept."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def look_index(looks: list[dict[str, Any]], day: str | None, default: int) -> int:
    """The last look taken on `day` (YYYY-MM-DD...), else `default`: an event's before or after look."""
    matches = [i for i, look in enumerate(looks) if day and (look.get("datetime") or "")[:10] == day[:10]]
    return matches[-1] if matches else default


def latest_looks(root: Path, site_id: str, run_ids: list[int]) -> dict[str, Any] | None:
    """The manifest of the newest of `run_ids` that kept looks, with its `folder` and `run_id`."""
    for run_id in sorted(run_ids, reverse=True):
        folder = run_looks_dir(root, site_id, run_id)
        manifest = read_manifest(folder)
        if manifest is not None and manifest.get("looks"):
            return {**manifest, "folder": str(folder), "run_id": run_id}
    return None
