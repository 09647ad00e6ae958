"""Local imagery: one multiband GeoTIFF/COG/ENVI file, or a folder of one file per band.

`open_image` only reads metadata (bands, resolution, footprint, date) so a pair can be
planned before any pixel is read; `load_image` then reads just the window each band needs
and warps it onto the requested grid. The analyst's own commercial GeoTIFFs and the
per-band folders Sentinel-2 and OSCD ship both come through here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.overlap import compute_reproject_roi
from odc.geo.xr import xr_coords
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds
from shapely.geometry import MultiPolygon, Polygon, box

from sitewatch.base import bands as bandnames
from sitewatch.base.errors import InputError
from sitewatch.base.geo import metres_per_degree
from sitewatch.base.keys import sha256_file
from sitewatch.imagery.dates import (
    UNKNOWN,
    AcquisitionTime,
    parse_time,
    time_from_name,
    time_from_oscd_dates,
    time_from_tags,
)

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt")
_COLORINTERP = {ColorInterp.red: "red", ColorInterp.green: "green", ColorInterp.blue: "blue"}


@dataclass(frozen=True)
class BandFile:
    """Where one band of an image lives, and what it is."""

    key: str  # what matches bands across images: the eo common name, else the raw name
    raw_name: str
    common_name: str | None
    path: Path
    index: int  # 1-based band index in `path`
    resolution_m: float


@dataclass
class ImageSource:
    """One image of a site (one acquisition), described but not yet read."""

    path: Path
    bands: list[BandFile]
    time: AcquisitionTime
    sensor: str | None
    crs_wkt: str
    footprint_wgs84: Polygon | MultiPolygon
    warnings: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return sorted({b.path for b in self.bands})

    @property
    def finest_resolution_m(self) -> float:
        return min(b.resolution_m for b in self.bands)

    @cached_property
    def checksums(self) -> dict[str, str]:
        """SHA-256 of every file read, so a report can prove which bytes it came from."""
        return {str(p): sha256_file(p) for p in self.files}

    def provenance(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "acquired": self.time.iso,
            "acquired_source": self.time.source,
            "sensor": self.sensor,
            "bands": [
                {
                    "key": b.key,
                    "raw": b.raw_name,
                    "file": str(b.path),
                    "index": b.index,
                    "resolution_m": round(b.resolution_m, 3),
                }
                for b in self.bands
            ],
            "sha256": self.checksums,
            "warnings": list(self.warnings),
        }


def _open(path: Path) -> rasterio.DatasetReader:
    if not path.is_file():  # a FIFO would block forever, a device would never end
        raise InputError(f"{path}: not a regular file (a pipe, device or broken link); give an image file")
    try:
        return rasterio.open(path)
    except (RasterioError, OSError) as exc:
        raise InputError(
            f"{path}: cannot be read as a raster image ({exc}); check the file is a complete GeoTIFF/COG"
        ) from exc


def _check_georeferenced(src: rasterio.DatasetReader, path: Path) -> None:
    if src.crs is None or src.transform.is_identity:
        hint = " (it has ground control points only: warp/orthorectify it first)" if src.gcps[0] else ""
        raise InputError(
            f"{path}: the image is not georeferenced{hint}; sitewatch needs a CRS and a "
            "geotransform to place it on the site - georeference it (e.g. gdalwarp) first"
        )


def _resolution_m(src: rasterio.DatasetReader) -> float:
    a, e = abs(src.transform.a), abs(src.transform.e)
    if src.crs.is_geographic:
        per_lon, per_lat = metres_per_degree((src.bounds.top + src.bounds.bottom) / 2)
        return math.sqrt(a * per_lon * e * per_lat)
    factor = src.crs.linear_units_factor[1] if src.crs.linear_units_factor else 1.0
    return math.sqrt(a * e) * factor


def _footprint(src: rasterio.DatasetReader) -> Polygon | MultiPolygon:
    """The image's lon/lat footprint; one that straddles the antimeridian is split in two."""
    west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    if west > east:  # GDAL's way of saying the box crosses 180°
        return MultiPolygon([box(west, south, 180.0, north), box(-180.0, south, east, north)])
    return box(west, south, east, north)


