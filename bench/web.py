"""Workbench speed: server time of the pages and the review POST with 10,000 events over 200 sites,
and the time of a 256 x 256 tile from a run's looks (local COGs).

Run:  .venv/bin/python bench/web.py [--sites 200] [--events 10000] [--requests 100] [--db URL]

The store holds one site from a real watchlist run over the OSCD Paris series (its events and
looks; needs ../shared/data), and enough generated sites and events (with runs and about a
third reviewed) to reach the totals: page speed depends on the number of rows, not on what
they show. Requests go through Starlette's test client to the same ASGI app `sitewatch serve`
runs, in this process, so the figures are server time (routing, store queries, rendering)
without the network. Targets on 2 cores: p95 <= 150 ms per page and per review, <= 60 ms per tile.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import morecantile
import numpy as np
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitewatch.bench.series import write_dated_series
from sitewatch.cli import run as sitewatch
from sitewatch.store import open_store
from sitewatch.store.accounts import add_user
from sitewatch.store.models import Event, Review, Run, SiteRecord
from sitewatch.web import create_app
from sitewatch.web.settings import Settings

PARIS = Path(__file__).resolve().parents[2] / "shared/data/oscd/Onera Satellite Change Detection dataset - Images/paris"
PASSWORD = "benchmark password"
KINDS = ["built_up_gain", "earthworks", "vegetation_loss", "water", "other"]


def real_site(url: str, looks: Path, work: Path) -> str:
    site_file, scenes = write_dated_series(PARIS, work)
    env_args = ("--db", url)
    assert sitewatch(["watchlist", *env_args, "add", str(site_file)]) == 0
    site_id = "oscd-paris"
    assert sitewatch(["watchlist", *env_args, "rules", site_id, "--source", str(scenes)]) == 0
    os.environ["SITEWATCH_LOOKS"] = str(looks)  # where `watchlist run` keeps the looks
    assert sitewatch(["watchlist", *env_args, "run", site_id, "--from", "2016-10-01", "--to", "2017-12-31"]) == 0
    return site_id


def generated_sites(url: str, sites: int, events: int) -> list[str]:
    """Sites of about 1 km² in a grid over northern France, each with a run and its share of the events."""
    rng = random.Random(0)
    store = open_store(url)
    now = datetime.now(UTC)
    ids = []
    with store.session() as session:
        for i in range(sites):
            west, south = -1.0 + (i % 20) * 0.2, 47.0 + (i // 20) * 0.2
            site_id = f"site-{i:04d}"
            ids.append(site_id)
            session.add(
                SiteRecord(
                    id=site_id, name=f"Facility {i}", geometry_wkt=box(west, south, west + 0.014, south + 0.009).wkt
                )
            )
        session.flush()
        runs = {}
        for site_id in ids:
            run = Run(site_id=site_id, input_key=f"{site_id}-k", software_version="bench", started_at=now)
            session.add(run)
            runs[site_id] = run
        session.flush()
        rows = []
        for n in range(events):
            site_id = ids[n % sites]
            i = int(site_id.split("-")[1])
            west, south = -1.0 + (i % 20) * 0.2 + rng.random() * 0.012, 47.0 + (i // 20) * 0.2 + rng.random() * 0.008
            rows.append(
                {
                    "site_id": site_id,
                    "first_run_id": runs[site_id].id,
                    "last_run_id": runs[site_id].id,
                    "geometry_wkt": box(west, south, west + 0.001, south + 0.0007).wkt,
                    "area_m2": 5000.0,
                    "area_inside_m2": 5000.0,
                    "score": rng.random() * 10,
                    "kind": rng.choice(KINDS),
                    "before_date": f"2024-{1 + n % 12:02d}-01",
                    "after_date": f"2024-{1 + n % 12:02d}-20",
                    "confirmations": 3,
                    "sightings": 1,
                }
            )
        session.execute(insert(Event), rows)
        session.commit()
        event_ids = [e for (e,) in session.execute(Event.__table__.select().with_only_columns(Event.id))]
        reviews = [
            {"event_id": e, "status": rng.choice(["confirmed", "dismissed"]), "analyst": "bench", "note": ""}
            for e in rng.sample(event_ids, len(event_ids) // 3)
        ]
        session.execute(insert(Review), reviews)
        add_user(session, "bench", "analyst", PASSWORD, actor="bench")
    return ids


def timed(client: TestClient, method: str, paths: list[str], **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(server ms from the app's Server-Timing header, ms seen by the in-process client) per request."""
    server, seen = [], []
    for path in paths:
        start = time.perf_counter()
        answer = client.request(method, path, **kwargs)
        seen.append((time.perf_counter() - start) * 1000)
        assert answer.status_code < 300, (path, answer.status_code, answer.text[:200])
        server.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return np.array(server), np.array(seen)


