"""Detection quality on real labelled imagery, with one parameter set per detector.

Floors come from the foundation issue: IR-MAD on the Landsat pairs at least matches the
published IR-MAD figures (0.945 / 0.807, asked >= 0.94 / 0.80), and across all 14 OSCD
cities the default detector beats standardised CVA with Otsu (about 0.18) by a margin
(asked >= 0.25).
"""

import pytest

from sitewatch.bench import landsat_scenes, oscd_scenes, run_benchmark
from sitewatch.detect import default_config


@pytest.fixture(scope="module")
def landsat_irmad(landsat_root):
    return run_benchmark("landsat", str(landsat_root), landsat_scenes(landsat_root), default_config("irmad"))


def test_irmad_taizhou(landsat_irmad):
    assert landsat_irmad.scenes["Taizhou"].f1 >= 0.94


def test_irmad_nanjing(landsat_irmad):
    assert landsat_irmad.scenes["Nanjing"].f1 >= 0.80


def test_cva_knee_on_the_landsat_pairs(landsat_root):
    # the knee lowers CVA's cut where 3 sigma is too strict (8-bit, 30 m): 0.758 at a fixed 3 sigma
    result = run_benchmark("landsat", str(landsat_root), landsat_scenes(landsat_root), default_config("cva"))
    assert result.pooled.f1 >= 0.84


def test_oscd_fourteen_cities_pooled(oscd_root):
    result = run_benchmark("oscd", str(oscd_root), oscd_scenes(oscd_root), default_config("cva"))
    assert len(result.scenes) == 14
    assert result.pooled.f1 >= 0.25
    # The pooled figure is not carried by one city: most cities see real change found.
    assert sum(c.f1 > 0.15 for c in result.scenes.values()) >= 10
