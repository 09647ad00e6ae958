"""The words every layer and the command line share: detectors, threshold rules, cloud
masks, composites, event kinds and review verdicts.

Each is a `StrEnum`, defined once here: the stage that implements a choice checks it
against the same values the CLI offers (`--method`, `--kind`, `events list --status`...),
so a choice cannot be accepted by one and be unknown to the other. This module imports
nothing heavy, so the CLI can build its options without loading the imaging stack.
"""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    """Two-date detectors; `auto` picks one from the bands (sitewatch.detect.choice)."""

    auto = "auto"  # learned where the images have its bands on its scale, else cva
    cva = "cva"  # robust change vector analysis
    irmad = "irmad"  # iteratively re-weighted MAD
    index = "index"  # NDVI / NDBI / MNDWI differences
    learned = "learned"  # the shipped ONNX ensemble


class ThresholdRule(StrEnum):
    otsu = "otsu"
    ki = "ki"  # Kittler-Illingworth
    fixed = "fixed"
    knee = "knee"  # the score histogram's knee (triangle method), never above the value given


class CloudMask(StrEnum):
    """Which mask marks clouds and shadows in a series."""

    provider = "provider"  # SCL (Sentinel-2 L2A) or QA_PIXEL (Landsat C2) where the source has them
    s2cloudless = "s2cloudless"  # computed from Sentinel-2 L1C bands
    none = "none"  # every pixel with data is used


class Composite(StrEnum):
    month = "month"
    quarter = "quarter"


class Kind(StrEnum):
    """A first guess of what a change region is, from its spectral direction."""

    built_up_gain = "built_up_gain"
    earthworks = "earthworks"
    vegetation_loss = "vegetation_loss"
    vegetation_gain = "vegetation_gain"
    water = "water"
    other = "other"


class ReviewStatus(StrEnum):
    new = "new"  # not reviewed yet
    confirmed = "confirmed"
    dismissed = "dismissed"
    needs_imagery = "needs-imagery"


class DismissReason(StrEnum):
    """Why an analyst dismissed an event: a fixed list, so dismissals can be counted and learned from."""

    not_construction = "not-construction"  # real change, but not what the site is watched for
    vegetation = "vegetation"  # crops, seasons, mowing, ploughing
    cloud_or_shadow = "cloud-or-shadow"
    misregistration = "misregistration"  # the looks do not line up
    water = "water"  # water level, tides, wet ground
    already_known = "already-known"
    other = "other"  # say why in the note


class Role(StrEnum):
    """What a workbench user may do: viewers look, analysts also review, admins also manage."""

    viewer = "viewer"
    analyst = "analyst"
    admin = "admin"


class CrossValidation(StrEnum):
    """Which model scores which OSCD city in a benchmark of the learned detector."""

    none = "none"  # the shipped model everywhere (trained on every city: in-sample)
    fixed = "fixed"  # the model trained without the four fixed test cities scores those four
    loco = "loco"  # leave-one-city-out


#: The OSCD benchmark's fixed split: these four cities are never trained on (bench and train share it).
FIXED_TEST_CITIES = ("aguasclaras", "beirut", "cupertino", "paris")


def values(choices: type[StrEnum]) -> tuple[str, ...]:
    """The plain strings of an enum, in order."""
    return tuple(choice.value for choice in choices)
