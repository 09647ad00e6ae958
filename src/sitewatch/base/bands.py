"""Band names: from file names, GDAL metadata and wavelengths to STAC `eo` common names.

Two images line up band by band only when their bands mean the same thing. Sentinel-2's
B08 and Landsat 8's B5 are both `nir`, Landsat 5's B5 and Landsat 8's B6 are both `swir16`.
So every band is keyed by its STAC eo common name where one can be known, and by its raw
name otherwise.
"""

from __future__ import annotations

import re

# STAC eo extension (v1.1) common names, keyed by sensor family and raw band name.
SENTINEL2 = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge071",
    "B06": "rededge075",
    "B07": "rededge078",
    "B08": "nir",
    "B8A": "nir08",
    "B09": "nir09",
    "B10": "cirrus",
    "B11": "swir16",
    "B12": "swir22",
}
LANDSAT_TM = {  # Landsat 4-5 TM and 7 ETM+
    "B1": "blue",
    "B2": "green",
    "B3": "red",
    "B4": "nir",
    "B5": "swir16",
    "B6": "lwir",
    "B7": "swir22",
    "B8": "pan",
}
LANDSAT_OLI = {  # Landsat 8-9 OLI/TIRS
    "B1": "coastal",
    "B2": "blue",
    "B3": "green",
    "B4": "red",
    "B5": "nir",
    "B6": "swir16",
    "B7": "swir22",
    "B8": "pan",
    "B9": "cirrus",
    "B10": "lwir11",
    "B11": "lwir12",
}
COMMON_NAMES = frozenset(
    set(SENTINEL2.values()) | set(LANDSAT_TM.values()) | set(LANDSAT_OLI.values()) | {"rededge", "nir09", "lwir"}
)
#: Bands of the full Sentinel-2 learned model: the ten ground-looking bands (no coastal,
#: water vapour or cirrus band, which see the atmosphere and are 60 m anyway).
S2_BANDS = ("blue", "green", "red", "rededge071", "rededge075", "rededge078", "nir", "nir08", "swir16", "swir22")
#: Bands of the learned model for 4-band commercial and aerial imagery (the shipped one).
RGBN_BANDS = ("blue", "green", "red", "nir")
#: Bands that see the atmosphere more than the ground; change detectors leave them out.
ATMOSPHERIC = frozenset({"coastal", "nir09", "cirrus", "lwir", "lwir11", "lwir12", "pan"})

# Centre-wavelength ranges (micrometres) for images that only state wavelengths (ENVI).
_WAVELENGTHS = (
    (0.40, 0.45, "coastal"),
    (0.45, 0.52, "blue"),
    (0.52, 0.60, "green"),
    (0.62, 0.69, "red"),
    (0.69, 0.72, "rededge071"),
    (0.72, 0.76, "rededge075"),
    (0.76, 0.80, "rededge078"),
    (0.80, 0.85, "nir"),
    (0.85, 0.88, "nir08"),
    (0.93, 0.96, "nir09"),
    (1.36, 1.39, "cirrus"),
    (1.55, 1.75, "swir16"),
    (2.05, 2.35, "swir22"),
    (8.0, 14.0, "lwir"),
)
_SYNONYMS = {
    "r": "red",
    "g": "green",
    "b": "blue",
    "n": "nir",
    "nir1": "nir",
    "nir2": "nir08",
    "near-infrared": "nir",
    "nearinfrared": "nir",
    "swir1": "swir16",
    "swir2": "swir22",
    "rededge": "rededge071",
    "re": "rededge071",
    "cb": "coastal",
    "coastal_blue": "coastal",
}

_BAND_TOKEN = re.compile(r"(?:^|[_\-.])(?:SR_|ST_)?B(\d{1,2})(A?)(?=$|[_\-.])", re.IGNORECASE)
_S2_NAME = re.compile(r"(^S2[ABC]?_)|(^|_)T\d{2}[A-Z]{3}_|MSIL1C|MSIL2A", re.IGNORECASE)
_LANDSAT_NAME = re.compile(r"^L([CTEMO])0?(\d)", re.IGNORECASE)


def band_token(filename: str) -> str | None:
    """The raw band name in a per-band file name ("..._B8A.tif" -> "B8A"), or None."""
    stem = filename.rsplit(".", 1)[0]
    matches = list(_BAND_TOKEN.finditer(stem))
    if not matches:
        return None
    number, suffix = matches[-1].group(1), matches[-1].group(2).upper()
    if suffix:
        return f"B{int(number)}{suffix}"
    return f"B{int(number):02d}" if len(number) == 2 else f"B{int(number)}"


def sensor_from_names(names: list[str]) -> str | None:
    """'sentinel-2', 'landsat-tm' or 'landsat-oli' from product/file naming, else None."""
    for name in names:
        if _S2_NAME.search(name):
            return "sentinel-2"
        match = _LANDSAT_NAME.match(name)
        if match:
            return "landsat-oli" if int(match.group(2)) >= 8 else "landsat-tm"
    return None


def common_name_for(raw: str, sensor: str | None) -> str | None:
    """The eo common name of a raw band name on a known sensor."""
    if sensor == "sentinel-2":
        key = raw if raw in SENTINEL2 else f"B{int(raw[1:]):02d}" if raw[1:].isdigit() else raw
        return SENTINEL2.get(key)
    table = {"landsat-tm": LANDSAT_TM, "landsat-oli": LANDSAT_OLI}.get(sensor or "")
    if table is not None and raw[1:].isdigit():
        return table.get(f"B{int(raw[1:])}")
    return None


def common_name_from_wavelength(micrometres: float) -> str | None:
    """The eo common name whose range holds a centre wavelength (micrometres)."""
    for low, high, name in _WAVELENGTHS:
        if low <= micrometres < high:
            return name
    return None


def normalise_common_name(text: str) -> str | None:
    """A user- or file-given band label ("Red", "NIR", "swir1") as an eo common name."""
    key = text.strip().lower().replace(" ", "")
    key = _SYNONYMS.get(key, key)
    return key if key in COMMON_NAMES else None


def raw_name_from_description(description: str | None, index: int) -> str:
    """A short raw name for band `index` (1-based) of a multiband file."""
    if description:
        match = re.search(r"band\s*(\d+)", description, re.IGNORECASE)
        if match:
            return f"B{int(match.group(1))}"
        if len(description) <= 24:
            return description.strip()
    return f"b{index}"
