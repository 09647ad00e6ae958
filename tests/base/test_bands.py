import pytest

from sitewatch.base import bands


@pytest.mark.parametrize(
    ("filename", "token"),
    [
        ("S2A_OPER_MSI_L1C_TL_EPA__20160809T015434_A000162_T32TPP_B08.tif", "B08"),
        ("T32TPP_20180211T102141_B8A.tif", "B8A"),
        ("LC08_L2SP_119038_20200101_20200823_02_T1_SR_B4.TIF", "B4"),
        ("LT05_L1TP_120038_20000503_20161214_01_T1_B7.TIF", "B7"),
        ("scene.tif", None),
        ("mosaic_2021.tif", None),
    ],
)
def test_band_token(filename, token):
    assert bands.band_token(filename) == token


def test_sensor_and_common_names():
    assert bands.sensor_from_names(["T32TPP_20180211T102141_B02.tif"]) == "sentinel-2"
    assert bands.sensor_from_names(["LC08_L2SP_x_SR_B4.TIF"]) == "landsat-oli"
    assert bands.sensor_from_names(["LT51200382000124BJC00_Nanjing"]) == "landsat-tm"
    assert bands.common_name_for("B8A", "sentinel-2") == "nir08"
    assert bands.common_name_for("B2", "sentinel-2") == "blue"
    # The same raw name means different light on different Landsats.
    assert bands.common_name_for("B5", "landsat-tm") == "swir16"
    assert bands.common_name_for("B5", "landsat-oli") == "nir"


def test_wavelengths_and_labels():
    assert bands.common_name_from_wavelength(0.4825) == "blue"
    assert bands.common_name_from_wavelength(1.65) == "swir16"
    assert bands.common_name_from_wavelength(2.22) == "swir22"
    assert bands.normalise_common_name("Red") == "red"
    assert bands.normalise_common_name("NIR") == "nir"
    assert bands.normalise_common_name("swir1") == "swir16"
    assert bands.normalise_common_name("band 7") is None
