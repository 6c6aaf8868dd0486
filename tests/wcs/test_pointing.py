"""The v2v3 -> sky pointing transform and the imaging WCS builder."""

import importlib.util

import numpy as np
import pytest

from photoncal.wcs import pointing as P

# Values computed with the established pipeline (jwst.assign_wcs.pointing):
# (V2_REF, V3_REF, ROLL_REF, RA_REF, DEC_REF), the sky positions of three V2/V3
# points, PA_V3 and the V3 position angle at (V2_REF + 50, V3_REF - 40).
JWST_CASES = [
    ((120.6, -527.7, 35.2, 53.16, -27.79),
     [53.160000000000004, 53.164077741267505, 53.14520605118783],
     [-27.790000000000006, -27.79934322101898, -27.760368176338684],
     35.16996107064968, 35.19742995638516),
    ((-453.56, -373.81, 291.3, 359.9, 75.3),
     [359.9, 359.93233903767305, 359.7991767247958],
     [75.3, 75.3057437773607, 75.28015209874827],
     291.1037045358756, 291.3587533965759),
    ((207.19, -697.5, 180.0, 10.0, -89.1),
     [9.999999999999998, 9.472734345628552, 11.801223323832412],
     [-89.1, -89.09440610324647, -89.11623003503286],
     175.34145923214209, 180.87331408921423),
]


def _points(c):
    return (np.array([c[0], c[0] + 30, c[0] - 100]), np.array([c[1], c[1] - 20, c[1] + 60]))


@pytest.mark.parametrize("case", JWST_CASES)
def test_v2v3_to_sky_matches_established_pipeline(case):
    c, ra_expected, dec_expected, pa_v3, roll_new = case
    v2, v3 = _points(c)
    ra, dec = P.v2v3_to_sky(*c)(v2, v3)
    # 1e-9 deg = 4 microarcsec.
    np.testing.assert_allclose(ra, ra_expected, atol=1e-9)
    np.testing.assert_allclose(dec, dec_expected, atol=1e-9)
    matrix = P.attitude_matrix(*c)
    ra2, dec2 = P.v2v3_to_radec(matrix, v2, v3)
    np.testing.assert_allclose(ra2, ra_expected, atol=1e-9)
    np.testing.assert_allclose(dec2, dec_expected, atol=1e-9)
    assert P.compute_roll_ref(*c, 0.0, 0.0) == pytest.approx(pa_v3, abs=1e-9)
    assert P.compute_roll_ref(*c, c[0] + 50, c[1] - 40) == pytest.approx(roll_new, abs=1e-9)


@pytest.mark.parametrize("case", JWST_CASES)
def test_sky_to_v2v3_inverse(case):
    c = case[0]
    v2, v3 = _points(c)
    model = P.v2v3_to_sky(*c)
    ra, dec = model(v2, v3)
    back = model.inverse(ra, dec)
    np.testing.assert_allclose(back, [v2, v3], atol=1e-8)
    matrix = P.attitude_matrix(*c)
    np.testing.assert_allclose(P.radec_to_v2v3(matrix, ra, dec), [v2, v3], atol=1e-8)


def test_reference_point_maps_to_ra_dec_ref_and_roll_is_position_angle():
    c = (10.0, -400.0, 123.4, 200.0, 10.0)
    ra, dec = P.v2v3_to_sky(*c)(c[0], c[1])
    assert ra == pytest.approx(200.0, abs=1e-10)
    assert dec == pytest.approx(10.0, abs=1e-10)
    # At the reference point the V3 position angle is ROLL_REF itself.
    assert P.compute_roll_ref(*c, c[0], c[1]) == pytest.approx(123.4, abs=1e-9)
    # A step toward +V3 moves the sky point along position angle ROLL_REF.
    from astropy.coordinates import SkyCoord

    ra1, dec1 = P.v2v3_to_sky(*c)(c[0], c[1] + 0.01)
    start = SkyCoord(ra, dec, unit="deg")
    end = SkyCoord(ra1, dec1, unit="deg")
    assert start.separation(end).arcsec == pytest.approx(0.01, rel=1e-6)
    assert start.position_angle(end).deg == pytest.approx(123.4, abs=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("jwst") is None, reason="jwst not installed")
