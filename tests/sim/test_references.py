"""The simulated reference set: genuine formats, the simulator's own arrays, deterministic."""

import hashlib
import importlib.util
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from photoncal import datamodels, dqflags
from photoncal.sim.detector import detector_properties
from photoncal.sim.instruments import frame_time, get_detector, get_subarray
from photoncal.sim.references import REFERENCE_SET_VERSION, ensure_reference_set, reference_path

HAVE_STDATAMODELS = importlib.util.find_spec("stdatamodels") is not None

OUR_CLASS = {
    "mask": "MaskModel", "saturation": "SaturationModel", "superbias": "SuperBiasModel",
    "linearity": "LinearityModel", "gain": "GainModel", "readnoise": "ReadnoiseModel",
    "ipc": "IPCModel", "trapdensity": "TrapDensityModel", "trappars": "TrapParsModel",
    "persat": "PersistenceSatModel", "reset": "ResetModel", "rscd": "RSCDModel",
    "flat": "FlatModel", "area": "PixelAreaModel", "distortion": "DistortionModel",
    "filteroffset": "FilteroffsetModel", "drizpars": "DrizParsModel",
    "abvegaoffset": "ABVegaOffsetModel",
}
APCORR_CLASS = {"NIRCAM": "NrcImgApcorrModel", "NIRISS": "NisImgApcorrModel",
                "FGS": "FgsImgApcorrModel", "MIRI": "MirImgApcorrModel"}
PHOTOM_CLASS = {"NIRCAM": "NircamPhotomModel", "NIRISS": "NirissPhotomModel",
                "FGS": "FgsPhotomModel", "MIRI": "MiriImgPhotomModel"}
# stdatamodels' names where they differ from ours; None: stdatamodels has no such model.
STDATAMODELS_CLASS = {"NircamPhotomModel": "NrcImgPhotomModel", "NirissPhotomModel": "NisImgPhotomModel",
                      "FgsPhotomModel": "FgsImgPhotomModel", "MiriImgPhotomModel": "MirImgPhotomModel",
                      "DrizParsModel": None}


def _flatten(paths):
    for reftype, value in paths.items():
        if isinstance(value, dict):
            for path in value.values():
                yield reftype, path
        else:
            yield reftype, value


def _class_name(reftype, instrument, path):
    if reftype == "photom":
        return PHOTOM_CLASS[instrument]
    if reftype == "apcorr":
        return APCORR_CLASS[instrument]
    if reftype == "dark":
        return "DarkMIRIModel" if instrument == "MIRI" else "DarkModel"
    return OUR_CLASS[reftype]


CASES = [("NIRCAM", "NRCA1", "SUB160", "MEDIUM8", 3), ("MIRI", "MIRIMAGE", "SUB64", "FAST", 6),
         ("NIRISS", "NIS", "SUB64", "NISRAPID", 4), ("FGS", "GUIDER2", "SUB32LL", "FGS60", 3)]


@pytest.fixture(scope="module", params=CASES, ids=[c[1] for c in CASES])
def refset(request, tmp_path_factory):
    instrument, detector, subarray, readpatt, ngroups = request.param
    directory = tmp_path_factory.mktemp(f"refs_{detector}")
    paths = ensure_reference_set(instrument, detector, subarray=subarray, readpatt=readpatt,
                                 ngroups=ngroups, directory=directory, cutout=True)
    return request.param, directory, paths


def test_every_type_is_written(refset):
    (instrument, *_), _, paths = refset
    expected = {"mask", "saturation", "linearity", "dark", "gain", "readnoise", "ipc", "flat",
                "photom", "area", "distortion", "drizpars", "apcorr", "abvegaoffset"}
    if instrument == "MIRI":
        expected |= {"reset", "rscd", "filteroffset"}
    else:
        expected |= {"superbias", "trapdensity", "trappars", "persat"}
    assert set(paths) == expected
    for _, path in _flatten(paths):
        assert os.path.exists(path)


def test_references_open_in_photoncal_with_their_keywords(refset):
    (instrument, detector, subarray, readpatt, _), _, paths = refset
    for reftype, path in _flatten(paths):
        name = _class_name(reftype, instrument, path)
        with datamodels.open(path) as model:
            assert type(model).__name__ == name, path
            meta = model.meta
            assert meta.reftype == reftype.upper()
            assert meta.pedigree == "SIMULATION"
            assert meta.useafter == "2000-01-01T00:00:00"
            assert meta.instrument.name == instrument
            assert meta.instrument.detector == detector
            assert meta.author and meta.description
            assert meta.origin == "PHOTONCAL-SIM"


