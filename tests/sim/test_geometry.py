"""Detector tables, distortion, and sources landing where the WCS says."""

import numpy as np
import pytest

from photoncal.sim import Effects, Scene, simulate_exposure
from photoncal.sim import instruments as I
from photoncal.sim.distortion import distortion_model, pixel_area_map
from photoncal.sim.exposure import true_wcs
from photoncal.sim.pointing import Attitude
from photoncal.sim.psf import airy_psf, render_point_sources, render_sersic_sources


def test_frame_times_follow_the_readout_rule():
    nrc = I.get_detector("NRCA1")
    assert I.frame_time(nrc, I.get_subarray("NIRCAM", "FULL")) == pytest.approx(10.73676)
    assert I.frame_time(nrc, I.get_subarray("NIRCAM", "SUB640")) == pytest.approx(4.17932)
    assert I.frame_time(nrc, I.get_subarray("NIRCAM", "SUB64P")) == pytest.approx(0.0494)
    nis = I.get_detector("NIS")
    # NIRISS reads along DMS y: a 2048 x 256 strip takes 256-pixel rows.
    assert I.frame_time(nis, I.get_subarray("NIRISS", "SUBSTRIP256")) == pytest.approx(5.49132)
    assert I.frame_time(I.get_detector("MIRIMAGE"), I.get_subarray("MIRI", "FULL")) == pytest.approx(2.77504)


def test_exposure_timing_keywords():
    pattern = I.get_readout_pattern("NIRCAM", "MEDIUM8")
    t = I.exposure_timing(10.73676, pattern, ngroups=10, nints=2)
    assert t["group_time"] == pytest.approx(10 * 10.73676)
    assert t["integration_time"] == pytest.approx(9 * 10 * 10.73676)
    assert t["exposure_time"] == pytest.approx(2 * 9 * 10 * 10.73676)
    assert t["frames_per_integration"] == 10 * 8 + 9 * 2
    assert I.frame_divisor(8) == 8 and I.frame_divisor(6) == 8 and I.frame_divisor(1) == 1


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="READPATT 'FOO' for NIRCAM"):
        I.get_readout_pattern("NIRCAM", "FOO")
    with pytest.raises(ValueError, match="SUBARRAY 'SUB7' for MIRI"):
        I.get_subarray("MIRI", "SUB7")
    with pytest.raises(ValueError, match="belongs to NIRCAM, not MIRI"):
        I.get_detector("NRCA1", "MIRI")
    with pytest.raises(ValueError, match="long-wave filter"):
        I.check_filter_detector(I.get_detector("NRCA2"), I.get_filter("NIRCAM", "F444W"))


@pytest.mark.parametrize("fast,slow", [(1, 2), (-1, 2), (1, -2), (-1, -2), (2, 1), (-2, -1), (2, -1), (-2, 1)])
def test_science_detector_orientation_round_trip(fast, slow):
    data = np.arange(24).reshape(2, 3, 4)
    det = I.science_to_detector(data, fast, slow)
    np.testing.assert_array_equal(I.detector_to_science(det, fast, slow), data)


def test_amplifiers_are_detector_column_stripes():
    nis = I.get_detector("NIS")  # fast axis along -y: stripes are DMS rows
    amps = I.amplifier_map(nis, I.get_subarray("NIRISS", "FULL"))
    assert np.all(amps[:512] == 3) and np.all(amps[-512:] == 0)
    assert np.all(amps == amps[:, :1])
    nrc = I.get_detector("NRCA1")  # fast axis along -x
    amps = I.amplifier_map(nrc, I.get_subarray("NIRCAM", "FULL"))
    assert np.all(amps[:, :512] == 3) and np.all(amps[:, 1536:] == 0)
    miri = I.amplifier_map(I.get_detector("MIRIMAGE"), I.get_subarray("MIRI", "SUB64"))
    np.testing.assert_array_equal(miri[0, :8], [0, 1, 2, 3, 0, 1, 2, 3])
    mask = I.reference_pixel_mask(nrc, I.get_subarray("NIRCAM", "SUB160"))
    assert mask[:4].all() and mask[:, :4].all() and not mask[4:, 4:].any()
    assert not I.reference_pixel_mask(I.get_detector("GUIDER1"), I.get_subarray("FGS", "SUB32CNTR")).any()


