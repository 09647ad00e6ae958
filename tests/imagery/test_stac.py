"""STAC search and load against a real stac-fastapi-pgstac server on 127.0.0.1.

The catalogue holds items whose assets are COGs made from the real OSCD Paris rasters,
served over HTTP with range requests. The two real acquisitions (2016-11-30, 2017-11-07)
appear as several items each, with different cloud-cover values, so that paging and
filtering have something to do; one item points at a file that does not exist, two
sit behind a token (signed URLs), and one carries a Sentinel-2 SCL band with a cloud.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.warp import transform_bounds

from sitewatch.base.bands import SENTINEL2
from sitewatch.base.errors import InputError
from sitewatch.base.vocab import CloudMask
from sitewatch.imagery import load_pair
from sitewatch.imagery.stac import Collection, StacSource, load_items, search_items
from sitewatch.sites import read_sites
from tests.servers.harness import free_port, start_stack

TOKEN = "s3cret"
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
CLOUDS = (0.0, 12.0, 35.0, 60.0, 85.0, 5.0)
DATES = {"imgs_1": datetime(2016, 11, 30, 10, 43), "imgs_2": datetime(2017, 11, 7, 10, 52)}


def _make_cogs(city_dir: Path, out: Path) -> dict[str, dict[str, str]]:
    """COG per band per date: {'imgs_1': {'B02': 'paris/imgs_1/B02.tif', ...}, ...}."""
    names: dict[str, dict[str, str]] = {}
    for date in DATES:
        names[date] = {}
        for band in BANDS:
            source = next((city_dir / date).glob(f"*_{band}.tif"))
            target = out / "paris" / date / f"{band}.tif"
            target.parent.mkdir(parents=True, exist_ok=True)
            rasterio.shutil.copy(source, target, driver="COG", compress="deflate", blocksize=128)
            names[date][band] = f"paris/{date}/{band}.tif"
    # the first date as processing baseline 04.00 writes it: every digital number 1000 higher
    names["baseline-04"] = {}
    for band in BANDS:
        with rasterio.open(out / names["imgs_1"][band]) as src:
            profile = {**src.profile, "driver": "GTiff"}
            shifted = src.read(1).astype("uint16") + np.uint16(1000)
        plain = out / "paris" / f"plus1000-{band}.tif"
        with rasterio.open(plain, "w", **profile) as dst:
            dst.write(shifted, 1)
        names["baseline-04"][band] = f"paris/baseline-04/{band}.tif"
        (out / "paris" / "baseline-04").mkdir(exist_ok=True)
        rasterio.shutil.copy(plain, out / names["baseline-04"][band], driver="COG", compress="deflate", blocksize=128)
    # a scene classification band for the first date: vegetation (4) with a cloud (9) in the
    # north-west quarter, as Sentinel-2 L2A items carry it
    with rasterio.open(out / names["imgs_1"]["B02"]) as src:
        profile = {**src.profile, "dtype": "uint8", "nodata": None, "driver": "GTiff"}
        scl = np.full((src.height, src.width), 4, dtype="uint8")
        scl[: src.height // 2, : src.width // 2] = 9
    plain = out / "paris" / "scl-plain.tif"
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(scl, 1)
    rasterio.shutil.copy(plain, out / "paris" / "imgs_1" / "SCL.tif", driver="COG", blocksize=128)
    names["scl"] = {"SCL": "paris/imgs_1/SCL.tif"}
    return names


def _item(item_id, collection, when, cloud, hrefs, bounds) -> dict:
    west, south, east, north = bounds
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
        "id": item_id,
        "collection": collection,
        "bbox": [west, south, east, north],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
        },
        "properties": {"datetime": when.isoformat() + "Z", "eo:cloud_cover": cloud, "platform": "sentinel-2a"},
        "links": [],
        "assets": {
            band: {
                "href": href,
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "eo:bands": [{"name": band, "common_name": SENTINEL2[band]}],
            }
            for band, href in hrefs.items()
        },
    }


def _baseline_items(asset_url: str, names: dict, bounds) -> list[dict]:
    """The first date before and after Sentinel-2's change of processing baseline, as Earth Search
    declares them: `s2:processing_baseline` and `raster:bands` scale / offset per asset; and one item
    whose declared scale is unusable."""
    raster = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
    out = []
    for item_id, when, folder, baseline, offset in (
        ("baseline-03", datetime(2021, 12, 20, 10, 43), "imgs_1", "03.01", 0.0),
        ("baseline-04", datetime(2022, 2, 3, 10, 43), "baseline-04", "04.00", -0.1),
        ("baseline-broken", datetime(2022, 2, 8, 10, 43), "baseline-04", "04.00", None),
    ):
        item = _item(
            item_id, "oscd-baselines", when, 0.0, {b: f"{asset_url}/open/{n}" for b, n in names[folder].items()}, bounds
        )
        item["stac_extensions"].append(raster)
        item["properties"]["s2:processing_baseline"] = baseline
        for asset in item["assets"].values():
            declared = {"scale": 0.0, "offset": 0.0} if offset is None else {"scale": 0.0001, "offset": offset}
            asset["raster:bands"] = [{"nodata": 0, "data_type": "uint16", **declared}]
        out.append(item)
    return out


def _collection(cid: str) -> dict:
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": cid,
        "description": "OSCD Paris rasters as COGs (test catalogue)",
        "license": "CC-BY-NC-SA-4.0",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        "links": [],
    }


@pytest.fixture(scope="module")
def stack(oscd_city, tmp_path_factory):
    city = oscd_city("paris")
    root = tmp_path_factory.mktemp("cogs")
    names = _make_cogs(city, root)
    with rasterio.open(root / names["imgs_1"]["B02"]) as src:
        bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)

    def looks(asset_url: str, collection: str, prefix: str, query: str = "") -> list[dict]:
        items = []
        for date, when in DATES.items():
            step = -1 if date == "imgs_1" else 1
            for k, cloud in enumerate(CLOUDS):
                hrefs = {b: f"{asset_url}/open/{n}{query}" for b, n in names[date].items()}
                day = when + step * timedelta(days=5 * k)
                items.append(_item(f"{prefix}-{date}-{k}", collection, day, cloud, hrefs, bounds))
        broken = {b: f"{asset_url}/open/paris/missing/{b}.tif" for b in BANDS}
        items.append(_item(f"{prefix}-missing", collection, DATES["imgs_2"] + timedelta(days=1), 1.0, broken, bounds))
        return items

    def build(asset_url: str):
        items = looks(asset_url, "oscd", "paris")
        # the same looks under URLs no other test reads: GDAL's in-process HTTP cache cannot
        # answer for them, so the asset server's request count shows what the monitor read
        items += looks(asset_url, "oscd-monitor", "monitor", "?for=monitor")
        for date, when in DATES.items():
            hrefs = {b: f"{asset_url}/signed/{n}" for b, n in names[date].items()}
            items.append(_item(f"paris-signed-{date}", "oscd-signed", when, 0.0, hrefs, bounds))
        masked = _item("paris-scl", "oscd-scl", DATES["imgs_1"], 30.0, {}, bounds)
        masked["assets"] = {
            **_item(
                "x", "x", DATES["imgs_1"], 0, {b: f"{asset_url}/open/{n}" for b, n in names["imgs_1"].items()}, bounds
            )["assets"],
            "scl": {"href": f"{asset_url}/open/{names['scl']['SCL']}", "type": "image/tiff", "roles": ["data"]},
        }
        items.append(masked)
        items += _baseline_items(asset_url, names, bounds)
        collections = [_collection(c) for c in ("oscd", "oscd-signed", "oscd-monitor", "oscd-scl", "oscd-baselines")]
        return collections, items

    running = start_stack(build, root, TOKEN)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def site(oscd_city):
    return read_sites(oscd_city("paris") / "paris.geojson").get(None)


@pytest.fixture(scope="module")
def local_pair(oscd_city, site):
    """The same imagery read from the local files onto the site grid: the reference for loads."""
    city = oscd_city("paris")
    return load_pair(city / "imgs_1", city / "imgs_2", site=site)


def _source(stack, collection="oscd") -> StacSource:
    return StacSource("test", stack.api.url, (Collection(collection, "sentinel-2", {}),))


@pytest.fixture(autouse=True)
def _no_faults(stack):
    stack.api.faults()
    stack.assets.faults()
    yield
    stack.api.faults()
    stack.assets.faults()


def test_search_pages_through_every_item(stack, site):
    items = search_items(_source(stack), site, "2016-01-01", "2018-12-31", page_size=5)
    assert len(items) == 13  # 12 looks + the broken one, over three pages
    assert [i.datetime for i in items] == sorted(i.datetime for i in items)


def test_filters_dates_cloud_and_count(stack, site):
    first_year = search_items(_source(stack), site, "2016-01-01", "2016-12-31")
    assert {i.id.split("-")[1] for i in first_year} == {"imgs_1"}
    clear = search_items(_source(stack), site, "2016-01-01", "2018-12-31", max_cloud=20)
    assert all(i.properties["eo:cloud_cover"] <= 20 for i in clear) and len(clear) == 7
    capped = search_items(_source(stack), site, "2016-01-01", "2018-12-31", max_scenes=3)
    assert sorted(i.properties["eo:cloud_cover"] for i in capped) == [0.0, 0.0, 1.0]


def test_load_matches_the_local_files(stack, site, local_pair):
    items = search_items(_source(stack), site, "2016-11-29", "2016-12-01")
    cube = load_items(items, _source(stack), local_pair.geobox, local_pair.site_mask)
    assert cube.bands == [SENTINEL2[b] for b in BANDS]
    assert cube.scenes[0].datetime.startswith("2016-11-30")
    local = local_pair.before.sel(band="red").values
    remote = cube.data.isel(time=0).sel(band="red").values
    assert remote.shape == local.shape
    both = np.isfinite(local) & np.isfinite(remote)
    assert both.mean() > 0.5
    assert np.corrcoef(local[both], remote[both])[0, 1] > 0.99


def test_missing_asset_drops_that_scene_only(stack, site, local_pair):
    items = search_items(_source(stack), site, "2017-11-07", "2017-11-09")
    assert {i.id for i in items} == {"paris-imgs_2-0", "paris-missing"}
    cube = load_items(items, _source(stack), local_pair.geobox, local_pair.site_mask)
    assert [s.id for s in cube.scenes] == ["paris-imgs_2-0"]
    assert cube.dropped[0].id == "paris-missing" and "could not be read" in cube.dropped[0].notes[-1]


def test_signing_hook(stack, site, local_pair):
    source = _source(stack, "oscd-signed")
    items = search_items(source, site, "2016-01-01", "2018-12-31")
    geobox, site_mask = local_pair.geobox, local_pair.site_mask
    with pytest.raises(InputError, match="none of the 2 scenes"):
        load_items(items, source, geobox, site_mask)
    cube = load_items(items, source, geobox, site_mask, signer=lambda url: f"{url}?token={TOKEN}")
    assert len(cube) == 2


def test_server_errors_are_retried(stack, site):
    stack.api.faults(fail=2, status=503)
    items = search_items(_source(stack), site, "2016-01-01", "2016-12-31", retries=3)
    assert len(items) == 6


def test_server_that_keeps_failing_is_a_clear_error(stack, site):
    stack.api.faults(fail=50, status=500)
    with pytest.raises(InputError, match="answered with an error"):
        search_items(_source(stack), site, "2016-01-01", "2016-12-31", retries=1)


def test_slow_server_times_out(stack, site):
    stack.api.faults(delay=3)
    with pytest.raises(InputError, match="did not answer within 1 s"):
        search_items(_source(stack), site, "2016-01-01", "2016-12-31", timeout=1, retries=0)


def test_server_down(site):
    source = StacSource("down", f"http://127.0.0.1:{free_port()}", (Collection("oscd", "sentinel-2", {}),))
    with pytest.raises(InputError, match="cannot be reached"):
        search_items(source, site, "2016-01-01", "2016-12-31", retries=0)


def test_local_series_merges_with_stac_scenes(stack, site, local_pair, oscd_city, tmp_path):
    """An analyst's own files (here the OSCD folders, dated by dates.txt) join the STAC scenes."""
    from sitewatch.imagery.cube import merge_cubes
    from sitewatch.imagery.local_series import load_series, open_series

    city = oscd_city("paris")
    for name in ("imgs_1", "imgs_2"):
        (tmp_path / name).symlink_to(city / name)
    (tmp_path / "dates.txt").write_text((city / "dates.txt").read_text())
    local = load_series(open_series(tmp_path), local_pair.geobox, local_pair.site_mask)
    assert [s.datetime[:10] for s in local.scenes] == ["2016-11-30", "2017-11-07"]
    items = search_items(_source(stack), site, "2017-11-01", "2017-11-30", max_cloud=20)
    remote = load_items(items, _source(stack), local_pair.geobox, local_pair.site_mask)
    merged = merge_cubes([local, remote])
    assert len(merged) == len(local) + len(remote)
    assert merged.bands == [b for b in local.bands if b in remote.bands] == remote.bands
    assert list(merged.times) == sorted(merged.times)
    assert {s.source for s in merged.scenes} == {"local", f"stac:{stack.api.url}"}


