"""A watchlist's sites as tasks on a Dask cluster, stored by this process alone.

Each site is one task: a worker searches, reads, cleans and dates it and keeps its looks
(`compute_site`); what comes back is small (the events with their polygons, the scenes'
facts, the parameters). This process stores each site's run in its own transaction as its
task finishes, so the store's guarantees are those of a run in one process: a rerun with
the same inputs adds nothing, a site is stored whole or not at all, alerts are queued in
the same transaction.

Faults: a worker lost mid-site (killed, out of memory) has its task run again on another
worker by the scheduler; a task that kills its workers again and again
(`distributed.scheduler.allowed-failures`), or a site whose imagery is bad, is reported as
failed and the others go on; a scheduler that goes away stops the run with one line, the
sites stored so far stay stored, and a rerun does the rest.

Workers must see the sites' sources, the cube cache and the looks folder at the same paths
(a shared file system), or use STAC URLs; see docs/scale.md.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from sitewatch.alerts import deliver_pending
from sitewatch.base.cores import usable_cores
from sitewatch.base.errors import InputError
from sitewatch.jobs.series import MonitorConfig
from sitewatch.jobs.watchlist import (
    SiteOutcome,
    SiteWork,
    WatchlistOutcome,
    compute_site,
    period,
    site_config,
    site_records,
    staging_dir,
    store_site,
)
from sitewatch.sites import Site
from sitewatch.store.repo import site_from_record

_LOCAL = re.compile(r"local:(\d{1,3})")
#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT_S = 20


@dataclass
class SiteTask:
    """One site's work, as sent to a worker."""

    site: Site
    config: MonitorConfig
    cache_dir: Path | None
    staging: Path | None


def run_task(task: SiteTask) -> SiteWork:
    """What a worker runs for one site."""
    work, _ = compute_site(task.site, task.config, cache_dir=task.cache_dir, staging=task.staging)
    return work


def check_cluster(spec: str) -> str:
    """`local:N` (N worker processes on this machine) or a scheduler address `tcp://HOST:PORT`."""
    local = _LOCAL.fullmatch(spec)
    if local and 1 <= int(local.group(1)) <= 256:
        return spec
    if re.fullmatch(r"(tcp|tls)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", spec):
        return spec
    raise InputError(
        f"--cluster '{spec[:80]}' is not a cluster; give local:N (N worker processes here, 1-256) or the "
        "scheduler's address, e.g. tcp://10.0.0.5:8786"
    )


@contextmanager
def cluster_client(spec: str) -> Iterator[object]:
    """A `distributed.Client` on a new local cluster or an existing scheduler, closed on exit."""
    import dask
    from distributed import Client, LocalCluster  # lazy: the in-process run never imports distributed

    spec = check_cluster(spec)
    # distributed logs its reconnection attempts with tracebacks; the run says what happened in one line
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    local = _LOCAL.fullmatch(spec)
    if local:
        workers = int(local.group(1))
        share = max(1, usable_cores() // workers)  # the job threads itself: each worker gets its share of the cores
        # Dask's default MALLOC_TRIM_THRESHOLD_ turns off glibc's adaptive thresholds: every large
        # numpy temporary is then a fresh mmap and its page faults, which doubled a site's time.
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # a worker holds one site's cube at a time
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env={"SITEWATCH_THREADS": str(share)},
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(spec, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"--cluster {spec}: no Dask scheduler answered ({' '.join(str(exc).split())[:120]}); start one with "
            "`dask scheduler` or check the address"
        ) from exc
    try:
        yield client
    finally:
        client.close()


def run_watchlist_on_cluster(
    session: Session,
    site_ids: list[str] | None,
    cluster: str,
    *,
    start: str | None = None,
    end: str | None = None,
    cache_dir: Path | None = None,
    looks_dir: Path | None = None,
    on_site: Callable[[SiteOutcome], None] | None = None,
    retries: int = 2,
) -> WatchlistOutcome:
    """`run_watchlist` with each site computed on a worker of `cluster`, stored here as it finishes.

    Sites are stored in the order they finish; alerts are delivered once every site is done.
    """
    from distributed import as_completed  # lazy: the in-process run never imports distributed

    last = end or date.today().isoformat()
    records = site_records(session, site_ids)
    outcome = WatchlistOutcome()
    tasks: dict[str, SiteTask] = {}
    for record in records:
        first, to = period(session, record.id, start, last)
        if first > to:
            outcome.add(SiteOutcome(record.id, "up-to-date", first, to), on_site)
            continue
        config = site_config(record, first, to)
        tasks[record.id] = SiteTask(site_from_record(record), config, cache_dir, staging_dir(looks_dir, record.id))
    session.rollback()  # no transaction held open while the workers run
    with cluster_client(cluster) as client:
        futures = {
            client.submit(run_task, task, key=f"sitewatch-{site_id}-{uuid.uuid4().hex[:8]}", retries=retries): site_id
            for site_id, task in tasks.items()
        }
        try:
            for future in as_completed(futures):
                site_id, task = futures[future], tasks[futures[future]]
                try:
                    work = future.result()
                except (CancelledError, OSError, TimeoutError):
                    raise
                except Exception as exc:  # the task failed on every try (killed workers, a bug): this site only
                    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                    failed = SiteOutcome(site_id, "failed", task.config.start, task.config.end, reason=reason)
                    outcome.add(failed, on_site)
                    continue
                outcome.add(store_site(session, work, looks_dir=looks_dir), on_site)
                future.release()
        except (CancelledError, OSError, TimeoutError) as exc:
            stored = sum(1 for s in outcome.sites if s.status in ("stored", "duplicate"))
            raise InputError(
                f"--cluster {cluster}: lost the scheduler ({type(exc).__name__}) after {len(outcome.sites)} of "
                f"{len(records)} sites ({stored} stored); what was stored stays; run again to do the rest"
            ) from exc
    outcome.alerts = deliver_pending(session)
    return outcome
