"""Imagery: local rasters and STAC scenes of a site on its UTM grid, as one cube type for 2..N looks."""

from sitewatch.imagery.align import common_bands, load_pair
from sitewatch.imagery.cube import SceneCube, SceneInfo
from sitewatch.imagery.grid import DEFAULT_MARGIN_M, geobox_of, site_geobox, snap_resolution
from sitewatch.imagery.local import BandFile, ImageSource, load_image, open_image

__all__ = [
    "DEFAULT_MARGIN_M",
    "BandFile",
    "ImageSource",
    "SceneCube",
    "SceneInfo",
    "common_bands",
    "geobox_of",
    "load_image",
    "load_pair",
    "open_image",
    "site_geobox",
    "snap_resolution",
]
