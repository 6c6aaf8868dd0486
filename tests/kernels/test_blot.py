"""photoncal.kernels.blot: parity with drizzle's blot_image, accuracy, round trips."""

import warnings

import numpy as np
import pytest

from photoncal.kernels.blot import SUPPORTED_INTERPOLATIONS, blot_image
from photoncal.kernels.drizzle import Drizzle


def rotated_map(out_shape, angle_deg, scale, offset):
    """Position on the source of each target pixel centre."""
    y, x = np.indices(out_shape, dtype=np.float64)
    t = np.deg2rad(angle_deg)
    xs = scale * (np.cos(t) * x - np.sin(t) * y) + offset[0]
    ys = scale * (np.sin(t) * x + np.cos(t) * y) + offset[1]
    return np.dstack([xs, ys])


def wave(x, y):
    return 3.0 + np.sin(x / 6.0) * np.cos(y / 8.0) + 0.01 * x


@pytest.fixture(scope="module")
def source():
    rng = np.random.default_rng(11)
    y, x = np.indices((40, 48), dtype=np.float64)
    return (wave(x, y) + rng.normal(0.0, 0.05, x.shape)).astype(np.float32)


@pytest.mark.parametrize("interp", SUPPORTED_INTERPOLATIONS)
def test_parity_with_drizzle_blot(source, interp):
    reference = pytest.importorskip("drizzle.resample")
    ny, nx = source.shape
    pixmap = rotated_map((44, 52), 13.0, 0.91, (4.3, -5.2))
    # points where the established code reads outside the source (undefined
    # results there) are moved off the source
    if interp == "nearest":
        outside = (pixmap[..., 0] >= nx - 0.5) | (pixmap[..., 1] >= ny - 0.5)
        pixmap[outside] = -3.0
    if interp == "poly3":
        pixmap[pixmap[..., 1] >= ny - 1] = -3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference.blot_image(source, pixmap, interp=interp, fillval=-1.0, iscale=1.7)
    ours = blot_image(source, pixmap, interp=interp, fillval=-1.0, iscale=1.7)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
    inside = (pixmap[..., 0] >= 0) & (pixmap[..., 1] >= 0) & (pixmap[..., 0] < nx) & (pixmap[..., 1] < ny)
    assert np.all(ours[~inside] == -1.0)
    assert inside.sum() > 500


@pytest.mark.parametrize("interp, at_samples, between", [
    ("linear", 1e-6, 1e-2),
    ("poly3", 1e-6, 1e-4),
    ("poly5", 1e-6, 1e-5),
    # drizzle's Lanczos windows are tabulated coarsely and not normalised
    ("lanczos3", 1.5e-2, 1.5e-2),
    ("lanczos5", 5e-3, 5e-2),
])
def test_exact_on_the_sample_grid_and_accurate_between(interp, at_samples, between):
    """Interpolants return the samples at pixel centres and follow a smooth function between."""
    y, x = np.indices((30, 36), dtype=np.float64)
    src = wave(x, y).astype(np.float32)
    on_grid = blot_image(src, np.dstack([x, y]), interp=interp)
    inner = (slice(5, -5), slice(5, -5))
    assert np.max(np.abs(on_grid[inner] - src[inner])) < at_samples
    yy, xx = np.mgrid[6:24:0.5, 6:30:0.5]
    off_grid = blot_image(src, np.dstack([xx, yy]), interp=interp)
    assert np.max(np.abs(off_grid - wave(xx, yy))) < between


def test_nearest_and_fill_and_nan_map():
    src = np.arange(20, dtype=np.float32).reshape(4, 5)
    pm = np.array([[[1.4, 2.6], [3.5, 0.4], [np.nan, 1.0], [-0.2, 1.0], [4.9, 3.9]]])
    out = blot_image(src, pm, interp="nearest", fillval=-5.0)
    np.testing.assert_array_equal(out[0], [src[3, 1], src[0, 4], -5.0, -5.0, src[3, 4]])


def test_iscale_multiplies_and_out_img_is_filled_in_place():
    src = np.full((8, 8), 2.0, np.float32)
    pm = rotated_map((5, 5), 0.0, 1.0, (1.5, 1.5))
    out = np.zeros((5, 5), np.float32)
    result = blot_image(src, pm, out_img=out, iscale=0.25, interp="poly5")
    assert result is out
    np.testing.assert_allclose(out, 0.5, rtol=1e-6)


@pytest.mark.parametrize("interp", ["poly5", "poly3", "linear"])
def test_drizzle_then_blot_returns_a_smooth_image(interp):
    """Drizzle onto a rotated, shifted grid and blot back: the input returns away from edges."""
    shape = (60, 64)
    y, x = np.indices(shape, dtype=np.float64)
    smooth = (10.0 + 2.0 * np.sin(x / 9.0) * np.cos(y / 11.0)).astype(np.float32)
    t = np.deg2rad(17.0)
    xo = np.cos(t) * (x - 32) - np.sin(t) * (y - 30) + 45.0
    yo = np.sin(t) * (x - 32) + np.cos(t) * (y - 30) + 42.0
    pixmap = np.dstack([xo, yo])
    driz = Drizzle(out_shape=(90, 90))
    driz.add_image(smooth, exptime=1.0, pixmap=pixmap)
    back = blot_image(driz.out_img, pixmap, interp=interp)
    inner = (slice(8, -8), slice(8, -8))
    # drizzle averages over the pixel footprint and the interpolant samples it:
    # both smooth by about (1/12) f'' ~ 2/81/12 relative to an amplitude of 2
    assert np.max(np.abs(back[inner] - smooth[inner])) < 0.03
    assert np.mean(np.abs(back[inner] - smooth[inner])) < 0.01


def test_bad_input_gets_a_clear_error():
    src = np.ones((8, 8), np.float32)
    pm = np.zeros((3, 3, 2))
    with pytest.raises(ValueError, match="sinc"):
        blot_image(src, pm, interp="sinc")
    with pytest.raises(ValueError, match="not supported"):
        blot_image(src, pm, interp="cubic-spline")
    with pytest.raises(ValueError, match="pixmap"):
        blot_image(src, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="iscale"):
        blot_image(src, pm, iscale=0.0)
    with pytest.raises(ValueError, match="at least 4"):
        blot_image(np.ones((3, 3)), pm, interp="poly5")
    with pytest.raises(ValueError, match="out_img"):
        blot_image(src, pm, out_img=np.zeros((4, 4), np.float32))
