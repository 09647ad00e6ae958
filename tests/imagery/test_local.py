import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from shapely.geometry import box

from sitewatch.base.errors import InputError
from sitewatch.imagery import load_image, open_image, snap_resolution


def test_oscd_per_band_folder(oscd_city):
    source = open_image(oscd_city("paris") / "imgs_1")
    keys = [b.key for b in source.bands]
    assert keys[:4] == ["coastal", "blue", "green", "red"] and len(keys) == 13
    by_key = {b.key: b for b in source.bands}
    assert by_key["blue"].raw_name == "B02" and by_key["nir08"].raw_name == "B8A"
    # OSCD resampled 10/20/60 m UTM pixels into square degrees; sizes snap back.
    assert snap_resolution(by_key["blue"].resolution_m) == 10
    assert snap_resolution(by_key["swir16"].resolution_m) == 20
    assert snap_resolution(by_key["coastal"].resolution_m) == 60
    assert source.time.day == "2016-11-30" and "dates.txt" in source.time.source
    assert source.sensor == "sentinel-2"


def test_envi_landsat_bands_from_wavelengths(landsat_root):
    source = open_image(landsat_root / "Taizhou" / "2000TM")
    assert [b.key for b in source.bands] == ["blue", "green", "red", "nir", "swir16", "swir22"]
    assert [b.raw_name for b in source.bands][-1] == "B7"
    assert source.time.value is None  # nothing in the file says when it was taken
    dated = open_image(landsat_root / "Taizhou" / "2000TM", time="2000-03-17")
    assert dated.time.day == "2000-03-17" and dated.time.source == "given by user"


def test_load_image_reads_only_the_grid_and_marks_no_data(oscd_city):
    source = open_image(oscd_city("paris") / "imgs_1")
    with rasterio.open(next(b.path for b in source.bands if b.key == "red")) as src:
        native = src.read(1).astype("float32")
        # A grid that hangs 20 pixels off the image's west edge, at native resolution.
        geobox = GeoBox((50, 60), src.transform @ src.transform.translation(-20, 0), src.crs)
    image = load_image(source, geobox, ["red"])
    assert image.dims == ("band", "y", "x") and image.shape == (1, 50, 60)
    assert np.isnan(image.values[0, :, :20]).all()
    np.testing.assert_allclose(image.values[0, :, 20:], native[:50, :40], rtol=1e-5)


def test_unreadable_raster(tmp_path):
    bad = tmp_path / "scene.tif"
    bad.write_text("this is not a GeoTIFF")
    with pytest.raises(InputError, match="cannot be read as a raster"):
        open_image(bad)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such image"):
        open_image(tmp_path / "nope.tif")


def test_non_georeferenced_image(tmp_path, oscd_city):
    with rasterio.open(next((oscd_city("paris") / "imgs_1").glob("*B04.tif"))) as src:
        data = src.read(1)
    plain = tmp_path / "plain.tif"
    with rasterio.open(
        plain, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype
    ) as dst:
        dst.write(data, 1)
    with pytest.raises(InputError, match="not georeferenced"):
        open_image(plain)


def test_multiband_file_needs_named_bands_to_match(tmp_path, oscd_city):
    folder = oscd_city("paris") / "imgs_1"
    files = [next(folder.glob(f"*{b}.tif")) for b in ("B04", "B03", "B02", "B08")]
    with rasterio.open(files[0]) as src:
        profile = src.profile | {"count": 4}
    stacked = tmp_path / "commercial.tif"
    with rasterio.open(stacked, "w", **profile) as dst:
        for i, file in enumerate(files, start=1):
            with rasterio.open(file) as src:
                dst.write(src.read(1), i)
    assert [b.key for b in open_image(stacked).bands] == ["b1", "b2", "b3", "b4"]
    named = open_image(stacked, band_names=["red", "green", "blue", "nir"])
    assert [b.key for b in named.bands] == ["blue", "green", "red", "nir"]
    with pytest.raises(InputError, match="names 3 bands but the file has 4"):
        open_image(stacked, band_names=["red", "green", "blue"])
    with pytest.raises(InputError, match="not a band name"):
        open_image(stacked, band_names=["red", "green", "blue", "purple"])


def test_an_image_straddling_the_antimeridian_has_a_two_part_footprint(tmp_path):
    """GDAL gives such bounds west > east; the footprint must cover both sides of 180°, not the globe between."""
    from pyproj import Transformer
    from rasterio.transform import from_origin

    x, y = Transformer.from_crs(4326, 32660, always_xy=True).transform(179.999, -17.0)
    profile = {
        "driver": "GTiff",
        "width": 200,
        "height": 200,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32660",
        "transform": from_origin(x - 1000, y + 1000, 10, 10),
    }
    with rasterio.open(tmp_path / "fiji.tif", "w", **profile) as dst:
        dst.write(np.full((4, 200, 200), 1000, dtype="uint16"))
    source = open_image(tmp_path / "fiji.tif", band_names=["blue", "green", "red", "nir"], time="2020-01-01")
    footprint = source.footprint_wgs84
    assert footprint.geom_type == "MultiPolygon"
    assert footprint.intersects(box(179.995, -17.001, 179.999, -16.999))  # east of 180° in the image
    assert footprint.intersects(box(-179.999, -17.001, -179.995, -16.999))  # and west of it
    assert not footprint.intersects(box(0, -17.1, 1, -16.9))  # not the other side of the globe


