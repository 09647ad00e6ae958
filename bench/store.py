"""Store throughput: inserting and querying 100,000 events on SQLite and on PostgreSQL.

Run:  .venv/bin/python bench/store.py [--events 100000] [--postgres postgresql://...]

Without --postgres it starts a throwaway PostgreSQL on 127.0.0.1 (as the tests do; needs
the Debian packages that `make test` installs). Inserts go through the ORM's bulk INSERT of the
same classes the runs use, in batches of 1,000 per transaction (a run's own matching of each
new event against the site's stored ones is not in this figure); queries are the ones the CLI makes:
events of one site by review status, and the events overlapping a bounding box. As a
reference in the same run, the same rows are inserted with plain sqlite3 executemany.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from shapely.geometry import box
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.servers.harness

from sitewatch.store import open_store
from sitewatch.store.models import Event, Run, SiteRecord
from sitewatch.store.repo import list_events

BATCH = 1_000
SITES = 20


def fill(url: str, n: int) -> dict[str, float]:
    store = open_store(url)
    from datetime import UTC, datetime

    with store.session() as s:
        for i in range(SITES):
            s.add(SiteRecord(id=f"site-{i}", name=f"Site {i}", geometry_wkt=box(i, 0, i + 1, 1).wkt))
        s.flush()
        runs = []
        for i in range(SITES):
            run = Run(site_id=f"site-{i}", input_key=f"k{i}", software_version="bench", started_at=datetime.now(UTC))
            s.add(run)
            runs.append(run)
        s.commit()
        batches = [
            [
                {
                    "site_id": f"site-{j % SITES}",
                    "first_run_id": runs[j % SITES].id,
                    "last_run_id": runs[j % SITES].id,
                    "geometry_wkt": box(j % SITES + j // SITES % 1000 / 1000, 0.5, j % SITES + 0.001, 0.501).wkt,
                    "area_m2": 100.0 + j % 5000,
                    "score": 3.0 + j % 7,
                    "kind": "built_up_gain",
                    "before_date": "2020-01-01",
                    "after_date": "2020-02-01",
                    "confirmations": 3,
                    "sightings": 1,
                    "created_at": datetime.now(UTC),
                }
                for j in range(first, min(first + BATCH, n))
            ]
            for first in range(0, n, BATCH)
        ]  # rows made before the clock starts: only the database work is timed
        start = time.perf_counter()
        for rows in batches:
            s.execute(insert(Event), rows)  # the ORM's bulk INSERT, one transaction per batch
            s.commit()
        inserted = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(SITES):
            list_events(s, f"site-{i}", status="new")
        by_site = (time.perf_counter() - start) / SITES
        start = time.perf_counter()
        count = len(list(s.scalars(select(Event.id).where(Event.site_id == "site-3", Event.area_m2 > 2500))))
        filtered = time.perf_counter() - start
    store.engine.dispose()
    return {"insert_s": inserted, "per_site_query_s": by_site, "filter_query_s": filtered, "filtered_rows": count}


def sqlite3_reference(path: Path, n: int) -> float:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, site TEXT, wkt TEXT, area REAL, score REAL, kind TEXT)")
    rows = [(f"site-{j % SITES}", box(j, 0, j + 1, 1).wkt, 100.0, 3.0, "built_up_gain") for j in range(n)]
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        connection.executemany(
            "INSERT INTO e (site, wkt, area, score, kind) VALUES (?, ?, ?, ?, ?)", rows[first : first + BATCH]
        )
        connection.commit()
    return time.perf_counter() - start


def report(name: str, n: int, figures: dict[str, float]) -> None:
    print(
        f"{name:10s} insert {n / figures['insert_s']:10,.0f} events/s   "
        f"events of one site by status {figures['per_site_query_s'] * 1000:7.1f} ms   "
        f"one site, area > 2500 m² {figures['filter_query_s'] * 1000:6.1f} ms ({figures['filtered_rows']} rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", help="a postgresql:// URL of an empty database (default: start one)")
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        reference = sqlite3_reference(Path(tmp) / "ref.db", n)
        print(f"{'sqlite3':10s} insert {n / reference:10,.0f} rows/s (plain executemany, reference)")
        report("SQLite", n, fill(f"sqlite:///{tmp}/store.db", n))
    if args.postgres:
        report("PostgreSQL", n, fill(args.postgres, n))
        return
    from tests.servers.harness import PostgresServer

    server = PostgresServer.start()
    try:
        report("PostgreSQL", n, fill(server.dsn, n))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
