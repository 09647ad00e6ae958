"""`sitewatch watchlist ...`: the sites in the store, their alert rules, and runs over them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.base.defaults import DEFAULT_MAX_AREA_KM2
from sitewatch.base.errors import InputError
from sitewatch.base.safety import mask_url
from sitewatch.base.vocab import Kind
from sitewatch.cli.app import watchlist_app
from sitewatch.cli.console import SitesProgress, StageProgress, console, stdout
from sitewatch.cli.monitor_cmd import CacheOption, NoCacheOption, cache_folder

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sitewatch.jobs.watchlist import SiteOutcome, WatchlistOutcome
from sitewatch.cli.options import (
    MaxAreaOption,
    SiteFileArgument,
    SiteIdOption,
    not_in_future,
    not_negative,
    parse_day,
)


@watchlist_app.command("add")
def add(
    ctx: typer.Context,
    site_file: SiteFileArgument,
    site: SiteIdOption = None,
    max_area_km2: MaxAreaOption = DEFAULT_MAX_AREA_KM2,
) -> None:
    """Add one site of a site file to the watchlist."""
    from sitewatch.sites import read_sites  # lazy: keeps `--help` fast
    from sitewatch.store.repo import add_site

    chosen = read_sites(site_file, max_area_km2=max_area_km2).get(site)
    with ctx.obj.session() as session:
        add_site(session, chosen)
    stdout.print(f"added site {escape(chosen.id)} ({escape(chosen.name)})")


@watchlist_app.command("import")
def import_sites(
    ctx: typer.Context,
    site_file: SiteFileArgument,
    replace: Annotated[bool, typer.Option(help="Replace sites already in the store.")] = False,
    max_area_km2: MaxAreaOption = DEFAULT_MAX_AREA_KM2,
) -> None:
    """Add every site of a site file to the watchlist (all or none)."""
    from sitewatch.sites import read_sites  # lazy: keeps `--help` fast
    from sitewatch.store.models import SiteRecord
    from sitewatch.store.repo import add_site

    sites = read_sites(site_file, max_area_km2=max_area_km2).sites
    with ctx.obj.session() as session:
        clash = [s.id for s in sites if session.get(SiteRecord, s.id) is not None]
        if clash and not replace:
            raise InputError(f"{site_file}: site(s) {', '.join(clash)} already in the store; use --replace")
        for chosen in sites:
            add_site(session, chosen, replace=True)
    stdout.print(f"imported {len(sites)} site(s) from {escape(str(site_file))}")


@watchlist_app.command("list")
def list_sites(ctx: typer.Context) -> None:
    """The watchlist, with event counts."""
    from sqlalchemy import func, select  # lazy: keeps `--help` fast

    from sitewatch.store.models import Event, SiteRecord

    with ctx.obj.session() as session:
        counts = dict(session.execute(select(Event.site_id, func.count()).group_by(Event.site_id)).all())
        table = Table(title="watchlist")
        for column in ("id", "name", "country", "tags", "events"):
            table.add_column(column)
        listed = select(SiteRecord).where(SiteRecord.removed_at.is_(None)).order_by(SiteRecord.id)
        for record in session.scalars(listed):
            table.add_row(
                escape(record.id),
                escape(record.name),
                escape(record.country or ""),
                escape(", ".join(record.tags)),
                str(counts.get(record.id, 0)),
            )
    stdout.print(table)


@watchlist_app.command("show")
def show(
    ctx: typer.Context, site_id: Annotated[str, typer.Argument(help="Site id.", metavar="SITE_ID", show_default=False)]
) -> None:
    """One site: its fields and its events by review status."""
    from sitewatch.store.repo import get_site, list_events, site_from_record  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        chosen = site_from_record(get_site(session, site_id))
        events = list_events(session, site_id)
    stdout.print(f"[bold]{escape(chosen.name)}[/] ({escape(chosen.id)}), {chosen.area_m2 / 1e6:,.3f} km²")
    for label, value in (
        ("parent", chosen.parent),
        ("country", chosen.country),
        ("tags", ", ".join(chosen.tags)),
        ("notes", chosen.notes),
    ):
        if value:
            stdout.print(f"  {label}: {escape(str(value))}")
    by_status: dict[str, int] = {}
    for event in events:
        by_status[event.status] = by_status.get(event.status, 0) + 1
    stdout.print(f"  events: {len(events)}" + "".join(f", {k} {v}" for k, v in sorted(by_status.items())))


@watchlist_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Argument(help="Site file to write: .geojson, .kml, .kmz or .gpkg.", metavar="OUT", show_default=False),
    ],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
) -> None:
    """Write the watchlist (or some of its sites) to a site file."""
    from sqlalchemy import select  # lazy: keeps `--help` fast

    from sitewatch.sites import write_sites
    from sitewatch.store.models import SiteRecord
    from sitewatch.store.repo import get_site, site_from_record

    with ctx.obj.session() as session:
        active = select(SiteRecord).where(SiteRecord.removed_at.is_(None)).order_by(SiteRecord.id)
        records = [get_site(session, s) for s in site] if site else list(session.scalars(active))
        sites = [site_from_record(r) for r in records]
    if not sites:
        raise InputError("the watchlist is empty; add sites with `sitewatch watchlist add`")
    write_sites(sites, out)
    stdout.print(f"wrote {len(sites)} site(s) to {escape(str(out))}")


@watchlist_app.command("remove")
def remove(
    ctx: typer.Context,
    site_id: Annotated[str, typer.Argument(help="Site id.", metavar="SITE_ID", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", help="Do it (the command refuses without it).")] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete the site with its runs, events and reviews for good.")
    ] = False,
) -> None:
    """Take a site off the watchlist; its history stays until --purge (`watchlist restore` brings it back)."""
    from datetime import UTC, datetime  # lazy: keeps `--help` fast

    from sitewatch.store.repo import get_site, list_events

    with ctx.obj.session() as session:
        record = get_site(session, site_id, removed=purge)
        count = len(list_events(session, site_id)) if record.removed_at is None else 0
        if not yes:
            what = "delete it and its events and reviews for good" if purge else "set it aside"
            raise InputError(
                f"site '{site_id}' has {count} stored event(s); `watchlist remove {site_id} --yes` will {what}"
            )
        if purge:
            session.delete(record)
        else:
            record.removed_at = datetime.now(UTC)
        session.commit()
    if purge:
        stdout.print(f"deleted site {escape(site_id)} and everything stored about it")
    else:
        stdout.print(f"removed site {escape(site_id)}; `sitewatch watchlist restore {escape(site_id)}` brings it back")


@watchlist_app.command("restore")
def restore(
    ctx: typer.Context,
    site_id: Annotated[str, typer.Argument(help="Site id.", metavar="SITE_ID", show_default=False)],
) -> None:
    """Bring back a site that `watchlist remove` set aside, with its history."""
    from sitewatch.store.repo import get_site  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        record = get_site(session, site_id, removed=True)
        if record.removed_at is None:
            raise InputError(f"site '{site_id}' is on the watchlist already; nothing to restore")
        record.removed_at = None
        session.commit()
    stdout.print(f"restored site {escape(site_id)}")


@watchlist_app.command("rules")
def rules(
    ctx: typer.Context,
    site_id: Annotated[str, typer.Argument(help="Site id.", metavar="SITE_ID", show_default=False)],
    alert_min_area: Annotated[float | None, typer.Option(help="Alert only from this many m².")] = None,
    alert_min_score: Annotated[float | None, typer.Option(help="Alert only from this change score.")] = None,
    persistence: Annotated[int | None, typer.Option(help="Looks after the break that must confirm a change.")] = None,
    kind: Annotated[list[Kind] | None, typer.Option("--kind", help="Kinds of interest (repeatable).")] = None,
    webhook: Annotated[
        list[str] | None, typer.Option("--webhook", help="POST alerts to this https URL (repeatable).")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="Sign webhook bodies (HMAC-SHA256) with the secret in this environment variable."),
    ] = None,
    secret_file: Annotated[
        Path | None, typer.Option(help="Sign webhook bodies with the secret in this file (kept out of the store).")
    ] = None,
    allow_http: Annotated[bool, typer.Option("--allow-http", help="Allow plain-http webhooks for this site.")] = False,
    allow_private_targets: Annotated[
        bool,
        typer.Option(
            "--allow-private-targets",
            help="Allow webhooks on loopback, private or link-local addresses (your own receiver).",
        ),
    ] = False,
    email: Annotated[list[str] | None, typer.Option("--email", help="Mail alerts here (repeatable).")] = None,
    smtp: Annotated[str | None, typer.Option(help="SMTP server, host:port.")] = None,
    dismiss_growth: Annotated[
        float | None, typer.Option(help="A dismissed place alerts again only past this growth factor (default 2).")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Imagery for `watchlist run` (repeatable).")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="STAC collection for `watchlist run`.")] = None,
    max_cloud: Annotated[float | None, typer.Option(help="Cloud limit for `watchlist run`, %.")] = None,
) -> None:
    """Set a site's alert rules and where `watchlist run` takes its imagery from."""
    from sitewatch.alerts.targets import check_webhook, secret_reference  # lazy: keeps `--help` fast

    for value, option in ((alert_min_area, "--alert-min-area"), (alert_min_score, "--alert-min-score")):
        not_negative(value, option)
    if persistence is not None and persistence < 0:
        raise InputError(f"--persistence must be 0 or more looks, not {persistence}")
    if dismiss_growth is not None and not (math.isfinite(dismiss_growth) and dismiss_growth >= 1):
        raise InputError(f"--dismiss-growth must be 1 or more, not {dismiss_growth}")
    not_negative(max_cloud, "--max-cloud", " percent")
    updates = {
        "min_area_m2": alert_min_area,
        "min_score": alert_min_score,
        "persistence": persistence,
        "kinds": [str(k) for k in kind] if kind else None,
        "webhooks": webhook,
        "secret_ref": secret_reference(secret_env, secret_file),
        "emails": email,
        "smtp": smtp,
        "dismiss_growth": dismiss_growth,
        "allow_http": allow_http or None,
        "allow_private": allow_private_targets or None,
    }
    from sitewatch.store.audit import audit, cli_actor  # lazy: keeps `--help` fast
    from sitewatch.store.repo import get_site

    with ctx.obj.session() as session:
        record = get_site(session, site_id)
        stored = record.alert_rules or {}  # flags given before for this site still count
        for url in webhook or []:
            check_webhook(
                url,
                allow_http=allow_http or bool(stored.get("allow_http")),
                allow_private=allow_private_targets or bool(stored.get("allow_private")),
            )
        rules = {**record.alert_rules, **{k: v for k, v in updates.items() if v is not None}}
        if updates["secret_ref"]:
            rules.pop("secret", None)  # a secret stored in clear by an earlier version goes
        record.alert_rules = rules
        # a local folder is kept as an absolute path: cron runs from another folder
        sources = [str(Path(x).resolve()) if Path(x).is_dir() else x for x in source] if source else None
        imagery = {"sources": sources, "collection": collection, "max_cloud": max_cloud}
        record.monitor = {**record.monitor, **{k: v for k, v in imagery.items() if v is not None}}
        changed = {k: v for k, v in {**updates, **imagery}.items() if v is not None and k != "secret_ref"}
        audit(session, cli_actor(), "rules", f"site:{site_id}", changed=sorted(changed))
        session.commit()
        shown = {k: ("***" if k == "secret" else v) for k, v in record.alert_rules.items()}
        shown["webhooks"] = [mask_url(u) for u in shown.get("webhooks", [])]
        stdout.print(
            f"{escape(site_id)}: alert rules {escape(json.dumps(shown))}; imagery {escape(json.dumps(record.monitor))}"
        )