def test_bands_of_one_file_read_together_equal_each_band_read_alone(tmp_path):
    """One read and one warp per file gives what a read and a warp per band gives, bit for bit."""
    from rasterio.transform import from_origin

    from sitewatch.imagery.grid import site_geobox
    from sitewatch.imagery.local import read_band, read_bands
    from sitewatch.sites import Site

    rng = np.random.default_rng(0)
    profile = {
        "driver": "GTiff",
        "width": 120,
        "height": 100,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32631",
        "transform": from_origin(450000, 5410000, 7, 7),
        "tiled": True,
        "interleave": "pixel",
        "nodata": 0,
    }
    with rasterio.open(tmp_path / "four.tif", "w", **profile) as dst:
        values = rng.integers(1, 5000, (4, 100, 120)).astype("uint16")
        values[:, :10, :10] = 0  # no data
        dst.write(values)
    source = open_image(tmp_path / "four.tif", band_names=["blue", "green", "red", "nir"], time="2020-01-01")
    site = Site(id="s", name="s", geometry=box(2.3190, 48.8358, 2.3260, 48.8398))
    geobox = site_geobox(site, 10.0, 50.0)  # another grid: every band is warped
    together = read_bands(source.bands, geobox)
    alone = np.stack([read_band(band, geobox) for band in source.bands])
    np.testing.assert_array_equal(together, alone)
    assert np.isfinite(together).mean() > 0.5


@pytest.mark.parametrize(
    ("dtype", "mask"),
    [("uint16", "nodata"), ("float32", "nodata-nan"), ("float64", "nodata"), ("int16", "mask-band")],
)
def test_a_grid_on_the_files_own_pixels_is_read_without_warping(tmp_path, monkeypatch, dtype, mask):
    """The file's own grid, shifted by whole pixels and hanging off its edge, is read straight
    (no warp), and gives the warp's values and no-data bit for bit, however no data is marked."""
    from rasterio.transform import from_origin

    from sitewatch.imagery import local

    rng = np.random.default_rng(1)
    transform = from_origin(450000, 5410000, 10, 10)
    profile = {"driver": "GTiff", "width": 90, "height": 80, "count": 3, "dtype": dtype, "crs": "EPSG:32631"}
    profile.update(transform=transform, tiled=True, blockxsize=32, blockysize=32, interleave="pixel")
    values = rng.integers(1, 3000, (3, 80, 90)).astype(dtype)
    if mask == "nodata":
        profile["nodata"] = 0
        values[:, 5:15, 5:25] = 0
    elif mask == "nodata-nan":
        profile["nodata"] = float("nan")
        values[1, 30:40, :] = np.nan
    with rasterio.open(tmp_path / "scene.tif", "w", **profile) as dst:
        dst.write(values)
        if mask == "mask-band":
            valid = np.full((80, 90), 255, dtype="uint8")
            valid[50:, 60:] = 0
            dst.write_mask(valid)
    source = open_image(tmp_path / "scene.tif", band_names=["blue", "green", "red"], time="2020-01-01")
    geobox = GeoBox((70, 60), transform @ transform.translation(40, -6), "EPSG:32631")  # 6 rows above the file

    def no_warp(*args, **kwargs):
        raise AssertionError("the file's own grid was warped")

    monkeypatch.setattr(local, "reproject", no_warp)
    pasted = local.read_bands(source.bands, geobox)
    monkeypatch.undo()
    monkeypatch.setattr(local, "_paste", lambda *args: False)
    warped = local.read_bands(source.bands, geobox)
    np.testing.assert_array_equal(pasted, warped)
    assert np.isnan(pasted[:, :6]).all() and np.isfinite(pasted[0, 10:20, 30:40]).all()
    assert np.isnan(pasted).any(axis=(1, 2)).all()  # every band shows its no data


def test_a_grid_half_a_pixel_off_is_warped(tmp_path, monkeypatch):
    from rasterio.transform import from_origin

    from sitewatch.imagery import local

    transform = from_origin(450000, 5410000, 10, 10)
    profile = {"driver": "GTiff", "width": 40, "height": 40, "count": 1, "dtype": "uint16", "crs": "EPSG:32631"}
    with rasterio.open(tmp_path / "scene.tif", "w", transform=transform, **profile) as dst:
        dst.write(np.arange(1600, dtype="uint16").reshape(1, 40, 40) + 1)
    source = open_image(tmp_path / "scene.tif", band_names=["red"], time="2020-01-01")
    calls = []
    monkeypatch.setattr(local, "reproject", lambda *args, **kwargs: calls.append(1))
    local.read_bands(source.bands, GeoBox((20, 20), transform @ transform.translation(5.5, 5), "EPSG:32631"))
    assert calls == [1]