def test_against_installed_jwst():
    from jwst.assign_wcs import pointing as JP

    rng = np.random.default_rng(3)
    for _ in range(5):
        c = (rng.uniform(-500, 500), rng.uniform(-800, 0), rng.uniform(0, 360),
             rng.uniform(0, 360), rng.uniform(-89, 89))
        v2, v3 = _points(c)
        ours = P.v2v3_to_sky(*c)(v2, v3)
        theirs = JP._v23tosky(c[0] / 3600, c[1] / 3600, *c[2:])(v2, v3)
        np.testing.assert_allclose(ours, theirs, atol=1e-10)


def _linear_distortion(scale=0.05, v2_ref=100.0, v3_ref=-500.0):
    from astropy.modeling import models

    forward = ((models.Shift(-1023.5) & models.Shift(-1023.5))
               | (models.Scale(-scale) & models.Scale(scale))
               | (models.Shift(v2_ref) & models.Shift(v3_ref)))
    forward.inverse = ((models.Shift(-v2_ref) & models.Shift(-v3_ref))
                       | (models.Scale(-1 / scale) & models.Scale(1 / scale))
                       | (models.Shift(1023.5) & models.Shift(1023.5)))
    return forward


def test_imaging_wcs_frames_and_round_trip():
    wcsinfo = {"v2_ref": 100.0, "v3_ref": -500.0, "roll_ref": 30.0, "ra_ref": 150.0, "dec_ref": 2.0}
    wcs = P.imaging_wcs(_linear_distortion(), wcsinfo, bounding_box=((-0.5, 2047.5), (-0.5, 2047.5)))
    assert wcs.available_frames == ["detector", "v2v3", "world"]
    ra, dec = wcs(1023.5, 1023.5)
    assert (ra, dec) == pytest.approx((150.0, 2.0), abs=1e-10)
    x = np.array([0.0, 500.3, 2047.0])
    y = np.array([10.0, 1500.7, 3.2])
    ra, dec = wcs(x, y)
    xb, yb = wcs.invert(ra, dec)
    np.testing.assert_allclose(xb, x, atol=1e-6)
    np.testing.assert_allclose(yb, y, atol=1e-6)
    v2, v3 = wcs.get_transform("detector", "v2v3")(1023.5 + 10, 1023.5)
    assert (v2, v3) == pytest.approx((100.0 - 0.5, -500.0))


def test_imaging_wcs_subarray_and_filter_offset():
    wcsinfo = {"v2_ref": 100.0, "v3_ref": -500.0, "roll_ref": 30.0, "ra_ref": 150.0, "dec_ref": 2.0}
    full = P.imaging_wcs(_linear_distortion(), wcsinfo)
    sub = P.imaging_wcs(_linear_distortion(), wcsinfo, subarray_origin=(101, 201))
    np.testing.assert_allclose(sub(5.0, 7.0), full(105.0, 207.0), atol=1e-12)
    shifted = P.imaging_wcs(_linear_distortion(), wcsinfo, filter_offset=(0.3, -0.2))
    np.testing.assert_allclose(shifted(5.0, 7.0), full(5.3, 6.8), atol=1e-12)


def test_missing_wcsinfo_keyword_is_a_clear_error():
    with pytest.raises(ValueError, match="ROLL_REF"):
        P.imaging_wcs(_linear_distortion(), {"v2_ref": 1.0, "v3_ref": 2.0, "ra_ref": 3.0, "dec_ref": 4.0})


def test_tangent_plane_keywords_reproduce_the_wcs():
    from astropy.wcs import WCS

    wcsinfo = {"v2_ref": 100.0, "v3_ref": -500.0, "roll_ref": 30.0, "ra_ref": 150.0, "dec_ref": 2.0}
    wcs = P.imaging_wcs(_linear_distortion(), wcsinfo)
    keys = P.tangent_plane_keywords(wcs, (1023.5, 1023.5))
    assert keys["CRPIX1"] == pytest.approx(1024.5)
    assert keys["CDELT1"] < 0 < keys["CDELT2"]
    # V2 is a longitude: its steps shrink by cos(V3) (1 - 3e-6 here).
    assert abs(keys["CDELT2"]) * 3600 == pytest.approx(0.05, rel=1e-5)
    fits_wcs = WCS({k: v for k, v in keys.items()})
    x = np.array([1023.5, 1200.0, 900.0])
    y = np.array([1023.5, 1000.0, 1100.0])
    ra, dec = wcs(x, y)
    ra2, dec2 = fits_wcs.all_pix2world(x, y, 0)
    np.testing.assert_allclose(ra2, ra, atol=1e-8)
    np.testing.assert_allclose(dec2, dec, atol=1e-8)
