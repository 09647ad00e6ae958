"""The `sitewatch` command: sub-commands and the error policy.

Exit codes: 0 ok, 2 bad input (one line saying what to do), 1 internal error.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from sitewatch import __version__
from sitewatch.cli.console import console, error_line
from sitewatch.errors import InputError

app = typer.Typer(
    name="sitewatch",
    help="Watch known sites with satellite imagery: detect, measure and document change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sites_app = typer.Typer(help="Check and convert site files; keep the watchlist.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmark the detectors on labelled real imagery.", no_args_is_help=True)
app.add_typer(sites_app, name="sites")
app.add_typer(bench_app, name="bench")


def _version(value: bool) -> None:
    if value:
        console.print(f"sitewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """sitewatch."""


def main() -> None:
    """Console entry point."""
    warnings.filterwarnings("ignore", module="rasterio")
    try:
        app()
    except InputError as exc:
        error_line(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        error_line("interrupted; nothing was written for the unfinished step")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SITEWATCH_DEBUG"):
            raise
        error_line(
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in sitewatch - "
            "rerun with SITEWATCH_DEBUG=1 for the traceback and report it"
        )
        sys.exit(1)
