"""`sitewatch serve`: the analyst's workbench on the store (FastAPI on uvicorn)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from sitewatch.base.errors import InputError
from sitewatch.cli.app import app
from sitewatch.cli.console import console, stdout

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve(
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="SITEWATCH_DB", help="Store URL (default: ~/.local/share/sitewatch/store.db)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    looks: Annotated[
        Path | None,
        typer.Option(help="Where runs kept their looks (default: beside a SQLite store, or SITEWATCH_LOOKS)."),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM): serve https, cookies Secure.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM) of --tls-cert.")] = None,
    basemap: Annotated[
        str | None,
        typer.Option(help="Background map tiles, an https URL with {z}/{x}/{y} (default: none, works offline)."),
    ] = None,
) -> None:
    """Open the workbench: the watchlist map, sites, events with imagery, the review queue."""
    if bool(tls_cert) != bool(tls_key):
        raise InputError("give both --tls-cert and --tls-key, or neither")
    for path, option in ((tls_cert, "--tls-cert"), (tls_key, "--tls-key")):
        if path is not None and not path.is_file():
            raise InputError(f"{option} {path}: no such file")
    if basemap is not None and not (
        basemap.startswith("https://") and all(part in basemap for part in ("{z}", "{x}", "{y}"))
    ):
        raise InputError(
            "--basemap must be an https URL with {z}, {x} and {y} (https://tiles.example.org/{z}/{x}/{y}.png)"
        )
    import uvicorn  # lazy: keeps `--help` fast

    from sitewatch.store.db import default_looks_dir
    from sitewatch.web import create_app
    from sitewatch.web.settings import Settings

    settings = Settings(
        store_url=db, looks_dir=looks or default_looks_dir(db), secure_cookies=tls_cert is not None, basemap=basemap
    )
    application = create_app(settings)  # opens the store now: a bad URL is one line, before listening
    if not is_loopback(host) and tls_cert is None:
        console.print(
            f"[yellow]warning:[/] listening on {host} without TLS: passwords and session cookies cross the "
            "network in clear; give --tls-cert and --tls-key, or put a TLS proxy in front"
        )
    scheme = "https" if tls_cert else "http"
    stdout.print(f"sitewatch workbench on {scheme}://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(
        application,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
    )
