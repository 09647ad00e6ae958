"""The workbench's pages: sign-in, the watchlist map, a site, an event with its review, exports."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import DismissReason, Kind, ReviewStatus, Role, values
from sitewatch.report.event_files import FORMATS, geojson_bytes, table_bytes
from sitewatch.report.looks import latest_looks, look_index
from sitewatch.report.site import render_site_report
from sitewatch.store.accounts import authenticate, end_session, start_session
from sitewatch.store.models import Event
from sitewatch.store.overview import (
    EventFilter,
    event_reviews,
    event_status,
    filtered_events,
    queue_neighbours,
    site_alerts,
    site_scenes,
    watchlist_summary,
)
from sitewatch.store.repo import add_review, list_events, list_runs
from sitewatch.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    check_csrf,
    current_viewer,
    new_login_token,
    require,
    same_token,
)
from sitewatch.web.charts import timeline_svg
from sitewatch.web.context import (
    event_filter,
    event_or_404,
    filter_query,
    site_or_404,
    store_session,
)
from sitewatch.web.imagery import LooksNotKept, run_manifest
from sitewatch.web.views import (
    event_feature,
    event_view,
    geometry,
    review_view,
    shown_rules,
    site_feature,
    site_view,
    when,
)

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(current_viewer)]
Filter = Annotated[EventFilter, Depends(event_filter)]
REASONS = values(DismissReason)
VERDICTS = [s for s in values(ReviewStatus) if s != ReviewStatus.new]


def next_query(target: str) -> str:
    return urlencode({"next": target})


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `https://...`, `/\\evil`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000:
        return "/"
    return target


def _render(request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {"viewer": viewer, **context}, status_code=status)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_form(request: Request, next_path: str | None, message: str = "", status: int = 200) -> Response:
    """The sign-in page with a fresh form token, also set as a cookie (double submit: no session yet)."""
    token = new_login_token()
    response = _render(
        request, "login.html.j2", None, status, next=_safe_next(next_path), login_token=token, message=message
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
        max_age=3600,
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not same_token(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise HTTPException(403, "the sign-in form expired; reload the page and try again")
    throttle = request.app.state.throttle
    wait = throttle.wait_s(name, _client(request))
    if wait > 0:
        raise HTTPException(
            429, f"too many failed sign-ins; wait {wait:.0f} s and try again", headers={"Retry-After": f"{wait:.0f}"}
        )
    with store_session(request) as session:
        user = authenticate(session, name, password)
        if user is None:
            throttle.failed(name, _client(request))
            return _login_form(request, next, "wrong user name or password", status=401)
        throttle.succeeded(name, _client(request))
        token, _ = start_session(session, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
        max_age=12 * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, viewer: SignedIn, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, viewer, csrf_token)
    with store_session(request) as session:
        end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def watchlist(request: Request, viewer: SignedIn, wanted: Filter, q: str = "") -> Response:
    with store_session(request) as session:
        summaries = watchlist_summary(session, wanted, q[:200])
    features = [
        site_feature(s.record, events=s.events, new=s.new, inside_m2=round(s.inside_m2, 1), last_run=s.last_run)
        for s in summaries
    ]
    sites = [f["properties"] for f in features]
    return _render(
        request,
        "watchlist.html.j2",
        viewer,
        sites=sites,
        map_data={"sites": {"type": "FeatureCollection", "features": features}, "basemap": _basemap(request)},
        wanted=wanted,
        query=filter_query(wanted),
        q=q[:200],
        statuses=values(ReviewStatus),
        kinds=values(Kind),
    )


def _basemap(request: Request) -> str | None:
    return request.app.state.settings.basemap


@router.get("/sites/{site_id}")
def site_page(request: Request, site_id: str, viewer: SignedIn) -> Response:
    with store_session(request) as session:
        record = site_or_404(session, site_id)
        features = [event_feature(e, s) for e, s in filtered_events(session, EventFilter(site_id=site_id))]
        events = [f["properties"] for f in features]
        runs = list_runs(session, site_id)
        scenes = site_scenes(session, site_id)
        alerts = site_alerts(session, site_id)
        rules = shown_rules(record.alert_rules or {})
        site = site_view(record)
        outline = geometry(record.geometry_wkt)
    kept = latest_looks(request.app.state.settings.looks_dir, site_id, [r.id for r in runs])
    looks = {"run_id": kept["run_id"], "looks": kept["looks"]} if kept else None
    return _render(
        request,
        "site.html.j2",
        viewer,
        site=site,
        events=events,
        runs=[
            {
                "id": r.id,
                "start": r.parameters.get("start", ""),
                "end": r.parameters.get("end", ""),
                "finished": when(r.finished_at),
                "version": r.software_version,
            }
            for r in runs
        ],
        scenes=[
            {
                "sensor": sc.sensor or "",
                "date": when(sc.acquired_at),
                "cloud": "" if sc.cloud_cover is None else f"{sc.cloud_cover:.0f} %",
                "checksum": sc.checksum or "",
                "source": sc.source,
                "runs": run_ids,
            }
            for sc, run_ids in scenes
        ],
        alerts=[
            {
                "event": a.event_id,
                "target": a.alert.target,
                "status": a.alert.status,
                "attempts": a.attempts,
                "detail": a.last_detail,
                "at": when(a.alert.delivered_at or a.alert.created_at),
            }
            for a in alerts
        ],
        rules=rules,
        timeline=timeline_svg(events),
        formats=list(FORMATS),
        map_data={
            "site_id": site_id,
            "site": {"type": "Feature", "properties": {}, "geometry": outline},
            "bounds": site["bounds"],
            "events": {"type": "FeatureCollection", "features": features},
            "looks": looks,
            "basemap": _basemap(request),
        },
    )


@router.get("/sites/{site_id}/export.{fmt}")
def export_site(request: Request, site_id: str, fmt: str, viewer: SignedIn) -> Response:
    if fmt not in FORMATS:
        raise HTTPException(404, f"no export as '{fmt[:20]}'; use one of {', '.join(FORMATS)}")
    with store_session(request) as session:
        record = site_or_404(session, site_id)
        features = [event_feature(e, s) for e, s in filtered_events(session, EventFilter(site_id=site_id))]
        site = site_view(record)
    body = geojson_bytes(features, site) if fmt == "geojson" else table_bytes(features, fmt)
    headers = {"Content-Disposition": f'attachment; filename="{site_id}-events.{fmt}"'}
    return Response(body, media_type=FORMATS[fmt], headers=headers)


@router.get("/sites/{site_id}/report.html")
def site_report(request: Request, site_id: str, viewer: SignedIn) -> Response:
    """The site report the CLI writes (`events report`), as a download: it is a document, not a page."""
    with store_session(request) as session:
        record = site_or_404(session, site_id)
        runs = list_runs(session, site_id)
        looks = latest_looks(request.app.state.settings.looks_dir, site_id, [r.id for r in runs])
        html = render_site_report(record, list_events(session, site_id), runs, looks)
    headers = {"Content-Disposition": f'attachment; filename="{site_id}-report.html"'}
    return Response(html, media_type="text/html", headers=headers)


def _event_context(request: Request, session: Session, event: Event, wanted: EventFilter, queue: bool) -> dict:
    status = event_status(session, event.id)
    view = event_view(event, status)
    record = site_or_404(session, event.site_id)
    site = site_view(record)
    reviews = [review_view(r) for r in event_reviews(session, event.id)]
    try:
        manifest = run_manifest(request.app.state.settings.looks_dir, event.site_id, event.first_run_id)
        looks = manifest["looks"]
    except LooksNotKept:
        looks = []
    before = look_index(looks, view["before_date"], 0)
    after = look_index(looks, view["after_date"], max(len(looks) - 1, 0))
    previous, following = queue_neighbours(session, event.id, wanted) if queue else (None, None)
    return {
        "event": view,
        "site": site,
        "reviews": reviews,
        "looks": looks,
        "queue": queue,
        "previous": previous,
        "following": following,
        "map_data": {
            "event": event_feature(event, status),
            "site": {"type": "Feature", "properties": {}, "geometry": geometry(record.geometry_wkt)},
            "looks": looks,
            "tiles": f"/tiles/{event.site_id}/{event.first_run_id}/{{look}}/{{z}}/{{x}}/{{y}}.png",
            "before": before,
            "after": after,
            "basemap": _basemap(request),
        },
    }


@router.get("/events/{event_id}")
def event_page(request: Request, event_id: str, viewer: SignedIn, wanted: Filter, queue: bool = False) -> Response:
    with store_session(request) as session:
        event = event_or_404(session, event_id)
        context = _event_context(request, session, event, wanted, queue)
    return _render(
        request,
        "event.html.j2",
        viewer,
        **context,
        query=filter_query(wanted),
        reasons=REASONS,
        verdicts=VERDICTS,
        can_review=viewer.may(Role.analyst),
    )


@router.get("/queue")
def review_queue(request: Request, viewer: SignedIn, wanted: Filter) -> Response:
    """The first event still to review (under the filter), opened in queue mode."""
    to_review = EventFilter(**{**wanted.__dict__, "status": ReviewStatus.new.value})
    with store_session(request) as session:
        first = next((e for e, _ in filtered_events(session, to_review) if e.suppressed_by is None), None)
    if first is None:
        return _render(request, "queue_empty.html.j2", viewer, query=filter_query(wanted))
    query = urlencode({**filter_query(wanted), "queue": "1"})
    return RedirectResponse(f"/events/{first.id}?{query}", status_code=303)


@router.post("/events/{event_id}/review")
def review_form(
    request: Request,
    event_id: str,
    viewer: SignedIn,
    wanted: Filter,
    verdict: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    queue: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A verdict from the event page's form; then the next event of the queue, or the event again."""
    check_csrf(request, viewer, csrf_token)
    require(viewer, Role.analyst)
    with store_session(request) as session:
        event = event_or_404(session, event_id)
        record_review(session, event.id, viewer, verdict, reason, note)
        following = queue_neighbours(session, event.id, wanted)[1] if queue else None
    keep = filter_query(wanted)
    if queue and following is not None:
        return RedirectResponse(f"/events/{following}?{urlencode({**keep, 'queue': '1'})}", status_code=303)
    if queue:
        return RedirectResponse(f"/queue?{urlencode(keep)}", status_code=303)
    return RedirectResponse(f"/events/{event.id}", status_code=303)


def record_review(session: Session, event_id: int, viewer: Viewer, verdict: str, reason: str, note: str):
    """The same record `sitewatch events review` writes; a dismissal needs a reason code."""
    if verdict not in VERDICTS:
        raise HTTPException(422, f"bad request: verdict: use one of {', '.join(VERDICTS)}")
    if verdict == ReviewStatus.dismissed and reason not in REASONS:
        raise HTTPException(422, f"bad request: reason: a dismissal needs one of {', '.join(REASONS)}")
    try:
        return add_review(
            session,
            event_id,
            verdict,
            viewer.name,
            note,
            reason=reason if verdict == ReviewStatus.dismissed else None,
            actor=f"web:{viewer.name}",
        )
    except InputError as exc:
        raise HTTPException(422, f"bad request: {exc}") from exc
