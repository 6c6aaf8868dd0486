"""Raw exposures: the genuine ``_uncal`` layout written and read as a ramp."""

import numpy as np
import pytest
from astropy.io import fits

from photoncal import datamodels as dm
from photoncal.config import SIMULATED_ORIGIN


def _level1b(instrument="NIRCAM", zeroframe=True, refout=False, nints=2, ngroups=3, ny=5, nx=6):
    raw = (np.arange(nints * ngroups * ny * nx) % 65536).astype(np.uint16).reshape(nints, ngroups, ny, nx)
    raw[0, 0, 0, 0] = 65535  # the top of the uint16 range survives the int16+BZERO storage
    m = dm.Level1bModel(data=raw)
    m.meta.origin = SIMULATED_ORIGIN
    m.meta.instrument.name = instrument
    m.meta.instrument.detector = "MIRIMAGE" if instrument == "MIRI" else "NRCA1"
    m.meta.exposure.type = "MIR_IMAGE" if instrument == "MIRI" else "NRC_IMAGE"
    m.meta.exposure.nints = nints
    m.meta.exposure.ngroups = ngroups
    m.meta.exposure.nframes = 1
    m.meta.exposure.groupgap = 0
    m.meta.exposure.frame_time = 10.73677
    m.meta.exposure.group_time = 10.73677
    m.meta.exposure.readpatt = "RAPID"
    m.meta.subarray.name = "SUB64"
    m.meta.subarray.xstart = 11
    m.meta.subarray.ystart = 21
    m.meta.subarray.xsize = nx
    m.meta.subarray.ysize = ny
    m.meta.observation.date = "2023-03-04"
    m.meta.observation.time = "01:02:03.456"
    if zeroframe:
        m.zeroframe = raw[:, 0] // 2
    if refout:
        m.refout = np.full((nints, ngroups, ny, 2), 7, np.uint16)
    group = np.zeros(nints * ngroups, dtype=[("integration_number", "i4"), ("group_number", "i2"),
                                             ("end_day", "i2"), ("end_milliseconds", "i4"),
                                             ("end_submilliseconds", "i2"), ("group_end_time", "U26"),
                                             ("number_of_columns", "i2"), ("number_of_rows", "i2"),
                                             ("number_of_gaps", "i2"), ("completion_code_number", "i2"),
                                             ("completion_code_text", "U36"), ("bary_end_time", "f8"),
                                             ("helio_end_time", "f8")])
    group["integration_number"] = np.repeat(np.arange(1, nints + 1), ngroups)
    group["group_number"] = np.tile(np.arange(1, ngroups + 1), nints)
    group["group_end_time"] = "2023-03-04T01:02:03.456"
    m.group = group
    int_times = np.zeros(nints, dtype=[("integration_number", "i4"), ("int_start_MJD_UTC", "f8"),
                                       ("int_mid_MJD_UTC", "f8"), ("int_end_MJD_UTC", "f8"),
                                       ("int_start_BJD_TDB", "f8"), ("int_mid_BJD_TDB", "f8"),
                                       ("int_end_BJD_TDB", "f8")])
    int_times["integration_number"] = np.arange(1, nints + 1)
    int_times["int_mid_MJD_UTC"] = 60000.5 + np.arange(nints)
    m.int_times = int_times
    return m


def test_level1b_writes_the_genuine_layout(tmp_path):
    m = _level1b()
    path = m.save(tmp_path / "jw01234001001_01101_00001_nrca1_uncal.fits")
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names == ["PRIMARY", "SCI", "ZEROFRAME", "GROUP", "INT_TIMES", "ASDF"]
        assert hdul[0].header["NAXIS"] == 0
        assert hdul[0].header["DATAMODL"] == "Level1bModel"
        assert hdul[0].header["ORIGIN"] == SIMULATED_ORIGIN
        assert hdul[0].header["NGROUPS"] == 3 and hdul[0].header["SUBSTRT1"] == 11
        sci = hdul["SCI"].header
        assert sci["BITPIX"] == 16 and sci["BZERO"] == 32768
        assert [sci[f"NAXIS{i}"] for i in range(1, 5)] == [6, 5, 3, 2]
        assert hdul["SCI"].data.dtype.kind == "u"
        np.testing.assert_array_equal(hdul["SCI"].data, m.data)
        assert hdul["ZEROFRAME"].header["BZERO"] == 32768
        assert hdul["GROUP"].header["XTENSION"] == "BINTABLE"
        assert hdul["GROUP"].data["group_end_time"][0] == "2023-03-04T01:02:03.456"
        assert hdul["ASDF"].columns.names == ["ASDF_METADATA"]


