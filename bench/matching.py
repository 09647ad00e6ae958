"""Storing a run against a site with many stored events: spatial-index matching against a plain scan.

Run:  .venv/bin/python bench/matching.py [--stored 100000] [--detected 500]

One site in a throwaway SQLite store holds `--stored` events: small squares on a grid, of
two kinds. A run of `--detected` events is then stored with `record_run` (one transaction:
index the site's events, match each detected event by kind and IoU, add or link it, queue
alerts). Half the detected events lie on stored ones (they are linked), half on empty
ground (they are added). As the reference in the same run, the plain scan the index
replaced (an IoU with every stored event of the same kind) is timed on the first 20
detected events and scaled to all of them.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import shapely
from shapely.geometry import box
from sqlalchemy import insert, select

from sitewatch.events.extract import Event as DetectedEvent
from sitewatch.store import open_store
from sitewatch.store.matching import MATCH_IOU, iou
from sitewatch.store.models import Event, Run, SiteRecord
from sitewatch.store.repo import record_run

KINDS = ("built_up_gain", "earthworks")
CELL = 0.001  # degrees between stored squares
SIDE = 0.0006  # side of a stored square


def _square(i: int, columns: int) -> shapely.Geometry:
    x, y = i % columns * CELL, i // columns * CELL
    return box(x, y, x + SIDE, y + SIDE)


def fill(url: str, stored: int) -> int:
    """The site and its stored events; returns the grid's number of columns."""
    columns = math.ceil(math.sqrt(stored))
    store = open_store(url)
    with store.session() as s:
        s.add(SiteRecord(id="big", name="Big site", geometry_wkt=box(0, 0, columns * CELL, columns * CELL).wkt))
        s.flush()
        run = Run(site_id="big", input_key="seed", software_version="bench", started_at=datetime.now(UTC))
        s.add(run)
        s.commit()
        for first in range(0, stored, 5_000):
            rows = [
                {
                    "site_id": "big",
                    "first_run_id": run.id,
                    "last_run_id": run.id,
                    "geometry_wkt": _square(i, columns).wkt,
                    "area_m2": 3600.0,
                    "score": 4.0,
                    "kind": KINDS[i % 2],
                    "sightings": 1,
                    "created_at": datetime.now(UTC),
                }
                for i in range(first, min(first + 5_000, stored))
            ]
            s.execute(insert(Event), rows)
            s.commit()
    return columns


def detected_events(count: int, stored: int, columns: int) -> list[DetectedEvent]:
    """Half on stored squares (slightly moved: IoU about 0.8), half on empty ground between them."""
    out = []
    for n in range(count):
        i = (n * 7919) % stored  # spread over the whole site
        shape = _square(i, columns)
        if n % 2:
            shape = shapely.affinity.translate(shape, SIDE * 0.1, 0)
            kind = KINDS[i % 2]
        else:
            shape = shapely.affinity.translate(shape, CELL * 0.5 + SIDE * 0.4, CELL * 0.5 + SIDE * 0.4)
            shape = shapely.affinity.scale(shape, 0.3, 0.3)
            kind = KINDS[0]
        out.append(
            DetectedEvent(
                id="",
                geometry=shape,
                area_m2=shape.area * 1e10,
                pixel_count=10,
                mean_score=4.0,
                max_score=5.0,
                kind=kind,
                before_date="2024-01-01",
                after_date="2024-02-01",
                area_inside_m2=shape.area * 1e10,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--detected", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'store.db'}"
        columns = fill(url, args.stored)
        events = detected_events(args.detected, args.stored, columns)
        store = open_store(url)
        with store.session() as s:
            stored = [(e.kind, shapely.from_wkt(e.geometry_wkt)) for e in s.scalars(select(Event))]
            s.rollback()
            started = time.perf_counter()
            outcome = record_run(s, "big", {"run": "bench"}, {}, events, datetime.now(UTC))
            indexed = time.perf_counter() - started
        sample = events[:20]
        started = time.perf_counter()
        scan_links = 0
        for detected in sample:
            same = [iou(shape, detected.geometry) for kind, shape in stored if kind == detected.kind]
            scan_links += max(same, default=0.0) >= MATCH_IOU
        scan = (time.perf_counter() - started) / len(sample) * len(events)
        linked_ids = {e.id for e in outcome.linked}
        index_links = sum(1 for e in outcome.stored[: len(sample)] if e.id in linked_ids)
    print(f"one site with {args.stored:,} stored events; a run of {len(events)} detected events (SQLite)")
    print(f"  linked {len(outcome.linked)}, added {len(outcome.new)}")
    print(f"  record_run with the spatial index (whole transaction): {indexed:8.2f} s")
    print(f"  the plain scan's matching alone (20 events timed, scaled): {scan:8.2f} s  ({scan / indexed:,.0f}x)")
    print(f"  of those 20, linked by the index {index_links}, by the scan {int(scan_links)}")


if __name__ == "__main__":
    main()
