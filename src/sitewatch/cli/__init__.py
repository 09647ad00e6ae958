"""Command-line interface (Typer + Rich)."""

from sitewatch.cli import bench_cmd, demo_cmd, detect_cmd, monitor_cmd, sites_cmd, store_cmd  # noqa: F401  (register commands)
from sitewatch.cli.app import app, main

__all__ = ["app", "main"]
