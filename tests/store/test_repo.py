"""Store behaviour on SQLite and PostgreSQL: idempotent runs, linked sightings, reviews, suppression."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from sitewatch.base.errors import InputError
from sitewatch.events.extract import Event as Detected
from sitewatch.sites import Site
from sitewatch.store import open_store
from sitewatch.store.db import head_revision
from sitewatch.store.models import Event, Review, Run, Sighting
from sitewatch.store.repo import add_review, add_site, list_events, record_run

SITE = Site(id="plant-1", name="Plant <1>", geometry=box(13.78, 52.38, 13.82, 52.41))


def detected(x0: float, area: float = 5000.0, kind: str = "built_up_gain", width: float = 0.002) -> Detected:
    return Detected(
        id="",
        geometry=box(x0, 52.39, x0 + width, 52.391),
        area_m2=area,
        pixel_count=int(area / 100),
        mean_score=5.0,
        max_score=9.0,
        kind=kind,
        before_date="2020-03-01",
        after_date="2020-04-01",
        confirmations=3,
    )


def run(session, inputs, events):
    return record_run(session, SITE.id, {"scenes": inputs}, {"method": "cva"}, events, datetime.now(UTC))


@pytest.fixture
def session(store_url):
    store = open_store(store_url)
    with store.session() as s:
        add_site(s, SITE)
        yield s


def test_new_store_has_the_current_schema(store_url):
    assert open_store(store_url).revision() == head_revision()


def test_same_inputs_twice_add_nothing(session):
    first = run(session, ["a", "b"], [detected(13.79), detected(13.80)])
    again = run(session, ["a", "b"], [detected(13.79), detected(13.80)])
    assert len(first.new) == 2 and again.duplicate and again.run.id == first.run.id
    assert session.scalar(select(func.count()).select_from(Event)) == 2
    assert session.scalar(select(func.count()).select_from(Run)) == 1


def test_event_seen_again_is_linked_not_copied(session):
    first = run(session, ["a"], [detected(13.79)])
    later = run(session, ["a", "c"], [detected(13.7901), detected(13.81, kind="earthworks")])
    assert [e.id for e in later.linked] == [first.new[0].id] and len(later.new) == 1
    event = session.get(Event, first.new[0].id)
    assert event.sightings == 2 and event.last_run_id == later.run.id
    assert session.scalar(select(func.count()).select_from(Sighting)) == 3


def test_reviews_keep_their_history(session):
    event = run(session, ["a"], [detected(13.79)]).new[0]
    add_review(session, event.id, "confirmed", "ana", "new hall")
    add_review(session, event.id, "dismissed", "ben", "shadow")
    session.refresh(event)
    assert event.status == "dismissed"
    assert [r.status for r in session.scalars(select(Review).order_by(Review.id))] == ["confirmed", "dismissed"]
    assert [e.id for e in list_events(session, SITE.id, status="dismissed")] == [event.id]
    with pytest.raises(InputError, match="not known"):
        add_review(session, event.id, "maybe", "ana")
    with pytest.raises(InputError, match="no event 999"):
        add_review(session, 999, "confirmed", "ana")


def test_growth_factor_is_the_analysts(session):
    from sitewatch.store.models import SiteRecord

    session.get(SiteRecord, SITE.id).alert_rules = {"dismiss_growth": 10.0}
    session.commit()
    dismissed = run(session, ["a"], [detected(13.79, area=5000)]).new[0]
    add_review(session, dismissed.id, "dismissed", "ana")
    grown = run(session, ["c"], [detected(13.7905, area=25_000, width=0.01)]).new[0]
    assert grown.suppressed_by == dismissed.id  # 5x is not past the site's factor of 10


def test_dismissed_place_suppresses_until_it_grows(session):
    dismissed = run(session, ["a"], [detected(13.79, area=5000)]).new[0]
    add_review(session, dismissed.id, "dismissed", "ana", "crop field")
    # same place, same kind, too little overlap to be the same event, not grown: suppressed
    small = run(session, ["b"], [detected(13.7915, area=6000)]).new[0]
    assert small.suppressed_by == dismissed.id
    grown = run(session, ["c"], [detected(13.7905, area=25_000, width=0.01)]).new[0]
    assert grown.suppressed_by is None


def test_unknown_site(session):
    with pytest.raises(InputError, match="no site 'nowhere'"):
        record_run(session, "nowhere", {}, {}, [], datetime.now(UTC))


def test_unreachable_database():
    with pytest.raises(InputError, match="cannot be reached"):
        open_store("postgresql://postgres@127.0.0.1:1/none")


def test_store_from_a_newer_sitewatch(store_url):
    store = open_store(store_url)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(InputError, match="newer sitewatch"):
        open_store(store_url)


RECORD = """
import sys
from datetime import UTC, datetime
from tests.crashpoints import install_from_env
install_from_env()
from tests.store.test_repo import SITE, detected
from sitewatch.store import open_store
from sitewatch.store.repo import add_site, record_run
store = open_store(sys.argv[1])
with store.session() as s:
    from sitewatch.store.models import SiteRecord
    if s.get(SiteRecord, SITE.id) is None:
        try:
            add_site(s, SITE)
        except Exception:
            s.rollback()
    out = record_run(s, SITE.id, {"scenes": ["x"]}, {}, [detected(13.78 + 0.003 * i) for i in range(6)],
                     datetime.now(UTC))
    print("duplicate" if out.duplicate else f"new {len(out.new)}", flush=True)
