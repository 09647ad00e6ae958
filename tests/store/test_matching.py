"""Matching a run's events against the stored ones by spatial index picks what a plain scan picks."""

from __future__ import annotations

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sitewatch.store.matching import MATCH_IOU, StoredEvents, iou
from sitewatch.store.models import Event, Review

KINDS = ("new-building", "earthworks")

boxes = st.tuples(
    st.integers(0, 40), st.integers(0, 40), st.integers(1, 12), st.integers(1, 12), st.sampled_from(KINDS)
)


def _event(number: int, x: int, y: int, w: int, h: int, kind: str, dismissed: bool) -> Event:
    shape = box(x, y, x + w, y + h)
    event = Event(id=number, geometry_wkt=shape.wkt, kind=kind, area_m2=shape.area, site_id="s")
    if dismissed:
        event.reviews.append(Review(status="dismissed", analyst="ana"))
    return event


def _scan_match(events: list[Event], kind: str, geometry: shapely.Geometry) -> Event | None:
    """The plain O(m) scan the index replaces."""
    same = [(iou(shapely.from_wkt(e.geometry_wkt), geometry), e) for e in events if e.kind == kind]
    best_iou, best = max(same, key=lambda pair: pair[0], default=(0.0, None))
    return best if best is not None and best_iou >= MATCH_IOU else None


def _scan_suppressor(events: list[Event], kind: str, geometry: shapely.Geometry, area: float) -> int | None:
    for e in events:
        shape = shapely.from_wkt(e.geometry_wkt)
        if e.kind == kind and e.status == "dismissed" and shape.intersects(geometry) and area <= 2.0 * e.area_m2:
            return e.id
    return None


@settings(max_examples=150, deadline=None)
@given(
    stored=st.lists(st.tuples(boxes, st.booleans()), max_size=40),
    detected=st.lists(boxes, min_size=1, max_size=15),
)
def test_the_index_matches_and_suppresses_as_a_scan_does(stored, detected):
    events = [_event(i + 1, *b, dismissed) for i, (b, dismissed) in enumerate(stored)]
    index = StoredEvents(events)
    scanned = list(events)
    for number, (x, y, w, h, kind) in enumerate(detected, start=1000):
        geometry = box(x, y, x + w, y + h)
        assert index.best_match(kind, geometry) is _scan_match(scanned, kind, geometry)
        assert index.suppressor(kind, geometry, geometry.area, 2.0) == _scan_suppressor(
            scanned, kind, geometry, geometry.area
        )
        if _scan_match(scanned, kind, geometry) is None:  # a new event: later ones of the run meet it too
            new = _event(number, x, y, w, h, kind, dismissed=False)
            index.add(new, geometry)
            scanned.append(new)
    assert len(index) == len(scanned)
