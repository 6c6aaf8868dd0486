"""Roman data models: round trips, and interoperability with roman_datamodels both ways."""

from __future__ import annotations

import numpy as np
import pytest

from photoncal.datamodels.errors import DataModelError
from photoncal.roman import datamodels as rdm


def _raw(shape=(3, 16, 16)):
    raw = rdm.ScienceRawModel()
    raw.data = (np.arange(np.prod(shape)) % 60000).astype(np.uint16).reshape(shape)
    raw.amp33 = np.full((shape[0], shape[1], 128), 7, np.uint16)
    raw.meta.exposure.read_pattern = [[1], [2, 3], [4, 5, 6]][: shape[0]]
    raw.meta.exposure.frame_time = 3.04
    raw.meta.exposure.start_time = "2027-01-02T03:04:05.000"
    raw.meta.instrument.detector = "WFI07"
    raw.meta.instrument.optical_element = "F129"
    return raw


def _wcs():
    import gwcs
    import gwcs.coordinate_frames as cf
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models

    det = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    transform = ((models.Shift(-8) & models.Shift(-8)) | (models.Scale(0.11 / 3600) & models.Scale(0.11 / 3600))
                 | models.Pix2Sky_TAN() | models.RotateNative2Celestial(30.0, -45.0, 180.0))
    return gwcs.WCS([(det, transform), (sky, None)])


def test_raw_round_trip_becomes_ramp(tmp_path):
    raw = _raw()
    path = raw.save(tmp_path / "x_uncal.asdf")
    ramp = rdm.open(path)
    assert type(ramp).__name__ == "RampModel"
    assert ramp.data.dtype == np.float32
    np.testing.assert_array_equal(ramp.data, raw.data.astype(np.float32))
    assert ramp.pixeldq.shape == (16, 16) and ramp.pixeldq.dtype == np.uint32
    assert ramp.groupdq.shape == (3, 16, 16) and not ramp.groupdq.any()
    assert ramp.meta.exposure.read_pattern == [[1], [2, 3], [4, 5, 6]]
    assert ramp.meta.exposure.start_time.isot == "2027-01-02T03:04:05.000"
    assert ramp.meta.cal_step.dq_init == "INCOMPLETE"
    again = rdm.open(path, convert_raw=False)
    assert type(again).__name__ == "ScienceRawModel" and again.data.dtype == np.uint16


def test_item_access_and_required_defaults(tmp_path):
    ramp = rdm.open(_raw().save(tmp_path / "y_uncal.asdf"))
    ramp.meta.cal_step["refpix"] = "SKIPPED"
    assert ramp.meta.cal_step["refpix"] == "SKIPPED"
    with pytest.raises(KeyError):
        ramp.meta["no_such_thing"]
    with pytest.raises(ValueError):
        ramp.meta.cal_step["refpix"] = "MAYBE"
    assert ramp.meta.observation.visit_file_activity == "?"


def test_image_with_wcs_round_trip(tmp_path):
    image = rdm.ImageModel()
    image.data = np.ones((16, 16), np.float32)
    image.err = np.full((16, 16), 0.25)
    image.meta.wcs = _wcs()
    path = image.save(tmp_path / "z_cal.asdf")
    text = open(path, "rb").read(20000)
    assert b"datatype: float16" in text  # the Roman layout on disk
    back = rdm.open(path)
    assert back.err.dtype == np.float32 and back.err[3, 3] == 0.25
    np.testing.assert_allclose(back.meta.wcs(8, 8), image.meta.wcs(8, 8), atol=1e-12)
    assert back.chisq.shape == (16, 16)  # required arrays are written


def test_simulated_origin_kept_outside_the_roman_tree(tmp_path):
    raw = _raw()
    raw.meta.origin = "PHOTONCAL-SIM"
    raw._instance["meta"]["subarray"] = {"name": "SIM8"}
    path = raw.save(tmp_path / "s_uncal.asdf")
    text = open(path, "rb").read(4000).decode("ascii", "replace")
    assert "origin: PHOTONCAL-SIM" in text and "origin: STSCI/SOC" in text
    back = rdm.open(path)
    assert back.meta.origin == "PHOTONCAL-SIM"
    assert back._instance["meta"]["subarray"] == {"name": "SIM8"}


def test_clear_errors(tmp_path):
    fits_path = tmp_path / "a.fits"
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros(3)).writeto(fits_path)
    with pytest.raises(DataModelError, match="a.fits"):
        rdm.open(fits_path)
    import asdf

    plain = tmp_path / "plain.asdf"
    asdf.AsdfFile({"data": np.zeros(3)}).write_to(plain)
    with pytest.raises(DataModelError, match="not a Roman data file"):
        rdm.open(plain)
    with pytest.raises(DataModelError, match="ASDF"):
        _raw().save(tmp_path / "x.fits")
    with pytest.raises(DataModelError, match="no such file"):
        rdm.open(tmp_path / "missing_uncal.asdf")


def test_memmap_keeps_arrays_on_disk(tmp_path):
    image = rdm.ImageModel()
    image.data = np.arange(256, dtype=np.float32).reshape(16, 16)
    path = image.save(tmp_path / "m_cal.asdf")
    mapped = rdm.open(path, memmap=True)
    assert isinstance(mapped.data, np.memmap)
    mapped.data[0, 0] = -1.0  # copy-on-write: the file is unchanged
    assert rdm.open(path).data[0, 0] == 0.0