def test_monitor_from_stac_then_from_the_cache(stack, site, tmp_path):
    """The whole monitor job on the STAC server; the re-run reads no pixel from it."""
    from sitewatch.jobs.series import MonitorConfig, run_monitor

    config = MonitorConfig(
        start="2016-10-01", end="2017-12-31", sources=[stack.api.url], collection="oscd-monitor", max_cloud=50
    )
    first = run_monitor(site, config, cache_dir=tmp_path)
    assert stack.assets.faults()["seen"] > 0  # pixels were read (and the counter reset)
    assert not first.cache["hit"] and len(first.cube) == 8
    assert [s.id for s in first.cube.dropped] == ["monitor-missing"]
    assert first.events and all(e.before_date <= "2016-11-30T23" < "2017-11-07" <= e.after_date for e in first.events)
    second = run_monitor(site, config, cache_dir=tmp_path)
    assert second.cache["hit"]
    assert stack.assets.faults()["seen"] == 0  # nothing downloaded
    assert [e.properties() for e in second.events] == [e.properties() for e in first.events]


def test_asset_server_hiccups_are_retried(stack, site, local_pair):
    items = search_items(_source(stack), site, "2016-11-29", "2016-12-01")
    stack.assets.faults(fail=2, status=503)
    cube = load_items(items, _source(stack), local_pair.geobox, local_pair.site_mask)
    assert len(cube) == 1 and not cube.dropped


