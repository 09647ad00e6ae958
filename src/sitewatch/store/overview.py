"""Reads for the workbench: the watchlist with counts, filtered events, a site's scenes and alerts.

Each is a handful of SQL queries whatever the store's size (the review status of every
event comes from one join on its latest review, not one query per event), so pages stay
fast with tens of thousands of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from sitewatch.base.vocab import ReviewStatus
from sitewatch.store.models import Alert, Delivery, Event, Review, Run, RunScene, Scene, SiteRecord


@dataclass(frozen=True)
class EventFilter:
    """What the analyst asked to see; None is "any"."""

    status: str | None = None
    kind: str | None = None
    since: str | None = None  # ISO day: changed on or after (the event's after date)
    until: str | None = None  # ISO day: changed on or before
    min_area_m2: float | None = None  # inside the site
    site_id: str | None = None


@dataclass
class SiteSummary:
    record: SiteRecord
    events: int = 0  # matching the filter
    new: int = 0  # matching the filter and not reviewed yet
    inside_m2: float = 0.0
    last_run: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _latest_review():
    """(event_id, review id) of each event's latest review, as a subquery."""
    return select(Review.event_id, func.max(Review.id).label("review_id")).group_by(Review.event_id).subquery()


def events_with_status() -> tuple[Select, Any]:
    """SELECT events with their status column (the latest review's, else 'new')."""
    latest = _latest_review()
    last_review = aliased(Review)
    status = func.coalesce(last_review.status, ReviewStatus.new.value).label("status")
    query = (
        select(Event, status)
        .outerjoin(latest, latest.c.event_id == Event.id)
        .outerjoin(last_review, last_review.id == latest.c.review_id)
    )
    return query, status


def _filtered(query: Select, status_column: Any, wanted: EventFilter) -> Select:
    inside = func.coalesce(Event.area_inside_m2, Event.area_m2)
    if wanted.status:
        query = query.where(status_column == wanted.status)
    if wanted.kind:
        query = query.where(Event.kind == wanted.kind)
    if wanted.since:
        query = query.where(Event.after_date >= wanted.since)
    if wanted.until:
        query = query.where(Event.after_date <= wanted.until + "T99")  # the whole day, any time of it
    if wanted.min_area_m2 is not None:
        query = query.where(inside >= wanted.min_area_m2)
    if wanted.site_id:
        query = query.where(Event.site_id == wanted.site_id)
    return query


def filtered_events(
    session: Session, wanted: EventFilter, *, limit: int | None = None, after_id: int | None = None
) -> list[tuple[Event, str]]:
    """(event, status) pairs matching `wanted`, by id."""
    query, status = events_with_status()
    query = _filtered(query, status, wanted).order_by(Event.id)
    if after_id is not None:
        query = query.where(Event.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return [(event, state) for event, state in session.execute(query)]


def event_status(session: Session, event_id: int) -> str:
    latest = session.scalar(select(Review.status).where(Review.event_id == event_id).order_by(Review.id.desc()))
    return latest or ReviewStatus.new.value


def event_reviews(session: Session, event_id: int) -> list[Review]:
    """An event's review history, oldest first."""
    return list(session.scalars(select(Review).where(Review.event_id == event_id).order_by(Review.id)))


def watchlist_summary(session: Session, wanted: EventFilter, search: str = "") -> list[SiteSummary]:
    """Every active site (matching `search` in id, name, aliases or tags) with counts of matching events."""
    records = list(session.scalars(select(SiteRecord).where(SiteRecord.removed_at.is_(None)).order_by(SiteRecord.id)))
    needle = search.strip().casefold()
    if needle:
        records = [
            r
            for r in records
            if any(needle in text.casefold() for text in [r.id, r.name, *(r.aliases or []), *(r.tags or [])])
        ]
    query, status = events_with_status()
    inside = func.coalesce(Event.area_inside_m2, Event.area_m2)
    counts = (
        _filtered(query.with_only_columns(Event.site_id), status, wanted)
        .add_columns(
            func.count(Event.id),
            func.sum(case((and_(status == ReviewStatus.new.value, Event.suppressed_by.is_(None)), 1), else_=0)),
            func.sum(inside),
        )
        .group_by(Event.site_id)
    )
    by_site = {row[0]: row[1:] for row in session.execute(counts)}
    last_runs = dict(session.execute(select(Run.site_id, func.max(Run.finished_at)).group_by(Run.site_id)).all())
    out = []
    for record in records:
        total, new, area = by_site.get(record.id, (0, 0, 0.0))
        last = last_runs.get(record.id)
        out.append(SiteSummary(record, int(total or 0), int(new or 0), float(area or 0.0), last and str(last)[:16]))
    return out


def queue_neighbours(session: Session, event_id: int, wanted: EventFilter) -> tuple[int | None, int | None]:
    """(previous event of the queue, next event still to review) around `event_id`, in id order."""
    query, status = events_with_status()
    base = _filtered(query.with_only_columns(Event.id), status, wanted)
    previous = session.scalar(base.where(Event.id < event_id).order_by(Event.id.desc()).limit(1))
    to_review = and_(status == ReviewStatus.new.value, Event.suppressed_by.is_(None))
    following = session.scalar(base.where(Event.id > event_id, to_review).order_by(Event.id).limit(1))
    if following is None:  # wrap round to an earlier one left unreviewed
        following = session.scalar(base.where(Event.id < event_id, to_review).order_by(Event.id).limit(1))
    return previous, following


def site_scenes(session: Session, site_id: str) -> list[tuple[Scene, list[int]]]:
    """The scenes a site's runs used, by date, each with the runs that used it."""
    rows = session.execute(
        select(Scene, Run.id)
        .join(RunScene, RunScene.scene_id == Scene.id)
        .join(Run, Run.id == RunScene.run_id)
        .where(Run.site_id == site_id)
        .order_by(Scene.acquired_at, Scene.id, Run.id)
    )
    scenes: dict[int, tuple[Scene, list[int]]] = {}
    for scene, run_id in rows:
        scenes.setdefault(scene.id, (scene, []))[1].append(run_id)
    return list(scenes.values())


@dataclass
class AlertState:
    alert: Alert
    event_id: int
    attempts: int
    last_detail: str


def site_alerts(session: Session, site_id: str, limit: int = 200) -> list[AlertState]:
    """The site's alerts, newest first, with their delivery attempts."""
    attempts = (
        select(Delivery.alert_id, func.count(Delivery.id).label("n"), func.max(Delivery.id).label("last"))
        .group_by(Delivery.alert_id)
        .subquery()
    )
    last = aliased(Delivery)
    rows = session.execute(
        select(Alert, attempts.c.n, last.detail)
        .join(Event, Event.id == Alert.event_id)
        .outerjoin(attempts, attempts.c.alert_id == Alert.id)
        .outerjoin(last, last.id == attempts.c.last)
        .where(Event.site_id == site_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return [AlertState(alert, alert.event_id, int(n or 0), detail or "") for alert, n, detail in rows]