# ---------------------------------------------------------------- interoperability
def test_roman_datamodels_reads_ours(tmp_path):
    rd = pytest.importorskip("roman_datamodels.datamodels")
    raw = _raw()
    raw.meta.origin = "PHOTONCAL-SIM"
    raw_path = raw.save(tmp_path / "r_uncal.asdf")
    theirs = rd.open(raw_path)
    assert type(theirs).__name__ == "ScienceRawModel"
    np.testing.assert_array_equal(theirs.data, raw.data)
    assert theirs.meta.instrument.detector == "WFI07"
    assert theirs.meta.origin == "STSCI/SOC"
    theirs.validate()

    ramp = rdm.open(raw_path)
    ramp_path = ramp.save(tmp_path / "r_ramp.asdf")
    rd.open(ramp_path).validate()

    image = rdm.ImageModel()
    image.data = np.ones((16, 16), np.float32)
    image.meta.wcs = _wcs()
    image_path = image.save(tmp_path / "r_cal.asdf")
    theirs = rd.open(image_path)
    theirs.validate()
    np.testing.assert_allclose(theirs.meta.wcs(8, 8), image.meta.wcs(8, 8), atol=1e-12)
    assert theirs.meta.cal_step.ramp_fit == "INCOMPLETE"


@pytest.mark.parametrize("shape", [(2, 8, 8), (3, 300, 300)])
def test_we_read_roman_datamodels_files(tmp_path, shape):
    rd = pytest.importorskip("roman_datamodels.datamodels")
    theirs = rd.ScienceRawModel.create_fake_data(shape=shape)
    theirs.data = (np.arange(np.prod(shape)) % 1000).astype(np.uint16).reshape(shape)
    theirs.meta.exposure.read_pattern = [[i + 1] for i in range(shape[0])]
    path = str(tmp_path / "theirs_uncal.asdf")
    theirs.save(path)
    ours = rdm.open(path)
    assert type(ours).__name__ == "RampModel"
    np.testing.assert_array_equal(ours.data, theirs.data.astype(np.float32))
    assert ours.meta.exposure.read_pattern == [[i + 1] for i in range(shape[0])]
    assert ours.meta.exposure.start_time.isot.startswith("20")


def test_we_read_their_image_and_references(tmp_path):
    rd = pytest.importorskip("roman_datamodels.datamodels")
    image = rd.ImageModel.create_fake_data(shape=(20, 20))
    image.data = np.full((20, 20), 3.5, np.float32)
    path = str(tmp_path / "their_cal.asdf")
    image.save(path)
    ours = rdm.open(path)
    assert type(ours).__name__ == "ImageModel"
    assert float(ours.data[5, 5]) == 3.5
    np.testing.assert_allclose(ours.meta.wcs(10, 10), image.meta.wcs(10, 10))
    for cls, ours_name in (("MaskRefModel", "MaskRefModel"), ("GainRefModel", "GainRefModel"),
                           ("DarkRefModel", "DarkRefModel"), ("RefpixRefModel", "RefpixRefModel")):
        model = getattr(rd, cls).create_fake_data()
        ref_path = str(tmp_path / f"{cls}.asdf")
        model.save(ref_path)
        opened = rdm.open(ref_path)
        assert type(opened).__name__ == ours_name
        assert opened.meta.reftype == model.meta.reftype


def test_reference_set_valid_for_roman_datamodels(photoncal_cache):
    rd = pytest.importorskip("roman_datamodels.datamodels")
    from photoncal.sim.roman import ensure_roman_reference_set

    paths = ensure_roman_reference_set("WFI01", size=248, optical_elements=("F158",))
    for reftype, path in paths.items():
        theirs = rd.open(path)
        theirs.validate()
        ours = rdm.open(path)
        assert ours.meta.reftype == theirs.meta.reftype, reftype


def test_roman_datamodels_reads_the_pipeline_products(calibrated):
    rd = pytest.importorskip("roman_datamodels.datamodels")
    base = calibrated["base"]
    cal = rd.open(base + "_cal.asdf")
    cal.validate()
    assert cal.err.dtype == np.float16 and cal.data.shape == (248, 248)
    assert cal.meta.cal_step.ramp_fit == "COMPLETE"
    np.testing.assert_allclose(cal.meta.wcs(10.0, 20.0), calibrated["cal"].meta.wcs(10.0, 20.0), atol=1e-12)
    segm = rd.open(base + "_segm.asdf")
    segm.validate()
    assert type(segm).__name__ == "SegmentationMapModel" and segm.data.max() > 0
    wcs = rd.open(base + "_wcs.asdf")
    wcs.validate()
    np.testing.assert_allclose(wcs.wcs_l1(14.0, 24.0), wcs.wcs_l2(10.0, 20.0), atol=1e-12)


def test_open_file_object(tmp_path):
    path = _raw().save(tmp_path / "f_uncal.asdf")
    with open(path, "rb") as handle:
        ramp = rdm.open(handle)
        np.testing.assert_array_equal(ramp.data[2], _raw().data[2].astype(np.float32))
