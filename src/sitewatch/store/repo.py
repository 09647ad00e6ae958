"""What the rest of sitewatch does with the store: sites, runs with their events, reviews.

A run is stored in one transaction with all its events, or not at all: a process killed
half-way leaves no run row, so the next run does the work again. Runs are keyed by a
SHA-256 of their inputs and parameters (unique per site): the same inputs twice add
nothing. Writers for one site are serialised (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
transaction-scoped advisory lock), so two processes cannot both add the same event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from sitewatch import __version__
from sitewatch.base.errors import InputError
from sitewatch.base.keys import content_key
from sitewatch.base.safety import SITE_ID, check_site_id, clean_text
from sitewatch.base.vocab import DismissReason, ReviewStatus, values
from sitewatch.events.extract import Event as DetectedEvent
from sitewatch.sites import Site
from sitewatch.store.alert_queue import queue_alerts
from sitewatch.store.audit import audit
from sitewatch.store.matching import StoredEvents
from sitewatch.store.models import REVIEW_STATUSES, Event, Review, Run, RunScene, Scene, Sighting, SiteRecord

#: A dismissed event suppresses later ones at its place unless they grow past this factor.
DEFAULT_DISMISS_GROWTH = 2.0
DISMISS_REASONS = values(DismissReason)


@dataclass
class RunOutcome:
    run: Run
    new: list[Event] = field(default_factory=list)
    linked: list[Event] = field(default_factory=list)
    duplicate: bool = False
    stored: list[Event] = field(default_factory=list)  # the stored event of each detected one, in order


def add_site(session: Session, site: Site, *, replace: bool = False) -> SiteRecord:
    check_site_id(site.id, "watchlist")
    existing = session.get(SiteRecord, site.id)
    if existing is not None and existing.removed_at is not None and not replace:
        raise InputError(
            f"site '{site.id}' was removed; bring it back with `sitewatch watchlist restore {site.id}` "
            "or import it again with --replace"
        )
    if existing is not None and not replace:
        raise InputError(f"site '{site.id}' is already in the store; remove it first or import with --replace")
    record = existing or SiteRecord(id=site.id)
    record.name, record.aliases, record.parent = site.name, list(site.aliases), site.parent
    record.country, record.tags, record.notes = site.country, list(site.tags), site.notes
    record.sources, record.geometry_wkt = list(site.sources), site.geometry.wkt
    record.removed_at = None
    session.add(record)
    session.commit()
    return record


def site_from_record(record: SiteRecord) -> Site:
    """The stored site as the `Site` the stages take."""
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


def get_site(session: Session, site_id: str, *, removed: bool = False) -> SiteRecord:
    """A site of the watchlist (with `removed`, also one that `watchlist remove` set aside)."""
    record = session.get(SiteRecord, site_id) if SITE_ID.fullmatch(site_id) else None
    if record is None or (record.removed_at is not None and not removed):
        listed = select(SiteRecord.id).where(SiteRecord.removed_at.is_(None)).limit(10)
        known = ", ".join(session.scalars(listed)) or "none yet"
        shown = clean_text(site_id)[:60]
        raise InputError(f"no site '{shown}' in the store (known: {known}); add it with `sitewatch watchlist add`")
    return record


def active_site_ids(session: Session) -> list[str]:
    """The watchlist's site ids in order, leaving out removed sites."""
    return list(session.scalars(select(SiteRecord.id).where(SiteRecord.removed_at.is_(None)).order_by(SiteRecord.id)))


def input_key(inputs: dict[str, Any], parameters: dict[str, Any]) -> str:
    """SHA-256 of a run's inputs and parameters with the sitewatch version (as the cube cache keys)."""
    return content_key({"inputs": inputs, "parameters": parameters})


