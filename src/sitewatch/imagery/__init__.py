"""Imagery: reading local rasters and putting two dates of a site on one grid."""

from sitewatch.imagery.align import ImagePair, common_bands, load_pair
from sitewatch.imagery.grid import DEFAULT_MARGIN_M, geobox_of, site_geobox, snap_resolution
from sitewatch.imagery.local import BandFile, ImageSource, load_image, open_image

__all__ = [
    "DEFAULT_MARGIN_M",
    "BandFile",
    "ImagePair",
    "ImageSource",
    "common_bands",
    "geobox_of",
    "load_image",
    "load_pair",
    "open_image",
    "site_geobox",
    "snap_resolution",
]
