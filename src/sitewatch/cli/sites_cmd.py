"""`sitewatch sites ...`: check and convert site files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.base.defaults import DEFAULT_MAX_AREA_KM2
from sitewatch.cli.app import sites_app
from sitewatch.cli.console import console, stdout
from sitewatch.cli.options import MaxAreaOption, SiteFileArgument


@sites_app.command("check")
def check(
    file: SiteFileArgument,
    max_area_km2: MaxAreaOption = DEFAULT_MAX_AREA_KM2,
    repair: Annotated[bool, typer.Option(help="Repair self-intersecting polygons (else refuse them).")] = True,
) -> None:
    """Validate a site file and list its sites."""
    from sitewatch.sites import read_sites  # lazy: keeps `--help` fast

    site_file = read_sites(file, repair=repair, max_area_km2=max_area_km2)
    table = Table(title=f"{file}: {len(site_file.sites)} site(s) OK")
    for column in ("id", "name", "area", "centroid lon, lat", "parent", "country", "tags"):
        table.add_column(column)
    for site in site_file.sites:
        c = site.geometry.centroid
        table.add_row(
            escape(site.id),
            escape(site.name),
            f"{site.area_m2 / 1e6:,.3f} km²",
            f"{c.x:.5f}, {c.y:.5f}",
            escape(site.parent or ""),
            escape(site.country or ""),
            escape(", ".join(site.tags)),
        )
    stdout.print(table)
    for repair_note in site_file.repairs:
        console.print(f"[yellow]repaired:[/] {escape(repair_note)}")


@sites_app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="Site file to read.", metavar="SITE_FILE")],
    target: Annotated[Path, typer.Argument(help="File to write; format from the extension.", metavar="TARGET")],
) -> None:
    """Convert a site file between GeoJSON, KML, KMZ and GeoPackage."""
    from sitewatch.sites import read_sites, write_sites  # lazy: keeps `--help` fast

    site_file = read_sites(source)
    write_sites(site_file.sites, target)
    stdout.print(f"wrote {len(site_file.sites)} site(s) to {escape(str(target))}")
