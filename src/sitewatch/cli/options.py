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
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace outputs already in --out (refused otherwise).")
]
MaxMemoryOption = Annotated[
    float | None,
    typer.Option(
        "--max-memory",
        help="GiB the job may plan for; larger grids are refused before any work (default: half the machine's "
        "memory, or SITEWATCH_MAX_MEMORY_GB).",
    ),
]


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


def not_in_future(day: str | None, option: str) -> None:
    """Refuse a day after today (UTC): imagery from the future does not exist, and a stored
    run ending there would make every later run believe it is up to date."""
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    if day is not None and day[:10] > today:
        raise InputError(f"{option} {day[:10]} is in the future (today is {today}); give a day up to today")


def gib_to_bytes(value: float | None) -> int | None:
    """`--max-memory` in bytes (None: the default budget)."""
    positive(value, "--max-memory", " of GiB")
    return None if value is None else int(value * 2**30)
