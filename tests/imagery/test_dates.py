import numpy as np
import pytest

from sitewatch.base.errors import InputError
from sitewatch.imagery.dates import parse_time, time_from_name, time_from_oscd_dates, time_from_tags


def test_names_that_carry_acquisition_dates():
    assert str(time_from_name("LT51200382002193BJC00_Nanjing").value)[:10] == "2002-07-12"
    assert str(time_from_name("LC08_L2SP_119038_20200101_20200823_02_T1_SR_B4.TIF").value)[:10] == "2020-01-01"
    assert str(time_from_name("T32TPP_20180211T102141_B02.tif").value)[:19] == "2018-02-11T10:21:41"
    assert str(time_from_name("worldview_2021-06-30.tif").value)[:10] == "2021-06-30"


def test_processing_times_are_not_taken_for_acquisition_times():
    # Old Sentinel-2 names carry the processing date (2016-08-09), not the sensing date.
    assert time_from_name("S2A_OPER_MSI_L1C_TL_EPA__20160809T015434_A000162_T32TPP_B08.tif") is None
    assert time_from_name("2000TM") is None


def test_oscd_dates_file(oscd_city):
    folder = oscd_city("pisa")
    assert time_from_oscd_dates(folder / "imgs_1").day == "2015-07-04"
    assert time_from_oscd_dates(folder / "imgs_2").day == "2018-02-11"


def test_metadata_tags_and_user_dates():
    assert time_from_tags({"ACQUISITIONDATETIME": "2019-03-01T08:15:00.000Z"}, "tif").day == "2019-03-01"
    assert parse_time("2021-06-30") == np.datetime64("2021-06-30T00:00:00", "ns")
    assert parse_time("2021-06-30T12:00:00+02:00") == np.datetime64("2021-06-30T10:00:00", "ns")
    with pytest.raises(InputError, match="not a date"):
        parse_time("30/06/2021", "--before-date")
