"""What every route needs: a store session, the id of a site or event from the URL, the filter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from sitewatch.base.errors import InputError
from sitewatch.base.safety import SITE_ID, clean_text
from sitewatch.base.vocab import Kind, ReviewStatus, values
from sitewatch.store.models import Event, SiteRecord
from sitewatch.store.overview import EventFilter
from sitewatch.store.repo import parse_event_id

STATUSES = values(ReviewStatus)
KINDS = values(Kind)


@contextmanager
def store_session(request: Request) -> Iterator[Session]:
    with request.app.state.store.session() as session:
        yield session


def site_or_404(session: Session, site_id: str) -> SiteRecord:
    record = session.get(SiteRecord, site_id) if SITE_ID.fullmatch(site_id) else None
    if record is None or record.removed_at is not None:
        raise HTTPException(404, f"no site '{clean_text(site_id)[:60]}' in the watchlist")
    return record


def event_or_404(session: Session, text: str) -> Event:
    try:
        event_id = parse_event_id(text)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from exc
    event = session.get(Event, event_id)
    if event is None:
        raise HTTPException(404, f"no event E{event_id:04d} in the store")
    return event


def _day(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError as exc:
        raise HTTPException(422, f"bad request: {name}: '{clean_text(value)[:20]}' is not a day (YYYY-MM-DD)") from exc


def event_filter(
    status: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    min_area: str | None = None,
    site: str | None = None,
) -> EventFilter:
    """The filter from query parameters (empty ones mean "any"); one clear 422 for a bad one."""
    if status and status not in STATUSES:
        raise HTTPException(422, f"bad request: status: use one of {', '.join(STATUSES)}")
    if kind and kind not in KINDS:
        raise HTTPException(422, f"bad request: kind: use one of {', '.join(KINDS)}")
    area = None
    if min_area:
        try:
            area = float(min_area)
        except ValueError as exc:
            raise HTTPException(422, "bad request: min_area: give a number of m²") from exc
        if not 0 <= area < 1e12:
            raise HTTPException(422, "bad request: min_area: give a number of m² from 0")
    if site and not SITE_ID.fullmatch(site):
        raise HTTPException(422, "bad request: site: not a site id")
    return EventFilter(
        status=status or None,
        kind=kind or None,
        since=_day(since, "since"),
        until=_day(until, "until"),
        min_area_m2=area,
        site_id=site or None,
    )


def filter_query(wanted: EventFilter) -> dict[str, str]:
    """The filter back as query parameters (for links that keep it)."""
    pairs = {
        "status": wanted.status,
        "kind": wanted.kind,
        "since": wanted.since,
        "until": wanted.until,
        "min_area": None if wanted.min_area_m2 is None else f"{wanted.min_area_m2:g}",
        "site": wanted.site_id,
    }
    return {k: v for k, v in pairs.items() if v}
