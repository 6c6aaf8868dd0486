"""The tangent-plane correction: its maths, insertion into a gwcs, inverse and ASDF round trip."""

import io
import math

import numpy as np
import pytest

from photoncal.wcs import tpcorr
from photoncal.wcs.footprint import sky_to_tangent_plane
from photoncal.sim import analytic as S


def _rot(deg, scale=1.0):
    t = math.radians(deg)
    return scale * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def test_identity_correction_is_a_no_op_and_inverse_is_exact():
    model = tpcorr.tpcorr_model(120.0, -480.0, 30.0)
    v2 = np.array([100.0, 120.0, 160.0])
    v3 = np.array([-500.0, -480.0, -420.0])
    a, b = model(v2, v3)
    assert np.allclose(a, v2, atol=1e-9) and np.allclose(b, v3, atol=1e-9)
    m = tpcorr.tpcorr_model(120.0, -480.0, 30.0, _rot(0.05, 1.001), [0.4, -0.25])
    a, b = m(v2, v3)
    assert np.max(np.hypot(a - v2, b - v3)) > 0.1
    c, d = m.inverse(a, b)
    assert np.allclose(c, v2, atol=1e-9) and np.allclose(d, v3, atol=1e-9)
    v2r, v3r, roll, mat, sh = tpcorr.tpcorr_parameters(m)
    assert (v2r, v3r) == pytest.approx((120.0, -480.0)) and roll == pytest.approx(30.0)
    assert np.allclose(mat, _rot(0.05, 1.001)) and np.allclose(sh, [0.4, -0.25])
    with pytest.raises(ValueError, match="singular"):
        tpcorr.tpcorr_model(0, 0, 0, np.zeros((2, 2)))


def test_correction_moves_tangent_plane_positions_as_fitted():
    w, info = S.imaging_wcs(distortion=0.4)
    x = np.array([0.0, 50.0, 110.0, 219.0])
    y = np.array([0.0, 150.0, 99.0, 199.0])
    before = np.column_stack(tpcorr.TangentPlane(w, info).det_to_tanp(x, y))
    matrix, shift = _rot(0.01, 1.0002), np.array([0.3, -0.2])
    w2 = tpcorr.apply_tweak_correction(w, matrix, shift, info)
    assert w2.available_frames == ["detector", "v2v3", "v2v3corr", "world"]
    after = np.column_stack(tpcorr.TangentPlane(w2, info).det_to_tanp(x, y))
    assert np.allclose(after, before @ matrix.T + shift, atol=1e-9)
    # the input WCS is unchanged
    assert w.available_frames == ["detector", "v2v3", "world"]
    # a pure shift of (+1", 0) moves every source 1" east: RA grows by 1"/cos(dec)
    w3 = tpcorr.apply_tweak_correction(w, np.eye(2), [1.0, 0.0], info)
    ra0, dec0 = w(x, y)
    ra1, dec1 = w3(x, y)
    xi, eta = sky_to_tangent_plane(ra1, dec1, ra0[1], dec0[1])
    xi0, eta0 = sky_to_tangent_plane(ra0, dec0, ra0[1], dec0[1])
    assert np.allclose((xi - xi0) * 3600, 1.0, atol=2e-4) and np.allclose((eta - eta0) * 3600, 0.0, atol=2e-4)


def test_two_corrections_combine_into_one():
    w, info = S.imaging_wcs()
    m1, s1 = _rot(0.02), np.array([0.1, 0.2])
    m2, s2 = _rot(-0.01, 1.0001), np.array([-0.3, 0.05])
    twice = tpcorr.apply_tweak_correction(tpcorr.apply_tweak_correction(w, m1, s1, info), m2, s2, info)
    once = tpcorr.apply_tweak_correction(w, m2 @ m1, m2 @ s1 + s2, info)
    assert twice.available_frames.count("v2v3corr") == 1
    x, y = np.array([3.0, 100.0, 200.0]), np.array([7.0, 90.0, 180.0])
    assert np.allclose(np.array(twice(x, y)), np.array(once(x, y)), atol=1e-12)


def test_corrected_wcs_inverts_and_reports_new_pointing():
    w, info = S.imaging_wcs(distortion=0.4)
    w2 = tpcorr.apply_tweak_correction(w, _rot(0.01), [0.3, -0.2], info)
    x, y = np.array([0.0, 100.0, 219.0]), np.array([0.0, 50.0, 199.0])
    xb, yb = w2.invert(*w2(x, y))
    assert np.allclose(xb, x, atol=1e-6) and np.allclose(yb, y, atol=1e-6)
    ref = tpcorr.corrected_wcsinfo(w2, info)
    assert ref["ra_ref"] - info["ra_ref"] == pytest.approx(0.3 / 3600 / math.cos(math.radians(-27.8)), rel=1e-3)
    assert ref["dec_ref"] - info["dec_ref"] == pytest.approx(-0.2 / 3600, rel=1e-3)
    # the rotation, plus the turn of north between the old and the new pointing
    convergence = 0.3 / 3600 * math.tan(math.radians(-27.8))
    assert ref["roll_ref"] == pytest.approx(30.0 - 0.01 + convergence, abs=1e-7)


