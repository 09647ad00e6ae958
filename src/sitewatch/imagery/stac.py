"""Imagery from STAC APIs: search a site's scenes and load them lazily on its grid.

pystac-client does the searching (with paging, retries with back-off and timeouts) and
odc-stac the loading (dask, straight onto the site's UTM grid, reading only the windows
needed from COGs). Presets cover Earth Search and the Planetary Computer (whose asset URLs
must be signed); any other STAC API URL works when its assets carry eo common names.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pystac
import requests
from odc.geo.geobox import GeoBox
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3.util.retry import Retry

from sitewatch.base.errors import InputError, NoScenes
from sitewatch.base.vocab import CloudMask
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array
from sitewatch.imagery.masks import MASK_ASSETS, valid_from_mask_band
from sitewatch.imagery.stac_scaling import declared_scaling, harmonise
from sitewatch.sites import Site

#: A function that rewrites an asset URL before it is read (signing, tokens, mirrors).
UrlSigner = Callable[[str], str]


@dataclass(frozen=True)
class Collection:
    """How one STAC collection maps to sitewatch: band (eo common name) -> asset key."""

    id: str
    sensor: str
    bands: dict[str, str]
    mask_asset: str | None = None


@dataclass(frozen=True)
class StacSource:
    """A STAC API and the collections sitewatch reads from it."""

    name: str
    url: str
    collections: tuple[Collection, ...]
    signer: str | None = None  # "planetary-computer": sign asset URLs with a SAS token
    headers: dict[str, str] = field(default_factory=dict)


_S2_EARTH_SEARCH = {
    "coastal": "coastal",
    "blue": "blue",
    "green": "green",
    "red": "red",
    "rededge071": "rededge1",
    "rededge075": "rededge2",
    "rededge078": "rededge3",
    "nir": "nir",
    "nir08": "nir08",
    "nir09": "nir09",
    "swir16": "swir16",
    "swir22": "swir22",
}
_S2_PLANETARY = {
    "coastal": "B01",
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "rededge071": "B05",
    "rededge075": "B06",
    "rededge078": "B07",
    "nir": "B08",
    "nir08": "B8A",
    "nir09": "B09",
    "swir16": "B11",
    "swir22": "B12",
}
_LANDSAT = {"blue": "blue", "green": "green", "red": "red", "nir": "nir08", "swir16": "swir16", "swir22": "swir22"}

PRESETS: dict[str, StacSource] = {
    "earth-search": StacSource(
        "earth-search",
        "https://earth-search.aws.element84.com/v1",
        (
            Collection("sentinel-2-l2a", "sentinel-2", _S2_EARTH_SEARCH, "scl"),
            Collection("landsat-c2-l2", "landsat", _LANDSAT, "qa_pixel"),
            Collection("sentinel-1-grd", "sentinel-1", {"vv": "vv", "vh": "vh"}),
        ),
    ),
    "planetary-computer": StacSource(
        "planetary-computer",
        "https://planetarycomputer.microsoft.com/api/stac/v1",
        (
            Collection("sentinel-2-l2a", "sentinel-2", _S2_PLANETARY, "SCL"),
            Collection("landsat-c2-l2", "landsat", _LANDSAT, "qa_pixel"),
            Collection("sentinel-1-rtc", "sentinel-1", {"vv": "vv", "vh": "vh"}),
        ),
        signer="planetary-computer",
    ),
}


def resolve_source(spec: str, collection: str | None = None) -> StacSource:
    """A preset name or a STAC API URL (with `collection`, default sentinel-2-l2a)."""
    if spec in PRESETS:
        source = PRESETS[spec]
        if collection is None:
            return StacSource(source.name, source.url, source.collections[:1], source.signer, source.headers)
        chosen = tuple(c for c in source.collections if c.id == collection)
        if not chosen:
            known = ", ".join(c.id for c in source.collections)
            raise InputError(f"--collection '{collection}' is not a {spec} preset (known: {known})")
        return StacSource(source.name, source.url, chosen, source.signer, source.headers)
    if spec.startswith(("http://", "https://")):
        return StacSource(spec, spec.rstrip("/"), (Collection(collection or "sentinel-2-l2a", "unknown", {}),))
    raise InputError(f"--source '{spec}' is not a preset ({', '.join(PRESETS)}), a URL or a folder")


def planetary_computer_signer() -> UrlSigner:
    """Sign Planetary Computer asset URLs with a short-lived SAS token (planetary-computer package)."""
    try:
        import planetary_computer
    except ImportError as exc:
        raise InputError("the Planetary Computer needs its signing package: pip install planetary-computer") from exc
    return planetary_computer.sign_url


def _retry(retries: int) -> Retry:
    return Retry(
        total=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
    )


def open_client(source: StacSource, *, timeout: float = 30.0, retries: int = 3) -> Client:
    """Connect to the API; one clear error when it cannot be reached or is not STAC."""
    stac_io = StacApiIO(headers=dict(source.headers), timeout=timeout, max_retries=_retry(retries))
    try:
        # Client.open re-applies its own headers/timeout to stac_io (None would clear ours)
        return Client.open(source.url, stac_io=stac_io, headers=dict(source.headers), timeout=timeout)
    except (requests.exceptions.RequestException, APIError, pystac.STACError, ValueError) as exc:
        raise _api_error(exc, source, timeout, "answered with an error", "check the URL") from exc


def _api_error(exc: Exception, source: StacSource, timeout: float, what: str, advice: str) -> InputError:
    """One line for a failed request: slow, unreachable, or an error answer.

    pystac-client wraps every transport failure in APIError, so the kind is read from the text.
    """
    text = str(exc)
    if isinstance(exc, requests.exceptions.Timeout) or "ReadTimeout" in text or "timed out" in text:
        return InputError(f"STAC API {source.url} did not answer within {timeout:g} s; try later or raise --timeout")
    if isinstance(exc, requests.exceptions.ConnectionError) or any(
        marker in text for marker in ("NewConnectionError", "Connection refused", "Name or service not known")
    ):
        return InputError(f"STAC API {source.url} cannot be reached ({_reason(exc)}); check the URL and the network")
    return InputError(f"STAC API {source.url} {what} ({_short(exc)}); {advice}")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "NewConnectionError",
        "Max retries exceeded",
        "timed out",
        "No route to host",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _short(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def search_items(
    source: StacSource,
    site: Site,
    start: date | str,
    end: date | str,
    *,
    max_cloud: float | None = None,
    max_scenes: int | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    page_size: int = 100,
) -> list[pystac.Item]:
    """Items over the site in [start, end], least cloudy first when capped, then by date."""
    client = open_client(source, timeout=timeout, retries=retries)
    query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud is not None else None
    try:
        search = client.search(
            collections=[c.id for c in source.collections],
            intersects=site.geometry.__geo_interface__,
            datetime=f"{start}/{end}",
            query=query,
            limit=page_size,
        )
        items = list(search.items())
    except (requests.exceptions.RequestException, APIError) as exc:
        raise _api_error(exc, source, timeout, "failed during the search", "try later") from exc
    if max_cloud is not None:  # also filter here: not every API implements the query extension
        items = [i for i in items if i.properties.get("eo:cloud_cover", 0.0) <= max_cloud]
    if not items:
        cloud = f" with cloud cover <= {max_cloud:g}%" if max_cloud is not None else ""
        raise NoScenes(
            f"no scenes of {', '.join(c.id for c in source.collections)} at {source.url} over site "
            f"'{site.id}' between {start} and {end}{cloud}; widen the dates or the cloud limit"
        )
    if max_scenes is not None and len(items) > max_scenes:
        items = sorted(items, key=lambda i: (i.properties.get("eo:cloud_cover", 0.0), i.datetime))[:max_scenes]
    return sorted(items, key=lambda i: i.datetime)


def _collection_of(item: pystac.Item, source: StacSource) -> Collection:
    for collection in source.collections:
        if item.collection_id == collection.id:
            return collection
    return source.collections[0]


def _band_assets(item: pystac.Item, collection: Collection) -> dict[str, str]:
    """band -> asset key: from the preset, else from the assets' eo common names."""
    if collection.bands:
        return {band: key for band, key in collection.bands.items() if key in item.assets}
    found: dict[str, str] = {}
    for key, asset in item.assets.items():
        for band in asset.extra_fields.get("eo:bands", []) or asset.extra_fields.get("bands", []):
            common = band.get("common_name") or band.get("eo:common_name")
            if common and common not in found:
                found[common] = key
    return found


