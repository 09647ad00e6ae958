"""`sitewatch events ...`: the change events in the store, the analyst's verdicts, reports and exports."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.base.errors import InputError
from sitewatch.base.safety import inside
from sitewatch.base.vocab import DismissReason, ReviewStatus
from sitewatch.cli.app import events_app
from sitewatch.cli.console import stdout

StoredSiteOption = Annotated[str | None, typer.Option("--site", help="Only this site (its id).")]


@events_app.command("list")
def events_list(
    ctx: typer.Context,
    site: StoredSiteOption = None,
    status: Annotated[ReviewStatus | None, typer.Option(help="Only events whose review status is this.")] = None,
) -> None:
    """Stored events with their latest review status."""
    from sitewatch.store.repo import list_events  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        events = list_events(session, site, str(status) if status else None)
        table = Table(title=f"{len(events)} event(s)")
        for column in ("id", "site", "kind", "m² in site", "between", "seen", "status", "suppressed by", "follows"):
            table.add_column(column)
        for e in events:
            table.add_row(
                str(e.id),
                escape(e.site_id),
                e.kind,
                f"{e.inside_m2:,.0f}",
                f"{(e.before_date or '?')[:10]} .. {(e.after_date or '?')[:10]}",
                str(e.sightings),
                e.status,
                str(e.suppressed_by or ""),
                str(e.follows_id or ""),
            )
    stdout.print(table)


@events_app.command("review")
def review(
    ctx: typer.Context,
    event_id: Annotated[
        str,
        typer.Argument(help="Event id as listed or reported: 17, #17 or E17.", metavar="EVENT_ID", show_default=False),
    ],
    confirm: Annotated[bool, typer.Option("--confirm", help="It is a real change.")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="It is not (suppresses repeats at that place).")] = False,
    needs_imagery: Annotated[bool, typer.Option("--needs-imagery", help="Cannot tell without better imagery.")] = False,
    reason: Annotated[
        DismissReason | None, typer.Option(help="Why it is dismissed (with --dismiss), for counting dismissals.")
    ] = None,
    note: Annotated[str, typer.Option(help="Why, in words.")] = "",
    analyst: Annotated[str | None, typer.Option(help="Who (default: the login name).")] = None,
) -> None:
    """Record an analyst's verdict on an event (the history is kept)."""
    verdicts = (
        (ReviewStatus.confirmed, confirm),
        (ReviewStatus.dismissed, dismiss),
        (ReviewStatus.needs_imagery, needs_imagery),
    )
    chosen = [str(status) for status, on in verdicts if on]
    if len(chosen) != 1:
        raise InputError("give exactly one of --confirm, --dismiss, --needs-imagery")
    from sitewatch.store.repo import add_review  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        who = analyst or getpass.getuser()
        review = add_review(
            session, event_id, chosen[0], who, note, reason=str(reason) if reason else None, actor=f"cli:{who}"
        )
    stdout.print(f"event {review.event_id}: {chosen[0]}")


@events_app.command("report")
def site_report(
    ctx: typer.Context,
    site_id: Annotated[str, typer.Argument(help="Site id.", metavar="SITE_ID", show_default=False)],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
) -> None:
    """One site across all runs: events with review status, changed m² over time, provenance."""
    from sitewatch.base.atomic import write_text_atomic  # lazy: keeps `--help` fast
    from sitewatch.report.looks import latest_looks
    from sitewatch.report.site import render_site_report
    from sitewatch.store.repo import get_site, list_events, list_runs

    with ctx.obj.session() as session:
        runs = list_runs(session, site_id)
        looks = latest_looks(ctx.obj.looks_dir(), site_id, [r.id for r in runs]) if runs else None
        html = render_site_report(get_site(session, site_id), list_events(session, site_id), runs, looks)
    write_text_atomic(out, html)
    stdout.print(f"Report: [bold]{escape(str(out))}[/]")


@events_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Argument(help="Folder for one IARPA SMART site model per event.", metavar="OUT", show_default=False)
    ],
    site: StoredSiteOption = None,
) -> None:
    """Write stored events as IARPA SMART site models (GeoJSON), one file per event."""
    from sqlalchemy import select  # lazy: keeps `--help` fast

    from sitewatch.store.models import SiteRecord
    from sitewatch.store.repo import get_site, list_events
    from sitewatch.store.smart import site_model

    written = 0
    with ctx.obj.session() as session:
        active = select(SiteRecord).where(SiteRecord.removed_at.is_(None)).order_by(SiteRecord.id)
        records = [get_site(session, site)] if site else list(session.scalars(active))
        out.mkdir(parents=True, exist_ok=True)
        for record in records:
            for event in list_events(session, record.id):
                model = site_model(event, record, region_id=record.id)
                name = model["features"][0]["properties"]["site_id"]
                inside(out, f"{name}.geojson").write_text(json.dumps(model, indent=1))  # never outside OUT
                written += 1
    stdout.print(f"wrote {written} SMART site model(s) to {escape(str(out))}")
