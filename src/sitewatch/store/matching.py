"""A site's stored events, indexed by place, for matching a run's events against them.

A run links each detected event to the stored event it overlaps (same kind, IoU at least
`MATCH_IOU`), or adds it; a dismissed event at the same place suppresses its alerts. Both
only ever concern stored events whose polygons meet the new one, so the stored polygons of
each kind go into an STRtree once per run: each detected event then costs a tree query and
the IoU of the few polygons it meets, O(log m), instead of an IoU with every stored event of
the site, O(m). Candidates come back in the order the store listed them, so the first best
match and the first suppressor are the ones a plain scan would pick.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from shapely import STRtree

from sitewatch.store.models import Event

#: Intersection over union at which a detected event is the stored one seen again.
MATCH_IOU = 0.3


def iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Intersection over union of two polygons (0 when both are empty)."""
    union = a.union(b).area
    return a.intersection(b).area / union if union > 0 else 0.0


class StoredEvents:
    """One site's stored events by kind, with their polygons in a spatial index."""

    def __init__(self, events: list[Event]) -> None:
        shapes = shapely.from_wkt([e.geometry_wkt for e in events]) if events else []
        self._by_kind: dict[str, list[tuple[Event, shapely.Geometry]]] = defaultdict(list)
        for event, shape in zip(events, shapes, strict=True):
            self._by_kind[event.kind].append((event, shape))
        self._trees = {kind: STRtree([shape for _, shape in pairs]) for kind, pairs in self._by_kind.items()}
        self._indexed = {kind: len(pairs) for kind, pairs in self._by_kind.items()}

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self._by_kind.values())

    def near(self, kind: str, geometry: shapely.Geometry) -> list[tuple[Event, shapely.Geometry]]:
        """Stored events of `kind` whose bounding box meets `geometry`'s, in stored order.

        Events added during this run (after the index was built) are few and checked directly.
        """
        pairs = self._by_kind.get(kind, [])
        tree, indexed = self._trees.get(kind), self._indexed.get(kind, 0)
        hits = np.sort(tree.query(geometry)) if tree is not None else np.array([], dtype=int)
        near = [pairs[i] for i in hits]
        bounds = geometry.bounds
        for event, shape in pairs[indexed:]:
            x0, y0, x1, y1 = shape.bounds
            if x0 <= bounds[2] and bounds[0] <= x1 and y0 <= bounds[3] and bounds[1] <= y1:
                near.append((event, shape))
        return near

    def add(self, event: Event, geometry: shapely.Geometry) -> None:
        """A new event of this run: later events of the run are matched against it too."""
        self._by_kind[event.kind].append((event, geometry))

    def best_match(self, kind: str, geometry: shapely.Geometry) -> Event | None:
        """The stored event of `kind` this one overlaps most, when their IoU reaches `MATCH_IOU`."""
        best_iou, best = max(
            ((iou(shape, geometry), event) for event, shape in self.near(kind, geometry)),
            key=lambda pair: pair[0],
            default=(0.0, None),
        )
        return best if best is not None and best_iou >= MATCH_IOU else None

    def latest_before(self, geometry: shapely.Geometry, before_date: str | None) -> Event | None:
        """The stored event of any kind at this place (overlapping) that ended last on or before `before_date`.

        What a new event follows: construction at a place goes through phases of different
        kinds (earthworks, then a roof), each its own event.
        """
        if not before_date:
            return None
        earlier = [
            event
            for kind in self._by_kind
            for event, shape in self.near(kind, geometry)
            if event.after_date and event.after_date <= before_date and shape.intersects(geometry)
        ]
        return max(earlier, key=lambda event: (event.after_date, event.id), default=None)

    def suppressor(self, kind: str, geometry: shapely.Geometry, area_m2: float, growth: float) -> int | None:
        """Id of a dismissed event at this place that this one has not outgrown, if any."""
        for event, shape in self.near(kind, geometry):
            if event.status == "dismissed" and shape.intersects(geometry) and area_m2 <= growth * event.area_m2:
                return event.id
        return None
