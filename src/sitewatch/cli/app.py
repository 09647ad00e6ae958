"""The `sitewatch` command: the command groups, the store options and the error policy.

Exit codes: 0 ok, 2 bad input (one line saying what to do), 1 internal error, 3 a watchlist
run stored its results but some alerts were not delivered (they wait for the next run).

Command modules import the imaging stack inside their commands, not at the top, so that
`sitewatch --help` and `--version` start without loading GDAL, xarray or ONNX Runtime.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Annotated

import typer

from sitewatch import __version__
from sitewatch.base.errors import InputError
from sitewatch.cli.console import console, error_line

HELP = "Watch known sites with satellite imagery: detect, date, measure and document change."


def typer_app(help_text: str) -> typer.Typer:
    """A command group with the project's settings (no completion, no pretty tracebacks)."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,  # plain help: no `<bool>` metavars, and `[train]` stays as written
    )


app = typer_app(HELP)
sites_app = typer_app("Site files: check and convert GeoJSON, KML/KMZ and GeoPackage.")
watchlist_app = typer_app("The watchlist in the store: sites, their alert rules, and runs since the last one.")
events_app = typer_app("Change events in the store: list, review, report, export.")
alerts_app = typer_app("Alerts queued by watchlist runs: list them with their deliveries, retry the undelivered.")
bench_app = typer_app("Benchmark the detectors on labelled real imagery.")
model_app = typer_app("Train and assemble the learned detector (needs the [train] extra for fit and plan).")
keys_app = typer_app("Signing keys for evidence bundles.")
users_app = typer_app("Workbench accounts (`sitewatch serve`): add, list, remove, change a password or role.")
for group, name in (
    (sites_app, "sites"),
    (watchlist_app, "watchlist"),
    (events_app, "events"),
    (alerts_app, "alerts"),
    (users_app, "users"),
    (keys_app, "keys"),
    (bench_app, "bench"),
    (model_app, "model"),
):
    app.add_typer(group, name=name)


class StoreOptions:
    """Where the store is, as the group's options said (read by every store command)."""

    def __init__(self, url: str | None, upgrade: bool) -> None:
        self.url, self.upgrade = url, upgrade

    def session(self):  # -> sqlalchemy.orm.Session
        from sitewatch.store import open_store  # lazy: SQLAlchemy is not needed for --help

        return open_store(self.url, upgrade=self.upgrade).session()

    def looks_dir(self):  # -> pathlib.Path
        from sitewatch.store.db import default_looks_dir  # lazy: SQLAlchemy is not needed for --help

        return default_looks_dir(self.url)


def store_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SITEWATCH_DB",
            help="Store URL: sqlite:///FILE or postgresql://... (default: ~/.local/share/sitewatch/store.db).",
        ),
    ] = None,
    upgrade_store: Annotated[
        bool, typer.Option("--upgrade-store", help="Migrate a store made by an older sitewatch (back it up first).")
    ] = False,
) -> None:
    """The store options, declared once for every group that works on the store."""
    ctx.obj = StoreOptions(db, upgrade_store)


for store_group in (watchlist_app, events_app, alerts_app, users_app):
    store_group.callback()(store_options)


def _version(value: bool) -> None:
    if value:
        console.print(f"sitewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Watch known sites with satellite imagery: detect, date, measure and document change."""


#: The words of the command line being run (after `sitewatch`): model files record them.
invoked: list[str] = []


def run(args: Sequence[str] | None = None) -> int:
    """Run the command line on `args` (default: sys.argv) under the error policy; the exit code."""
    warnings.filterwarnings("ignore", module="rasterio")
    words = list(args) if args is not None else sys.argv[1:]
    invoked[:] = words
    try:
        code = app(args=words, standalone_mode=False, prog_name="sitewatch")
    except InputError as exc:
        error_line(str(exc))
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error_line("interrupted; nothing was written for the unfinished step")
        return 130
    except typer.TyperException as exc:  # a usage error: unknown option, bad choice, missing argument
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:  # a group without a command
            console.print(context.get_help(), markup=False, highlight=False)
            return 0
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        error_line(" ".join(message.split()) + "; see --help")
        return 2
    except KeyboardInterrupt:
        error_line("interrupted; nothing was written for the unfinished step")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Exception as exc:
        if os.environ.get("SITEWATCH_DEBUG"):
            raise
        error_line(
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in sitewatch - "
            "rerun with SITEWATCH_DEBUG=1 for the traceback and report it"
        )
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console entry point."""
    sys.exit(run())
