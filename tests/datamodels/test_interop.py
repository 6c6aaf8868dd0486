"""Files written by photoncal open in stdatamodels, and the reverse (test-only import)."""

import warnings

import numpy as np
import pytest

from photoncal import datamodels as dm
from photoncal import dqflags

sdm = pytest.importorskip("stdatamodels.jwst.datamodels")


def _fill_meta(meta):
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = "NRCA1"
    meta.instrument.filter = "F200W"
    meta.instrument.pupil = "CLEAR"
    meta.instrument.module = "A"
    meta.instrument.channel = "SHORT"
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.readpatt = "RAPID"
    meta.exposure.nints = 2
    meta.exposure.ngroups = 3
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.frame_time = 10.73677
    meta.exposure.group_time = 10.73677
    meta.exposure.start_time = 60000.25
    meta.subarray.name = "FULL"
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = 7
    meta.subarray.ysize = 6
    meta.observation.date = "2023-01-02"
    meta.observation.time = "03:04:05.678"
    meta.observation.program_number = "01234"
    meta.target.ra = 10.5
    meta.wcsinfo.v2_ref = 120.0
    meta.wcsinfo.v3_ref = -527.0
    meta.wcsinfo.roll_ref = 12.0
    meta.wcsinfo.ra_ref = 10.5
    meta.wcsinfo.dec_ref = -20.25
    meta.wcsinfo.vparity = -1
    meta.wcsinfo.v3yangle = -0.5
    meta.cal_step.dq_init = "COMPLETE"
    meta.cal_step.jump = "SKIPPED"
    meta.ref_file.gain.name = "jwst_nircam_gain_0001.fits"


_KEYS = [
    "meta.instrument.name", "meta.instrument.detector", "meta.instrument.filter", "meta.exposure.type",
    "meta.exposure.readpatt", "meta.exposure.ngroups", "meta.exposure.nframes", "meta.exposure.frame_time",
    "meta.exposure.start_time", "meta.subarray.xsize", "meta.observation.date", "meta.target.ra",
    "meta.wcsinfo.v2_ref", "meta.wcsinfo.vparity", "meta.wcsinfo.roll_ref", "meta.cal_step.dq_init",
    "meta.cal_step.jump", "meta.ref_file.gain.name",
]


def _compare_meta(ours, theirs):
    for key in _KEYS:
        assert ours[key] == theirs[key], key


def _simple_wcs():
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models as am
    from gwcs import coordinate_frames as cf
    from gwcs import wcs as gw

    det = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    transform = ((am.Shift(-3) & am.Shift(-3)) | (am.Scale(1e-5) & am.Scale(1e-5))
                 | am.Pix2Sky_TAN() | am.RotateNative2Celestial(10.5, -20.25, 180))
    return gw.WCS([(det, transform), (sky, None)])


@pytest.mark.parametrize("name, shape", [("RampModel", (2, 3, 6, 7)), ("ImageModel", (6, 7)),
                                         ("CubeModel", (2, 6, 7))])
def test_photoncal_files_open_in_stdatamodels(tmp_path, rng, name, shape):
    model = getattr(dm, name)(rng.normal(size=shape).astype(np.float32))
    _fill_meta(model.meta)
    if name == "RampModel":
        model.groupdq = rng.choice(np.array([0, 2, 4], np.uint8), size=shape)
        model.pixeldq = rng.choice(np.array([0, 1, 2048], np.uint32), size=shape[-2:])
    else:
        model.dq = rng.choice(np.array([0, 1, 2048], np.uint32), size=shape)
        model.err = rng.random(shape).astype(np.float32)
        model.var_poisson = rng.random(shape).astype(np.float32)
    if name == "ImageModel":
        model.meta.wcs = _simple_wcs()
        model.meta.bunit_data = "MJy/sr"
    path = model.save(tmp_path / f"ours_{name}.fits")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ValidationWarning, no NoTypeWarning
        theirs = sdm.open(path, strict_validation=True)
        theirs.validate()
    assert type(theirs).__name__ == name
    np.testing.assert_array_equal(theirs.data, model.data)
    if name == "RampModel":
        np.testing.assert_array_equal(theirs.groupdq, model.groupdq)
        np.testing.assert_array_equal(theirs.pixeldq, model.pixeldq)
    else:
        np.testing.assert_array_equal(theirs.dq, model.dq)
        np.testing.assert_array_equal(theirs.err, model.err)
        np.testing.assert_array_equal(theirs.var_poisson, model.var_poisson)
    _compare_meta(model, theirs)
    if name == "ImageModel":
        assert theirs.meta.bunit_data == "MJy/sr"
        np.testing.assert_allclose(theirs.meta.wcs(3.0, 3.0), model.meta.wcs(3.0, 3.0))
    # and they write it back in a form we read
    back = theirs.save(tmp_path / f"theirs_{name}.fits")
    again = dm.open(back)
    assert type(again).__name__ == name
    np.testing.assert_array_equal(again.data, model.data)
    _compare_meta(model, again)


