"""Events for the further phases of a series' changes, linked in time to the main events they bracket.

`sitewatch.detect.phases` gives pixels a break before and after their main one. Each
side becomes its own events, on the pixels of main change regions only: cleaned to the
same minimum area, dated by their own brackets, with kinds from their own before/after
levels. Each phase event points at the main event it overlaps most, in time order: a
later phase `follows` the main event; the main event `follows` its largest earlier phase.
A phase whose dates do not lie wholly before (or after) its main event's is left out.
So clearing, earthworks, structure and roof appear as a chain rather than as one event.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sitewatch.detect.cleanup import clean_mask
from sitewatch.detect.phases import Phases
from sitewatch.detect.timeseries import Breaks
from sitewatch.events.dating import date_events
from sitewatch.events.extract import EIGHT_CONNECTED, Event, extract_events
from sitewatch.imagery.cube import SceneCube


def _side_events(
    cube: SceneCube, layer: Breaks, within: np.ndarray, min_area_m2: float, bands: list[str]
) -> tuple[list[Event], np.ndarray]:
    h, w = within.shape
    pixel_area = abs(cube.geobox.resolution.x * cube.geobox.resolution.y)
    mask = clean_mask(layer.changed.reshape(h, w) & within, pixel_area, min_area_m2=min_area_m2)
    before = layer.before_mean.reshape(len(bands), h, w)
    after = before + np.nan_to_num(layer.shift.reshape(len(bands), h, w))
    events = extract_events(cube, mask, layer.magnitude.reshape(h, w), before=before, after=after, bands=bands)
    labels, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)  # the labelling extract_events used
    return date_events(events, layer, labels, cube), labels


def _main_regions(labels: np.ndarray, main_labels: np.ndarray) -> dict[int, int]:
    """Phase region -> the main region holding most of its pixels, in one pass over the grid."""
    both = (labels > 0) & (main_labels > 0)
    pairs, counts = np.unique(np.stack([labels[both], main_labels[both]]), axis=1, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for phase, main, count in zip(pairs[0].tolist(), pairs[1].tolist(), counts.tolist(), strict=True):
        if count > best.get(phase, (0, 0))[0]:
            best[phase] = (count, main)
    return {phase: main for phase, (_, main) in best.items()}


def _in_order(phase: Event, main: Event, side: str) -> bool:
    """Whether a phase's dates lie wholly before (earlier) or after (later) its main event's.

    A region's dates are those most of its pixels share; where a main region mixes pixels
    whose main break is the first change with pixels whose main break is the second, a
    phase can come out with the main event's own dates. It adds nothing then, and is left out.
    """
    if not (phase.before_date and phase.after_date and main.before_date and main.after_date):
        return False
    if side == "earlier":
        return phase.after_date <= main.before_date
    return phase.before_date >= main.after_date


def phase_events(
    cube: SceneCube,
    phases: Phases,
    main_labels: np.ndarray,
    main_events: list[Event],
    min_area_m2: float,
    bands: list[str],
) -> list[Event]:
    """Earlier- and later-phase events of the main events' regions, numbered after them and linked to them."""
    by_region = {event.region: event for event in main_events}
    earlier_area: dict[str, float] = {}
    out: list[Event] = []
    for side, layer in (("earlier", phases.earlier), ("later", phases.later)):
        events, labels = _side_events(cube, layer, main_labels > 0, min_area_m2, bands)
        under = _main_regions(labels, main_labels)
        for event in events:
            main = by_region.get(under.get(event.region, 0))
            if main is None or not _in_order(event, main, side):
                continue  # dated with the main event itself: its pixels' phase is that event's date
            event.id = f"E{len(main_events) + len(out) + 1:04d}"
            event.phase = side
            if side == "later":
                event.follows = main.id
            elif event.area_m2 > earlier_area.get(main.id, 0.0):
                main.follows, earlier_area[main.id] = event.id, event.area_m2
            out.append(event)
    return out
