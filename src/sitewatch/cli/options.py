"""Options several commands share, each with one meaning everywhere.

`SITE_FILE` is always a positional site file; `--site` is always a site id (which site of a
multi-site file, or which stored site); `--min-area` is always a minimum mapping unit in
m² (alert rules say `--alert-min-area`); `--out` is always where outputs go.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from sitewatch.base.defaults import DEFAULT_MARGIN_M, DEFAULT_MAX_AREA_KM2
from sitewatch.base.errors import InputError

SiteFileArgument = Annotated[
    Path, typer.Argument(help="Site file: .geojson, .kml, .kmz or .gpkg.", metavar="SITE_FILE", show_default=False)
]
SiteIdOption = Annotated[
    str | None, typer.Option("--site", help="Which site of the file, when it holds several (its id).")
]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder (created if missing).", show_default=False)]
MarginOption = Annotated[float, typer.Option("--margin", help="Metres kept around the site polygon.")]
MaxAreaOption = Annotated[float, typer.Option("--max-area-km2", help="Refuse site polygons larger than this, km².")]

__all__ = ["DEFAULT_MARGIN_M", "DEFAULT_MAX_AREA_KM2"]


def parse_day(text: str, option: str) -> str:
    """An ISO 8601 day (YYYY-MM-DD), or one error line naming the option."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise InputError(f"{option} '{text}' is not a date; use YYYY-MM-DD") from exc


def positive(value: float | None, option: str, unit: str = "") -> None:
    """Refuse zero, negative, NaN and infinite values of an option."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{option} must be a positive number{unit}, not {value}")


def not_negative(value: float | None, option: str, unit: str = "") -> None:
    """Refuse negative, NaN and infinite values of an option."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise InputError(f"{option} must be zero or more{unit}, not {value}")
