"""Command-line interface (Typer + Rich): parse, call the jobs and the store, print."""

from sitewatch.cli import (  # noqa: F401  (each module registers its commands)
    alerts_cmd,
    bench_cmd,
    demo_cmd,
    detect_cmd,
    events_cmd,
    evidence_cmd,
    model_cmd,
    monitor_cmd,
    serve_cmd,
    sites_cmd,
    users_cmd,
    watchlist_cmd,
)
from sitewatch.cli.app import app, main, run

__all__ = ["app", "main", "run"]