def _mask_asset(item: pystac.Item, collection: Collection) -> str | None:
    if collection.mask_asset and collection.mask_asset in item.assets:
        return collection.mask_asset
    return next((key for key in item.assets if key.lower() in MASK_ASSETS), None)


def load_items(
    items: list[pystac.Item],
    source: StacSource,
    geobox: GeoBox,
    site_mask: np.ndarray,
    *,
    bands: list[str] | None = None,
    signer: UrlSigner | None = None,
    on_scene: Callable[[int, int, str], None] | None = None,
    cloud_mask: CloudMask = CloudMask.provider,
) -> SceneCube:
    """Load items onto `geobox`; scenes that cannot be read are dropped with a note.

    With `cloud_mask` provider, each item's quality band (SCL, QA_PIXEL) is read too and
    its clouds, shadows and no-data masked; with any other choice it is not read.
    """
    import odc.stac

    # Pixel reads go through GDAL: retry transient HTTP errors with back-off there too.
    odc.stac.configure_rio(
        cloud_defaults=True, GDAL_HTTP_MAX_RETRY="4", GDAL_HTTP_RETRY_DELAY="0.5", GDAL_HTTP_TIMEOUT="60"
    )

    if signer is None and source.signer == "planetary-computer":
        signer = planetary_computer_signer()
    assets = [_band_assets(i, _collection_of(i, source)) for i in items]
    common = [b for b in (bands or assets[0]) if all(b in a for a in assets)]
    if not common:
        raise InputError(f"the scenes from {source.url} share no band sitewatch knows (eo common names)")
    arrays, scenes, dropped = [], [], []
    for index, item in enumerate(items):
        collection = _collection_of(item, source)
        keys = [assets[index][b] for b in common]
        mask_key = _mask_asset(item, collection) if cloud_mask == CloudMask.provider else None
        info = SceneInfo(
            id=item.id,
            datetime=str(np.datetime_as_string(np.datetime64(item.datetime.replace(tzinfo=None)), "s")) + "Z",
            source=f"stac:{source.url}",
            sensor=item.properties.get("platform") or collection.sensor,
            cloud_cover=item.properties.get("eo:cloud_cover"),
            hrefs={b: item.assets[k].href for b, k in zip(common, keys, strict=True)},
        )
        if on_scene is not None:
            on_scene(index + 1, len(items), item.id)
        try:  # what the assets declare is checked before their pixels are read
            scalings = [declared_scaling(item, k) for k in keys]
        except ValueError as exc:
            info.notes.append(f"dropped: {exc}")
            dropped.append(info)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = (
                    odc.stac.load(
                        [item],
                        bands=keys + ([mask_key] if mask_key else []),
                        geobox=geobox,
                        chunks={"x": 2048, "y": 2048},
                        resampling={"*": "bilinear", **({mask_key: "nearest"} if mask_key else {})},
                        patch_url=signer,
                        fail_on_error=True,
                        dtype="float32",
                    )
                    .isel(time=0)
                    .compute()
                )
        except Exception as exc:
            info.notes.append(f"dropped: could not be read ({_short(exc)})")
            dropped.append(info)
            continue
        stack = np.stack([loaded[k].values for k in keys]).astype("float32")
        nodata = [loaded[k].attrs.get("nodata") for k in keys]
        for band_index, value in enumerate(nodata):
            if value is not None and np.isfinite(value):
                stack[band_index][stack[band_index] == value] = np.nan
        info.radiometry = harmonise(stack, common, scalings) or None
        baseline = item.properties.get("s2:processing_baseline")
        if baseline:
            info.notes.append(f"processing baseline {baseline}")
        if mask_key:
            valid = valid_from_mask_band(loaded[mask_key].values, mask_key)
            stack[:, ~valid] = np.nan
        arrays.append(stack)
        scenes.append(info)
    if not scenes:
        raise InputError(
            f"none of the {len(items)} scenes from {source.url} could be read; first problem: "
            f"{dropped[0].notes[-1] if dropped else 'unknown'}"
        )
    times = [np.datetime64(s.datetime.rstrip("Z"), "ns") for s in scenes]
    cube = SceneCube(cube_array(np.stack(arrays), times, common, geobox), scenes, geobox, site_mask, dropped)
    return cube


def item_summary(item: pystac.Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "datetime": item.datetime.isoformat() if item.datetime else None,
        "collection": item.collection_id,
        "cloud_cover": item.properties.get("eo:cloud_cover"),
    }