@pytest.mark.skipif(not HAVE_STDATAMODELS, reason="stdatamodels not installed")
def test_references_validate_in_stdatamodels(refset):
    from stdatamodels.jwst import datamodels as sdm

    (instrument, *_), _, paths = refset
    for reftype, path in _flatten(paths):
        ours = _class_name(reftype, instrument, path)
        theirs = STDATAMODELS_CLASS.get(ours, ours)
        if theirs is None:  # DRIZPARS: stdatamodels no longer has the model
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=UserWarning)
            with getattr(sdm, theirs)(path, strict_validation=True) as model:
                model.validate()


def test_arrays_are_the_simulators(refset):
    (instrument, detector, subarray, readpatt, ngroups), _, paths = refset
    props = detector_properties(detector, subarray)
    checks = {"gain": ("data", props.gain), "readnoise": ("data", props.readnoise),
              "saturation": ("data", props.saturation), "mask": ("dq", props.mask_dq),
              "linearity": ("coeffs", props.linearity), "area": ("data", props.area),
              "ipc": ("data", props.ipc_kernel)}
    if instrument != "MIRI":
        checks["superbias"] = ("data", props.superbias)
        checks["persat"] = ("data", props.persat)
        checks["trapdensity"] = ("data", props.trapdensity)
    for reftype, (attr, expected) in checks.items():
        with datamodels.open(paths[reftype]) as model:
            np.testing.assert_array_equal(getattr(model, attr), expected, err_msg=reftype)
    (flat_path,) = paths["flat"].values()
    with datamodels.open(flat_path) as flat:
        np.testing.assert_array_equal(flat.data, props.flat)
        bad = (flat.dq & dqflags.pixel["NO_FLAT_FIELD"]) > 0
        np.testing.assert_array_equal(bad, props.dead | props.reference_pixels)
    # The mask flags exactly the simulated bad pixels.
    with datamodels.open(paths["mask"]) as mask:
        hot = (mask.dq & dqflags.pixel["HOT"]) > 0
        np.testing.assert_array_equal(hot, props.hot)
        ref = (mask.dq & dqflags.pixel["REFERENCE_PIXEL"]) > 0
        np.testing.assert_array_equal(ref, props.reference_pixels)
        assert not np.any(ref & ((mask.dq & dqflags.pixel["DO_NOT_USE"]) > 0))
    # The dark: frame k (0-based) holds dark_rate * k * tframe.
    det = get_detector(detector)
    with datamodels.open(paths["dark"]) as dark:
        data = dark.data[0] if dark.data.ndim == 4 else dark.data
        tframe = frame_time(det, get_subarray(instrument, subarray), readpatt)
        assert dark.meta.exposure.frame_time == pytest.approx(tframe)
        nframes, groupgap = dark.meta.exposure.nframes, dark.meta.exposure.groupgap
        rate = props.dark_rate.astype(np.float64) / props.gain
        for g in (0, 1, data.shape[0] - 1):
            index = g * (nframes + groupgap) + (nframes - 1) / 2
            np.testing.assert_allclose(data[g], rate * index * tframe, rtol=1e-6, atol=1e-6)


def test_photom_and_area_agree(refset):
    (instrument, detector, *_), _, paths = refset
    with datamodels.open(paths["photom"]) as photom, datamodels.open(paths["area"]) as area:
        assert photom.meta.photometry.pixelarea_steradians == pytest.approx(
            area.meta.photometry.pixelarea_steradians, rel=1e-12)
        assert len(photom.phot_table) >= 1
        assert np.all(photom.phot_table["photmjsr"] > 0)
        scale = get_detector(detector).pixel_scale
        assert area.meta.photometry.pixelarea_arcsecsq == pytest.approx(scale**2, rel=0.01)


def test_distortion_reference_is_the_simulators(refset):
    (instrument, detector, *_), _, paths = refset
    from photoncal.sim.distortion import distortion_model

    with datamodels.open(paths["distortion"]) as ref:
        model = ref.model
    det = get_detector(detector)
    x = np.array([0.0, 100.5, det.shape[1] - 1.0])
    y = np.array([3.0, 900.25, det.shape[0] - 1.0])
    np.testing.assert_allclose(model(x, y), distortion_model(det)(x, y), atol=1e-9)
    np.testing.assert_allclose(model.inverse(*model(x, y)), [x, y], atol=1e-5)


