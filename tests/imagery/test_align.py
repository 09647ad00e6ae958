"""Alignment on real OSCD pairs: by georeference, across CRSs, and refusing bad pairs."""

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject
from shapely.geometry import box

from sitewatch.base.errors import InputError
from sitewatch.imagery import geobox_of, load_pair, open_image
from sitewatch.sites import Site, read_sites


def _site(folder) -> Site:
    return read_sites(folder / f"{folder.name}.geojson").get(None)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def test_pair_on_site_utm_grid(oscd_city):
    folder = oscd_city("paris")
    pair = load_pair(folder / "imgs_1", folder / "imgs_2", _site(folder))
    assert pair.geobox.crs.epsg == 32631  # Paris is in UTM zone 31N
    assert abs(pair.geobox.resolution.x) == 10  # finest native band, snapped
    assert pair.before.shape == pair.after.shape and pair.before.shape[0] == 13
    assert pair.pixel_area_m2 == 100
    assert len(pair) == 2 and pair.data.dims == ("time", "band", "y", "x")
    assert [str(t)[:10] for t in pair.times] == ["2016-11-30", "2017-11-07"]
    assert pair.site_mask.mean() > 0.8


def test_pairs_of_different_size_line_up_by_georeference(oscd_city):
    # Abu Dhabi's second image is 795x782 pixels against 799x785 for the first, over the
    # same extent: pixel (i, j) of one is not pixel (i, j) of the other near the far corner.
    folder = oscd_city("abudhabi")
    before, after = open_image(folder / "imgs_1"), open_image(folder / "imgs_2")
    reference = next(b.path for b in before.bands if b.key == "red")
    pair = load_pair(before, after, geobox=geobox_of(str(reference)))
    aligned = _corr(pair.before.sel(band="red").values[400:, 400:], pair.after.sel(band="red").values[400:, 400:])
    with rasterio.open(next(b.path for b in after.bands if b.key == "red")) as src:
        raw_after = src.read(1).astype("float32")
    naive = _corr(pair.before.sel(band="red").values[400:795, 400:782], raw_after[400:, 400:])
    assert aligned > naive + 0.05
    assert aligned > 0.7


def test_dates_in_different_crs_are_aligned(tmp_path, oscd_city):
    folder = oscd_city("paris")
    site = _site(folder)
    # Rewrite the second date as one multiband GeoTIFF in Web Mercator, as a vendor might.
    after = open_image(folder / "imgs_2")
    keys = ["blue", "green", "red", "nir"]
    files = [next(b.path for b in after.bands if b.key == k) for k in keys]
    with rasterio.open(files[0]) as src:
        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        profile = src.profile | {
            "crs": "EPSG:3857",
            "transform": transform,
            "width": width,
            "height": height,
            "count": len(keys),
            "nodata": 0,
        }
    mercator = tmp_path / "after_3857.tif"
    with rasterio.open(mercator, "w", **profile) as dst:
        for i, file in enumerate(files, start=1):
            with rasterio.open(file) as src:
                out = np.zeros((height, width), dtype=src.dtypes[0])
                reproject(
                    src.read(1),
                    out,
                    src_transform=src.transform,
                    src_crs=src.crs,
                    dst_transform=transform,
                    dst_crs="EPSG:3857",
                    resampling=Resampling.bilinear,
                )
            dst.write(out, i)
            dst.set_band_description(i, keys[i - 1])
    original = load_pair(folder / "imgs_1", folder / "imgs_2", site)
    mixed = load_pair(folder / "imgs_1", mercator, site)
    assert mixed.bands == keys  # matched by band meaning across the two files
    assert mixed.geobox == original.geobox
    for key in keys:
        assert _corr(mixed.after.sel(band=key).values, original.after.sel(band=key).values) > 0.97


def test_image_not_overlapping_the_site(oscd_city):
    folder = oscd_city("paris")
    elsewhere = Site(id="far", name="far away", geometry=box(10.0, 43.70, 10.01, 43.71))
    with pytest.raises(InputError, match="does not overlap the site"):
        load_pair(folder / "imgs_1", folder / "imgs_2", elsewhere)


def test_pair_without_common_bands(tmp_path, oscd_city):
    folder = oscd_city("paris")
    with rasterio.open(next((folder / "imgs_2").glob("*B04.tif"))) as src:
        profile, data = src.profile, src.read(1)
    single = tmp_path / "thermal.tif"
    with rasterio.open(single, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_description(1, "lwir")
    with pytest.raises(InputError, match="no band in common"):
        load_pair(folder / "imgs_1", single, _site(folder))