def _multiband_bands(
    src: rasterio.DatasetReader, path: Path, sensor: str | None, band_names: list[str] | None
) -> list[BandFile]:
    if band_names is not None and len(band_names) != src.count:
        raise InputError(
            f"{path}: --bands names {len(band_names)} bands but the file has {src.count}; name each band in order"
        )
    resolution = _resolution_m(src)
    out = []
    for i in range(1, src.count + 1):
        description = src.descriptions[i - 1]
        raw = bandnames.raw_name_from_description(description, i)
        if band_names is not None:
            common = bandnames.normalise_common_name(band_names[i - 1])
            if common is None:
                raise InputError(
                    f"--bands: '{band_names[i - 1]}' is not a band name; use names such as "
                    "blue, green, red, nir, swir16, swir22"
                )
        else:
            wavelength = src.tags(i).get("wavelength")
            common = (
                (description and bandnames.normalise_common_name(description))
                or (wavelength and bandnames.common_name_from_wavelength(float(wavelength)))
                or bandnames.common_name_for(raw, sensor)
                or _COLORINTERP.get(src.colorinterp[i - 1])
            )
        out.append(BandFile(common or raw, raw, common, path, i, resolution))
    return out


def _folder_files(folder: Path) -> list[Path]:
    """The raster files of a per-band folder; one that is not a regular file is refused, not skipped."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in RASTER_SUFFIXES)
    for file in files:
        if not file.is_file():
            raise InputError(f"{file}: not a regular file (a pipe, device or broken link); remove it from the folder")
    return files


def open_image(
    path: str | os.PathLike[str],
    *,
    time: str | np.datetime64 | None = None,
    band_names: list[str] | None = None,
) -> ImageSource:
    """Describe an image (file or per-band folder) without reading its pixels."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such image file or folder; check the path")
    files = _folder_files(path) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: the folder holds no raster files (.tif, .jp2...); point at the imagery")
    sensor = bandnames.sensor_from_names([f.name for f in files] + [path.name])
    tokens = {f: bandnames.band_token(f.name) for f in files} if path.is_dir() else {}
    per_band = {f: t for f, t in tokens.items() if t is not None}
    bands: list[BandFile] = []
    if per_band:
        if band_names is not None:
            raise InputError(f"{path}: --bands applies to a multiband file, not a per-band folder")
        for file, raw in per_band.items():
            with _open(file) as src:
                _check_georeferenced(src, file)
                common = bandnames.common_name_for(raw, sensor)
                bands.append(BandFile(common or raw, raw, common, file, 1, _resolution_m(src)))
    else:
        if len(files) > 1:
            raise InputError(
                f"{path}: {len(files)} raster files but none named by band (like *_B04.tif); "
                "pass a single multiband file or a folder of per-band files"
            )
        with _open(files[0]) as src:
            _check_georeferenced(src, files[0])
            bands = _multiband_bands(src, files[0], sensor, band_names)
    keys = [b.key for b in bands]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise InputError(f"{path}: more than one file for band(s) {', '.join(duplicates)}; keep one each")
    order = {name: i for i, name in enumerate(bandnames.SENTINEL2.values())}
    bands.sort(key=lambda b: (order.get(b.key, 100), b.raw_name))
    with _open(bands[0].path) as src:
        crs_wkt, footprint, tags = src.crs.to_wkt(), _footprint(src), _metadata_tags(src)
    return ImageSource(
        path=path,
        bands=bands,
        time=_acquisition_time(path, bands[0].path, tags, time),
        sensor=sensor,
        crs_wkt=crs_wkt,
        footprint_wgs84=footprint,
    )


