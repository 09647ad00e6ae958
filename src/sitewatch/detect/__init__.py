"""Change detection: two-date scores (CVA, IR-MAD, index differences), thresholds, clean-up."""

from sitewatch.detect.core import (
    METHOD_DEFAULTS,
    METHODS,
    ChangeResult,
    DetectorConfig,
    default_config,
    detect,
)

__all__ = ["METHODS", "METHOD_DEFAULTS", "ChangeResult", "DetectorConfig", "default_config", "detect"]
