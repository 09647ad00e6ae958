"""Redoing a bundle's runs from their recorded inputs and comparing the result with what it says.

An event is reproduced when the rerun finds an event of the same kind whose polygon
overlaps it with IoU >= 0.99 and whose area inside the site lies within the stated
uncertainty. Anything else is one line saying what differs and, where it can be told, why:
an input that is missing or changed, or another software version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely

from sitewatch import __version__
from sitewatch.base.errors import InputError, NoScenes
from sitewatch.base.keys import sha256_file
from sitewatch.jobs.series import MonitorConfig, run_monitor
from sitewatch.sites import read_sites
from sitewatch.store.matching import iou as iou_of

MIN_IOU = 0.99


@dataclass
class Reproduction:
    matched: list[str] = field(default_factory=list)  # one line per event reproduced
    problems: list[str] = field(default_factory=list)  # one line per difference, with why


def _input_problems(run: dict[str, Any]) -> list[str]:
    """Recorded local inputs that are gone or changed (STAC scenes are fetched again by the rerun)."""
    problems = []
    for scene in run.get("inputs", {}).get("scenes", []):
        source, checksum = scene.get("source", ""), scene.get("checksum")
        if not checksum:
            continue
        path = Path(source)
        if not path.is_file():
            problems.append(f"run {run['id']}: input {source} is missing; the run cannot be redone here")
        elif sha256_file(path) != checksum:
            problems.append(f"run {run['id']}: input {source} changed since the run (its SHA-256 differs)")
    return problems


def reproduce(bundle: Path) -> Reproduction:
    """Rerun every run of the bundle where its inputs are available; compare its events."""
    payload = bundle / "data"
    try:
        provenance = json.loads((payload / "provenance.json").read_text(encoding="utf-8"))
        claimed = json.loads((payload / "events.geojson").read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(
            f"{bundle}: no readable provenance.json and events.geojson; is it a sitewatch bundle?"
        ) from exc
    site = read_sites(payload / "site.geojson").get(None)
    outcome = Reproduction()
    for run in provenance["runs"]:
        ours = [f for f in claimed if f["properties"]["run_id"] == run["id"]]
        missing = _input_problems(run)
        if missing:
            outcome.problems += missing + [
                f"{f['properties']['label']}: not checked (run {run['id']}'s inputs)" for f in ours
            ]
            continue
        try:
            result = run_monitor(site, MonitorConfig.from_dict(run["parameters"]), cache_dir=None)
        except (InputError, NoScenes) as exc:
            outcome.problems.append(f"run {run['id']}: the rerun failed: {exc}")
            continue
        version_note = ""
        if run["software_version"] != __version__:
            version_note = f" (recorded with sitewatch {run['software_version']}, rerun with {__version__})"
        for feature in ours:
            props = feature["properties"]
            shape = shapely.geometry.shape(feature["geometry"])
            same_kind = [e for e in result.events if e.kind == props["kind"]]
            best = max(same_kind, key=lambda e: iou_of(e.geometry, shape), default=None)
            iou = iou_of(best.geometry, shape) if best is not None else 0.0
            label, stated = props["label"], props["inside_m2"]
            if best is None or iou < MIN_IOU:
                outcome.problems.append(f"{label}: not found again (best IoU {iou:.3f} < {MIN_IOU}){version_note}")
            elif abs(best.inside_m2 - stated) > props["area_uncertainty_m2"]:
                outcome.problems.append(
                    f"{label}: area {best.inside_m2:,.0f} m² now, {stated:,.0f} ± {props['area_uncertainty_m2']:,.0f} "
                    f"m² stated{version_note}"
                )
            else:
                outcome.matched.append(
                    f"{label}: reproduced (IoU {iou:.3f}; {best.inside_m2:,.0f} m² against {stated:,.0f} "
                    f"± {props['area_uncertainty_m2']:,.0f} m²)"
                )
    return outcome
