"""The watchlist run: each site monitored since its last run, stored, and its alerts sent.

One site's run and all its events and alerts are one store transaction
(`sitewatch.store.repo.record_run`): a run killed at any point leaves nothing, and the next
run does the work again. A site whose imagery or site file is bad is reported as failed and
the others go on. Alerts are delivered once every site is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.alerts import DeliveryReport, deliver_pending
from sitewatch.base.errors import InputError, NoScenes
from sitewatch.base.keys import sha256_file
from sitewatch.base.progress import StageReporter, timed_stage
from sitewatch.base.safety import inside
from sitewatch.imagery.cube import SceneInfo
from sitewatch.jobs.series import MonitorConfig, run_monitor, write_monitor_outputs
from sitewatch.report.looks import run_looks_dir, write_looks
from sitewatch.store.models import Run, SiteRecord
from sitewatch.store.repo import active_site_ids, get_site, record_run, site_from_record

#: A site never run before is monitored over this many days up to the end of the period.
FIRST_RUN_DAYS = 365
DEFAULT_SOURCES = ("earth-search",)


@dataclass
class SiteOutcome:
    """What happened to one site in a watchlist run."""

    site_id: str
    status: str  # "stored", "duplicate" (same inputs as a stored run), "up-to-date", "no-new-imagery" or "failed"
    first: str = ""
    last: str = ""
    run_id: int | None = None
    scenes: int = 0
    new: int = 0
    linked: int = 0
    reason: str = ""  # why it failed, or why there was nothing to date


@dataclass
class WatchlistOutcome:
    sites: list[SiteOutcome] = field(default_factory=list)
    alerts: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def failed(self) -> list[SiteOutcome]:
        return [s for s in self.sites if s.status == "failed"]


def period(session: Session, site_id: str, start: str | None, end: str) -> tuple[str, str]:
    """(first, last) day of a site's next run: from `start`, else the day after its last run."""
    if start:
        return start, end
    previous = session.scalar(select(Run).where(Run.site_id == site_id).order_by(Run.id.desc()).limit(1))
    if previous is not None:
        return (date.fromisoformat(previous.parameters["end"]) + timedelta(days=1)).isoformat(), end
    return (date.fromisoformat(end) - timedelta(days=FIRST_RUN_DAYS)).isoformat(), end


def scene_facts(scene: SceneInfo) -> dict[str, Any]:
    """What the store keeps of a scene; local files get a SHA-256 of their first band file."""
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


def site_config(record: SiteRecord, first: str, last: str) -> MonitorConfig:
    """The series job's settings for a site: its stored imagery choices over the period."""
    settings = record.monitor or {}
    return MonitorConfig(
        start=first,
        end=last,
        sources=list(settings.get("sources") or DEFAULT_SOURCES),
        collection=settings.get("collection"),
        max_cloud=settings.get("max_cloud"),
    )


def run_site(
    session: Session,
    record: SiteRecord,
    *,
    start: str | None,
    end: str,
    cache_dir: Path | None,
    out: Path | None = None,
    looks_dir: Path | None = None,
    reporter: StageReporter | None = None,
) -> SiteOutcome:
    """Monitor one site since its last run and store what was found (bad input: a failed outcome).

    With `looks_dir`, a newly stored run's looks are kept in `looks_dir/<site>/run-<id>/`
    for the workbench (written after the store commits: a crash between the two leaves a run
    whose imagery the workbench reports as not kept, never looks without a run).
    """
    first, last = period(session, record.id, start, end)
    if first > last:
        return SiteOutcome(record.id, "up-to-date", first, last)
    config = site_config(record, first, last)
    started = datetime.now(UTC)
    target = None if out is None else inside(out, record.id)  # ids are checked, and paths too
    try:
        result = run_monitor(site_from_record(record), config, reporter=reporter, cache_dir=cache_dir)
    except NoScenes as exc:  # nothing new to date: normal for a scheduled run, and nothing is stored
        return SiteOutcome(record.id, "no-new-imagery", first, last, reason=str(exc))
    except InputError as exc:
        return SiteOutcome(record.id, "failed", first, last, reason=str(exc))
    scenes = [scene_facts(s) for s in result.cube.scenes]
    inputs = {"scenes": [{k: s[k] for k in ("id", "datetime", "source", "checksum")} for s in scenes]}
    stored = record_run(session, record.id, inputs, config.as_dict(), result.events, started, scenes=scenes)
    for event, row in zip(result.events, stored.stored, strict=False):
        event.id = f"E{row.id}"  # outputs name events as the store and `events review` do
    if target is not None:
        write_monitor_outputs(result, target, reporter=reporter)
    if looks_dir is not None and not stored.duplicate:
        with timed_stage("Keeping the looks for the workbench", reporter, {}):
            folder = run_looks_dir(looks_dir, record.id, stored.run.id)
            write_looks(result.cube, folder, score=result.breaks.magnitude, mask=result.mask)
    status = "duplicate" if stored.duplicate else "stored"
    return SiteOutcome(
        record.id, status, first, last, stored.run.id, len(result.cube), len(stored.new), len(stored.linked)
    )


def run_watchlist(
    session: Session,
    site_ids: list[str] | None,
    *,
    start: str | None = None,
    end: str | None = None,
    cache_dir: Path | None = None,
    out: Path | None = None,
    looks_dir: Path | None = None,
    progress: Callable[[], AbstractContextManager[StageReporter | None]] = nullcontext,
    on_site: Callable[[SiteOutcome], None] | None = None,
) -> WatchlistOutcome:
    """Run the named sites (all when None) in id order, then deliver every pending alert.

    `progress` makes a fresh stage reporter per site; `on_site` hears each outcome as it comes.
    """
    last = end or date.today().isoformat()
    ids = site_ids or active_site_ids(session)
    records = [get_site(session, s) for s in ids]  # an unknown id stops the run before any work
    outcome = WatchlistOutcome()
    for record in records:
        with progress() as reporter:
            result = run_site(
                session,
                record,
                start=start,
                end=last,
                cache_dir=cache_dir,
                out=out,
                looks_dir=looks_dir,
                reporter=reporter,
            )
        outcome.sites.append(result)
        if on_site is not None:
            on_site(result)
    outcome.alerts = deliver_pending(session)
    return outcome
