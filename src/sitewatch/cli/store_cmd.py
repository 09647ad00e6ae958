"""The watchlist and the analyst's review: `sitewatch sites add|import|list|show|export|remove`,
`sitewatch events list` and `sitewatch review`, all on the store (`--db` or SITEWATCH_DB)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import shapely
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from sitewatch.cli.app import app, sites_app
from sitewatch.cli.console import stdout
from sitewatch.errors import InputError
from sitewatch.sites import DEFAULT_MAX_AREA_KM2, Site, read_sites, write_sites
from sitewatch.store import open_store
from sitewatch.store.models import Event, SiteRecord
from sitewatch.store.repo import add_review, add_site, get_site, list_events

events_app = typer.Typer(help="Change events in the store.", no_args_is_help=True)
app.add_typer(events_app, name="events")

DbOption = Annotated[str | None, typer.Option("--db", help="Store URL (default SITEWATCH_DB or a SQLite file).")]
UpgradeOption = Annotated[bool, typer.Option("--upgrade-store", help="Migrate an older store to this version.")]


def _session(db: str | None, upgrade: bool = False):
    return open_store(db, upgrade=upgrade).session()


def site_of(record: SiteRecord) -> Site:
    return Site(
        id=record.id,
        name=record.name,
        geometry=shapely.from_wkt(record.geometry_wkt),
        aliases=list(record.aliases),
        parent=record.parent,
        country=record.country,
        tags=list(record.tags),
        notes=record.notes,
        sources=list(record.sources),
    )


@sites_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="Site file (.geojson, .kml, .kmz, .gpkg).")],
    site_id: Annotated[str | None, typer.Option(help="Which site of the file (when it holds several).")] = None,
    db: DbOption = None,
    upgrade_store: UpgradeOption = False,
    max_area_km2: Annotated[float, typer.Option(help="Refuse larger polygons.")] = DEFAULT_MAX_AREA_KM2,
) -> None:
    """Add one site to the watchlist."""
    site = read_sites(file, max_area_km2=max_area_km2).get(site_id)
    with _session(db, upgrade_store) as session:
        add_site(session, site)
    stdout.print(f"added site {escape(site.id)} ({escape(site.name)})")


@sites_app.command("import")
def import_sites(
    file: Annotated[Path, typer.Argument(help="Site file (.geojson, .kml, .kmz, .gpkg).")],
    replace: Annotated[bool, typer.Option(help="Replace sites already in the store.")] = False,
    db: DbOption = None,
    upgrade_store: UpgradeOption = False,
    max_area_km2: Annotated[float, typer.Option(help="Refuse larger polygons.")] = DEFAULT_MAX_AREA_KM2,
) -> None:
    """Add every site of a file to the watchlist (all or none)."""
    sites = read_sites(file, max_area_km2=max_area_km2).sites
    with _session(db, upgrade_store) as session:
        clash = [s.id for s in sites if session.get(SiteRecord, s.id) is not None]
        if clash and not replace:
            raise InputError(f"{file}: site(s) {', '.join(clash)} already in the store; use --replace")
        for site in sites:
            add_site(session, site, replace=True)
    stdout.print(f"imported {len(sites)} site(s) from {escape(str(file))}")


@sites_app.command("list")
def list_sites(db: DbOption = None, upgrade_store: UpgradeOption = False) -> None:
    """The watchlist, with event counts."""
    with _session(db, upgrade_store) as session:
        counts = dict(session.execute(select(Event.site_id, func.count()).group_by(Event.site_id)).all())
        table = Table(title="watchlist")
        for column in ("id", "name", "country", "tags", "events"):
            table.add_column(column)
        for record in session.scalars(select(SiteRecord).order_by(SiteRecord.id)):
            table.add_row(
                escape(record.id),
                escape(record.name),
                escape(record.country or ""),
                escape(", ".join(record.tags)),
                str(counts.get(record.id, 0)),
            )
    stdout.print(table)


@sites_app.command("show")
def show(site_id: Annotated[str, typer.Argument(help="Site id.")], db: DbOption = None) -> None:
    """One site: its fields and its events by review status."""
    with _session(db) as session:
        record = get_site(session, site_id)
        site = site_of(record)
        events = list_events(session, site_id)
    stdout.print(f"[bold]{escape(site.name)}[/] ({escape(site.id)}), {site.area_m2 / 1e6:,.3f} km²")
    for label, value in (
        ("parent", site.parent),
        ("country", site.country),
        ("tags", ", ".join(site.tags)),
        ("notes", site.notes),
    ):
        if value:
            stdout.print(f"  {label}: {escape(str(value))}")
    by_status: dict[str, int] = {}
    for event in events:
        by_status[event.status] = by_status.get(event.status, 0) + 1
    stdout.print(f"  events: {len(events)}" + "".join(f", {k} {v}" for k, v in sorted(by_status.items())))


@sites_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="Output: .geojson, .kml, .kmz or .gpkg.")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    smart: Annotated[
        Path | None, typer.Option(help="Also write each site's events as IARPA SMART site models into this folder.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the watchlist (or some sites) to a site file."""
    with _session(db) as session:
        records = [get_site(session, s) for s in site] if site else list(session.scalars(select(SiteRecord)))
        sites = [site_of(r) for r in records]
        if not sites:
            raise InputError("the watchlist is empty; add sites with `sitewatch sites add`")
        written = 0
        if smart is not None:
            from sitewatch.store.smart import site_model

            smart.mkdir(parents=True, exist_ok=True)
            for record in records:
                for event in list_events(session, record.id):
                    model = site_model(event, record, region_id=record.id)
                    name = model["features"][0]["properties"]["site_id"]
                    (smart / f"{name}.geojson").write_text(json.dumps(model, indent=1))
                    written += 1
    write_sites(sites, out)
    stdout.print(f"wrote {len(sites)} site(s) to {escape(str(out))}")
    if smart is not None:
        stdout.print(f"wrote {written} SMART site model(s) to {escape(str(smart))}")


