"""Defaults that a stage applies and the CLI shows, defined once and importable cheaply."""

#: Metres of imagery kept around a site polygon (context for the detectors and the report).
DEFAULT_MARGIN_M = 200.0
#: Metres around a site from which two-date detectors take their noise scale, whatever the
#: margin (the margin, when larger): a site's verdict must not depend on how much was read.
NOISE_CONTEXT_M = 1000.0
#: Larger site polygons are refused: sites are facilities, not provinces.
DEFAULT_MAX_AREA_KM2 = 500.0
#: Series looks with less clear site area than this share are dropped before dating.
DEFAULT_MIN_VALID = 0.5
#: Minimum mapping unit of the CVA, IR-MAD, index and series detectors, m².
DEFAULT_MIN_AREA_M2 = 500.0
