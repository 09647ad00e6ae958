"""Sites: the watched places, their polygons, and the files they travel in."""

from sitewatch.sites.io import SiteFile, read_sites, write_sites
from sitewatch.sites.model import Site, slugify
from sitewatch.sites.validate import DEFAULT_MAX_AREA_KM2, CheckedGeometry, check_geometry

__all__ = [
    "DEFAULT_MAX_AREA_KM2",
    "CheckedGeometry",
    "Site",
    "SiteFile",
    "check_geometry",
    "read_sites",
    "slugify",
    "write_sites",
]
