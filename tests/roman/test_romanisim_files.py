"""Files written by romanisim (the established Roman simulator) open in photoncal and calibrate.

romanisim runs in its own environment, in a subprocess: the Python named by
``$PHOTONCAL_ROMANISIM_PYTHON``, else ``/work/romanenv/bin/python``; the
tests are skipped when neither exists or romanisim cannot be imported there.
It simulates offline (``usecrds=False``: its built-in reference values,
gain 2 e-/DN, read noise 5 DN, dark 0.01 e-/s, no linearity or flat; the
GalSim PSF) an empty sky on a small detector (romanisim's ``n_pix`` set to
120 science pixels), writes the level-1 (raw resultants) and level-2 (its
own ramp fit) files with roman_datamodels, and saves the arrays and
metadata it wrote as plain numpy values for the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import numpy as np
import pytest

N_PIX = 120  # science pixels per side; the level-1 arrays have the 4-pixel border

GENERATOR = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from astropy.time import Time
    from romanisim.models import parameters
    parameters.n_pix = int(sys.argv[2])
    import romanisim.image
    import roman_datamodels.datamodels as rdm

    out = sys.argv[1]
    meta = {
        "exposure": {"start_time": Time("2027-01-01T00:00:00"), "ma_table_number": 4},
        "instrument": {"detector": "WFI07", "optical_element": "F158"},
        "pointing": {"target_ra": 270.0, "target_dec": 66.0},
        "wcsinfo": {"ra_ref": 270.0, "dec_ref": 66.0, "v3yangle": 0.0, "aperture_name": "WFI_CEN",
                    "pa_aperture": 0.0},
    }
    expected = {}
    for level, cls in ((1, rdm.ScienceRawModel), (2, rdm.ImageModel)):
        # the same seed: the level-2 image is romanisim's fit of the same resultants
        image, _extras = romanisim.image.simulate(meta, [], usecrds=False, psftype="galsim", level=level,
                                                  crparam=None, seed=3)
        model = cls(image)
        model.save(os.path.join(out, f"risim_l{level}.asdf"))
        with rdm.open(os.path.join(out, f"risim_l{level}.asdf")) as back:
            for name in ("data", "dq", "err", "var_poisson", "var_rnoise", "amp33"):
                if name in back:
                    expected[f"l{level}_{name}"] = np.asarray(back[name])
            m = back.meta
            expected[f"l{level}_meta"] = json.dumps({
                "detector": str(m.instrument.detector), "optical_element": str(m.instrument.optical_element),
                "ma_table_number": int(m.exposure.ma_table_number),
                "read_pattern": [[int(r) for r in reads] for reads in m.exposure.read_pattern],
                "frame_time": float(m.exposure.frame_time), "start_time": m.exposure.start_time.isot,
                "model_type": type(back).__name__})
    np.savez(os.path.join(out, "expected.npz"), **expected)
""")


def _romanisim_python():
    """(python, why not): the Python of the romanisim environment, or None and the reason."""
    named = os.environ.get("PHOTONCAL_ROMANISIM_PYTHON")
    if named:
        if os.path.exists(named):
            return named, None
        return None, f"PHOTONCAL_ROMANISIM_PYTHON={named} does not exist"
    default = "/work/romanenv/bin/python"
    if os.path.exists(default):
        return default, None
    return None, (f"no romanisim environment: set PHOTONCAL_ROMANISIM_PYTHON to a Python with romanisim "
                  f"({default} does not exist)")


@pytest.fixture(scope="module")
def romanisim_files(tmp_path_factory):
    python, why_not = _romanisim_python()
    if python is None:
        pytest.skip(why_not)
    out = tmp_path_factory.mktemp("romanisim")
    env = dict(os.environ, CRDS_SERVER_URL="https://localhost.invalid", CRDS_PATH=str(out / "no_crds"))
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, "-c", GENERATOR, str(out), str(N_PIX)], capture_output=True, text=True,
                          env=env, timeout=300)
    if proc.returncode != 0:
        if "No module named 'romanisim'" in proc.stderr or "No module named 'roman_datamodels'" in proc.stderr:
            pytest.skip(f"{python} cannot import romanisim / roman_datamodels")
        raise AssertionError(f"romanisim failed ({python}):\n{proc.stderr[-3000:]}")
    expected = dict(np.load(out / "expected.npz"))
    for level in (1, 2):
        expected[f"l{level}_meta"] = json.loads(str(expected[f"l{level}_meta"]))
    return out, expected


def _check_meta(model, meta):
    assert model.meta.instrument.detector == meta["detector"] == "WFI07"
    assert model.meta.instrument.optical_element == meta["optical_element"] == "F158"
    assert model.meta.exposure.ma_table_number == meta["ma_table_number"] == 4
    assert [list(r) for r in model.meta.exposure.read_pattern] == meta["read_pattern"]
    assert model.meta.exposure.frame_time == pytest.approx(meta["frame_time"], rel=1e-12)
    assert model.meta.exposure.start_time.isot == meta["start_time"]