def _run_on_cluster(
    session: Session,
    sites: list[str] | None,
    cluster: str,
    first: str | None,
    last: str | None,
    cache_dir: Path | None,
    ctx: typer.Context,
    said: Callable[[SiteOutcome], None],
) -> WatchlistOutcome:
    """The watchlist on Dask, with a progress bar over the sites and a closing count."""
    from sitewatch.jobs.cluster import check_cluster, run_watchlist_on_cluster
    from sitewatch.store.repo import active_site_ids

    check_cluster(cluster)
    total = len(sites) if sites else len(active_site_ids(session))
    with SitesProgress(total) as bar:

        def heard(outcome: SiteOutcome) -> None:
            bar.site_done(outcome.status == "failed")
            said(outcome)

        result = run_watchlist_on_cluster(
            session,
            list(sites) if sites else None,
            cluster,
            start=first,
            end=last,
            cache_dir=cache_dir,
            looks_dir=ctx.obj.looks_dir(),
            on_site=heard,
        )
    counts = {}
    for site in result.sites:
        counts[site.status] = counts.get(site.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    stdout.print(f"{total} site(s) in {bar.elapsed:.0f} s ({total / max(bar.elapsed, 1e-9) * 60:.1f}/min): {summary}")
    return result


@watchlist_app.command("run")
def run(
    ctx: typer.Context,
    sites: Annotated[
        list[str] | None, typer.Argument(help="Site ids (or --all).", metavar="SITES", show_default=False)
    ] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site of the watchlist.")] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (default: the day after the last run).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write each site's report into OUT/<site id>/.")] = None,
    cache: CacheOption = None,
    no_cache: NoCacheOption = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            envvar="SITEWATCH_CLUSTER",
            help="Run the sites on Dask: local:N (N worker processes here) or a scheduler address "
            "(tcp://HOST:8786). Default: one site after another in this process.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Monitor each site since its last run; store runs and events; send alerts."""
    if bool(sites) == all_sites:
        raise InputError("name the sites to run, or give --all")
    if cluster is not None and out is not None:
        raise InputError("--out writes reports in this process: drop it with --cluster, then `sitewatch events report`")
    first = parse_day(start, "--from") if start else None
    last = parse_day(end, "--to") if end else None
    not_in_future(last, "--to")
    if first and last and first > last:
        raise InputError(f"--from {first} is after --to {last}")
    from sitewatch.jobs.watchlist import run_watchlist  # lazy: keeps `--help` fast

    def said(outcome: SiteOutcome) -> None:
        name = escape(outcome.site_id)
        if outcome.status == "failed":
            console.print(f"[red]failed:[/] {name}: {escape(outcome.reason)}")
        elif outcome.status == "up-to-date":
            stdout.print(f"{name}: up to date (last run to {escape(outcome.first)})")
        elif outcome.status == "no-new-imagery":
            first_run = " (a first run: try an earlier --from)" if not outcome.run_id and start is None else ""
            stdout.print(f"{name}: no new imagery to date yet{first_run}: {escape(outcome.reason)}")
        elif outcome.status == "duplicate":
            stdout.print(f"{name}: same inputs as run {outcome.run_id}; nothing new")
        else:
            stdout.print(
                f"{name}: run {outcome.run_id}, {outcome.first}..{outcome.last}, {outcome.scenes} scenes, "
                f"{outcome.new} new event(s), {outcome.linked} seen again"
            )

    with ctx.obj.session() as session:
        if cluster is None:
            outcome = run_watchlist(
                session,
                list(sites) if sites else None,
                start=first,
                end=last,
                cache_dir=cache_folder(cache, no_cache),
                out=out,
                looks_dir=ctx.obj.looks_dir(),
                progress=StageProgress,
                on_site=said,
            )
        else:
            outcome = _run_on_cluster(session, sites, cluster, first, last, cache_folder(cache, no_cache), ctx, said)
    alerts = outcome.alerts
    if alerts.delivered or alerts.failed or alerts.left:
        stdout.print(
            f"alerts: {len(alerts.delivered)} delivered, {len(alerts.failed)} failed, {alerts.left} not tried "
            "(time budget); undelivered ones are retried by the next run (`sitewatch alerts list`)"
        )
    if outcome.failed:
        ids = ", ".join(s.site_id for s in outcome.failed)
        raise InputError(f"{len(outcome.failed)} site(s) failed: {ids} (see above); the others were stored")
    if alerts.failed or alerts.left:
        console.print("[yellow]warning:[/] the run was stored but some alerts were not delivered (exit code 3)")
        raise typer.Exit(3)
