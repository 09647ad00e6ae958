"""Monthly or quarterly median composites: fewer, cleaner looks from many cloudy ones.

A per-pixel median over the clear looks of a period removes leftover clouds, shadows and
noise that the masks missed; each composite keeps the list of scenes it was made from.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from sitewatch.base.errors import InputError
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array

PERIODS = {"month": "M", "quarter": "Q"}


def composite(cube: SceneCube, period: str) -> SceneCube:
    """One median look per month or quarter that has scenes, dated at its first scene."""
    if period not in PERIODS:
        raise InputError(f"composite period '{period}' is not known; use {' or '.join(PERIODS)}")
    labels = pd.DatetimeIndex(cube.times).to_period(PERIODS[period])
    periods = sorted(set(labels))
    medians = np.empty((len(periods), *cube.data.shape[1:]), dtype="float32")  # filled in place, never stacked
    scenes, times = [], []
    for position, label in enumerate(periods):
        members = np.flatnonzero(labels == label)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
            medians[position] = np.nanmedian(cube.data.values[members], axis=0)
        first = cube.scenes[members[0]]
        scenes.append(
            SceneInfo(
                id=f"{label} median",
                datetime=first.datetime,
                source="composite",
                sensor=first.sensor,
                notes=[f"median of {len(members)} scene(s): " + ", ".join(cube.scenes[i].id for i in members)],
            )
        )
        times.append(cube.times[members[0]])
    data = cube_array(medians, times, cube.bands, cube.geobox)
    return SceneCube(data, scenes, cube.geobox, cube.site_mask, list(cube.dropped))
