"""Individual Roman steps on small synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from photoncal.roman import datamodels as rdm
from photoncal.roman import dqflags


def _ramp(tmp_path, nres=3, size=24, **meta):
    raw = rdm.ScienceRawModel()
    raw.data = np.full((nres, size, size), 1000, np.uint16) + np.arange(nres, dtype=np.uint16)[:, None, None] * 10
    raw.amp33 = np.full((nres, size, 128), 900, np.uint16)
    raw.meta.exposure.read_pattern = [[i + 1] for i in range(nres)]
    raw.meta.exposure.frame_time = 3.04
    for key, value in meta.items():
        raw[key] = value
    return rdm.open(raw.save(tmp_path / "t_uncal.asdf"))


def _mask(tmp_path, size=24, flag_pixel=(5, 6)):
    mask = rdm.MaskRefModel()
    dq = np.zeros((size, size), np.uint32)
    dq[flag_pixel] = dqflags.DO_NOT_USE | dqflags.pixel["DEAD"]
    mask.dq = dq
    mask.meta.instrument.detector = "WFI01"
    return mask.save(tmp_path / "mask.asdf")


def test_dq_init_mask_border_and_reference_read(tmp_path):
    from photoncal.roman.steps.dq_init import DQInitStep

    ramp = _ramp(tmp_path)
    ramp._instance["reference_read"] = np.full((24, 24), 7, np.uint16)
    result = DQInitStep.call(ramp, override_mask=str(_mask(tmp_path)))
    assert result.meta.cal_step.dq_init == "COMPLETE"
    assert result.meta.ref_file.mask.endswith("mask.asdf")
    assert result.pixeldq[5, 6] == dqflags.DO_NOT_USE | dqflags.pixel["DEAD"]
    np.testing.assert_array_equal(result.data[:, 0, 0], [1007, 1017, 1027])
    assert result.border_ref_pix_left.shape == (3, 24, 4)
    assert result.border_ref_pix_top.shape == (3, 4, 24)
    np.testing.assert_array_equal(result.border_ref_pix_right, result.data[:, :, -4:])
    np.testing.assert_array_equal(result.border_ref_pix_bottom, result.data[:, -4:, :])
    assert result.dq_border_ref_pix_left.shape == (24, 4)


def test_dq_init_guide_window(tmp_path):
    from photoncal.roman.steps.dq_init import DQInitStep

    ramp = _ramp(tmp_path)
    gs = ramp.meta.guide_star
    gs.window_xstart, gs.window_xstop, gs.window_ystart, gs.window_ystop = 8, 12, 3, 6
    result = DQInitStep.call(ramp, override_mask=str(_mask(tmp_path)))
    assert np.all(result.pixeldq[:, 8:12] & dqflags.GW_AFFECTED_DATA)
    assert np.all(result.pixeldq[3:6, 8:12] & dqflags.DO_NOT_USE)
    assert not np.any(result.pixeldq[:, 13:] & dqflags.GW_AFFECTED_DATA)


def test_dq_init_mask_of_wrong_shape_skips(tmp_path):
    from photoncal.roman.steps.dq_init import DQInitStep

    result = DQInitStep.call(_ramp(tmp_path), override_mask=str(_mask(tmp_path, size=16, flag_pixel=(1, 1))))
    assert result.meta.cal_step.dq_init == "SKIPPED"


def test_linearity_read_by_read_recovers_nonlinear_reads():
    """Resultants of reads made non-linear one by one are linearised by the frame-level correction."""
    from photoncal.kernels.linearity import correct_linearity
    from photoncal.sim.ramps import simulate_ramps

    pattern = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12, 13], [14, 15, 16, 17, 18, 19, 20]]
    ny, nx = 2, 3
    rate = np.array([[20.0, 200.0, 600.0], [5.0, 400.0, 800.0]])  # e-/s, gain 1: up to ~49000 DN
    c = np.zeros((4, ny, nx))
    c[1] = 1.0
    c[2] = 2.0e-6
    c[3] = 1.0e-12
    sim = simulate_ramps(rate, frame_time=3.04, read_pattern=pattern, nonlinearity=c, poisson=False,
                         nonlinearity_per_read=True)
    truth = np.array([[rate * 3.04 * np.mean(r)] for r in pattern])[:, 0]
    lin = np.linspace(0, 60000, 400)
    raw = lin.copy()
    for _ in range(60):  # invert the polynomial on a grid for the inverse coefficients
        raw -= (c[1, 0, 0] * raw + c[2, 0, 0] * raw**2 + c[3, 0, 0] * raw**3 - lin) / (
            c[1, 0, 0] + 2 * c[2, 0, 0] * raw + 3 * c[3, 0, 0] * raw**2)
    inv1 = np.polynomial.polynomial.polyfit(lin, raw, 5)
    inv = np.broadcast_to(inv1[:, None, None], (6, ny, nx)).copy()
    coeffs = c.astype(np.float32)
    classic = sim.data.copy()
    correct_linearity(classic, np.zeros(classic.shape, np.uint8), np.zeros((ny, nx), np.uint32), coeffs,
                      np.zeros((ny, nx), np.uint32))
    framed = sim.data.copy()
    correct_linearity(framed, np.zeros(framed.shape, np.uint8), np.zeros((ny, nx), np.uint32), coeffs,
                      np.zeros((ny, nx), np.uint32), inverse_coeffs=inv, read_pattern=pattern)
    err_classic = np.abs(classic[0] - truth).max()
    err_frame = np.abs(framed[0] - truth).max()
    assert err_classic > 5.0  # averaging non-linear reads biases the resultant-level correction
    assert err_frame < 0.5


def test_sim_nonlinearity_per_read_averages_raw_reads():
    from photoncal.sim.ramps import simulate_ramps

    c = np.zeros((3, 1, 1))
    c[1] = 1.0
    c[2] = 1e-5
    pattern = [[1, 2, 3]]
    per_read = simulate_ramps(np.full((1, 1), 1000.0), frame_time=1.0, read_pattern=pattern, nonlinearity=c,
                              poisson=False, nonlinearity_per_read=True).data[0, 0, 0, 0]
    per_group = simulate_ramps(np.full((1, 1), 1000.0), frame_time=1.0, read_pattern=pattern, nonlinearity=c,
                               poisson=False).data[0, 0, 0, 0]

    def raw_of(linear):  # root of c2 s^2 + s - linear
        return (-1 + np.sqrt(1 + 4e-5 * linear)) / 2e-5

    assert per_read == pytest.approx(np.mean([raw_of(1000.0 * k) for k in (1, 2, 3)]), rel=1e-6)
    assert per_group == pytest.approx(raw_of(2000.0), rel=1e-6)


def test_dark_flat_photom(tmp_path):
    from photoncal.roman.steps.dark_current import DarkCurrentStep
    from photoncal.roman.steps.flat_field import FlatFieldStep
    from photoncal.roman.steps.photom import PhotomStep

    image = rdm.ImageModel()
    image.data = np.full((16, 16), 10.0, np.float32)
    image.err = np.full((16, 16), 1.0, np.float32)
    image.var_poisson = np.full((16, 16), 0.64, np.float32)
    image.meta.instrument.optical_element = "F129"
    dark = rdm.DarkRefModel()
    dark.dark_slope = np.full((24, 24), 0.5, np.float32)
    dark.dark_slope_error = np.zeros((24, 24), np.float32)
    dq = np.zeros((24, 24), np.uint32)
    dq[6, 6] = dqflags.pixel["HOT"]
    dark.dq = dq
    out = DarkCurrentStep.call(image, override_dark=dark)
    assert out.meta.cal_step.dark == "COMPLETE"
    np.testing.assert_allclose(out.data, 9.5)
    assert out.dq[2, 2] == dqflags.pixel["HOT"]

    flat = rdm.FlatRefModel()
    values = np.full((16, 16), 2.0, np.float32)
    values[3, 3] = 0.0
    flat.data = values
    flat.dq = np.zeros((16, 16), np.uint32)
    flat.err = np.zeros((16, 16), np.float32)
    flattened = FlatFieldStep.call(out, override_flat=flat)
    assert flattened.data[0, 0] == pytest.approx(4.75)
    assert flattened.err[0, 0] == pytest.approx(0.5)
    assert flattened.var_poisson[0, 0] == pytest.approx(0.16)
    assert flattened.dq[3, 3] & dqflags.NO_FLAT_FIELD and flattened.data[3, 3] == pytest.approx(9.5)

    photom = rdm.WfiImgPhotomRefModel()
    photom.phot_table = {"F129": {"photmjsr": 0.7, "uncertainty": 0.01, "pixelareasr": 2.8e-13,
                                  "collecting_area": 3.9, "wavelength": None, "effective_area": None}}
    calibrated = PhotomStep.call(flattened, override_photom=photom)
    assert calibrated.meta.photometry.conversion_megajanskys == 0.7
    assert calibrated.meta.photometry.pixel_area == 2.8e-13
    assert calibrated.data[0, 0] == pytest.approx(4.75)  # data stay in DN/s
    flattened.meta.instrument.optical_element = "F213"
    skipped = PhotomStep.call(flattened, override_photom=photom)
    assert skipped.meta.cal_step.photom == "SKIPPED"


def test_flat_of_another_shape_skips(tmp_path):
    from photoncal.roman.steps.flat_field import FlatFieldStep

    image = rdm.ImageModel()
    image.data = np.ones((16, 16), np.float32)
    flat = rdm.FlatRefModel()
    flat.data = np.ones((8, 8), np.float32)
    flat.dq = np.zeros((8, 8), np.uint32)
    flat.err = np.zeros((8, 8), np.float32)
    assert FlatFieldStep.call(image, override_flat=flat).meta.cal_step.flat_field == "SKIPPED"


def test_tweakreg_refcat_errors(calibrated):
    from photoncal.roman.steps.tweakreg import TweakRegStep

    image = calibrated["cal"]
    with pytest.raises(FileNotFoundError, match="no_such_catalog.ecsv"):
        TweakRegStep.call(image, abs_refcat="no_such_catalog.ecsv")
    gaia = TweakRegStep.call(image, abs_refcat="GAIADR3")
    assert gaia.meta.cal_step.tweakreg == "SKIPPED"
