"""photoncal.wcs.pixmap against analytic shifts/rotations and the drizzle package."""

import numpy as np
import pytest
from astropy import coordinates as coord
from astropy import units as u
from astropy import wcs as fits_wcs
from astropy.modeling import models

gwcs = pytest.importorskip("gwcs")
from gwcs import coordinate_frames as cf  # noqa: E402

from photoncal.wcs.pixmap import calc_pixmap, estimate_pixel_scale_ratio, pixel_scale, reproject  # noqa: E402


def imaging_gwcs(crpix, crval, scale_arcsec, rot_deg, shape, bbox=True):
    """A TAN gwcs: pixel -> shift(-crpix) -> rotate/scale -> TAN -> sky."""
    t = np.deg2rad(rot_deg)
    s = scale_arcsec / 3600.0
    matrix = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) * s
    transform = ((models.Shift(-crpix[0]) & models.Shift(-crpix[1]))
                 | models.AffineTransformation2D(matrix=matrix)
                 | models.Pix2Sky_TAN() | models.RotateNative2Celestial(crval[0], crval[1], 180.0))
    detector = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    w = gwcs.WCS([(detector, transform), (sky, None)])
    w.array_shape = shape
    if bbox:
        w.bounding_box = ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5))
    return w


def fits_tan(crpix, crval, scale_arcsec, rot_deg, shape):
    w = fits_wcs.WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = [crpix[0] + 1, crpix[1] + 1]  # FITS is 1-based
    w.wcs.crval = list(crval)
    t = np.deg2rad(rot_deg)
    s = scale_arcsec / 3600.0
    # RA increases to the left for a standard orientation; keep it simple:
    w.wcs.cd = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) * s
    w.pixel_shape = shape[::-1]
    return w


SHAPE = (40, 50)


def test_shift_map_is_a_translation():
    a = imaging_gwcs((25.0, 20.0), (30.0, -10.0), 0.1, 0.0, SHAPE)
    b = imaging_gwcs((31.5, 17.25), (30.0, -10.0), 0.1, 0.0, (60, 70))
    pixmap = calc_pixmap(a, b)
    y, x = np.indices(SHAPE, dtype=np.float64)
    assert pixmap.shape == SHAPE + (2,)
    np.testing.assert_allclose(pixmap[..., 0], x + 6.5, atol=1e-8)
    np.testing.assert_allclose(pixmap[..., 1], y - 2.75, atol=1e-8)


def test_rotation_map_rotates_about_the_reference_pixel():
    angle = 30.0
    a = imaging_gwcs((25.0, 20.0), (150.0, 2.0), 0.1, 0.0, SHAPE)
    b = imaging_gwcs((40.0, 35.0), (150.0, 2.0), 0.1, angle, (80, 80))
    pixmap = calc_pixmap(a, b)
    y, x = np.indices(SHAPE, dtype=np.float64)
    t = np.deg2rad(angle)
    # same tangent point: b's pixel offsets are a's rotated by -angle
    u_, v_ = x - 25.0, y - 20.0
    np.testing.assert_allclose(pixmap[..., 0], np.cos(t) * u_ + np.sin(t) * v_ + 40.0, atol=1e-7)
    np.testing.assert_allclose(pixmap[..., 1], -np.sin(t) * u_ + np.cos(t) * v_ + 35.0, atol=1e-7)


def test_astropy_fits_wcs_pair_and_reproject():
    a = fits_tan((25.0, 20.0), (45.0, 60.0), 0.2, 0.0, SHAPE)
    b = fits_tan((10.0, 12.0), (45.0, 60.0), 0.2, 0.0, SHAPE)
    pixmap = calc_pixmap(a, b)
    y, x = np.indices(SHAPE, dtype=np.float64)
    np.testing.assert_allclose(pixmap[..., 0], x - 15.0, atol=1e-8)
    np.testing.assert_allclose(pixmap[..., 1], y - 8.0, atol=1e-8)
    xx, yy = reproject(a, b)([25.0, 0.0], [20.0, 0.0])
    np.testing.assert_allclose(xx, [10.0, -15.0], atol=1e-8)
    np.testing.assert_allclose(yy, [12.0, -8.0], atol=1e-8)


def test_bounding_boxes():
    a = imaging_gwcs((25.0, 20.0), (30.0, -10.0), 0.1, 0.0, SHAPE)
    a.bounding_box = ((4.5, 44.5), (-0.5, 30.5))
    b = imaging_gwcs((25.0, 20.0), (30.0, -10.0), 0.1, 0.0, (10, 10))
    pixmap = calc_pixmap(a, b)
    nan = np.isnan(pixmap[..., 0])
    assert nan[:, :5].all() and nan[:, 45:].all() and nan[31:].all()
    assert not nan[:31, 5:45].any()
    # the "to" bounding box is ignored by default: points off b still map
    assert np.nanmax(pixmap[..., 0]) > 10
    # honouring it as well gives NaN off b
    both = calc_pixmap(a, b, disable_bbox="none")
    assert np.isnan(both[..., 0][:31, 30:45]).all()
    assert a.bounding_box is not None and b.bounding_box is not None  # restored


def test_chunking_and_sparse_evaluation_agree_with_the_full_map():
    a = imaging_gwcs((25.0, 20.0), (10.0, 40.0), 0.1, 3.0, SHAPE, bbox=False)
    b = imaging_gwcs((30.0, 26.0), (10.0, 40.0), 0.08, -11.0, (80, 90), bbox=False)
    full = calc_pixmap(a, b)
    np.testing.assert_array_equal(calc_pixmap(a, b, chunk_pixels=130), full)
    sparse = calc_pixmap(a, b, stepsize=5, order=3)
    np.testing.assert_allclose(sparse, full, atol=1e-6)
    with pytest.raises(ValueError, match="order"):
        calc_pixmap(a, b, stepsize=5, order=2)


def test_shape_is_required_without_array_shape_or_bbox():
    a = fits_tan((25.0, 20.0), (45.0, 60.0), 0.2, 0.0, SHAPE)
    a.pixel_shape = None
    with pytest.raises(ValueError, match="shape"):
        calc_pixmap(a, a)
    assert calc_pixmap(a, a, shape=(3, 4)).shape == (3, 4, 2)


def test_pixel_scale_and_ratio():
    a = imaging_gwcs((25.0, 20.0), (200.0, 65.0), 0.1, 0.0, SHAPE)
    b = imaging_gwcs((25.0, 20.0), (200.0, 65.0), 0.065, 20.0, SHAPE)
    assert pixel_scale(a, refpix=(25.0, 20.0)) * 3600 == pytest.approx(0.1, rel=1e-9)
    assert estimate_pixel_scale_ratio(a, b, (25.0, 20.0), (25.0, 20.0)) == pytest.approx(0.65, rel=1e-9)
    drizzle_utils = pytest.importorskip("drizzle.utils")
    assert estimate_pixel_scale_ratio(a, b) == pytest.approx(
        drizzle_utils.estimate_pixel_scale_ratio(a, b), rel=1e-6)


def test_matches_drizzle_calc_pixmap():
    drizzle_utils = pytest.importorskip("drizzle.utils")
    a = imaging_gwcs((25.0, 20.0), (10.0, 40.0), 0.1, 3.0, SHAPE)
    b = imaging_gwcs((30.0, 26.0), (10.0, 40.0), 0.08, -11.0, (80, 90))
    np.testing.assert_array_equal(calc_pixmap(a, b), drizzle_utils.calc_pixmap(a, b))
