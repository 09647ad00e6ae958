"""The report on a real two-date run: self-contained, escaped, traceable."""

import re

import pytest

from sitewatch.detect import default_config
from sitewatch.jobs.two_date import run_two_date
from sitewatch.report import render_report
from sitewatch.sites import read_sites


@pytest.fixture(scope="module")
def paris_run(oscd_city):
    folder = oscd_city("paris")
    site = read_sites(folder / "paris.geojson").get(None)
    site.name = "Paris <b>Bercy</b> & co"
    site.notes = "<script>alert('x')</script>"
    site.sources = ["https://example.org/?a=1&b=<2>"]
    return run_two_date(folder / "imgs_1", folder / "imgs_2", site, default_config("cva"))


def _render(run) -> str:
    return render_report(run.site, run.summary(), run.cube, run.result.mask.values, run.result.score.values, run.events)


def test_report_is_self_contained_and_escaped(paris_run):
    html = _render(paris_run)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Paris &lt;b&gt;Bercy&lt;/b&gt; &amp; co" in html
    assert not re.search(r"""(src|href)=["']?https?://""", html)  # nothing fetched from the web
    assert html.count("data:image/png;base64,") == 4


def test_report_traces_every_figure(paris_run):
    html = _render(paris_run)
    for source in paris_run.cube.files:
        for digest in source.checksums.values():
            assert digest in html
    assert "2016-11-30" in html and "2017-11-07" in html
    assert paris_run.events[0].id in html
    total = f"{paris_run.changed_area_m2:,.0f} m²"
    assert total in html
    assert '"threshold_value": 3.0' in html or "&#34;threshold_value&#34;: 3.0" in html