def test_writing_is_deterministic_and_old_versions_are_removed(tmp_path):
    a = ensure_reference_set("NIRCAM", "NRCB4", subarray="SUB64P", ngroups=3, directory=tmp_path / "a",
                             cutout=True)
    b = ensure_reference_set("NIRCAM", "NRCB4", subarray="SUB64P", ngroups=3, directory=tmp_path / "b",
                             cutout=True)
    for (_, pa), (_, pb) in zip(_flatten(a), _flatten(b)):
        assert hashlib.md5(open(pa, "rb").read()).digest() == hashlib.md5(open(pb, "rb").read()).digest(), pa
    stale = tmp_path / "a" / f"photoncal_sim_v{REFERENCE_SET_VERSION + 7}_nrcb4_gain.fits"
    stale.write_bytes(b"old")
    other_detector = tmp_path / "a" / f"photoncal_sim_v{REFERENCE_SET_VERSION + 7}_nrcb1_gain.fits"
    other_detector.write_bytes(b"old")
    ensure_reference_set("NIRCAM", "NRCB4", subarray="SUB64P", ngroups=3, directory=tmp_path / "a",
                         cutout=True)
    assert not stale.exists()
    assert other_detector.exists()


def test_dark_grows_and_pattern_darks_for_large_arrays(tmp_path, monkeypatch):
    from photoncal.sim import references

    paths = ensure_reference_set("NIRCAM", "NRCA3", subarray="SUB64P", readpatt="RAPID", ngroups=3,
                                 directory=tmp_path, cutout=True)
    assert fits.getval(paths["dark"], "NGROUPS") == 3
    # A longer exposure needs more frames: the frame dark is rewritten, never shrunk.
    paths = ensure_reference_set("NIRCAM", "NRCA3", subarray="SUB64P", readpatt="SHALLOW4", ngroups=4,
                                 directory=tmp_path, cutout=True)
    assert fits.getval(paths["dark"], "NGROUPS") == 4 * 4 + 3 * 1
    assert fits.getval(paths["dark"], "NFRAMES") == 1
    # Above the size limit, a dark pre-averaged for the readout pattern.
    monkeypatch.setattr(references, "MAX_FRAME_DARK_BYTES", 1000)
    paths = ensure_reference_set("NIRCAM", "NRCA3", subarray="SUB64P", readpatt="MEDIUM8", ngroups=4,
                                 directory=tmp_path, cutout=True)
    header = fits.getheader(paths["dark"])
    assert (header["NFRAMES"], header["GROUPGAP"], header["READPATT"]) == (8, 2, "MEDIUM8")
    assert header["NGROUPS"] == 10
    assert paths["dark"] == reference_path(tmp_path, "NRCA3", "dark", "SUB64P_MEDIUM8")


def test_full_frame_references_cover_subarrays(tmp_path):
    paths = ensure_reference_set("MIRI", "MIRIMAGE", subarray="SUB128", readpatt="FAST", ngroups=4,
                                 directory=tmp_path)
    with datamodels.open(paths["gain"]) as gain:
        assert gain.meta.subarray.name == "FULL"
        assert gain.data.shape == (1024, 1032)
        sub = detector_properties("MIRIMAGE", "SUB128").gain
        ys, xs = get_subarray("MIRI", "SUB128").slices
        np.testing.assert_array_equal(gain.data[ys, xs], sub)
    # DARK and RESET are not cut by their steps: they match the subarray.
    for reftype in ("dark", "reset"):
        with fits.open(paths[reftype]) as hdul:
            assert hdul[0].header["SUBARRAY"] == "SUB128"
            assert hdul["SCI"].data.shape[-2:] == (128, 136)


def test_reference_selection_finds_the_set(tmp_path, photoncal_cache):
    """The files the simulation assumed are the ones reference selection finds."""
    references = pytest.importorskip("photoncal.stpipe.references")
    from photoncal.sim import simulate_exposure

    refdir = tmp_path / "refs"
    path, _ = simulate_exposure("MIRI", "MIRIMAGE", "SUB64", "FAST", ngroups=3, seed=1,
                                output_dir=tmp_path, reference_dir=refdir)
    expected = ensure_reference_set("MIRI", "MIRIMAGE", subarray="SUB64", readpatt="FAST",
                                    ngroups=3, filters=["F770W"], directory=refdir)
    files = references.index_directory(refdir)
    with datamodels.open(path) as model:
        values = references.selection_values(model)
        when = references.observation_time(model)
    for reftype, want in _flatten(expected):
        best, report = references.select_reference(files, reftype, values, when)
        assert best is not None, (reftype, report)
        assert os.path.samefile(best.path, want), reftype
