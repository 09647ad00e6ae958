"""Acquisition dates of local imagery, and where each one came from.

A change is only as well dated as its images, so the source of every date is kept
("dates.txt", "file name", "GeoTIFF IMAGERY metadata"...). Dates that merely look like
dates are not trusted: Sentinel-2 `_OPER_` file names carry the *processing* time, not the
acquisition time, so they are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from sitewatch.base.errors import InputError

_LANDSAT_SCENE_ID = re.compile(r"L[CTEMO]\d(\d{3})(\d{3})(\d{4})(\d{3})[A-Z]{3}\d{2}")
_LANDSAT_PRODUCT_ID = re.compile(r"L[CTEMO]0\d_L[0-9A-Z]{3}_\d{6}_(\d{8})_")
_S2_SENSING = re.compile(r"(?:MSIL1C|MSIL2A|T\d{2}[A-Z]{3})_(\d{8}T\d{6})")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:T(\d{2}):?(\d{2}):?(\d{2}))?(?!\d)")
_OSCD_DATE = re.compile(r"date_(\d)\s*:\s*(\d{8})")


@dataclass(frozen=True)
class AcquisitionTime:
    """A UTC acquisition time and how it was learnt."""

    value: np.datetime64 | None
    source: str

    @property
    def iso(self) -> str | None:
        return None if self.value is None else str(np.datetime_as_string(self.value, unit="s")) + "Z"

    @property
    def day(self) -> str | None:
        return None if self.value is None else str(np.datetime_as_string(self.value, unit="D"))


UNKNOWN = AcquisitionTime(None, "unknown")


def parse_time(text: str, label: str = "date") -> np.datetime64:
    """An ISO 8601 date or date-time (UTC) given by the user."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{label}: '{text}' is not a date; use ISO 8601, e.g. 2021-06-30") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(parsed, "ns")


def _plausible(year: int, month: int, day: int) -> date | None:
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if 1972 <= year <= date.today().year + 1 else None


def time_from_name(name: str) -> AcquisitionTime | None:
    """The acquisition time encoded in a product or file name, when the naming is known."""
    match = _LANDSAT_PRODUCT_ID.search(name)
    if match:
        return AcquisitionTime(
            np.datetime64(datetime.strptime(match.group(1), "%Y%m%d"), "ns"), "Landsat product id in file name"
        )
    match = _LANDSAT_SCENE_ID.search(name)
    if match:
        year, doy = int(match.group(3)), int(match.group(4))
        when = datetime(year, 1, 1) + timedelta(days=doy - 1)
        return AcquisitionTime(np.datetime64(when, "ns"), "Landsat scene id in file name")
    match = _S2_SENSING.search(name)
    if match:
        when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
        return AcquisitionTime(np.datetime64(when, "ns"), "Sentinel-2 sensing time in file name")
    if "_OPER_" in name.upper():
        return None  # old Sentinel-2 names hold the processing time, not the acquisition
    for match in _ISO_DATE.finditer(name):
        day = _plausible(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if day is not None:
            when = datetime(day.year, day.month, day.day, *(int(g) for g in match.groups()[3:] if g is not None))
            return AcquisitionTime(np.datetime64(when, "ns"), "date in file name")
    return None


def time_from_oscd_dates(image_dir: Path) -> AcquisitionTime | None:
    """OSCD layout: `<city>/imgs_N/` with `<city>/dates.txt` holding `date_N: YYYYMMDD`."""
    match = re.fullmatch(r"imgs_(\d)", image_dir.name)
    dates_file = image_dir.parent / "dates.txt"
    if not match or not dates_file.is_file():
        return None
    for number, text in _OSCD_DATE.findall(dates_file.read_text(errors="replace")):
        if number == match.group(1):
            when = datetime.strptime(text, "%Y%m%d")
            return AcquisitionTime(np.datetime64(when, "ns"), f"{dates_file.name} (OSCD)")
    return None


def time_from_tags(tags: dict[str, str], source: str) -> AcquisitionTime | None:
    """Acquisition time from GDAL metadata keys that mean acquisition (not file time)."""
    for key in (
        "ACQUISITIONDATETIME",
        "ACQUISITION_DATETIME",
        "ACQUISITION_DATE",
        "DATE_ACQUIRED",
        "datetime",
        "acquisition_time",
        "acquisition time",
    ):
        value = tags.get(key)
        if value:
            text = value.strip().strip("{}").strip()
            try:
                return AcquisitionTime(parse_time(text[:19]), f"{source} {key}")
            except InputError:
                continue
    return None
