"""Events as IARPA SMART site models (GeoJSON), the exchange format of the SMART programme.

One file per event: a `site` feature (its polygon, start and end date, status, score)
followed by `observation` features for the last look before the change and the first
after it. MGRS tiles are computed here (grid zone + 100 km square, WGS84 "AA" lettering),
as no listed dependency provides them.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import mapping

from sitewatch import __version__
from sitewatch.base.geo import WGS84, transformer, utm_crs_for, utm_zone
from sitewatch.store.models import Event, SiteRecord

_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COLUMNS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROWS = "ABCDEFGHJKLMNPQRSTUV"


def mgrs_100km(lon: float, lat: float) -> str:
    """MGRS grid zone and 100 km square of a point, e.g. '33UUU' (latitudes -80..84)."""
    zone = utm_zone(lon, lat)
    band = _BANDS[min(int((lat + 80) // 8), len(_BANDS) - 1)]
    easting, northing = transformer(WGS84, utm_crs_for(lon, lat))(lon, lat)
    column = _COLUMNS[(zone - 1) % 3][int(easting // 100_000) - 1]
    row_letters = _ROWS if zone % 2 else _ROWS[5:] + _ROWS[:5]
    row = row_letters[math.floor(northing / 100_000) % 20]
    return f"{zone:02d}{band}{column}{row}"


STATUS = {"confirmed": "positive_confirmed", "dismissed": "negative", "needs-imagery": "positive_pending"}


def site_model(event: Event, site: SiteRecord, region_id: str) -> dict[str, Any]:
    geometry = shapely.from_wkt(event.geometry_wkt)
    centre = geometry.centroid
    start, end = (event.before_date or "")[:10] or None, (event.after_date or "")[:10] or None
    site_props = {
        "type": "site",
        "region_id": region_id,
        "site_id": f"{region_id}_{event.id:04d}",
        "version": __version__,
        "mgrs": mgrs_100km(centre.x, centre.y),
        "status": STATUS.get(event.status, "system_proposed"),
        "model_content": "proposed",
        "start_date": start,
        "end_date": end,
        "originator": "sitewatch",
        "score": round(min(1.0, event.score / 10.0), 3),
        "validated": "True" if event.status in ("confirmed", "dismissed") else "False",
        "cache": {"sitewatch_site": site.id, "kind": event.kind, "area_m2": round(event.area_m2, 1)},
    }
    features = [{"type": "Feature", "properties": site_props, "geometry": mapping(geometry)}]
    for date, phase in ((start, "No Activity"), (end, "Active Construction")):
        if date:
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "type": "observation",
                        "observation_date": date,
                        "source": None,
                        "sensor_name": None,
                        "current_phase": phase,
                        "is_occluded": "False",
                        "is_site_boundary": "True",
                        "score": site_props["score"],
                    },
                    "geometry": mapping(geometry),
                }
            )
    return {"type": "FeatureCollection", "features": features}
