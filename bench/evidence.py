"""Evidence bundle: time and size for a site with 20 events and 12 looks each.

Run:  .venv/bin/python bench/evidence.py [--events 20] [--looks-per-date 6]

A real watchlist run over a dated series built from the OSCD Paris pair (`looks-per-date`
looks of each of the two real dates, so 12 looks), then `sitewatch evidence` of its largest
`--events` events, then `sitewatch verify`: the time of each, the bundle's size by part.
Targets on 2 cores: <= 20 s and <= 50 MB for the bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitewatch.bench.series import write_dated_series
from sitewatch.cli import run as sitewatch

PARIS = Path(__file__).resolve().parents[2] / "shared/data/oscd/Onera Satellite Change Detection dataset - Images/paris"


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--looks-per-date", type=int, default=6)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sitewatch-bench-evidence-"))
    os.environ["SITEWATCH_DB"] = f"sqlite:///{work / 'store.db'}"
    site_file, scenes = write_dated_series(PARIS, work, looks=args.looks_per_date)
    assert sitewatch(["watchlist", "add", str(site_file)]) == 0
    assert sitewatch(["watchlist", "rules", "oscd-paris", "--source", str(scenes)]) == 0
    assert sitewatch(["watchlist", "run", "oscd-paris", "--from", "2016-01-01", "--to", "2018-06-30"]) == 0
    assert sitewatch(["keys", "new", "--out", str(work / "keys")]) == 0

    from sitewatch.store import open_store
    from sitewatch.store.repo import list_events

    with open_store().session() as session:
        events = sorted(list_events(session, "oscd-paris"), key=lambda e: -e.inside_m2)[: args.events]
    ids = [str(e.id) for e in events]
    bundle = work / "bundle"
    started = time.perf_counter()
    key = str(work / "keys" / "sitewatch-signing.key")
    assert sitewatch(["evidence", *ids, "--out", str(bundle), "--key", key]) == 0
    made = time.perf_counter() - started
    started = time.perf_counter()
    assert sitewatch(["verify", str(bundle)]) == 0
    checked = time.perf_counter() - started
    looks = len(json.loads((bundle / "data/provenance.json").read_text())["runs"][0]["looks"])
    parts = {
        "chips (COGs)": size_mb(bundle / "data/chips"),
        "brief.pdf": (bundle / "data/brief.pdf").stat().st_size / 1e6,
        "everything else": 0.0,
    }
    total = size_mb(bundle)
    parts["everything else"] = total - parts["chips (COGs)"] - parts["brief.pdf"]
    print(f"\n{len(ids)} events x {looks} looks (OSCD Paris series, real run)")
    print(f"evidence: {made:.1f} s (target <= 20 s); verify: {checked:.1f} s")
    print(f"bundle: {total:.1f} MB (target <= 50 MB): " + ", ".join(f"{k} {v:.1f} MB" for k, v in parts.items()))
    print(f"command: .venv/bin/python bench/evidence.py --events {args.events} --looks-per-date {args.looks_per_date}")


if __name__ == "__main__":
    main()