@sites_app.command("remove")
def remove(site_id: Annotated[str, typer.Argument(help="Site id.")], db: DbOption = None) -> None:
    """Remove a site and everything stored about it."""
    with _session(db) as session:
        record = get_site(session, site_id)
        session.delete(record)
        session.commit()
    stdout.print(f"removed site {escape(site_id)}")


@events_app.command("list")
def events_list(
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    status: Annotated[str | None, typer.Option(help="Only events whose review status is this.")] = None,
    db: DbOption = None,
) -> None:
    """Stored events with their latest review status."""
    with _session(db) as session:
        events = list_events(session, site, status)
        table = Table(title=f"{len(events)} event(s)")
        for column in ("id", "site", "kind", "area m²", "between", "seen", "status", "suppressed by"):
            table.add_column(column)
        for e in events:
            table.add_row(
                str(e.id),
                escape(e.site_id),
                e.kind,
                f"{e.area_m2:,.0f}",
                f"{(e.before_date or '?')[:10]} .. {(e.after_date or '?')[:10]}",
                str(e.sightings),
                e.status,
                str(e.suppressed_by or ""),
            )
    stdout.print(table)


@app.command()
def review(
    event_id: Annotated[int, typer.Argument(help="Event id (from `sitewatch events list`).")],
    confirm: Annotated[bool, typer.Option("--confirm", help="It is a real change.")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="It is not (suppresses repeats at that place).")] = False,
    needs_imagery: Annotated[bool, typer.Option("--needs-imagery", help="Cannot tell without better imagery.")] = False,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    analyst: Annotated[str | None, typer.Option(help="Who (default: the login name).")] = None,
    db: DbOption = None,
) -> None:
    """Record an analyst's verdict on an event (the history is kept)."""
    chosen = [s for s, on in (("confirmed", confirm), ("dismissed", dismiss), ("needs-imagery", needs_imagery)) if on]
    if len(chosen) != 1:
        raise InputError("give exactly one of --confirm, --dismiss, --needs-imagery")
    import getpass

    with _session(db) as session:
        add_review(session, event_id, chosen[0], analyst or getpass.getuser(), note)
    stdout.print(f"event {event_id}: {chosen[0]}")


@sites_app.command("rules")
def rules(
    site_id: Annotated[str, typer.Argument(help="Site id.")],
    min_area: Annotated[float | None, typer.Option("--min-area", help="Alert only from this many m².")] = None,
    min_score: Annotated[float | None, typer.Option(help="Alert only from this change score.")] = None,
    persistence: Annotated[int | None, typer.Option(help="Looks that must confirm a change.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Kinds of interest (repeatable).")] = None,
    webhook: Annotated[list[str] | None, typer.Option("--webhook", help="POST alerts here (repeatable).")] = None,
    secret: Annotated[str | None, typer.Option(help="Sign webhook bodies with HMAC-SHA256.")] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="Mail alerts here (repeatable).")] = None,
    smtp: Annotated[str | None, typer.Option(help="SMTP server host:port.")] = None,
    dismiss_growth: Annotated[
        float | None, typer.Option(help="A dismissed place alerts again only past this growth factor (2).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Imagery for `sitewatch run`.")] = None,
    collection: Annotated[str | None, typer.Option(help="STAC collection for `sitewatch run`.")] = None,
    max_cloud: Annotated[float | None, typer.Option(help="Cloud limit for `sitewatch run`, %.")] = None,
    db: DbOption = None,
) -> None:
    """Set a site's alert rules and where `sitewatch run` takes its imagery from."""
    updates = {
        "min_area_m2": min_area,
        "min_score": min_score,
        "persistence": persistence,
        "kinds": kind,
        "webhooks": webhook,
        "secret": secret,
        "emails": email,
        "smtp": smtp,
        "dismiss_growth": dismiss_growth,
    }
    if dismiss_growth is not None and dismiss_growth < 1:
        raise InputError(f"--dismiss-growth must be 1 or more, not {dismiss_growth}")
    for url in webhook or []:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--webhook '{url}' is not an http(s) URL")
    with _session(db) as session:
        record = get_site(session, site_id)
        record.alert_rules = {**record.alert_rules, **{k: v for k, v in updates.items() if v is not None}}
        monitor = {"sources": source, "collection": collection, "max_cloud": max_cloud}
        record.monitor = {**record.monitor, **{k: v for k, v in monitor.items() if v is not None}}
        session.commit()
        shown = {k: ("***" if k == "secret" else v) for k, v in record.alert_rules.items()}
        stdout.print(
            f"{escape(site_id)}: alert rules {escape(json.dumps(shown))}; imagery {escape(json.dumps(record.monitor))}"
        )


