"""`sitewatch demo`: the two-date job on a real OSCD city with visible construction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sitewatch.bench.datasets import OSCD_IMAGES
from sitewatch.cli.app import app
from sitewatch.cli.console import StageProgress, stdout
from sitewatch.cli.detect_cmd import print_run_summary
from sitewatch.detect import default_config
from sitewatch.errors import InputError
from sitewatch.pipeline import run_two_date, write_outputs
from sitewatch.sites import read_sites

#: Beirut's port and airport show large, dated construction between 2015 and 2017.
DEMO_CITY = "beirut"
DEFAULT_SAMPLE_DIR = Path("../shared/data/oscd")


def find_city_folder(sample_dir: Path, city: str) -> Path | None:
    """The OSCD city folder, whether `sample_dir` is the OSCD root, its Images folder or the city."""
    for candidate in (sample_dir / OSCD_IMAGES / city, sample_dir / city, sample_dir):
        if (candidate / "imgs_1").is_dir() and (candidate / "imgs_2").is_dir():
            return candidate
    return None


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    city: Annotated[str, typer.Option(help="OSCD city to run.")] = DEMO_CITY,
    method: Annotated[str, typer.Option(help="Detector.")] = "cva",
) -> None:
    """Run `sitewatch detect` on a real OSCD city pair (SITEWATCH_SAMPLE_DIR or ../shared/data/oscd)."""
    sample_dir = Path(os.environ.get("SITEWATCH_SAMPLE_DIR", DEFAULT_SAMPLE_DIR))
    folder = find_city_folder(sample_dir, city)
    if folder is None:
        raise InputError(
            f"no sample imagery for '{city}' under {sample_dir}; set SITEWATCH_SAMPLE_DIR to an "
            "OSCD download (the folder holding 'Onera Satellite Change Detection dataset - Images')"
        )
    site_file = read_sites(folder / f"{folder.name}.geojson")
    site = site_file.get(None)
    site.name = f"OSCD {folder.name} (demo)"
    stdout.print(f"Demo: {folder.name} from {folder}")
    with StageProgress() as progress:
        run = run_two_date(folder / "imgs_1", folder / "imgs_2", site, default_config(method), reporter=progress)
        written = write_outputs(run, out, reporter=progress)
    print_run_summary(run, written)
