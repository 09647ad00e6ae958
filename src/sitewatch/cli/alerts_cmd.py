"""`sitewatch alerts ...`: what was sent where, what was not, and sending it again."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.cli.app import alerts_app
from sitewatch.cli.console import console, stdout


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Only alerts not delivered yet.")] = False,
) -> None:
    """Queued alerts with their target, status and last delivery attempt."""
    from sqlalchemy import select  # lazy: keeps `--help` fast

    from sitewatch.alerts import describe_target
    from sitewatch.store.models import Alert, Delivery, Event

    with ctx.obj.session() as session:
        query = select(Alert, Event.site_id).join(Event, Event.id == Alert.event_id).order_by(Alert.id)
        if pending:
            query = query.where(Alert.status == "pending")
        rows = list(session.execute(query))
        table = Table(title=f"{len(rows)} alert(s)")
        for column in ("alert", "event", "site", "target", "status", "attempts", "last attempt"):
            table.add_column(column)
        for alert, site_id in rows:
            attempts = list(
                session.scalars(select(Delivery).where(Delivery.alert_id == alert.id).order_by(Delivery.id))
            )
            last = attempts[-1] if attempts else None
            table.add_row(
                str(alert.id),
                str(alert.event_id),
                escape(site_id),
                escape(describe_target(alert.target)),
                alert.status,
                str(len(attempts)),
                escape(f"{last.attempted_at:%Y-%m-%d %H:%M} {last.detail}") if last else "",
            )
    stdout.print(table)


@alerts_app.command("retry")
def retry(
    ctx: typer.Context,
    alert_ids: Annotated[
        list[int] | None, typer.Argument(help="Alert ids (default: every pending alert).", metavar="ALERT_ID")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each receiver.")] = 10.0,
) -> None:
    """Deliver pending alerts now (all, or the ids given); exit 3 if some still fail."""
    from sitewatch.alerts import deliver_pending  # lazy: keeps `--help` fast

    with ctx.obj.session() as session:
        report = deliver_pending(session, timeout=timeout, only=list(alert_ids) if alert_ids else None)
    stdout.print(f"alerts: {len(report.delivered)} delivered, {len(report.failed)} failed, {report.left} not tried")
    if report.failed or report.left:
        console.print("[yellow]warning:[/] some alerts were not delivered; `sitewatch alerts list` says why")
        raise typer.Exit(3)
