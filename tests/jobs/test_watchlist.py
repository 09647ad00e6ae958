"""`sitewatch watchlist run` with real imagery (the OSCD Paris series of tests/jobs/test_series.py).

Stores events once, alerts once, survives SIGKILL at any point: the store then holds
exactly what one clean run stores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from sitewatch.store import open_store
from sitewatch.store.models import Alert, Event, Run, RunScene, Scene
from tests.alerts.test_delivery import Receiver
from tests.cli.run import assert_one_line_error, sitewatch
from tests.conftest import REPO
from tests.jobs.test_series import scene_folder  # noqa: F401  (fixture: dated GeoTIFFs of Paris)

PERIOD = ("--from", "2016-10-01", "--to", "2017-12-31")


@pytest.fixture
def watchlist(scene_folder, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SITEWATCH_TEST_HOOK_SECRET", "s")  # runs in subprocesses inherit it
    city, folder = scene_folder
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert sitewatch("watchlist", "--db", db, "add", city / "paris.geojson").returncode == 0
    receiver = Receiver(failures=1)
    result = sitewatch(
        "watchlist",
        "--db",
        db,
        "rules",
        "paris-1",
        "--source",
        folder,
        "--alert-min-area",
        "2000",
        "--kind",
        "built_up_gain",
        "--webhook",
        receiver.url,
        "--secret-env",
        "SITEWATCH_TEST_HOOK_SECRET",
        "--allow-http",
        "--allow-private-targets",  # the test receiver listens on 127.0.0.1
    )
    assert result.returncode == 0, result.stderr
    yield db, receiver
    receiver.close()


def _events(db: str) -> list[tuple]:
    with open_store(db).session() as s:
        return sorted((e.kind, round(e.area_m2), e.before_date, e.after_date) for e in s.scalars(select(Event)))


def test_run_stores_once_and_alerts_once(watchlist, tmp_path):
    db, receiver = watchlist
    first = sitewatch("watchlist", "--db", db, "run", "paris-1", *PERIOD, "--cache", tmp_path / "cache")
    assert first.returncode == 0, first.stderr
    assert "new event(s)" in first.stdout and "alerts: " in first.stdout and " delivered, 0 failed" in first.stdout
    stored = _events(db)
    with open_store(db).session() as s:
        alerts = list(s.scalars(select(Alert)))
    assert stored and alerts and all(a.status == "delivered" for a in alerts)
    assert len(receiver.received) == len(alerts)
    again = sitewatch("watchlist", "--db", db, "run", "paris-1", *PERIOD, "--cache", tmp_path / "cache")
    assert again.returncode == 0 and "nothing new" in again.stdout
    assert _events(db) == stored and len(receiver.received) == len(alerts)  # no duplicate, no second alert
    with open_store(db).session() as s:
        first_id = min(e.id for e in s.scalars(select(Event)))
        scenes = list(s.scalars(select(Scene)))
        assert len(scenes) == 8 and all(len(x.checksum) == 64 for x in scenes)  # the clear looks, with SHA-256
        assert s.scalar(select(func.count()).select_from(RunScene)) == 8
    sitewatch("events", "--db", db, "review", str(first_id), "--dismiss", "--note", "river <bank>", "--analyst", "ana")
    report = sitewatch("events", "--db", db, "report", "paris-1", "--out", tmp_path / "site.html")
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "site.html").read_text()
    assert "<svg" in html and "river &lt;bank&gt;" in html and "paris_2016-11-15.tif" in html


def _start(db, cache, pause=None):
    env = {**os.environ, "COLUMNS": "200", **({"SITEWATCH_TEST_PAUSE": pause} if pause else {})}
    cmd = [sys.executable, "-m", "tests.crashpoints", "watchlist", "--db", db, "run", "paris-1", *PERIOD]
    cmd += ["--cache", str(cache)]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_at_any_point_then_rerun(watchlist, scene_folder, tmp_path):  # noqa: F811
    db, _ = watchlist
    clean_db = f"sqlite:///{tmp_path / 'clean.db'}"
    city, folder = scene_folder
    sitewatch("watchlist", "--db", clean_db, "add", city / "paris.geojson")
    sitewatch("watchlist", "--db", clean_db, "rules", "paris-1", "--source", folder)
    assert sitewatch("watchlist", "--db", clean_db, "run", "paris-1", *PERIOD, "--no-cache").returncode == 0
    expected = _events(clean_db)
    # killed half-way through loading imagery, half-way through storing events, and just
    # before the commit: each time once the run says it sits in that pause (tests/crashpoints.py),
    # so the kill lands there on a fast machine as on a slow one
    for stage in (0, 1, 2):
        process = _start(db, tmp_path / "cache", f"{stage}:60")
        said = next((line for line in process.stderr if line.startswith("test pause at stage")), None)
        assert said == f"test pause at stage {stage}\n", "the run ended before it reached its pause"
        process.send_signal(signal.SIGKILL)
        process.wait()
        with open_store(db).session() as s:
            assert s.scalar(select(Run.id)) is None and _events(db) == []
    rerun = sitewatch("watchlist", "--db", db, "run", "paris-1", *PERIOD, "--cache", tmp_path / "cache")
    assert rerun.returncode == 0, rerun.stderr
    assert _events(db) == expected


def test_run_bad_input(watchlist):
    db, _ = watchlist
    assert_one_line_error(sitewatch("watchlist", "--db", db, "run", "nowhere"), "no site 'nowhere'")
    assert_one_line_error(sitewatch("watchlist", "--db", db, "run"), "give --all")


def test_two_runs_at_once_on_one_sqlite_store(watchlist, tmp_path):
    db, _ = watchlist
    first, second = _start(db, tmp_path / "cache1"), _start(db, tmp_path / "cache2")
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    said = sorted("nothing new" in out for out, _ in outputs)
    assert said == [False, True]  # one stored the run, the other found it stored (it waited for the lock)
    with open_store(db).session() as s:
        (run,) = s.scalars(select(Run))
        events = list(s.scalars(select(Event)))
        assert events and all(e.first_run_id == run.id and e.sightings == 1 for e in events)


def test_no_new_imagery_is_news_not_failure_and_undelivered_alerts_exit_3(watchlist, tmp_path):
    db, receiver = watchlist
    receiver.failures = 100  # the receiver is down for this whole run
    first = sitewatch("watchlist", "--db", db, "run", "paris-1", *PERIOD, "--cache", tmp_path / "cache")
    assert first.returncode == 3, first.stderr  # stored, but alerts were not delivered
    assert "new event(s)" in first.stdout and " 0 delivered, " in first.stdout
    with open_store(db).session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 1
        assert {a.status for a in s.scalars(select(Alert))} == {"pending"}
    listed = sitewatch("alerts", "--db", db, "list", "--pending")
    assert listed.returncode == 0 and "HTTP 503" in listed.stdout
    receiver.failures = 0
    retried = sitewatch("alerts", "--db", db, "retry")
    assert retried.returncode == 0 and " 0 failed" in retried.stdout, retried.stdout
    # the next scheduled run: nothing after the last run's end
    later = sitewatch("watchlist", "--db", db, "run", "--all", "--to", "2018-06-30", "--cache", tmp_path / "cache")
    assert later.returncode == 0, later.stderr
    assert "no new imagery" in later.stdout
    with open_store(db).session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 1  # nothing stored for it


def test_outputs_of_a_stored_run_name_events_as_the_store_does(watchlist, tmp_path):
    db, _ = watchlist
    result = sitewatch("watchlist", "--db", db, "run", "paris-1", *PERIOD, "--out", tmp_path / "runs", "--no-cache")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "runs" / "paris-1" / "summary.json").read_text())
    with open_store(db).session() as s:
        stored = {f"E{e.id}" for e in s.scalars(select(Event))}
    ids = {
        f["properties"]["id"]
        for f in json.loads((tmp_path / "runs" / "paris-1" / "events.geojson").read_text())["features"]
    }
    assert ids and ids <= stored and summary["results"]["event_count"] == len(ids)
    first = sorted(ids)[0]
    assert sitewatch("events", "--db", db, "review", first, "--confirm").returncode == 0  # the id users see