def test_reference_angles_are_read_from_the_wcs():
    w, info = S.imaging_wcs(ra_ref=10.5, dec_ref=41.2, roll_ref=123.0, v2_ref=-90.0, v3_ref=-500.0)
    got = tpcorr.ref_angles_from_wcs(w)
    for key in ("v2_ref", "v3_ref", "roll_ref", "ra_ref", "dec_ref"):
        assert got[key] == pytest.approx(info[key], abs=1e-9)
    w2 = tpcorr.apply_tweak_correction(w, np.eye(2), [1, 1])
    assert tpcorr.ref_angles_from_wcs(w2)["v2_ref"] == pytest.approx(-90.0)
    assert tpcorr.find_tpcorr(w) is None and tpcorr.find_tpcorr(w2).name == tpcorr.TPCORR_NAME


def test_correction_fitted_in_another_plane_is_transferred():
    ra0, dec0 = 53.1, -27.8
    wa, ia = S.imaging_wcs(ra0, dec0, 30.0)
    rb, db = S.offset_pointing(ra0, dec0, 40.0, -25.0)
    wb, ib = S.imaging_wcs(rb, db, 30.0, v2_ref=160.0, v3_ref=-450.0)
    plane_a = tpcorr.TangentPlane(wa, ia)
    matrix, shift = _rot(0.003, 1.00001), np.array([0.25, 0.1])
    wb2 = tpcorr.apply_tweak_correction(wb, matrix, shift, ib, fit_plane=plane_a)
    gx, gy = np.meshgrid(np.linspace(0, 219, 4), np.linspace(0, 199, 4))
    before = np.column_stack(plane_a.world_to_tanp(*wb(gx.ravel(), gy.ravel())))
    after = np.column_stack(plane_a.world_to_tanp(*wb2(gx.ravel(), gy.ravel())))
    # in the fit plane the image moved exactly as the fit says (to 0.01 mas)
    assert np.max(np.abs(after - (before @ matrix.T + shift))) < 1e-5


def test_asdf_round_trip_of_a_corrected_wcs():
    import asdf

    w, info = S.imaging_wcs(distortion=0.4)
    w2 = tpcorr.apply_tweak_correction(w, _rot(0.01, 1.00001), [0.3, -0.2], info)
    buf = io.BytesIO()
    asdf.AsdfFile({"wcs": w2}).write_to(buf)
    buf.seek(0)
    with asdf.open(buf) as af:
        w3 = af["wcs"]
        x, y = np.array([0.0, 50.0, 200.0]), np.array([3.0, 70.0, 190.0])
        assert np.allclose(np.array(w3(x, y)), np.array(w2(x, y)), atol=1e-12)
        assert w3.available_frames == w2.available_frames
        corr = tpcorr.find_tpcorr(w3)
        *_, mat, sh = tpcorr.tpcorr_parameters(corr)
        assert np.allclose(mat, _rot(0.01, 1.00001)) and np.allclose(sh, [0.3, -0.2])
        v2, v3 = np.array([100.0, 130.0]), np.array([-470.0, -490.0])
        assert np.allclose(np.array(corr.inverse(*corr(v2, v3))), [v2, v3], atol=1e-9)
        # a corrected WCS read back can be corrected again
        w4 = tpcorr.apply_tweak_correction(w3, np.eye(2), [0.1, 0.0])
        assert np.all(np.isfinite(w4(x, y)))


def test_wcs_without_v2v3_frame_is_rejected():
    import gwcs
    from astropy.modeling import models as m
    from gwcs import coordinate_frames as cf

    plain = gwcs.WCS([(cf.Frame2D(name="detector"), m.Identity(2)), (cf.Frame2D(name="sky"), None)])
    with pytest.raises(ValueError, match="v2v3"):
        tpcorr.apply_tweak_correction(plain, np.eye(2), [0, 0], {"v2_ref": 0, "v3_ref": 0, "roll_ref": 0})
    with pytest.raises(ValueError, match="v2_ref"):
        tpcorr.TangentPlane(S.imaging_wcs()[0], {"v2_ref": 1})
