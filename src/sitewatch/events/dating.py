"""Dates of the events of a series: the last look without the change and the first with it.

Each pixel of a region has its own break; a region takes the bracket most of its pixels
share, and the median number of looks after the break that confirm it.
"""

from __future__ import annotations

import numpy as np

from sitewatch.detect.timeseries import Breaks
from sitewatch.events.extract import Event
from sitewatch.imagery.cube import SceneCube


def _region_dates(breaks: Breaks, labels: np.ndarray, region: int, cube: SceneCube) -> tuple[str, str, int]:
    """Most common bracket among a region's pixels, and its median number of confirming looks."""
    flat = labels.ravel() == region
    after = breaks.first_after[flat]
    after = after[after >= 0]
    first_after = int(np.bincount(after).argmax())
    same = flat.copy()
    same[flat] = breaks.first_after[flat] == first_after
    last_before = int(np.bincount(breaks.last_before[same][breaks.last_before[same] >= 0]).argmax())
    confirmations = int(np.median(breaks.n_after[same]))
    return cube.scenes[last_before].datetime, cube.scenes[first_after].datetime, confirmations


def date_events(events: list[Event], breaks: Breaks, labels: np.ndarray, cube: SceneCube) -> list[Event]:
    """Give each event its date bracket, confirming looks and the scenes inside the bracket."""
    for event in events:
        event.before_date, event.after_date, event.confirmations = _region_dates(breaks, labels, event.region, cube)
        event.sources = {"scenes": [s.id for s in cube.scenes if event.before_date <= s.datetime <= event.after_date]}
    return events