def _metadata_tags(src: rasterio.DatasetReader) -> dict[str, str]:
    """Dataset tags plus the ENVI and IMAGERY domains, where acquisition times live."""
    tags = dict(src.tags())
    for namespace in ("ENVI", "IMAGERY"):
        if namespace in (src.tag_namespaces() or []):
            tags.update(src.tags(ns=namespace))
    return tags


def _acquisition_time(
    path: Path, first_file: Path, tags: dict[str, str], given: str | np.datetime64 | None
) -> AcquisitionTime:
    if given is not None:
        value = given if isinstance(given, np.datetime64) else parse_time(str(given), str(path))
        return AcquisitionTime(np.datetime64(value, "ns"), "given by user")
    folder = path if path.is_dir() else path.parent
    return (
        time_from_oscd_dates(folder)
        or time_from_tags(tags, "metadata")
        or time_from_name(path.name)
        or time_from_name(first_file.name)
        or UNKNOWN
    )


def _source_window(src: rasterio.DatasetReader, geobox: GeoBox, pad: int = 2) -> Window | None:
    bbox = geobox.boundingbox
    left, bottom, right, top = transform_bounds(geobox.crs, src.crs, *bbox, densify_pts=21)
    window = from_bounds(left, bottom, right, top, src.transform)
    col0 = max(0, math.floor(window.col_off) - pad)
    row0 = max(0, math.floor(window.row_off) - pad)
    col1 = min(src.width, math.ceil(window.col_off + window.width) + pad)
    row1 = min(src.height, math.ceil(window.row_off + window.height) + pad)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def read_band(band: BandFile, geobox: GeoBox) -> np.ndarray:
    """One band warped onto `geobox` as float32, NaN where the image has no data."""
    return read_bands([band], geobox)[0]


def read_bands(bands: list[BandFile], geobox: GeoBox, out: np.ndarray | None = None) -> np.ndarray:
    """Bands of one file warped onto `geobox` as (band, y, x) float32, NaN where there is no data.

    One windowed read and one warp for all of them: in a pixel-interleaved file every read
    decodes the tiles of every band, so reading band by band decodes the file once per band.
    `out` (float32, C-contiguous) receives them in place, e.g. a look of a preallocated cube.
    """
    path = bands[0].path
    if out is None:
        out = np.empty((len(bands), *geobox.shape.yx), dtype="float32")
    with _open(path) as src:
        if _paste(src, bands, geobox, out):
            return out
        out.fill(np.nan)
        window = _source_window(src, geobox)
        if window is None:
            return out
        values = _read_float(src, [b.index for b in bands], window)
        # Average when the source is much finer than the grid, bilinear otherwise.
        target_m = float(abs(geobox.resolution.x))
        if geobox.crs.geographic:
            target_m *= metres_per_degree(float(geobox.extent.centroid.coords[0][1]))[0]
        resampling = Resampling.average if bands[0].resolution_m * 1.5 < target_m else Resampling.bilinear
        reproject(
            values,
            out,
            src_transform=src.window_transform(window),
            src_crs=src.crs,
            src_nodata=np.nan,
            dst_transform=geobox.affine,
            dst_crs=geobox.crs,
            dst_nodata=np.nan,
            resampling=resampling,
        )
    return out


#: Sub-pixel offset below which a grid counts as the file's own (a thousandth of a pixel).
PASTE_TOLERANCE_PX = 1e-3


def _paste(src: rasterio.DatasetReader, bands: list[BandFile], geobox: GeoBox, out: np.ndarray) -> bool:
    """Read `bands` straight into `out` when `geobox` is the file's own grid, shifted by whole pixels.

    Analysts' series often come on one grid already (the same tile, exported the same way);
    then a warp would only interpolate at the pixel centres and cost three times the read.
    Returns False, having read nothing, when the grids differ in CRS, pixel size or phase.
    """
    own = GeoBox((src.height, src.width), src.transform, src.crs)
    try:
        info = compute_reproject_roi(own, geobox, ttol=PASTE_TOLERANCE_PX, padding=0)
    except ValueError:  # grids that cannot be related (no overlap computable)
        return False
    if not info.paste_ok or info.read_shrink != 1 or abs(info.scale - 1) > 1e-9:
        return False
    rows, cols = info.roi_src
    indexes = [b.index for b in bands]
    if rows.stop <= rows.start or cols.stop <= cols.start:
        out.fill(np.nan)  # no overlap: all no data
        return True
    window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
    if (rows.stop - rows.start, cols.stop - cols.start) == out.shape[1:]:
        _read_float(src, indexes, window, out)  # the grid lies inside the file: read straight into `out`
    else:
        out.fill(np.nan)
        out[(slice(None), *info.roi_dst)] = _read_float(src, indexes, window)
    return True