"""


def _record(url: str, pause: str | None = None) -> subprocess.Popen:
    env = {**os.environ, **({"SITEWATCH_TEST_PAUSE": pause} if pause else {})}
    return subprocess.Popen(
        [sys.executable, "-c", RECORD, url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )


def test_killed_run_leaves_nothing_half_written(store_url):
    victim = _record(store_url, pause="1:60")
    for line in victim.stderr:  # until it sits in the open transaction with half the events added
        if line.startswith("test pause at stage 1"):
            break
    assert victim.poll() is None
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    store = open_store(store_url)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
        assert s.scalar(select(func.count()).select_from(Event)) == 0
    again = _record(store_url)
    assert again.communicate(timeout=120)[0].strip() == "new 6"


def test_two_processes_at_once(store_url):
    open_store(store_url)  # schema first, so both processes only write
    first, second = _record(store_url, pause="1:3"), _record(store_url)
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in (first, second))
    assert outputs == ["duplicate", "new 6"]
    with open_store(store_url).session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 6
        assert s.scalar(select(func.count()).select_from(Run)) == 1


def test_older_store_is_refused_then_upgraded_keeping_its_data(store_url):
    from alembic import command

    from sitewatch.store.db import _alembic_config, make_engine

    engine = make_engine(store_url)
    config = _alembic_config()
    with engine.begin() as connection:  # a store as the first release wrote it
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO sites (id, name, aliases, tags, notes, sources, geometry_wkt, alert_rules, created_at) "
            "VALUES ('old', 'Old site', '[]', '[]', '', '[]', 'POLYGON ((0 0, 1 0, 1 1, 0 0))', '{}', "
            "'2026-01-01 00:00:00')"
        )
    engine.dispose()
    with pytest.raises(InputError, match="older than this sitewatch"):
        open_store(store_url)
    store = open_store(store_url, upgrade=True)
    assert store.revision() == head_revision()
    with store.session() as s:
        from sitewatch.store.models import SiteRecord

        assert s.get(SiteRecord, "old").name == "Old site"


def test_phases_and_later_events_follow_the_earlier_ones_at_their_place(session):
    from dataclasses import replace

    main = replace(detected(13.79), id="E0001")
    later = replace(
        detected(13.79, kind="other"),
        id="E0002",
        phase="later",
        follows="E0001",
        before_date="2020-06-01",
        after_date="2020-07-01",
    )
    first = run(session, ["a"], [main, later])
    stored_main, stored_later = first.stored
    assert stored_later.follows_id == stored_main.id and stored_later.phase == "later"
    assert stored_main.follows_id is None and stored_main.phase is None
    # a later run's new event at the same place follows the latest event that ended before it began
    roof = replace(detected(13.7905, kind="earthworks"), id="E0001", before_date="2020-09-01", after_date="2020-10-01")
    elsewhere = replace(detected(13.81), id="E0002", before_date="2020-09-01", after_date="2020-10-01")
    second = run(session, ["b"], [roof, elsewhere])
    assert second.stored[0].follows_id == stored_later.id
    assert second.stored[1].follows_id is None
    # an event seen again keeps its links rather than gaining new ones
    again = run(session, ["c"], [replace(main, before_date="2020-09-01")])
    assert again.linked == [stored_main] and stored_main.follows_id is None