def test_stdatamodels_level1b_opens_as_ramp(tmp_path, rng):
    raw = rng.integers(0, 65535, size=(2, 3, 6, 7)).astype(np.uint16)
    theirs = sdm.Level1bModel(data=raw)
    _fill_meta(theirs.meta)
    theirs.zeroframe = raw[:, 0].copy()
    path = tmp_path / "jw01234001001_01101_00001_nrca1_uncal.fits"
    theirs.save(path)
    ours = dm.open(path)
    assert type(ours) is dm.RampModel
    assert ours.data.dtype == np.float32
    np.testing.assert_array_equal(ours.data, raw.astype(np.float32))
    np.testing.assert_array_equal(ours.zeroframe, raw[:, 0].astype(np.float32))
    assert ours.pixeldq.shape == (6, 7) and ours.groupdq.shape == raw.shape
    _compare_meta(ours, theirs)
    raw_model = dm.Level1bModel(path)
    assert raw_model.data.dtype == np.uint16
    np.testing.assert_array_equal(raw_model.data, raw)


@pytest.mark.parametrize("name, shape", [("RampModel", (2, 3, 6, 7)), ("ImageModel", (6, 7)),
                                         ("CubeModel", (2, 6, 7))])
def test_stdatamodels_products_open_in_photoncal(tmp_path, rng, name, shape):
    theirs = getattr(sdm, name)(data=rng.normal(size=shape).astype(np.float32))
    _fill_meta(theirs.meta)
    if name == "RampModel":
        theirs.groupdq = rng.choice(np.array([0, 4], np.uint8), size=shape)
        theirs.pixeldq = np.full(shape[-2:], 1, np.uint32)
    else:
        theirs.dq = rng.choice(np.array([0, 1, 2048], np.uint32), size=shape)
        theirs.err = rng.random(shape).astype(np.float32)
        theirs.var_rnoise = rng.random(shape).astype(np.float32)
    if name == "ImageModel":
        theirs.meta.wcs = _simple_wcs()
    path = tmp_path / f"theirs_{name}.fits"
    theirs.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = dm.open(path)
        arrays = {k: getattr(ours, k) for k in ("data",)}
    assert type(ours).__name__ == name
    np.testing.assert_array_equal(arrays["data"], theirs.data)
    if name == "RampModel":
        np.testing.assert_array_equal(ours.groupdq, theirs.groupdq)
        np.testing.assert_array_equal(ours.pixeldq, theirs.pixeldq)
    else:
        np.testing.assert_array_equal(ours.dq, theirs.dq)
        np.testing.assert_array_equal(ours.var_rnoise, theirs.var_rnoise)
    _compare_meta(ours, theirs)
    if name == "ImageModel":
        np.testing.assert_allclose(ours.meta.wcs(1.0, 2.0), theirs.meta.wcs(1.0, 2.0))


# ---------------------------------------------------------- reference files

_REF_CASES = {
    # stdatamodels class: (our class, arrays)
    "MaskModel": ("MaskModel", {"dq": (6, 7)}),
    "SaturationModel": ("SaturationModel", {"data": (6, 7), "dq": (6, 7)}),
    "SuperBiasModel": ("SuperBiasModel", {"data": (6, 7), "dq": (6, 7), "err": (6, 7)}),
    "LinearityModel": ("LinearityModel", {"coeffs": (4, 6, 7), "dq": (6, 7)}),
    "DarkModel": ("DarkModel", {"data": (5, 6, 7), "dq": (6, 7), "err": (5, 6, 7)}),
    "DarkMIRIModel": ("DarkMIRIModel", {"data": (2, 5, 6, 7), "dq": (2, 5, 6, 7), "err": (2, 5, 6, 7)}),
    "GainModel": ("GainModel", {"data": (6, 7)}),
    "ReadnoiseModel": ("ReadnoiseModel", {"data": (6, 7)}),
    "IPCModel": ("IPCModel", {"data": (3, 3)}),
    "ResetModel": ("ResetModel", {"data": (2, 3, 6, 7), "dq": (6, 7), "err": (2, 3, 6, 7)}),
    "LastFrameModel": ("LastFrameModel", {"data": (6, 7), "dq": (6, 7), "err": (6, 7)}),
    "FlatModel": ("FlatModel", {"data": (6, 7), "dq": (6, 7), "err": (6, 7)}),
    "PixelAreaModel": ("PixelAreaModel", {"data": (6, 7)}),
    "TrapDensityModel": ("TrapDensityModel", {"data": (6, 7), "dq": (6, 7)}),
    "PersistenceSatModel": ("PersistenceSatModel", {"data": (6, 7), "dq": (6, 7)}),
}