def write_lock(session: Session, name: str) -> None:
    """Take a named write lock for the rest of the transaction (start it on a fresh transaction)."""
    if session.bind.dialect.name == "sqlite":
        # the transaction starts with BEGIN IMMEDIATE (see db.make_engine): the write lock is
        # taken now, and a second writer waits for it (busy_timeout)
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    else:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def record_run(
    session: Session,
    site_id: str,
    inputs: dict[str, Any],
    parameters: dict[str, Any],
    events: list[DetectedEvent],
    started_at: datetime,
    *,
    scenes: list[dict[str, Any]] | None = None,
    dismiss_growth: float | None = None,
) -> RunOutcome:
    """Store a finished run, the scenes it used and its events in one transaction.

    The same inputs again add nothing. `scenes` are dicts with `id`, `source` and, where
    known, `sensor`, `datetime`, `cloud_cover`, `checksum`; each real scene is one row,
    linked to every run that used it. `dismiss_growth` defaults to the site's rule.
    """
    site = get_site(session, site_id)
    if dismiss_growth is None:
        dismiss_growth = float((site.alert_rules or {}).get("dismiss_growth", DEFAULT_DISMISS_GROWTH))
    key = input_key(inputs, parameters)
    session.rollback()  # start the locked transaction from a clean state
    write_lock(session, site_id)  # serialise writers of this site until the transaction ends
    previous = session.scalar(select(Run).where(Run.site_id == site_id, Run.input_key == key))
    if previous is not None:
        session.rollback()
        return RunOutcome(previous, duplicate=True)
    run = Run(
        site_id=site_id,
        input_key=key,
        inputs=inputs,
        parameters=parameters,
        software_version=__version__,
        started_at=started_at,
    )
    session.add(run)
    session.flush()
    for info in scenes or []:
        scene = _scene_row(session, info)
        session.add(RunScene(run_id=run.id, scene_id=scene.id))
    # the site's stored polygons parsed and indexed once per run, not scanned per detected event
    stored = StoredEvents(list(session.scalars(select(Event).where(Event.site_id == site_id).order_by(Event.id))))
    outcome = RunOutcome(run)
    for detected in events:
        outcome.stored.append(store_sighting(session, run, detected, stored, outcome, dismiss_growth))
    link_phases(events, outcome, stored)
    session.flush()
    queue_alerts(session, get_site(session, site_id), outcome.new)  # in the run's transaction: never lost
    try:
        session.commit()
    except IntegrityError:  # the same inputs committed by another process meanwhile
        session.rollback()
        previous = session.scalar(select(Run).where(Run.site_id == site_id, Run.input_key == key))
        return RunOutcome(previous, duplicate=True)
    return outcome


def link_phases(events: list[DetectedEvent], outcome: RunOutcome, stored: StoredEvents) -> None:
    """Record, on each new event, the earlier event at its place it follows.

    Within the run, a phase names the event it came after (`follows`, the run's own ids);
    otherwise a new event follows the latest stored event it overlaps that ended before it
    began, from earlier runs: the site's history at that place reads as one chain.
    """
    by_run_id = {detected.id: row for detected, row in zip(events, outcome.stored, strict=True)}
    new = {id(row) for row in outcome.new}
    for detected, row in zip(events, outcome.stored, strict=True):
        if id(row) not in new:
            continue
        row.phase = detected.phase
        earlier = by_run_id.get(detected.follows) if detected.follows else None
        if earlier is None:
            earlier = stored.latest_before(detected.geometry, detected.before_date)
        if earlier is not None and earlier is not row:
            row.follows_id = earlier.id


