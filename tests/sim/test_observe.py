"""Level-1b files: layout, metadata, interoperability, reproducibility; the truth file."""

import hashlib
import importlib.util

import numpy as np
import pytest
from astropy.io import fits

from photoncal import datamodels
from photoncal.config import SIMULATED_ORIGIN
from photoncal.sim import Effects, Truth, load_truth, simulate_exposure
from photoncal.sim.truth import truth_path_for

HAVE_STDATAMODELS = importlib.util.find_spec("stdatamodels") is not None


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def nircam_exposure(tmp_path_factory, photoncal_cache):
    out = tmp_path_factory.mktemp("nircam")
    return simulate_exposure("NIRCAM", "NRCB3", "SUB160", "BRIGHT2", ngroups=4, nints=2, seed=21,
                             output_dir=out, program=4321, observation=7, visit=2, exposure=3,
                             activity=11, write_references=False)


def test_uncal_layout_and_keywords(nircam_exposure):
    path, truth = nircam_exposure
    assert path.endswith("jw04321007002_0110b_00003_nrcb3_uncal.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "GROUP", "INT_TIMES", "ASDF"]
        primary = hdul[0].header
        assert hdul[0].data is None
        sci = hdul["SCI"]
        assert sci.data.dtype == np.uint16
        assert sci.data.shape == (2, 4, 160, 160)
        assert primary["DATAMODL"] == "Level1bModel"
        assert primary["ORIGIN"] == SIMULATED_ORIGIN
        assert primary["TELESCOP"] == "JWST"
        expected = {"INSTRUME": "NIRCAM", "DETECTOR": "NRCB3", "MODULE": "B", "CHANNEL": "SHORT",
                    "FILTER": "F200W", "PUPIL": "CLEAR", "EXP_TYPE": "NRC_IMAGE", "READPATT": "BRIGHT2",
                    "NFRAMES": 2, "GROUPGAP": 0, "NGROUPS": 4, "NINTS": 2, "SUBARRAY": "SUB160",
                    "SUBSTRT1": 1, "SUBSTRT2": 1, "SUBSIZE1": 160, "SUBSIZE2": 160, "FASTAXIS": 1,
                    "SLOWAXIS": -2, "PROGRAM": "04321", "OBSERVTN": "007", "VISIT": "002",
                    "ACT_ID": "0b", "EXPOSURE": "00003", "FRMDIVSR": 2, "NOUTPUTS": 1}
        for key, value in expected.items():
            assert primary[key] == value, key
        tframe = (160 + 12) * 161 * 1e-5
        assert primary["TFRAME"] == pytest.approx(tframe)
        assert primary["TGROUP"] == pytest.approx(2 * tframe)
        assert primary["EFFINTTM"] == pytest.approx(3 * 2 * tframe)
        assert primary["EXPEND"] > primary["EXPSTART"]
        for key in ("V2_REF", "V3_REF", "RA_REF", "DEC_REF", "ROLL_REF", "VPARITY", "V3I_YANG",
                    "CRPIX1", "CRVAL1", "PC1_1", "S_REGION", "RA_V1", "PA_V3", "PA_APER"):
            assert key in sci.header, key
        assert sci.header["RA_REF"] == pytest.approx(truth.commanded_pointing["ra_ref"])
        assert len(hdul["GROUP"].data) == 8
        assert len(hdul["INT_TIMES"].data) == 2


def test_uncal_opens_as_a_ramp(nircam_exposure):
    path, truth = nircam_exposure
    with datamodels.open(path) as model:
        assert type(model).__name__ == "RampModel"
        assert model.data.dtype == np.float32
        assert model.meta.exposure.nframes == 2
        assert model.meta.origin == SIMULATED_ORIGIN
        assert model.pixeldq.shape == (160, 160)
        assert model.groupdq.shape == (2, 4, 160, 160)


@pytest.mark.skipif(not HAVE_STDATAMODELS, reason="stdatamodels not installed")
def test_uncal_opens_and_validates_in_stdatamodels(nircam_exposure):
    from stdatamodels.jwst import datamodels as sdm

    path, _ = nircam_exposure
    with sdm.Level1bModel(path, strict_validation=True) as model:
        model.validate()
        assert model.data.dtype == np.uint16
        assert model.meta.exposure.readpatt == "BRIGHT2"
        assert model.meta.wcsinfo.v3yangle == pytest.approx(-0.16)
    with sdm.RampModel(path) as ramp:
        assert ramp.data.shape == (2, 4, 160, 160)


def test_truth_round_trip(nircam_exposure):
    path, truth = nircam_exposure
    loaded = load_truth(path)
    assert truth_path_for(path).endswith("_truth.asdf")
    np.testing.assert_array_equal(loaded.rate, truth.rate)
    np.testing.assert_array_equal(loaded.cosmic_rays, truth.cosmic_rays)
    np.testing.assert_array_equal(loaded.sources, truth.sources)
    np.testing.assert_array_equal(loaded.saturated_group, truth.saturated_group)
    assert loaded.read_pattern == truth.read_pattern == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert loaded.commanded_pointing == truth.commanded_pointing
    assert loaded.effects == Effects().to_dict()
    assert isinstance(loaded, Truth)
    with pytest.raises(ValueError, match="not a photoncal truth file"):
        import asdf

        asdf.AsdfFile({"x": 1}).write_to(str(path) + ".asdf")
        Truth.load(str(path) + ".asdf")


def test_same_seed_same_bytes(tmp_path):
    paths = []
    for name in ("a", "b", "c"):
        seed = 5 if name != "c" else 6
        path, _ = simulate_exposure("NIRISS", "NIS", "SUB64", "NIS", ngroups=3, seed=seed,
                                    output_dir=tmp_path / name, write_references=False)
        paths.append(path)
    assert _md5(paths[0]) == _md5(paths[1])
    assert _md5(truth_path_for(paths[0])) == _md5(truth_path_for(paths[1]))
    with fits.open(paths[0]) as a, fits.open(paths[2]) as c:
        assert not np.array_equal(a["SCI"].data, c["SCI"].data)


def test_miri_exposure_has_refout_and_opens_as_miri_ramp(tmp_path):
    path, truth = simulate_exposure("MIRI", "MIRIMAGE", "SUB64", "FAST", ngroups=5, nints=2, seed=2,
                                    output_dir=tmp_path, write_references=False)
    with fits.open(path) as hdul:
        assert hdul["REFOUT"].data.shape == (2, 5, 16, 72)
        assert hdul["REFOUT"].data.dtype == np.uint16
        assert hdul[0].header["NOUTPUTS"] == 5
        assert hdul[0].header["FILTER"] == "F770W"
    with datamodels.open(path) as model:
        assert type(model).__name__ == "MIRIRampModel"
        assert model.refout.shape == (2, 5, 16, 72)
    assert truth.miri_additive.shape == (2, 5, 64, 72)


def test_noise_statistics_follow_poisson_and_read_noise(tmp_path):
    """Flat illumination: group-difference variance = rate dt / gain + 2 (RN/sqrt2)^2."""
    from photoncal.sim import Scene
    from photoncal.sim.detector import detector_properties

    scene = Scene.from_sources([], [], [], sky_background=None)
    effects = Effects(superbias=False, refpix_offsets=False, nonlinearity=False, bad_pixels=False,
                      flat=False, ipc=False, cosmic_rays=False, dark=False, saturation=False)
    _, truth = simulate_exposure("NIRCAM", "NRCA4", "SUB400P", "RAPID", ngroups=2, effects=effects,
                                 scene=scene, seed=8, output_dir=None, write_references=False,
                                 keep_ramp=True)
    props = detector_properties("NRCA4", "SUB400P")
    diff = (truth.ramp[0, 1] - truth.ramp[0, 0]).astype(np.float64)
    science = truth.rate > 0
    dt = truth.group_time
    expected_var = truth.rate * dt / props.gain + props.readnoise.astype(np.float64) ** 2
    z = (diff - truth.rate * dt) / np.sqrt(expected_var)
    assert abs(z[science].mean()) < 0.02
    assert z[science].std() == pytest.approx(1.0, abs=0.02)


def test_effects_presets_and_errors():
    none = Effects.preset("none")
    assert none.sky and none.sources and not (none.poisson or none.read_noise or none.dark or none.ipc)
    noiseless = Effects.coerce("noiseless")
    assert not (noiseless.poisson or noiseless.read_noise or noiseless.cosmic_rays)
    assert noiseless.nonlinearity and noiseless.superbias and noiseless.refpix_offsets
    mixed = Effects.coerce({"preset": "none", "dark": True, "cosmic_ray_rate": 1.0})
    assert mixed.dark and not mixed.poisson and mixed.cosmic_ray_rate == 1.0
    with pytest.raises(ValueError, match="unknown effect switch"):
        Effects.coerce({"sparkle": True})
    with pytest.raises(ValueError, match="unknown effects preset"):
        Effects.coerce("loud")
    with pytest.raises(TypeError):
        Effects.coerce(3)
