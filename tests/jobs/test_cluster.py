"""`watchlist run --cluster` on a real `dask scheduler` and two `dask worker` processes.

Sites are cut from the real OSCD Paris series. One worker is killed (SIGKILL) while it works
on a site: its task runs again on the other worker, and the store ends event for event as
after a clean run in one process. A site with a bad source is reported as failed and the
others are stored.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shapely.geometry import box
from sqlalchemy import select

from sitewatch.sites import Site
from sitewatch.store import open_store
from sitewatch.store.models import Event, Run
from sitewatch.store.repo import add_site
from tests.cli.run import sitewatch
from tests.jobs.test_series import scene_folder  # noqa: F401  (fixture: dated GeoTIFFs of Paris)

PERIOD = ("--from", "2016-10-01", "--to", "2017-12-31")
DASK = str(Path(sys.executable).with_name("dask"))
#: Facility-sized boxes inside the Paris scenes (lon/lat), and one site whose imagery is gone.
SITES = {
    "paris-north": (2.315, 48.825, 2.335, 48.840),
    "paris-south": (2.318, 48.802, 2.338, 48.817),
    "paris-east": (2.338, 48.812, 2.352, 48.830),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(url: str, folder: Path) -> None:
    with open_store(url).session() as session:
        for site_id, bounds in SITES.items():
            record = add_site(session, Site(id=site_id, name=site_id, geometry=box(*bounds)))
            record.monitor = {"sources": [str(folder)]}
        gone = add_site(session, Site(id="paris-gone", name="gone", geometry=box(2.320, 48.830, 2.330, 48.835)))
        gone.monitor = {"sources": [str(folder.parent / "no-such-folder")]}
        session.commit()


def _events(url: str) -> list[tuple]:
    with open_store(url).session() as s:
        return sorted(
            (e.site_id, e.kind, round(e.area_m2), e.before_date, e.after_date, e.geometry_wkt)
            for e in s.scalars(select(Event))
        )


class DaskCluster:
    """A scheduler and two single-threaded workers on 127.0.0.1, as `dask scheduler` / `dask worker` run them."""

    def __init__(self, folder: Path) -> None:
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        port = self.address.rsplit(":", 1)[1]
        logs = folder / "dask-logs"
        logs.mkdir()
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=open(logs / "scheduler.log", "w"),  # noqa: SIM115 (closed with the process)
        )
        self.workers = {
            name: subprocess.Popen(
                [DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=open(logs / f"{name}.log", "w"),  # noqa: SIM115
                cwd=folder,
            )
            for name in ("w1", "w2")
        }
        from distributed import Client

        self.client = Client(self.address, timeout=30)
        self.client.wait_for_workers(2, timeout=60)

    def busy_worker(self) -> str | None:
        """The name of a worker running a sitewatch task, if any."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        for address, keys in self.client.processing().items():
            if any(str(k).startswith("sitewatch-") for k in keys):
                return info[address]["name"]
        return None

    def close(self) -> None:
        self.client.close()
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path):
    running = DaskCluster(tmp_path)
    yield running
    running.close()


@pytest.fixture(scope="module")
def reference(scene_folder, tmp_path_factory):  # noqa: F811
    """The same watchlist run one site after another in one process: what the cluster must store."""
    _, folder = scene_folder
    url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
    _fill(url, folder)
    clean = sitewatch("watchlist", "--db", url, "run", "--all", *PERIOD, "--no-cache")
    assert clean.returncode == 2 and "paris-gone" in clean.stderr  # the failing site, the others stored
    events = _events(url)
    assert len({e[0] for e in events}) == len(SITES)
    return events


def test_a_killed_worker_changes_nothing_and_a_bad_site_stops_no_other(
    scene_folder,  # noqa: F811
    reference,
    store_url,
    cluster,
    tmp_path,
):
    _, folder = scene_folder
    _fill(store_url, folder)
    command = [sys.executable, "-m", "sitewatch", "watchlist", "--db", store_url, "run", "--all", *PERIOD]
    command += ["--no-cache", "--cluster", cluster.address]
    env = {**os.environ, "SITEWATCH_LOOKS": str(tmp_path / "looks")}
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        name = cluster.busy_worker()
        if name is not None:
            time.sleep(0.5)  # well into the site's work
            cluster.workers[name].send_signal(signal.SIGKILL)
            killed = name
        time.sleep(0.1)
    stdout, stderr = run.communicate(timeout=300)
    assert killed is not None, "no worker was seen working on a site"
    assert run.returncode == 2, stderr  # the failing site
    assert "paris-gone" in stderr and "failed" in stderr
    assert f"{len(SITES) + 1} site(s)" in stdout and f"{len(SITES)} stored" in stdout, stdout
    assert _events(store_url) == reference  # event for event, polygons included
    with open_store(store_url).session() as s:
        runs = list(s.scalars(select(Run)))
    assert sorted(r.site_id for r in runs) == sorted(SITES)  # one run per good site: the retry stored once
    for r in runs:  # each stored run's looks were moved into its folder; no staging left behind
        assert (tmp_path / "looks" / r.site_id / f"run-{r.id}" / "looks.json").is_file()
    assert not list((tmp_path / "looks").glob("*/.staging-*"))

    args = ("--no-cache", "--cluster", cluster.address)
    again = sitewatch("watchlist", "--db", store_url, "run", *SITES, *PERIOD, *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("nothing new") == len(SITES) and _events(store_url) == reference


def test_a_lost_scheduler_stops_the_run_in_one_line(scene_folder, cluster, tmp_path):  # noqa: F811
    _, folder = scene_folder
    db = f"sqlite:///{tmp_path / 'store.db'}"
    _fill(db, folder)
    command = [sys.executable, "-m", "sitewatch", "watchlist", "--db", db, "run", "--all", *PERIOD]
    run = subprocess.Popen([*command, "--cluster", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while cluster.busy_worker() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    cluster.client.close()
    cluster.scheduler.send_signal(signal.SIGKILL)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "lost the scheduler" in lines[0] and "run again" in lines[0], lines
    with open_store(db).session() as s:
        assert not list(s.scalars(select(Event))) or list(s.scalars(select(Run)))  # only whole runs


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = sitewatch("watchlist", "--db", db, "run", "--all", "--cluster", address)
    assert result.returncode == 2 and "no Dask scheduler answered" in result.stderr
    bad = sitewatch("watchlist", "--db", db, "run", "--all", "--cluster", "local:0")
    assert bad.returncode == 2 and "is not a cluster" in bad.stderr
    hostile = sitewatch("watchlist", "--db", db, "run", "--all", "--cluster", "tcp://x;rm -rf /:1")
    assert hostile.returncode == 2 and "is not a cluster" in hostile.stderr
    reports = sitewatch("watchlist", "--db", db, "run", "--all", "--cluster", "local:1", "--out", tmp_path / "out")
    assert reports.returncode == 2 and "--out" in reports.stderr and not (tmp_path / "out").exists()