#: Pixel types whose values float32 holds exactly, so no-data values can be compared after reading.
_EXACT_IN_FLOAT32 = frozenset({"uint8", "int8", "uint16", "int16", "float32"})


def _read_float(
    src: rasterio.DatasetReader, indexes: list[int], window: Window, out: np.ndarray | None = None
) -> np.ndarray:
    """Bands of a window as float32, NaN where the file says there is no data.

    Where validity comes from nodata values (most GeoTIFFs), it is computed from the pixels
    read: `read(masked=True)` would ask GDAL for the mask, which reads and decodes every
    tile a second time. Mask bands and alpha, and pixel types float32 cannot hold exactly,
    are read as GDAL masks them.
    """
    if not all(src.dtypes[i - 1] in _EXACT_IN_FLOAT32 for i in indexes):
        values = np.ma.filled(src.read(indexes, window=window, masked=True).astype("float32"), np.nan)
        if out is None:
            return values
        out[...] = values
        return out
    values = src.read(indexes, window=window, out_dtype="float32", out=out)
    for position, index in enumerate(indexes):
        flags = src.mask_flag_enums[index - 1]
        if MaskFlags.all_valid in flags:
            continue
        if MaskFlags.nodata in flags:
            nodata = src.nodatavals[index - 1]
            band = values[position]
            band[np.isnan(band) if np.isnan(nodata) else band == np.float32(nodata)] = np.nan
        else:  # a mask band or alpha
            band_mask = src.read_masks(index, window=window)
            values[position][band_mask == 0] = np.nan
    return values


def image_array(data: np.ndarray, geobox: GeoBox, band_keys: list[str], **attrs: Any) -> xr.DataArray:
    """Wrap a (band, y, x) array with its grid, band names and attributes."""
    coords = {"band": band_keys, **xr_coords(geobox, dims=("y", "x"))}
    return xr.DataArray(data, dims=("band", "y", "x"), coords=coords, attrs=attrs)


def load_image(
    source: ImageSource, geobox: GeoBox, band_keys: list[str] | None = None, out: np.ndarray | None = None
) -> xr.DataArray:
    """Read `band_keys` (default: all) of an image onto `geobox` as (band, y, x) float32.

    The bands that share a file are read together (`read_bands`): once per file, not once
    per band. `out` (float32, C-contiguous, one layer per key) receives them in place.
    """
    by_key = {b.key: b for b in source.bands}
    keys = band_keys if band_keys is not None else list(by_key)
    by_file: dict[Path, list[int]] = {}
    for position, key in enumerate(keys):
        by_file.setdefault(by_key[key].path, []).append(position)
    data = np.empty((len(keys), *geobox.shape.yx), dtype="float32") if out is None else out
    for path, positions in by_file.items():
        try:
            if positions == list(range(len(keys))):  # one file holds them all, in order: read in place
                read_bands([by_key[k] for k in keys], geobox, out=data)
            else:
                data[positions] = read_bands([by_key[keys[p]] for p in positions], geobox)
        except (RasterioError, OSError) as exc:  # truncated or corrupt pixels behind a readable header
            reason = " ".join(str(exc).split())[:160]
            raise InputError(f"{path}: its pixels cannot be read ({reason}); the file is truncated or corrupt") from exc
    return image_array(data, geobox, keys, time=source.time.value, source=str(source.path))