def test_romanisim_level1_opens(romanisim_files):
    from photoncal.roman import datamodels as rdm

    out, expected = romanisim_files
    meta = expected["l1_meta"]
    raw_data = expected["l1_data"]
    nres = len(meta["read_pattern"])
    assert meta["model_type"] == "ScienceRawModel" and raw_data.shape == (nres, N_PIX + 8, N_PIX + 8)

    raw = rdm.open(out / "risim_l1.asdf", convert_raw=False)
    assert type(raw).__name__ == "ScienceRawModel"
    assert raw.data.dtype == np.uint16 and raw.data.shape == raw_data.shape
    np.testing.assert_array_equal(raw.data, raw_data)
    assert raw.amp33.dtype == np.uint16 and raw.amp33.shape == expected["l1_amp33"].shape
    _check_meta(raw, meta)

    ramp = rdm.open(out / "risim_l1.asdf")  # converted on opening, as for our own raw files
    assert type(ramp).__name__ == "RampModel"
    assert ramp.data.dtype == np.float32 and ramp.data.shape == raw_data.shape
    np.testing.assert_array_equal(ramp.data, raw_data.astype(np.float32))
    assert ramp.pixeldq.dtype == np.uint32 and ramp.pixeldq.shape == raw_data.shape[1:]
    assert ramp.groupdq.dtype == np.uint8 and ramp.groupdq.shape == raw_data.shape
    assert not ramp.pixeldq.any() and not ramp.groupdq.any()
    _check_meta(ramp, meta)
    # the sky accumulates in the science pixels; romanisim leaves the reference border at 0
    rise = raw_data[-1].astype(float) - raw_data[0]
    assert np.median(rise[4:-4, 4:-4]) > 10
    assert not raw_data[:, :4].any() and not raw_data[:, :, -4:].any()


def test_romanisim_level2_opens(romanisim_files):
    from photoncal.roman import datamodels as rdm

    out, expected = romanisim_files
    meta = expected["l2_meta"]
    image = rdm.open(out / "risim_l2.asdf")
    assert type(image).__name__ == "ImageModel" and meta["model_type"] == "ImageModel"
    assert image.data.shape == (N_PIX, N_PIX) and image.data.dtype == np.float32
    np.testing.assert_array_equal(image.data, expected["l2_data"])
    assert image.dq.dtype == np.uint32
    np.testing.assert_array_equal(image.dq, expected["l2_dq"])
    written = [name for name in ("err", "var_poisson", "var_rnoise") if f"l2_{name}" in expected]
    assert "err" in written and "var_poisson" in written
    for name in written:
        values = getattr(image, name)
        assert values.dtype == np.float32 and values.shape == (N_PIX, N_PIX)
        # float16 or float32 in the file, float32 in photoncal: the same values
        np.testing.assert_array_equal(values, expected[f"l2_{name}"].astype(np.float32))
    _check_meta(image, meta)


def test_romanisim_level1_calibrates_like_its_level2(romanisim_files, tmp_path):
    """dq_init, saturation, ramp fitting and dark current on romanisim's resultants.

    Reference files: photoncal's simulated set of a 120-pixel detector for the
    MASK and SATURATION, and GAIN, READNOISE and DARK files holding romanisim's
    built-in values (2 e-/DN, 5 DN, 0.01 e-/s).  refpix is skipped (romanisim
    writes a full-height amp33 for its subarray) and so is linearity
    (romanisim simulated none).  The rates must then equal romanisim's own
    fit of the same resultants (the same optimal weighting) to well within
    their errors: only romanisim's rounding of the resultants to integers in
    the level-1 file separates them.
    """
    from photoncal.roman import datamodels as rdm
    from photoncal.roman.steps.dark_current import DarkCurrentStep
    from photoncal.roman.steps.dq_init import DQInitStep
    from photoncal.roman.steps.ramp_fit import RampFitStep
    from photoncal.roman.steps.saturation import SaturationStep
    from photoncal.sim.roman import ensure_roman_reference_set

    out, expected = romanisim_files
    refs = ensure_roman_reference_set("WFI07", size=N_PIX, directory=tmp_path / "refs")
    shape = (N_PIX + 8, N_PIX + 8)
    constants = {"gain": 2.0, "readnoise": 5.0}
    paths = {}
    for reftype, value in constants.items():
        model = rdm.open(refs[reftype])
        model.data = np.full(shape, value, dtype=np.float32)
        paths[reftype] = str(tmp_path / f"{reftype}.asdf")
        model.save(paths[reftype])
    dark = rdm.open(refs["dark"])
    dark.dark_slope = np.full(shape, 0.01 / 2.0, dtype=np.float32)  # DN/s
    if getattr(dark, "dq", None) is not None:
        dark.dq = np.zeros(shape, dtype=np.uint32)
    paths["dark"] = str(tmp_path / "dark.asdf")
    dark.save(paths["dark"])

    ramp = DQInitStep.call(str(out / "risim_l1.asdf"), override_mask=refs["mask"])
    ramp = SaturationStep.call(ramp, override_saturation=refs["saturation"])
    image = RampFitStep.call(ramp, override_gain=paths["gain"], override_readnoise=paths["readnoise"])
    image = DarkCurrentStep.call(image, override_dark=paths["dark"])
    assert type(image).__name__ == "ImageModel"
    assert image.data.shape == (N_PIX, N_PIX) and image.data.dtype == np.float32
    assert image.meta.cal_step.ramp_fit == "COMPLETE" and image.meta.cal_step.dark == "COMPLETE"

    theirs = expected["l2_data"].astype(np.float64)
    their_err = expected["l2_err"].astype(np.float64)
    good = (image.dq == 0) & (expected["l2_dq"] == 0) & np.isfinite(image.data) & (their_err > 0)
    assert good.mean() > 0.95  # measured 0.997
    ours = image.data.astype(np.float64)
    pull = (ours[good] - theirs[good]) / their_err[good]
    assert abs(np.median(pull)) < 0.01, np.median(pull)  # measured 5e-4
    assert 1.4826 * np.median(np.abs(pull - np.median(pull))) < 0.02  # measured 2e-4
    # and our errors agree with theirs
    ratio = image.err[good] / their_err[good]
    assert 0.99 < np.median(ratio) < 1.01, np.median(ratio)  # measured 1.0000
