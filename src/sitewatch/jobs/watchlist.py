"""The watchlist run: each site monitored since its last run, stored, and its alerts sent.

One site's run and all its events and alerts are one store transaction
(`sitewatch.store.repo.record_run`): a run killed at any point leaves nothing, and the next
run does the work again. A site whose imagery or site file is bad is reported as failed and
the others go on. Alerts are delivered once every site is stored.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.alerts import DeliveryReport, deliver_pending
from sitewatch.base.cores import peak_rss_bytes
from sitewatch.base.errors import InputError, NoScenes
from sitewatch.base.keys import sha256_file
from sitewatch.base.progress import StageReporter, timed_stage
from sitewatch.base.safety import inside
from sitewatch.imagery.cube import SceneInfo
from sitewatch.jobs.series import MonitorConfig, MonitorRun, run_monitor, write_monitor_outputs
from sitewatch.report.looks import run_looks_dir, write_looks
from sitewatch.sites import Site
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
    work: SiteWork | None = None  # what was computed (timings, memory), when something was
    store_seconds: float = 0.0


@dataclass
class WatchlistOutcome:
    sites: list[SiteOutcome] = field(default_factory=list)
    alerts: DeliveryReport = field(default_factory=DeliveryReport)

    def add(self, site: SiteOutcome, on_site: Callable[[SiteOutcome], None] | None = None) -> None:
        """Record one site's outcome and tell `on_site` as it comes."""
        self.sites.append(site)
        if on_site is not None:
            on_site(site)

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


@dataclass
class SiteWork:
    """What one site's run computed, small enough to send from a worker to the writer.

    The cube stays where it was computed: its looks are written there into `staged_looks`
    (on storage the writer also sees), and moved into the run's folder once it is stored.
    """

    site_id: str
    first: str
    last: str
    status: str = "computed"  # or "no-new-imagery" / "failed", with `reason`
    reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)  # sitewatch.events.extract.Event
    scenes: list[dict[str, Any]] = field(default_factory=list)
    looks: int = 0
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    staged_looks: Path | None = None
    seconds: float = 0.0  # computing it, where it was computed
    timings: dict[str, float] = field(default_factory=dict)  # the series job's stages
    peak_rss_bytes: int = 0  # of the process that computed it, so far


def compute_site(
    site: Site,
    config: MonitorConfig,
    *,
    cache_dir: Path | None,
    staging: Path | None = None,
    reporter: StageReporter | None = None,
) -> tuple[SiteWork, MonitorRun | None]:
    """Monitor one site over `config`'s period (bad input or nothing to date: a work item that says so).

    With `staging`, the run's looks are written there for the workbench.
    """
    work = SiteWork(site.id, config.start, config.end, config=config.as_dict())
    began = time.perf_counter()
    try:
        result = run_monitor(site, config, reporter=reporter, cache_dir=cache_dir)
    except NoScenes as exc:  # nothing new to date: normal for a scheduled run, and nothing is stored
        work.status, work.reason = "no-new-imagery", str(exc)
        return work, None
    except InputError as exc:
        work.status, work.reason = "failed", str(exc)
        return work, None
    work.events, work.looks = result.events, len(result.cube)
    work.scenes = [scene_facts(s) for s in result.cube.scenes]
    if staging is not None:
        with timed_stage("Keeping the looks for the workbench", reporter, {}):
            write_looks(result.cube, staging, score=result.breaks.magnitude, mask=result.mask)
        work.staged_looks = staging
    work.seconds = time.perf_counter() - began
    work.timings, work.peak_rss_bytes = dict(result.timings_s), peak_rss_bytes()
    return work, result


def store_site(session: Session, work: SiteWork, *, looks_dir: Path | None = None) -> SiteOutcome:
    """Store a computed site run in one transaction; then move its staged looks into the run's folder.

    A crash between the two leaves a run whose imagery the workbench reports as not kept,
    never looks without a run.
    """
    if work.status != "computed":
        return SiteOutcome(work.site_id, work.status, work.first, work.last, reason=work.reason, work=work)
    began = time.perf_counter()
    inputs = {"scenes": [{k: s[k] for k in ("id", "datetime", "source", "checksum")} for s in work.scenes]}
    stored = record_run(session, work.site_id, inputs, work.config, work.events, work.started, scenes=work.scenes)
    for event, row in zip(work.events, stored.stored, strict=False):
        event.id = f"E{row.id}"  # outputs name events as the store and `events review` do
    if work.staged_looks is not None:
        if stored.duplicate or looks_dir is None:
            shutil.rmtree(work.staged_looks, ignore_errors=True)
        else:
            folder = run_looks_dir(looks_dir, work.site_id, stored.run.id)
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            work.staged_looks.rename(folder)
    status = "duplicate" if stored.duplicate else "stored"
    outcome = SiteOutcome(
        work.site_id, status, work.first, work.last, stored.run.id, work.looks, len(stored.new), len(stored.linked)
    )
    outcome.work, outcome.store_seconds = work, time.perf_counter() - began
    return outcome


def staging_dir(looks_dir: Path | None, site_id: str) -> Path | None:
    """A fresh folder beside the site's run folders for looks not stored yet."""
    return None if looks_dir is None else inside(looks_dir, site_id, f".staging-{uuid.uuid4().hex}")


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
    """Monitor one site since its last run and store what was found, in this process.

    With `looks_dir`, a newly stored run's looks are kept in `looks_dir/<site>/run-<id>/`
    for the workbench; with `out`, its report goes to `out/<site>/`.
    """
    first, last = period(session, record.id, start, end)
    if first > last:
        return SiteOutcome(record.id, "up-to-date", first, last)
    target = None if out is None else inside(out, record.id)  # ids are checked, and paths too
    work, result = compute_site(
        site_from_record(record),
        site_config(record, first, last),
        cache_dir=cache_dir,
        staging=staging_dir(looks_dir, record.id),
        reporter=reporter,
    )
    outcome = store_site(session, work, looks_dir=looks_dir)
    if target is not None and result is not None:
        write_monitor_outputs(result, target, reporter=reporter)
    return outcome


def site_records(session: Session, site_ids: list[str] | None) -> list[SiteRecord]:
    """The named sites, all active ones when None; an unknown id stops the run before any work."""
    return [get_site(session, s) for s in site_ids or active_site_ids(session)]


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
    outcome = WatchlistOutcome()
    for record in site_records(session, site_ids):
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
        outcome.add(result, on_site)
    outcome.alerts = deliver_pending(session)
    return outcome
