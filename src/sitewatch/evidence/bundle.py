"""Writing a bundle: the files of a finding in the BagIt layout, signed with Ed25519.

    BUNDLE/
      bagit.txt, bag-info.txt                 BagIt 1.0 declaration and facts (site, events, software)
      manifest-sha256.txt                     SHA-256 of every file under data/
      tagmanifest-sha256.txt                  SHA-256 of the files above and of public-key.pem
      public-key.pem                          the signer's Ed25519 public key
      signature.json                          signature over tagmanifest-sha256.txt and the signing time
      data/events.geojson|kml|gpkg            the change polygons, area with its uncertainty
      data/site.geojson                       the site polygon
      data/chips/E0017/look-000.tif ...       the event in every look, as COGs
      data/score-run-N.tif                    the run's change magnitude and mask on its grid (COG)
      data/scenes/*.json                      a STAC Item per scene used, with the SHA-256 of what was read
      data/provenance.json                    runs, parameters, software, looks, and how to reproduce
      data/brief.pdf                          the brief (sitewatch.evidence.brief)

Everything but signature.json depends only on the finding: two bundles of the same finding
differ in their signing time and signature alone.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit
import pystac
import rasterio
import shapely
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from sitewatch import __version__
from sitewatch.base.errors import InputError
from sitewatch.evidence.collect import Finding
from sitewatch.evidence.keys import fingerprint, public_pem
from sitewatch.report.event_files import geojson_bytes, table_bytes
from sitewatch.report.looks import chip_window

PUBLIC_KEY = "public-key.pem"
SIGNATURE = "signature.json"
TAG_FILES = {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt", PUBLIC_KEY, SIGNATURE}


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _features(finding: Finding) -> list[dict[str, Any]]:
    features = []
    for e in finding.events:
        properties = {k: v for k, v in e.items() if k not in ("geometry", "reviews")}
        properties["area_text"] = f"{e['inside_m2']:,.0f} ± {e['area_uncertainty_m2']:,.0f} m²"
        features.append({"type": "Feature", "id": e["id"], "properties": properties, "geometry": e["geometry"]})
    return features


def _chip(look: Path, outline: shapely.Geometry, target: Path) -> None:
    """The part of a look around an event, as a COG (same pixels, no resampling)."""
    with rasterio.open(look) as src:
        bounds = transform_bounds("EPSG:4326", src.crs, *chip_window(outline))
        window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
        window = window.intersection(Window(0, 0, src.width, src.height))
        profile = {
            "driver": "COG",
            "width": int(window.width),
            "height": int(window.height),
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs,
            "transform": src.window_transform(window),
            "nodata": src.nodata,
            "compress": "deflate",
        }
        data = src.read(window=window)
    target.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data)


def scene_item(scene: dict[str, Any]) -> dict[str, Any]:
    """A STAC Item for one scene used: its source, time and the SHA-256 of what was read."""
    when = datetime.fromisoformat(scene["datetime"].replace("Z", "+00:00")) if scene.get("datetime") else None
    properties = {
        "sitewatch:source": scene["source"],
        "sitewatch:runs": scene["runs"],
        "file:checksum": f"1220{scene['checksum']}" if scene.get("checksum") else None,  # multihash sha2-256
        "platform": scene.get("sensor"),
        "eo:cloud_cover": scene.get("cloud_cover"),
    }
    item = pystac.Item(
        id=scene["id"],
        geometry=None,
        bbox=None,
        datetime=when,
        properties={k: v for k, v in properties.items() if v is not None},
    )
    href = scene["source"]
    item.add_asset("data", pystac.Asset(href=href, roles=["data"], title="the file or STAC item read"))
    return item.to_dict(include_self_link=False)


def reproduce_command(finding: Finding, run: dict[str, Any]) -> list[str]:
    """The `sitewatch monitor` command that redoes a run from its recorded inputs."""
    parameters = run["parameters"]
    command = ["sitewatch", "monitor", "data/site.geojson", "--from", parameters["start"], "--to", parameters["end"]]
    for source in parameters.get("sources") or []:
        command += ["--source", source]
    if parameters.get("max_cloud") is not None:
        command += ["--max-cloud", str(parameters["max_cloud"])]
    return [*command, "--out", "reproduced"]


def provenance(finding: Finding) -> dict[str, Any]:
    return {
        "software": {"name": "sitewatch", "version": __version__},
        "site": finding.site["id"],
        "events": [e["label"] for e in finding.events],
        "detector": "series break detection (chi-squared change statistic per pixel, dated between looks)",
        "area_uncertainty": "grid (pixel / sqrt(12) along the outline) + co-registration (half the residual "
        "shift along the outline); sitewatch.evidence.uncertainty",
        "runs": [
            {
                **run,
                "software_version_at_run": run["software_version"],
                "looks": finding.looks.get(run["id"], {}).get("looks", []),
                "reproduce": reproduce_command(finding, run),
            }
            for run in finding.runs
        ],
    }


def _payload(finding: Finding, folder: Path, brief: Any | None) -> None:
    features = _features(finding)
    (folder / "events.geojson").write_bytes(geojson_bytes(features, {"id": finding.site["id"]}))
    for fmt in ("kml", "gpkg"):
        (folder / f"events.{fmt}").write_bytes(table_bytes(features, fmt, extra=["area_uncertainty_m2"]))
    site = {"type": "Feature", "properties": {k: v for k, v in finding.site.items() if k != "geometry"}}
    (folder / "site.geojson").write_bytes(
        _json({"type": "FeatureCollection", "features": [{**site, "geometry": finding.site["geometry"]}]})
    )
    for event in finding.events:
        manifest = finding.looks.get(event["run_id"])
        for look in (manifest or {}).get("looks", []):
            _chip(
                Path(manifest["folder"]) / look["file"],
                shapely.geometry.shape(event["geometry"]),
                folder / "chips" / event["label"] / look["file"],
            )
    for run_id, manifest in sorted(finding.looks.items()):
        if manifest.get("score"):
            shutil.copyfile(Path(manifest["folder"]) / manifest["score"]["file"], folder / f"score-run-{run_id}.tif")
    (folder / "scenes").mkdir()
    for index, scene in enumerate(finding.scenes):
        (folder / "scenes" / f"scene-{index:03d}.json").write_bytes(_json(scene_item(scene)))
    (folder / "provenance.json").write_bytes(_json(provenance(finding)))
    if brief is not None:
        brief(finding, folder)  # after the chips: the brief's pictures are drawn from them


def write_bundle(finding: Finding, out: Path, key: Ed25519PrivateKey, *, brief: Any | None = None) -> Path:
    """Write the bundle into `out` (which must not exist), signed with `key`."""
    if out.exists():
        raise InputError(f"{out}: exists already; give a new folder for the bundle")
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent if out.parent.exists() else None))
    try:
        _payload(finding, staging, brief)
        runs = finding.runs
        dated = max((r["finished_at"] or "") for r in runs)[:10] if runs else "2000-01-01"
        info = {
            "Bagging-Date": dated,  # the finding's date, not today's: the same finding, the same bytes
            "Source-Organization": "sitewatch",
            "External-Description": f"Change evidence for site {finding.site['id']}: "
            + ", ".join(e["label"] for e in finding.events),
            "External-Identifier": finding.site["id"],
            "Bag-Software-Agent": f"sitewatch {__version__} (bagit {bagit.VERSION})",
        }
        bag = bagit.make_bag(str(staging), info, checksums=["sha256"])
        (staging / PUBLIC_KEY).write_bytes(public_pem(key.public_key()))
        bag.save(manifests=False)  # the tag manifest now covers the public key too
        sign(staging, key)
        shutil.move(str(staging), out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def signed_message(bundle: Path, signed_at: str) -> bytes:
    return (bundle / "tagmanifest-sha256.txt").read_bytes() + b"\nsigned-at: " + signed_at.encode()


def sign(bundle: Path, key: Ed25519PrivateKey) -> None:
    signed_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    signature = key.sign(signed_message(bundle, signed_at))
    record = {
        "algorithm": "Ed25519",
        "signed": "tagmanifest-sha256.txt",
        "signed_at": signed_at,
        "public_key_sha256": fingerprint(key.public_key()),
        "signature": base64.b64encode(signature).decode(),
    }
    (bundle / SIGNATURE).write_bytes(_json(record))
