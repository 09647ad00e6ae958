"""Change detection: two-date scores (CVA, IR-MAD, index differences, the learned ONNX model),
thresholds and clean-up, behind one `detect` entry point; and dated breaks in series
(`sitewatch.detect.timeseries`)."""

from sitewatch.detect.core import METHOD_DEFAULTS, METHODS, ChangeResult, DetectorConfig, default_config, detect

__all__ = ["METHODS", "METHOD_DEFAULTS", "ChangeResult", "DetectorConfig", "default_config", "detect"]
