"""Change detection: two-date scores (CVA, IR-MAD, index differences), thresholds, clean-up.

The public names are loaded on first use (PEP 562), so importing a leaf module such as
`sitewatch.detect.cleanup` (training does, to post-process as detection will) does not
pull in the imagery stack (rasterio, GeoPandas) that `detect` itself needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sitewatch.detect.core import (
        METHOD_DEFAULTS,
        METHODS,
        ChangeResult,
        DetectorConfig,
        default_config,
        detect,
    )

__all__ = ["METHODS", "METHOD_DEFAULTS", "ChangeResult", "DetectorConfig", "default_config", "detect"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("sitewatch.detect.core"), name)
    raise AttributeError(f"module 'sitewatch.detect' has no attribute {name!r}")