@pytest.mark.parametrize("detector", ["NRCA1", "NRCBLONG", "NIS", "GUIDER2", "MIRIMAGE"])
def test_distortion_inverse_and_scale(detector):
    det = I.get_detector(detector)
    model = distortion_model(det)
    ny, nx = det.shape
    rng = np.random.default_rng(0)
    x = rng.uniform(-40, nx + 40, 2000)
    y = rng.uniform(-40, ny + 40, 2000)
    v2, v3 = model(x, y)
    xb, yb = model.inverse(v2, v3)
    assert np.hypot(xb - x, yb - y).max() < 1e-5
    assert model(det.x_ref, det.y_ref) == pytest.approx((det.v2_ref, det.v3_ref), abs=1e-9)
    # Pixel scale at the reference point, and a few per cent of distortion at the corners.
    d2, d3 = model(det.x_ref + 1, det.y_ref)
    assert np.hypot(d2 - det.v2_ref, d3 - det.v3_ref) == pytest.approx(det.pixel_scale, rel=0.005)
    area, nominal = pixel_area_map(det)
    assert area[int(det.y_ref), int(det.x_ref)] == pytest.approx(1.0, abs=1e-3)
    assert 0.01 < area.max() - area.min() < 0.10
    # The area map is the Jacobian determinant of the model (finite differences).
    for yy, xx in [(10, 20), (ny - 30, nx - 7), (500, 900)]:
        h = 0.5
        a2, a3 = model(xx + h, yy)
        b2, b3 = model(xx - h, yy)
        c2, c3 = model(xx, yy + h)
        e2, e3 = model(xx, yy - h)
        jac = abs((a2 - b2) * (c3 - e3) - (a3 - b3) * (c2 - e2)) * np.cos(np.deg2rad(det.v3_ref / 3600))
        assert jac * (np.pi / 180 / 3600) ** 2 / nominal == pytest.approx(area[yy, xx], rel=2e-5)


def test_psf_flux_and_centroid():
    psf = airy_psf(2.0)
    image = np.zeros((80, 80))
    jac = np.array([[[-0.031, 0.0005], [0.0004, 0.031]]])
    render_point_sources(image, [40.27], [35.61], [1000.0], jac, psf)
    assert image.sum() == pytest.approx(1000.0, rel=1e-9)
    yy, xx = np.mgrid[:80, :80]
    assert (image * xx).sum() / 1000.0 == pytest.approx(40.27, abs=2e-3)
    assert (image * yy).sum() / 1000.0 == pytest.approx(35.61, abs=2e-3)
    # FWHM close to 1.03 lambda/D (slightly wider with the obscuration).
    assert psf.fwhm == pytest.approx(1.03 * 2e-6 / 6.5 * 206264.8, rel=0.03)
    galaxy = np.zeros((200, 200))
    render_sersic_sources(galaxy, [100.3], [99.8], [500.0], jac, [2.0], [0.25], [0.5], [30.0], psf)
    assert galaxy.sum() == pytest.approx(500.0, rel=1e-6)
    gy, gx = np.mgrid[:200, :200]
    assert (galaxy * gx).sum() / 500 == pytest.approx(100.3, abs=0.01)
    assert (galaxy * gy).sum() / 500 == pytest.approx(99.8, abs=0.01)
    # Elongated along position angle 30 deg (east of north): second moments on the sky.
    east = jac[0, 0, 0] * (gx - 100.3) + jac[0, 0, 1] * (gy - 99.8)
    north = jac[0, 1, 0] * (gx - 100.3) + jac[0, 1, 1] * (gy - 99.8)
    cee = (galaxy * east * east).sum()
    cnn = (galaxy * north * north).sum()
    cen = (galaxy * east * north).sum()
    angle = 0.5 * np.degrees(np.arctan2(2 * cen, cnn - cee))
    assert angle == pytest.approx(30.0, abs=1.0)


def test_sources_land_where_the_wcs_says():
    ras = 200.3 + np.array([-3.0, 0.0, 2.5, 3.5]) / 3600 / np.cos(np.radians(-45.2))
    decs = -45.2 + np.array([3.0, 0.0, -2.0, -3.4]) / 3600
    scene = Scene.from_sources(ras, decs, 2e-6, sky_background=0.0)
    _, truth = simulate_exposure("NIRCAM", "NRCA2", "SUB400P", "RAPID", ngroups=2,
                                 effects=Effects.preset("none"), scene=scene, ra=200.3, dec=-45.2, roll=121.0,
                                 pointing_error=(0.3, -0.2, 0.01), seed=3, output_dir=None,
                                 write_references=False)
    det = I.get_detector("NRCA2")
    sub = I.get_subarray("NIRCAM", "SUB400P")
    true_att = Attitude(**truth.true_pointing)
    wcs = true_wcs(det, sub, true_att, truth.filter)
    src = truth.sources
    assert src["on_image"].all()
    # sky -> detector (recorded x, y) -> sky within 1e-3 pixel (~3e-5 arcsec).
    ra, dec = wcs(src["x"], src["y"])
    sep = np.hypot((ra - src["ra"]) * np.cos(np.radians(dec)), dec - src["dec"]) * 3600
    assert sep.max() < 1e-3 * det.pixel_scale
    # The commanded WCS misplaces them by the pointing error (0.36 arcsec ~ 12 pixels).
    cmd = true_wcs(det, sub, Attitude(**truth.commanded_pointing), truth.filter)
    xc, yc = cmd.invert(src["ra"], src["dec"])
    shift = np.hypot(xc - src["x"], yc - src["y"]) * det.pixel_scale
    assert shift.min() > 0.3
    # The light is centred on the recorded positions.
    rate = truth.rate.astype(np.float64)
    yy, xx = np.mgrid[: rate.shape[0], : rate.shape[1]]
    for x0, y0 in zip(src["x"], src["y"]):
        box = (np.abs(xx - x0) < 25) & (np.abs(yy - y0) < 25)
        w = rate * box
        assert (w * xx).sum() / w.sum() == pytest.approx(x0, abs=0.02)
        assert (w * yy).sum() / w.sum() == pytest.approx(y0, abs=0.02)
