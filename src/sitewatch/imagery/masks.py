"""Per-pixel validity: Sentinel-2 SCL, Landsat QA_PIXEL, and s2cloudless for L1C.

A change detector sees a cloud as the biggest change of all, so every scene is masked
before anything compares it with another. What counts as valid is kept conservative:
clouds of any probability, cirrus, shadows, snow, saturation and no-data are removed.
"""

from __future__ import annotations

import numpy as np

from sitewatch.base.errors import InputError
from sitewatch.imagery.cube import SceneCube

#: Asset / band names that carry a quality mask.
MASK_ASSETS = frozenset({"scl", "qa_pixel"})

#: Sentinel-2 scene classification classes kept: dark area, vegetation, bare soil, water,
#: unclassified. Dropped: 0 no data, 1 saturated, 3 cloud shadow, 8/9 cloud, 10 cirrus, 11 snow.
SCL_VALID = (2, 4, 5, 6, 7)

#: Landsat Collection 2 QA_PIXEL bits that make a pixel invalid: fill, dilated cloud,
#: cirrus, cloud, cloud shadow, snow.
QA_PIXEL_INVALID_BITS = (0, 1, 2, 3, 4, 5)

#: The Sentinel-2 L1C bands s2cloudless needs, in its order.
S2CLOUDLESS_BANDS = ("coastal", "blue", "red", "rededge071", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22")


def scl_valid(scl: np.ndarray) -> np.ndarray:
    """True where the Sentinel-2 SCL class is clear land or water."""
    values = np.nan_to_num(scl, nan=0).astype("int16")
    return np.isin(values, SCL_VALID)


def qa_pixel_valid(qa: np.ndarray) -> np.ndarray:
    """True where no Landsat QA_PIXEL fill/cloud/shadow/snow bit is set."""
    values = np.nan_to_num(qa, nan=1).astype("uint16")
    bad = np.uint16(sum(1 << bit for bit in QA_PIXEL_INVALID_BITS))
    return (values & bad) == 0


def valid_from_mask_band(values: np.ndarray, name: str) -> np.ndarray:
    """Validity from a named quality band (SCL or QA_PIXEL)."""
    key = name.lower()
    if key == "scl":
        return scl_valid(values)
    if key == "qa_pixel":
        return qa_pixel_valid(values)
    raise ValueError(f"unknown quality band '{name}'")


#: Cloud probability above which s2cloudless marks a pixel as cloud. Its own default, 0.4,
#: flags bright roofs as cloud: on the 14 cloud-free labelled OSCD cities it masked up to
#: 16 % of a city (Bercy, Beihai) at 0.4 and at most 1.5 % at 0.7. For a tool that looks for
#: new bright roofs, masking them is the worse error.
S2CLOUDLESS_THRESHOLD = 0.7


def s2cloudless_valid(
    image: np.ndarray,
    band_keys: list[str],
    *,
    threshold: float = S2CLOUDLESS_THRESHOLD,
    dilation: int = 2,
    scale: float = 1e-4,
) -> np.ndarray:
    """Cloud-free pixels of a Sentinel-2 L1C image (band, y, x in DN) by s2cloudless.

    Needs the ten L1C bands s2cloudless was trained on; `scale` turns DN into reflectance.
    """
    missing = [b for b in S2CLOUDLESS_BANDS if b not in band_keys]
    if missing:
        raise InputError(
            f"s2cloudless needs the Sentinel-2 L1C bands {', '.join(missing)}; use SCL or QA masks instead"
        )
    try:
        from s2cloudless import S2PixelCloudDetector
    except ImportError as exc:
        raise InputError("cloud masking of L1C scenes needs s2cloudless: pip install 'sitewatch[clouds]'") from exc
    stack = np.stack([image[band_keys.index(b)] for b in S2CLOUDLESS_BANDS], axis=-1) * scale
    nodata = ~np.isfinite(stack).all(axis=-1)
    stack = np.nan_to_num(stack, nan=0.0).astype("float32")
    detector = S2PixelCloudDetector(threshold=threshold, average_over=4, dilation_size=dilation, all_bands=False)
    clouds = detector.get_cloud_masks(stack[np.newaxis])[0].astype(bool)
    return ~clouds & ~nodata


def mask_clouds_s2cloudless(cube: SceneCube) -> SceneCube:
    """Clouds of Sentinel-2 L1C scenes (which carry no SCL) masked out with s2cloudless."""
    data = cube.data.values.copy()
    for index, scene in enumerate(cube.scenes):
        valid = s2cloudless_valid(data[index], cube.bands)
        data[index][:, ~valid] = np.nan
        share = float((~valid)[cube.site_mask].mean()) if cube.site_mask.any() else float((~valid).mean())
        scene.notes.append(f"s2cloudless: {share:.0%} of the site clouded")
    cube.data = cube.data.copy(data=data)
    return cube


def drop_unusable(cube: SceneCube, min_valid: float) -> SceneCube:
    """Drop scenes whose site is mostly invalid (clouds, no data), noting why."""
    fractions = cube.valid_fractions()
    keep = fractions >= min_valid
    for index, fraction in enumerate(fractions):
        cube.scenes[index].valid_fraction = round(float(fraction), 3)
        if not keep[index]:
            cube.drop(index, f"only {fraction:.0%} of the site is clear (needs {min_valid:.0%})")
    return cube if keep.all() else cube.select(keep)  # selecting every scene would copy the cube for nothing