def _ref_meta(meta, reftype, instrument="NIRCAM"):
    meta.reftype = reftype
    meta.instrument.name = instrument
    meta.instrument.detector = "MIRIMAGE" if instrument == "MIRI" else "NRCA1"
    meta.description = "interop test reference"
    meta.author = "photoncal"
    meta.pedigree = "DUMMY"
    meta.useafter = "2022-01-01T00:00:00"
    meta.telescope = "JWST"


@pytest.mark.parametrize("their_name", sorted(_REF_CASES))
def test_stdatamodels_reference_files_open_as_the_right_class(tmp_path, rng, their_name):
    our_name, arrays = _REF_CASES[their_name]
    theirs = getattr(sdm, their_name)()
    values = {}
    for key, shape in arrays.items():
        if key == "dq":
            values[key] = rng.choice(np.array([0, 1, 4, 5], np.uint32), size=shape)
        else:
            values[key] = rng.normal(size=shape).astype(np.float32)
        setattr(theirs, key, values[key])
    if "dq" in arrays:
        theirs.dq_def = np.array([(0, 1, "DO_NOT_USE", "Bad"), (2, 4, "JUMP_DET", "jump")],
                                 dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")])
    instrument = "MIRI" if their_name == "DarkMIRIModel" else "NIRCAM"
    reftype = {"PixelAreaModel": "AREA", "PersistenceSatModel": "PERSAT"}.get(their_name, their_name[:-5].upper())
    _ref_meta(theirs.meta, reftype, instrument)
    path = tmp_path / f"{their_name}.fits"
    theirs.save(path)
    ours = dm.open(path)
    assert type(ours).__name__ == our_name
    for key, value in values.items():
        np.testing.assert_array_equal(getattr(ours, key), value, err_msg=key)
    assert ours.meta.reftype == reftype and ours.meta.author == "photoncal"
    assert ours.meta.instrument.detector == theirs.meta.instrument.detector
    assert ours.validate() == []


def test_reference_dq_with_its_own_dq_def_is_translated(tmp_path):
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    for key, value in {"DATAMODL": "MaskModel", "REFTYPE": "MASK", "INSTRUME": "NIRCAM"}.items():
        primary.header[key] = value
    dq = fits.ImageHDU(np.array([[0, 1], [2, 3]], np.uint8), name="DQ")
    dq_def = fits.BinTableHDU(np.array([(0, 1, "DEAD", "dead"), (1, 2, "HOT", "hot")], dtype=[
        ("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")]), name="DQ_DEF")
    fits.HDUList([primary, dq, dq_def]).writeto(tmp_path / "mask.fits")
    ours = dm.open(tmp_path / "mask.fits")
    dead, hot = dqflags.pixel["DEAD"], dqflags.pixel["HOT"]
    assert ours.dq.dtype == np.uint32
    np.testing.assert_array_equal(ours.dq, [[0, dead], [hot, dead | hot]])
    assert sorted(ours.dq_def["NAME"]) == ["DEAD", "HOT"]
    assert sorted(ours.dq_def["VALUE"]) == [dead, hot]
    # saving and reading again keeps master-table values
    again = dm.open(ours.save(tmp_path / "mask2.fits"))
    np.testing.assert_array_equal(again.dq, ours.dq)
    # stdatamodels reads our translated pair the same way
    theirs = sdm.open(tmp_path / "mask2.fits")
    np.testing.assert_array_equal(theirs.dq, ours.dq)


@pytest.mark.parametrize("their_name, our_name", [
    ("NrcImgPhotomModel", "NircamPhotomModel"), ("NisImgPhotomModel", "NirissPhotomModel"),
    ("FgsImgPhotomModel", "FgsPhotomModel"), ("MirImgPhotomModel", "MiriImgPhotomModel")])
def test_stdatamodels_photom_tables(tmp_path, their_name, our_name):
    theirs = getattr(sdm, their_name)()
    cols = {"NrcImgPhotomModel": [("filter", "S12"), ("pupil", "S12")],
            "NisImgPhotomModel": [("filter", "S12"), ("pupil", "S12")],
            "FgsImgPhotomModel": [],
            "MirImgPhotomModel": [("filter", "S12"), ("subarray", "S17")]}[their_name]
    dtype = cols + [("photmjsr", "<f4"), ("uncertainty", "<f4")]
    rows = [tuple([b"F200W", b"CLEAR"][: len(cols)]) + (1.25, 0.01), tuple([b"F150W", b"FULL"][: len(cols)]) + (2.5, 0.02)]
    theirs.phot_table = np.array(rows, dtype=dtype)
    instrument = {"Nrc": "NIRCAM", "Nis": "NIRISS", "Fgs": "FGS", "Mir": "MIRI"}[their_name[:3]]
    _ref_meta(theirs.meta, "PHOTOM", instrument)
    theirs.meta.instrument.detector = {"NIRCAM": "NRCA1", "NIRISS": "NIS", "FGS": "GUIDER1", "MIRI": "MIRIMAGE"}[instrument]
    theirs.meta.photometry.pixelarea_steradians = 9.3e-14
    theirs.save(tmp_path / "photom.fits")
    ours = dm.open(tmp_path / "photom.fits")
    assert type(ours).__name__ == our_name
    np.testing.assert_allclose(ours.phot_table["photmjsr"], [1.25, 2.5])
    if cols:
        assert ours.phot_table[0]["filter"] == "F200W"
    assert ours.meta.photometry.pixelarea_steradians == 9.3e-14


def test_stdatamodels_rscd_trappars(tmp_path):
    rscd = sdm.RSCDModel()
    rscd.rscd_group_skip_table = np.array([(b"FULL", b"FAST", 1, 2)], dtype=[
        ("subarray", "S17"), ("readpatt", "S12"), ("group_skip1", "<i4"), ("group_skip", "<i4")])
    _ref_meta(rscd.meta, "RSCD", "MIRI")
    rscd.save(tmp_path / "rscd.fits")
    ours = dm.open(tmp_path / "rscd.fits")
    assert type(ours) is dm.RSCDModel and ours.rscd_group_skip_table[0]["group_skip"] == 2
    traps = sdm.TrapParsModel()
    traps.trappars_table = np.array([(1.0, 2.0, 3.0, 4.0)], dtype=[
        ("capture0", "<f8"), ("capture1", "<f8"), ("capture2", "<f8"), ("decay_param", "<f8")])
    _ref_meta(traps.meta, "TRAPPARS")
    traps.save(tmp_path / "traps.fits")
    ours = dm.open(tmp_path / "traps.fits")
    assert type(ours) is dm.TrapParsModel and ours.trappars_table[0]["decay_param"] == 4.0


def test_stdatamodels_asdf_wcs_references(tmp_path):
    from astropy.modeling import models as am

    dist = sdm.DistortionModel(model=am.Shift(1.0) & am.Shift(2.0), input_units="pixel", output_units="arcsec")
    _ref_meta(dist.meta, "DISTORTION")
    dist.meta.instrument.module = "A"
    dist.meta.instrument.channel = "SHORT"
    dist.meta.instrument.p_pupil = "CLEAR|"
    dist.meta.exposure.type = "NRC_IMAGE"
    dist.meta.exposure.p_exptype = "NRC_IMAGE|"
    dist.save(tmp_path / "dist.asdf")
    ours = dm.open(tmp_path / "dist.asdf")
    assert type(ours) is dm.DistortionModel
    assert ours.model(0.0, 0.0) == (1.0, 2.0)
    offsets = sdm.FilteroffsetModel(filters=[{"filter": "F200W", "pupil": "CLEAR", "row_offset": 1.0,
                                              "column_offset": 2.0}], instrument="NIRCAM")
    _ref_meta(offsets.meta, "FILTEROFFSET")
    offsets.meta.instrument.module = "A"
    offsets.meta.instrument.channel = "SHORT"
    offsets.save(tmp_path / "off.asdf")
    ours = dm.open(tmp_path / "off.asdf")
    assert type(ours) is dm.FilteroffsetModel
    assert ours.filters[0].column_offset == 2.0 and ours.filters[0].filter == "F200W"
    # ours written, theirs read
    mine = dm.DistortionModel(model=am.Shift(3.0) & am.Shift(4.0), input_units="pixel", output_units="arcsec")
    _ref_meta(mine.meta, "DISTORTION")
    mine.meta.instrument.module = "A"
    mine.meta.instrument.channel = "SHORT"
    mine.meta.instrument.p_pupil = "CLEAR|"
    mine.meta.exposure.type = "NRC_IMAGE"
    mine.meta.exposure.p_exptype = "NRC_IMAGE|"
    mine.save(tmp_path / "mine.asdf")
    back = sdm.DistortionModel(str(tmp_path / "mine.asdf"))
    assert back.model(0.0, 0.0) == (3.0, 4.0)
