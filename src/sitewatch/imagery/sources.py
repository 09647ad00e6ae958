"""Where a series' looks come from: STAC presets and APIs, or folders of the analyst's files.

Planning is cheap (metadata only) and always done, so the cache can tell from the plan
whether anything new appeared; loading reads the pixels of every planned scene onto the
site's grid, applying the cloud mask the option names, and merges the sources in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.base.errors import NoScenes
from sitewatch.base.keys import file_fingerprint
from sitewatch.base.vocab import CloudMask
from sitewatch.imagery.align import site_masks
from sitewatch.imagery.cube import SceneCube, merge_cubes
from sitewatch.imagery.grid import check_grid_memory, site_geobox
from sitewatch.imagery.local_series import load_series, open_series
from sitewatch.imagery.masks import mask_clouds_s2cloudless
from sitewatch.imagery.stac import StacSource, load_items, resolve_source, search_items
from sitewatch.sites import Site

#: Called per scene read with (index from 1, count, scene name).
SceneCallback = Callable[[int, int, str], None]


@dataclass
class PlannedSource:
    """One source's scenes for the period, found but not read yet."""

    spec: str
    scenes: list[Any]  # ImageSource (local) or pystac.Item (STAC)
    stac: StacSource | None = None  # for STAC specs

    def fingerprint(self) -> list[dict[str, Any]]:
        """What identifies these scenes without reading their pixels (for the cache key)."""
        if self.stac is None:
            return [file_fingerprint(b.path) for s in self.scenes for b in s.bands]
        return [
            {
                "id": item.id,
                "updated": item.properties.get("updated"),
                "assets": sorted(a.href for a in item.assets.values()),
            }
            for item in self.scenes
        ]


def _in_period(datetime_iso: str, start: str, end: str) -> bool:
    return start <= datetime_iso[:10] <= end


def plan_sources(
    site: Site,
    sources: list[str],
    start: str,
    end: str,
    *,
    collection: str | None = None,
    max_cloud: float | None = None,
    max_scenes: int | None = None,
    band_names: list[str] | None = None,
) -> list[PlannedSource]:
    """Search every source for the period: a folder of local files, or a STAC preset or URL."""
    planned = []
    for spec in sources:
        path = Path(spec)
        if path.exists():
            scenes = [s for s in open_series(path, band_names) if _in_period(s.time.iso or "", start, end)]
            if not scenes:
                raise NoScenes(f"{path}: no scene dated between {start} and {end}")
            planned.append(PlannedSource(spec, scenes))
        else:
            source = resolve_source(spec, collection)
            items = search_items(source, site, start, end, max_cloud=max_cloud, max_scenes=max_scenes)
            planned.append(PlannedSource(spec, items, source))
    return planned


def load_planned(
    site: Site,
    planned: list[PlannedSource],
    *,
    resolution_m: float,
    margin_m: float,
    cloud_mask: CloudMask = CloudMask.provider,
    on_scene: SceneCallback | None = None,
    max_memory_bytes: int | None = None,
) -> SceneCube:
    """Every planned scene read onto the site grid, masked as `cloud_mask` says, merged in time order.

    Local files carry no quality band, so for them `provider` masks nothing.
    """
    geobox = site_geobox(site, resolution_m, margin_m)
    looks = sum(len(p.scenes) for p in planned)
    bands = max((len(s.bands) for p in planned if p.stac is None for s in p.scenes), default=0) or 13
    check_grid_memory(geobox, looks, bands, max_memory_bytes, site.id)
    inside, kept = site_masks(site, geobox, margin_m)
    cubes = []
    for plan in planned:
        if plan.stac is None:
            cubes.append(load_series(plan.scenes, geobox, inside, on_scene=on_scene))
        else:
            cubes.append(load_items(plan.scenes, plan.stac, geobox, inside, on_scene=on_scene, cloud_mask=cloud_mask))
    cube = merge_cubes(cubes)
    cube.data.values[:, :, ~kept] = np.nan  # outside site and margin: in place, not a second cube
    cube.site = site
    if cloud_mask == CloudMask.s2cloudless:
        cube = mask_clouds_s2cloudless(cube)
    return cube
