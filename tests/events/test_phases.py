"""Phase events of a series: a real change and its reversal become two linked, dated events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from shapely.geometry import box

from sitewatch.bench import oscd_scenes
from sitewatch.bench.series import labelled_series
from sitewatch.detect.timeseries import BreakConfig
from sitewatch.imagery import load_pair
from sitewatch.imagery.cube import cube_array
from sitewatch.jobs.series import MonitorConfig, date_cube
from sitewatch.sites import Site


@pytest.fixture(scope="module")
def there_and_back(oscd_root):
    """Twelve looks of real Beirut (a 4 x 4 km window where it changed most), each with its own gain,
    noise and clouds: the first date three times, the second six, the first again three
    (`bench.series`, as the dating benchmark builds them)."""
    (scene,) = oscd_scenes(oscd_root, ["beirut"])
    rows, cols = (int(np.median(i)) for i in np.nonzero(scene.changed))
    window = scene.geobox[max(rows - 200, 0) : rows + 200, max(cols - 200, 0) : cols + 200]
    site = Site(id="beirut-window", name="Beirut window", geometry=box(*window.boundingbox))  # OSCD: lon/lat
    pair = load_pair(scene.before, scene.after, site, margin_m=0.0)  # on the site's UTM grid, as a job reads it
    grid = pair.geobox
    before, after = pair.before.values, pair.after.values
    unknown = np.zeros(grid.shape.yx, dtype=bool)
    days = np.datetime64("2020-01-01"), np.datetime64("2020-07-01")
    there = labelled_series(before, after, unknown, *days, looks=3, max_cloud=0.2, seed=0)
    back = labelled_series(after, before, unknown, *days, looks=3, max_cloud=0.2, seed=1)
    series = np.concatenate([there.series, back.series]).reshape(12, len(pair.bands), *grid.shape.yx)
    times = [np.datetime64("2020-01-01") + np.timedelta64(30 * i, "D") for i in range(12)]
    scenes = [replace(pair.scenes[0], id=f"look-{k}", datetime=f"{t}T00:00:00Z") for k, t in enumerate(times)]
    return replace(pair, data=cube_array(series, times, pair.bands, grid), scenes=scenes, files=[])


def test_the_reversal_and_the_change_are_linked_phases(there_and_back):
    config = MonitorConfig(start="2020-01-01", end="2021-12-31", sources=[], breaks=BreakConfig())
    _, _, _, events = date_cube(there_and_back, config, None, {})
    assert all(e.inside_m2 > 0 for e in events)
    main = {e.id: e for e in events if e.phase is None}
    phased = [e for e in events if e.phase]
    assert main and phased
    assert len({e.id for e in events}) == len(events)  # one numbering for all
    looks = [s.datetime[:10] for s in there_and_back.scenes]

    def brackets(event, at: int) -> bool:
        """The event's dates bracket the change between looks at-1 and at, and no other look of change."""
        return looks[0] <= event.before_date[:10] <= looks[at - 1] and looks[at] <= event.after_date[:10] <= looks[-1]

    later = [e for e in phased if e.phase == "later"]
    assert later and all(e.follows in main for e in later)
    for event in phased:
        parent = main.get(event.follows) or next((m for m in main.values() if m.follows == event.id), None)
        if parent is None:  # a main event follows its largest earlier phase only
            assert event.phase == "earlier"
            continue
        first, second = sorted((event, parent), key=lambda e: e.after_date)
        assert first.after_date <= second.before_date  # a chain in time order
        assert event.properties()["phase"] == event.phase
    # the reversal is found as a later phase of the change, dated between looks 8 and 9
    reversal = [e for e in later if brackets(e, 9) and e.before_date[:10] >= looks[3]]
    assert sum(e.area_m2 for e in reversal) > 0.5 * sum(e.area_m2 for e in later)