def _scene_facts(scene) -> dict:
    """What the store keeps of a scene; local files get a SHA-256 of their first band file."""
    from sitewatch.imagery.local import sha256_file

    source = scene.source
    checksum = None
    if source == "local" and scene.hrefs:
        path = Path(next(iter(scene.hrefs.values())))
        source, checksum = str(path), sha256_file(path)
    elif scene.hrefs:
        source = f"{scene.source}#{scene.id}"
    return {
        "id": scene.id,
        "datetime": scene.datetime,
        "source": source,
        "sensor": scene.sensor,
        "cloud_cover": scene.cloud_cover,
        "checksum": checksum,
    }


@app.command("run")
def run_sites(
    sites: Annotated[list[str] | None, typer.Argument(help="Site ids (or --all).")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site of the watchlist.")] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (default: the day after the last run).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write each site's report into OUT/<site id>/.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cube cache folder.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cube cache.")] = False,
    db: DbOption = None,
    upgrade_store: UpgradeOption = False,
) -> None:
    """Monitor each site since its last run; store runs and events; send alerts."""
    from datetime import UTC, date, datetime, timedelta

    from sitewatch.cli.console import StageProgress, console
    from sitewatch.imagery.cache import default_cache_dir
    from sitewatch.monitor import MonitorConfig, parse_day, run_monitor, write_monitor_outputs
    from sitewatch.store.alerts import deliver_pending
    from sitewatch.store.models import Run
    from sitewatch.store.repo import record_run

    if bool(sites) == all_sites:
        raise InputError("name the sites to run, or give --all")
    last = parse_day(end, "--to") if end else date.today().isoformat()
    failed = []
    with _session(db, upgrade_store) as session:
        ids = list(sites) if sites else list(session.scalars(select(SiteRecord.id).order_by(SiteRecord.id)))
        records = [get_site(session, s) for s in ids]
        for record in records:
            previous = session.scalar(select(Run).where(Run.site_id == record.id).order_by(Run.id.desc()).limit(1))
            if start:
                first = parse_day(start, "--from")
            elif previous is not None:
                first = (date.fromisoformat(previous.parameters["end"]) + timedelta(days=1)).isoformat()
            else:
                first = (date.fromisoformat(last) - timedelta(days=365)).isoformat()
            if first > last:
                stdout.print(f"{escape(record.id)}: up to date (last run to {escape(first)})")
                continue
            settings = record.monitor or {}
            config = MonitorConfig(
                start=first,
                end=last,
                sources=list(settings.get("sources") or ["earth-search"]),
                collection=settings.get("collection"),
                max_cloud=settings.get("max_cloud"),
            )
            started = datetime.now(UTC)
            try:
                with StageProgress() as progress:
                    result = run_monitor(
                        site_of(record),
                        config,
                        reporter=progress,
                        cache_dir=None if no_cache else (cache or default_cache_dir()),
                    )
                    if out is not None:
                        write_monitor_outputs(result, out / record.id, reporter=progress)
            except InputError as exc:
                console.print(f"[red]failed:[/] {escape(record.id)}: {escape(str(exc))}")
                failed.append(record.id)
                continue
            scenes = [_scene_facts(s) for s in result.cube.scenes]
            inputs = {"scenes": [{k: s[k] for k in ("id", "datetime", "source", "checksum")} for s in scenes]}
            outcome = record_run(session, record.id, inputs, config.as_dict(), result.events, started, scenes=scenes)
            if outcome.duplicate:
                stdout.print(f"{escape(record.id)}: same inputs as run {outcome.run.id}; nothing new")
            else:
                stdout.print(
                    f"{escape(record.id)}: run {outcome.run.id}, {first}..{last}, {len(result.cube)} scenes, "
                    f"{len(outcome.new)} new event(s), {len(outcome.linked)} seen again"
                )
        delivered = deliver_pending(session)
        if delivered:
            stdout.print(f"{len(delivered)} alert(s) delivered")
    if failed:
        raise InputError(f"{len(failed)} site(s) failed: {', '.join(failed)} (see above); the others were stored")


@app.command("report")
def site_report(
    site_id: Annotated[str, typer.Argument(help="Site id.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    db: DbOption = None,
) -> None:
    """One site across all runs: events with review status, changed m² over time, provenance."""
    from sitewatch.report.site import render_site_report

    with _session(db) as session:
        html = render_site_report(session, get_site(session, site_id))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    stdout.print(f"Report: [bold]{escape(str(out))}[/]")
