"""The two-date job from Python, and what it leaves on disk when a step fails."""

import json

import numpy as np
import pytest

from sitewatch.base.defaults import NOISE_CONTEXT_M
from sitewatch.bench import oscd_scenes
from sitewatch.bench.site_layout import place_sites
from sitewatch.detect import default_config
from sitewatch.jobs import two_date
from sitewatch.jobs.two_date import run_two_date, write_outputs
from sitewatch.sites import read_sites


@pytest.fixture(scope="module")
def bercy_run(oscd_city):
    folder = oscd_city("bercy")
    stages = []
    run = run_two_date(
        folder / "imgs_1",
        folder / "imgs_2",
        read_sites(folder / "bercy.geojson").get(None),
        default_config("cva"),
        reporter=stages.append,
    )
    return run, stages


def test_stages_are_reported_and_timed(bercy_run):
    run, stages = bercy_run
    started = [s for s in stages if s is not None]
    assert len(started) == stages.count(None) == len(run.timings_s) == 5


def test_summary_names_its_inputs(bercy_run):
    run, _ = bercy_run
    summary = run.summary()
    assert summary["inputs"]["before"]["acquired"] == "2016-11-30T00:00:00Z"
    assert summary["inputs"]["before"]["acquired_source"] == "dates.txt (OSCD)"
    assert len(summary["inputs"]["after"]["sha256"]) == 13
    # the headline counts what lies inside the site; the margin is context
    inside = sum(e.inside_m2 for e in run.events)
    assert summary["results"]["changed_area_m2"] == pytest.approx(inside, abs=0.5)
    assert inside < sum(e.area_m2 for e in run.events)  # bercy's regions reach into the margin
    for event in run.events:
        props = event.properties()
        assert 0 <= props["area_inside_site_m2"] <= props["area_m2"] + 0.1
        assert props["area_inside_site_m2"] + props["area_in_margin_m2"] == pytest.approx(props["area_m2"], abs=0.2)
    assert json.dumps(summary)  # plain JSON


def test_failed_write_keeps_earlier_outputs(bercy_run, tmp_path, monkeypatch):
    run, _ = bercy_run
    written = write_outputs(run, tmp_path)
    before = {p.name: p.read_bytes() for p in written.values()}

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(two_date, "render_report", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs(run, tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # nothing half-written, no staging folder left behind
    assert set(two_date.OUTPUT_FILES.values()) == set(after)


def test_the_two_dates_are_one_cube_of_two_looks(bercy_run):
    run, _ = bercy_run
    cube = run.cube
    assert cube.data.dims == ("time", "band", "y", "x") and len(cube) == 2
    assert [s.datetime[:10] for s in cube.scenes] == ["2016-11-30", "2017-08-29"]  # bercy's dates.txt
    assert [f.path.name for f in cube.files] == ["imgs_1", "imgs_2"]
    assert run.events and all(
        e.sources == {"before": str(cube.files[0].path), "after": str(cube.files[1].path)} for e in run.events
    )


@pytest.fixture(scope="module")
def beirut_site(oscd_root):
    """A facility-sized site on labelled change in Beirut, placed as `bench sites` places them."""
    scene = next(iter(oscd_scenes(oscd_root, ["beirut"])))
    return scene, place_sites("beirut", scene.changed, scene.geobox, per_city=1)[0].site


@pytest.mark.parametrize("method", ["cva", "index"])
def test_a_sites_verdict_does_not_depend_on_the_margin(beirut_site, method):
    scene, site = beirut_site
    runs = [
        run_two_date(scene.before.path, scene.after.path, site, default_config(method), margin_m=margin)
        for margin in (50.0, 400.0, 900.0)
    ]
    shapes = {run.cube.geobox.shape.yx for run in runs}
    assert len(shapes) == 3  # each run keeps its own margin...
    inside = [run.result.mask.values[run.cube.site_mask] for run in runs]
    assert inside[0].any()
    for other in inside[1:]:  # ...and judges the site the same: the noise comes from the fixed context
        np.testing.assert_array_equal(other, inside[0])
    assert all(run.result.diagnostics["noise_context_m"] == NOISE_CONTEXT_M for run in runs)
    assert {run.changed_area_m2 for run in runs} == {runs[0].changed_area_m2}