def tile_paths(client: TestClient, site_id: str, n: int) -> list[str]:
    west, south, east, north = client.get(f"/api/sites?q={site_id}").json()["features"][0]["properties"]["bounds"]
    rng = random.Random(1)
    paths = []
    for _ in range(n):
        z = rng.choice([13, 14, 15, 16])
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        x, y, _ = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
        paths.append(f"/tiles/{site_id}/1/{rng.randrange(8)}/{z}/{x}/{y}.png")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--db", help="a store URL (default: a new SQLite file)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sitewatch-bench-web-"))
    url = args.db or f"sqlite:///{work / 'store.db'}"
    looks = work / "looks"
    started = time.perf_counter()
    paris = real_site(url, looks, work)
    with open_store(url).session() as session:
        real_events = session.query(Event).count()
    ids = generated_sites(url, args.sites - 1, args.events - real_events)
    filled = time.perf_counter() - started
    print(f"store: {url.split('://')[0]}, {args.sites} sites, {args.events:,} events, filled in {filled:.0f} s")

    client = TestClient(create_app(Settings(store_url=url, looks_dir=looks)))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', answer.text).group(1)
    rng = random.Random(2)
    n = args.requests
    with open_store(url).session() as session:
        event_ids = [e for (e,) in session.execute(Event.__table__.select().with_only_columns(Event.id))]
    client.get("/")  # warm: templates compiled, connections open
    figures = {
        "watchlist page (200 sites)": timed(client, "GET", ["/"] * n),
        "site page (50 events)": timed(client, "GET", [f"/sites/{rng.choice(ids)}" for _ in range(n)]),
        f"site page ({real_events} events, real run)": timed(client, "GET", [f"/sites/{paris}"] * (n // 4)),
        "event page": timed(client, "GET", [f"/events/{rng.choice(event_ids)}" for _ in range(n)]),
        "review POST": timed(
            client,
            "POST",
            [f"/api/events/{rng.choice(event_ids)}/reviews" for _ in range(n)],
            json={"status": "confirmed", "note": "bench"},
            headers={"X-CSRF-Token": csrf},
        ),
        "tile 256 x 256 (local COG)": timed(client, "GET", tile_paths(client, paris, 2 * n)),
    }
    print(f"\n{'request':<36} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'client p95':>11}")
    for name, (ms, seen) in figures.items():
        target = 60 if name.startswith("tile") else 150
        p50, p95 = np.percentile(ms, [50, 95])
        verdict = "" if p95 <= target else "  MISSED"
        line = (
            f"{name:<36} {len(ms):>5} {p50:>8.1f} {p95:>8.1f} {'<= ' + str(target):>8} {np.percentile(seen, 95):>11.1f}"
        )
        print(line + verdict)
    print("server time: the app's Server-Timing (routing, store, rendering); client: as seen in-process")
    print(f"\ncommand: .venv/bin/python bench/web.py --sites {args.sites} --events {args.events} --requests {n}")


if __name__ == "__main__":
    main()