def test_the_cloud_mask_option_decides_which_mask_is_applied(stack, site, local_pair):
    """provider: the item's SCL band masks its cloud; none: every pixel with data is kept."""
    source = _source(stack, "oscd-scl")
    items = search_items(source, site, "2016-11-29", "2016-12-01")
    assert [i.id for i in items] == ["paris-scl"]
    masked = load_items(items, source, local_pair.geobox, local_pair.site_mask)  # provider is the default
    kept = load_items(items, source, local_pair.geobox, local_pair.site_mask, cloud_mask=CloudMask.none)
    red_masked, red_kept = (c.data.isel(time=0).sel(band="red").values for c in (masked, kept))
    h, w = red_kept.shape
    north_west = (slice(h // 8, h // 3), slice(w // 8, w // 3))  # inside the cloud, away from its edge
    south_east = (slice(2 * h // 3, 7 * h // 8), slice(2 * w // 3, 7 * w // 8))
    assert np.isnan(red_masked[north_west]).all() and np.isfinite(red_kept[north_west]).mean() > 0.9
    np.testing.assert_array_equal(red_masked[south_east], red_kept[south_east])


def test_processing_baselines_are_harmonised_by_the_declared_offset(stack, site, local_pair):
    source = _source(stack, "oscd-baselines")
    items = search_items(source, site, "2021-12-01", "2022-03-01")
    assert [i.id for i in items] == ["baseline-03", "baseline-04", "baseline-broken"]
    cube = load_items(items, source, local_pair.geobox, local_pair.site_mask)
    old, new = cube.data.values  # the same pixels, stored 1000 apart
    assert np.isfinite(old).mean() > 0.5
    np.testing.assert_allclose(new, old, atol=1e-3, equal_nan=True)
    assert cube.scenes[0].radiometry is None  # scale 1e-4, offset 0: already in reflectance x 10,000
    assert cube.scenes[1].radiometry == {b: [1.0, -1000.0] for b in cube.bands}
    assert "processing baseline 04.00" in cube.scenes[1].notes
    assert [s.id for s in cube.dropped] == ["baseline-broken"]
    assert "unusable scale" in cube.dropped[0].notes[-1]