def test_uncal_opens_as_float32_ramp(tmp_path):
    m = _level1b()
    path = m.save(tmp_path / "x_uncal.fits")
    ramp = dm.open(path)
    assert type(ramp) is dm.RampModel
    assert ramp.data.dtype == np.float32
    np.testing.assert_array_equal(ramp.data, m.data.astype(np.float32))
    assert ramp.data[0, 0, 0, 0] == 65535.0
    assert ramp.pixeldq.shape == (5, 6) and ramp.pixeldq.dtype == np.uint32 and not ramp.pixeldq.any()
    assert ramp.groupdq.shape == (2, 3, 5, 6) and ramp.groupdq.dtype == np.uint8
    assert ramp.err.shape == (2, 3, 5, 6) and ramp.err.dtype == np.float32
    assert ramp.zeroframe.dtype == np.float32
    np.testing.assert_array_equal(ramp.zeroframe, (m.data[:, 0] // 2).astype(np.float32))
    assert list(ramp.group["group_number"]) == [1, 2, 3, 1, 2, 3]
    assert ramp.group[0]["group_end_time"] == "2023-03-04T01:02:03.456"
    np.testing.assert_array_equal(ramp.int_times["int_mid_MJD_UTC"], [60000.5, 60001.5])
    assert ramp.meta.exposure.ngroups == 3 and ramp.meta.exposure.frame_time == 10.73677
    assert ramp.meta.subarray.xstart == 11 and ramp.meta.origin == SIMULATED_ORIGIN
    # the ramp saves in the ramp layout, keeping the raw extensions
    out = ramp.save(tmp_path / "x_ramp.fits")
    with fits.open(out) as hdul:
        names = [h.name for h in hdul]
        assert names[:5] == ["PRIMARY", "SCI", "PIXELDQ", "GROUPDQ", "ERR"]
        assert {"ZEROFRAME", "GROUP", "INT_TIMES", "ASDF"} <= set(names)
        assert hdul[0].header["DATAMODL"] == "RampModel"
        assert hdul["SCI"].header["BITPIX"] == -32
        assert hdul["GROUPDQ"].header["BITPIX"] == 8
        assert hdul["PIXELDQ"].data.dtype == np.uint32


def test_rampmodel_constructor_reads_uncal(tmp_path):
    path = _level1b(zeroframe=False).save(tmp_path / "y_uncal.fits")
    ramp = dm.RampModel(path)
    assert ramp.data.dtype == np.float32 and ramp.data.shape == (2, 3, 5, 6)
    assert ramp.zeroframe.shape == (2, 5, 6)  # created on access


def test_miri_uncal_opens_as_miri_ramp_with_refout(tmp_path):
    path = _level1b("MIRI", refout=True).save(tmp_path / "m_uncal.fits")
    with fits.open(path) as hdul:
        assert "REFOUT" in [h.name for h in hdul]
    ramp = dm.open(path)
    assert type(ramp) is dm.MIRIRampModel and isinstance(ramp, dm.RampModel)
    assert ramp.refout.dtype == np.float32 and ramp.refout.shape == (2, 3, 5, 2)
    assert np.all(ramp.refout == 7.0)


def test_level1b_class_keeps_raw_dtype(tmp_path):
    path = _level1b().save(tmp_path / "z_uncal.fits")
    raw = dm.Level1bModel(path)
    assert raw.data.dtype == np.uint16
    assert raw.data[0, 0, 0, 0] == 65535
