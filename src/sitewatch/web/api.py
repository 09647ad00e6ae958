"""The workbench's JSON API and imagery: what the pages' scripts fetch, and what other tools can use.

Every call needs a signed-in session (401 otherwise); a review needs the analyst role and
the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from typing import Annotated

import shapely
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sitewatch.base.vocab import Role
from sitewatch.store.overview import EventFilter, event_reviews, event_status, filtered_events, watchlist_summary
from sitewatch.web.auth import Viewer, check_csrf, current_viewer, require
from sitewatch.web.context import event_filter, event_or_404, site_or_404, store_session
from sitewatch.web.imagery import LooksNotKept, chip_png, look_path, run_manifest, tile_png
from sitewatch.web.pages import record_review
from sitewatch.web.views import event_feature, event_view, geometry, review_view, site_feature

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(current_viewer)]
Filter = Annotated[EventFilter, Depends(event_filter)]
IMAGE_CACHE = {"Cache-Control": "private, max-age=3600"}
#: Zoom levels served: beyond 22 a 10 m pixel is hundreds of screen pixels wide.
MAX_ZOOM = 22


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(max_length=40)
    reason: str = Field(default="", max_length=40)
    note: str = Field(default="", max_length=4000)


@router.get("/api/sites")
def api_sites(request: Request, viewer: SignedIn, wanted: Filter, q: str = "") -> JSONResponse:
    with store_session(request) as session:
        summaries = watchlist_summary(session, wanted, q[:200])
    features = [site_feature(s.record, events=s.events, new=s.new, inside_m2=s.inside_m2) for s in summaries]
    return JSONResponse({"type": "FeatureCollection", "features": features})


@router.get("/api/sites/{site_id}/events")
def api_site_events(request: Request, site_id: str, viewer: SignedIn, wanted: Filter) -> JSONResponse:
    with store_session(request) as session:
        site_or_404(session, site_id)
        scoped = EventFilter(**{**wanted.__dict__, "site_id": site_id})
        features = [event_feature(e, s) for e, s in filtered_events(session, scoped)]
    return JSONResponse({"type": "FeatureCollection", "features": features})


@router.get("/api/events/{event_id}")
def api_event(request: Request, event_id: str, viewer: SignedIn) -> JSONResponse:
    with store_session(request) as session:
        event = event_or_404(session, event_id)
        view = event_view(event, event_status(session, event.id))
        reviews = [review_view(r) for r in event_reviews(session, event.id)]
        view["geometry"] = geometry(event.geometry_wkt)
    return JSONResponse({**view, "reviews": reviews})


@router.post("/api/events/{event_id}/reviews", status_code=201)
def api_review(request: Request, event_id: str, body: ReviewIn, viewer: SignedIn) -> JSONResponse:
    check_csrf(request, viewer)
    require(viewer, Role.analyst)
    with store_session(request) as session:
        event = event_or_404(session, event_id)
        review = record_review(session, event.id, viewer, body.status, body.reason, body.note)
        return JSONResponse(review_view(review), status_code=201)


def _look_file(request: Request, site_id: str, run_id: int, look: int):
    try:
        manifest = run_manifest(request.app.state.settings.looks_dir, site_id, run_id)
        return look_path(manifest, look)
    except LooksNotKept as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/tiles/{site_id}/{run_id}/{look}/{z}/{x}/{y}.png")
async def tile(
    request: Request,
    site_id: str,
    run_id: Annotated[int, Path(ge=1, le=2**62)],
    look: Annotated[int, Path(ge=0, le=100_000)],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    viewer: SignedIn,
) -> Response:
    if x >= 2**z or y >= 2**z:
        raise HTTPException(404, f"no tile {z}/{x}/{y}")
    path = _look_file(request, site_id, run_id, look)
    body = await run_in_threadpool(tile_png, path, z, x, y)
    return Response(body, media_type="image/png", headers=IMAGE_CACHE)


@router.get("/chips/{event_id}/{look}.png")
async def chip(
    request: Request, event_id: str, look: Annotated[int, Path(ge=0, le=100_000)], viewer: SignedIn
) -> Response:
    with store_session(request) as session:
        event = event_or_404(session, event_id)
        site_id, run_id, outline = event.site_id, event.first_run_id, shapely.from_wkt(event.geometry_wkt)
    path = _look_file(request, site_id, run_id, look)
    body = await run_in_threadpool(chip_png, path, outline)
    return Response(body, media_type="image/png", headers=IMAGE_CACHE)