def store_sighting(
    session: Session,
    run: Run,
    detected: DetectedEvent,
    stored: StoredEvents,
    outcome: RunOutcome,
    dismiss_growth: float,
) -> Event:
    """Link a detected event to the stored one it overlaps (same kind, IoU >= MATCH_IOU) or add it."""
    geometry = detected.geometry
    event = stored.best_match(detected.kind, geometry)
    if event is not None:
        event.last_run_id = run.id
        event.sightings += 1
        outcome.linked.append(event)
    else:
        event = Event(
            site_id=run.site_id,
            first_run_id=run.id,
            last_run_id=run.id,
            geometry_wkt=geometry.wkt,
            area_m2=detected.area_m2,
            area_inside_m2=detected.inside_m2,
            score=detected.mean_score,
            kind=detected.kind,
            before_date=detected.before_date,
            after_date=detected.after_date,
            confirmations=detected.confirmations,
            evidence={k: float(v) for k, v in detected.evidence.items()} or None,
            suppressed_by=stored.suppressor(detected.kind, geometry, detected.area_m2, dismiss_growth),
        )
        session.add(event)
        session.flush()
        stored.add(event, geometry)
        outcome.new.append(event)
    session.add(Sighting(run_id=run.id, event_id=event.id, area_m2=detected.area_m2, score=detected.mean_score))
    return event


def _scene_row(session: Session, info: dict[str, Any]) -> Scene:
    key = f"{info['source']}|{info['id']}"
    scene = session.scalar(select(Scene).where(Scene.scene_key == key))
    if scene is None:
        scene = Scene(
            scene_key=key,
            sensor=info.get("sensor"),
            acquired_at=info.get("datetime"),
            cloud_cover=info.get("cloud_cover"),
            source=info["source"],
            checksum=info.get("checksum"),
        )
        session.add(scene)
        session.flush()
    return scene


#: Event ids are SQL integers: anything larger is no event (and would overflow the driver).
MAX_ID = 2**63 - 1


def parse_event_id(text: str | int) -> int:
    """A stored event's id as users see it: `17`, `#17` or `E17` / `E0017`."""
    raw = str(text).strip()
    digits = raw[1:] if raw[:1] in ("#", "E", "e") else raw
    if not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) <= MAX_ID:
        shown = clean_text(raw)[:40]
        raise InputError(f"event id '{shown}' is not an event id; use the id `sitewatch events list` shows")
    return int(digits)


def add_review(
    session: Session,
    event_id: int | str,
    status: str,
    analyst: str,
    note: str = "",
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> Review:
    """Append a verdict and its audit entry in one transaction (the CLI and the workbench both call this).

    `reason` is a `DismissReason` and goes only with a dismissal; `actor` names the channel
    for the audit log (default `cli:<analyst>`).
    """
    if status not in REVIEW_STATUSES:
        known = ", ".join(REVIEW_STATUSES)
        raise InputError(f"review status '{clean_text(status)[:40]}' is not known; use one of {known}")
    if reason is not None and status != ReviewStatus.dismissed:
        raise InputError("a reason code goes only with a dismissal")
    if reason is not None and reason not in DISMISS_REASONS:
        raise InputError(f"reason '{clean_text(reason)[:40]}' is not known; use one of {', '.join(DISMISS_REASONS)}")
    event_id = parse_event_id(event_id)
    event = session.get(Event, event_id)
    if event is None:
        raise InputError(f"no event {event_id} in the store; list them with `sitewatch events list`")
    note = clean_text(note, keep_newlines=True)
    review = Review(event_id=event_id, status=status, analyst=clean_text(analyst), note=note, reason=reason)
    session.add(review)
    audit(session, actor or f"cli:{analyst}", "review", f"event:{event_id}", status=status, reason=reason, note=note)
    session.commit()
    session.refresh(event)
    return review


def list_runs(session: Session, site_id: str) -> list[Run]:
    """A site's runs, oldest first."""
    return list(session.scalars(select(Run).where(Run.site_id == site_id).order_by(Run.id)))


def list_events(session: Session, site_id: str | None = None, status: str | None = None) -> list[Event]:
    query = select(Event).options(selectinload(Event.reviews)).order_by(Event.id)  # statuses in one query
    if site_id is not None:
        get_site(session, site_id)
        query = query.where(Event.site_id == site_id)
    events = list(session.scalars(query))
    return [e for e in events if status is None or e.status == status]
