"""`sitewatch evidence`, `sitewatch verify`, `sitewatch keys new`: signed bundles others can check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.base.errors import InputError
from sitewatch.cli.app import app, keys_app
from sitewatch.cli.console import stdout

DEFAULT_KEY = Path.home() / ".config" / "sitewatch" / "keys"


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Option(help="Folder for the key pair.")] = DEFAULT_KEY,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a key pair already there.")] = False,
) -> None:
    """Make an Ed25519 key pair to sign evidence bundles (publish the .pub file)."""
    from sitewatch.evidence.keys import fingerprint, load_private, new_key_pair  # lazy: keeps `--help` fast

    private, public = new_key_pair(out, overwrite=overwrite)
    print_key = fingerprint(load_private(private).public_key())
    stdout.print(f"private key {escape(str(private))} (keep it); public key {escape(str(public))}")
    stdout.print(f"fingerprint (SHA-256 of the public key): {print_key}")


@app.command("evidence")
def evidence(
    events: Annotated[
        list[str] | None, typer.Argument(help="Event ids (17, E17), all of one site.", metavar="EVENT...")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Every event of this site instead.")] = None,
    out: Annotated[Path, typer.Option(help="New folder for the bundle.")] = Path("evidence"),
    key: Annotated[Path, typer.Option(help="Private key to sign with (`sitewatch keys new`).")] = DEFAULT_KEY
    / "sitewatch-signing.key",
    db: Annotated[str | None, typer.Option("--db", envvar="SITEWATCH_DB", help="Store URL.")] = None,
    looks: Annotated[Path | None, typer.Option(help="Where runs kept their looks (default as for serve).")] = None,
) -> None:
    """Write a signed BagIt bundle of events: polygons with area ± uncertainty, chips, scenes, provenance."""
    if bool(events) == bool(site):
        raise InputError("name the events, or give --site (not both)")
    from sitewatch.evidence.brief import write_brief  # lazy: keeps `--help` fast
    from sitewatch.evidence.bundle import write_bundle
    from sitewatch.evidence.collect import collect
    from sitewatch.evidence.keys import load_private
    from sitewatch.store import open_store
    from sitewatch.store.db import default_looks_dir

    signing_key = load_private(key)
    with open_store(db).session() as session:
        finding = collect(session, looks or default_looks_dir(db), event_ids=events, site_id=site)
    write_bundle(finding, out, signing_key, brief=write_brief)
    stdout.print(f"bundle {escape(str(out))}: {len(finding.events)} event(s), {len(finding.scenes)} scene(s), signed")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder.", metavar="BUNDLE", show_default=False)],
    key: Annotated[
        Path | None, typer.Option(help="The public key you expect (its .pub or PEM), published by the signer.")
    ] = None,
    reproduce: Annotated[
        bool, typer.Option("--reproduce", help="Also redo the runs from their recorded inputs and compare.")
    ] = False,
) -> None:
    """Check every checksum and the signature of a bundle; one line per problem (exit 2 if any)."""
    from sitewatch.evidence.verify import verify_bundle  # lazy: keeps `--help` fast

    expected = None
    if key is not None:
        if not key.is_file():
            raise InputError(f"--key {key}: no such file")
        expected = key.read_bytes()
    problems = verify_bundle(bundle, expected)
    if reproduce and not problems:  # a bundle that fails its checks is not worth redoing
        from sitewatch.evidence.reproduce import reproduce as redo

        outcome = redo(bundle)
        for line in outcome.matched:
            stdout.print(escape(line))
        problems = outcome.problems
    if problems:
        for line in problems[:-1]:
            stdout.print(f"problem: {escape(line)}")
        raise InputError(f"{problems[-1]} ({len(problems)} problem(s) in {bundle})")
    done = "every checksum and the signature hold" + ("; every event was reproduced" if reproduce else "")
    stdout.print(f"{escape(str(bundle))}: {done}")
