"""Stacks of planes drizzled in one pass are bit-identical to drizzling each plane alone."""

import numpy as np
import pytest

import photoncal.kernels.drizzle as drizzle_module
from photoncal.kernels.drizzle import (
    SUPPORTED_KERNELS,
    Drizzle,
    drizzle_add,
    resample_variance,
    resample_variances,
    sigma_planes,
)
from photoncal.sim.analytic import affine_pixmap, rotation

SHAPE = (40, 36)
OUT_SHAPE = (52, 58)


def _inputs(seed=11):
    rng = np.random.default_rng(seed)
    planes = rng.normal(3.0, 1.0, (3,) + SHAPE).astype(np.float32)
    planes[1] = np.abs(planes[1]) * 0.1  # an ERR-like plane
    planes[2, 4:6, 7:12] = np.nan  # a plane may have NaNs where the others do not
    weights = rng.uniform(0.2, 1.0, SHAPE).astype(np.float32)
    weights[rng.uniform(size=SHAPE) < 0.1] = 0.0
    var = rng.uniform(0.5, 1.5, SHAPE).astype(np.float32)
    dq = rng.integers(0, 8, SHAPE).astype(np.uint32)
    pixmap = affine_pixmap(SHAPE, rotation(33.0, 1.1), (20.0, 1.0), distortion=0.05)
    pixmap[18:21, 5:9] = np.nan
    pixmap2 = affine_pixmap(SHAPE, rotation(-12.0, 0.95), (8.0, 12.0))
    return planes, weights, var, dq, pixmap, pixmap2


@pytest.mark.parametrize("nbands", [1, 3])
@pytest.mark.parametrize("kernel", SUPPORTED_KERNELS)
def test_stack_equals_planes_drizzled_one_by_one(monkeypatch, kernel, nbands):
    planes, weights, var, dq, pixmap, pixmap2 = _inputs()
    monkeypatch.setattr(drizzle_module, "_SERIAL_MAX_PIXELS", 0)
    monkeypatch.setattr(drizzle_module, "_band_count", lambda: nbands)
    pixfrac = 1.0 if kernel.startswith("lanczos") else 0.8

    def run(driz, data):
        # two images, the second on another map and a box of its pixels
        first = driz.add_image(data, exptime=2.0, pixmap=pixmap, weight_map=weights, data2=var, dq=dq,
                               pixfrac=pixfrac, pixel_scale_ratio=1.1)
        second = driz.add_image(data[..., ::-1, :].copy(), exptime=3.0, pixmap=pixmap2, weight_map=weights,
                                data2=var, dq=dq, pixfrac=pixfrac, pixel_scale_ratio=None, xmin=2, ymax=30)
        return first, second

    stacked = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, max_ctx_id=1, fillval="NaN", nplanes=3)
    counts = run(stacked, planes)
    assert stacked.out_img.shape == (3,) + OUT_SHAPE
    for k in range(3):
        alone = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, max_ctx_id=1, fillval="NaN")
        assert run(alone, planes[k]) == counts
        np.testing.assert_array_equal(stacked.out_img[k], alone.out_img)
        np.testing.assert_array_equal(stacked.out_wht, alone.out_wht)
        np.testing.assert_array_equal(stacked.out_ctx, alone.out_ctx)
        np.testing.assert_array_equal(stacked.out_dq, alone.out_dq)
        np.testing.assert_array_equal(stacked.out_img2[0], alone.out_img2[0])
    assert np.count_nonzero(stacked.out_wht) > 0.1 * stacked.out_wht.size  # the test covers real work


@pytest.mark.parametrize("kernel", ["square", "point", "turbo", "gaussian"])
def test_resample_variances_equal_one_by_one(kernel):
    planes, weights, var, _, pixmap, _ = _inputs(seed=5)
    variances = [var, np.abs(planes[0]), planes[2] ** 2]
    variances[1][3, 3] = -1.0  # a negative variance gives NaN, as for one array
    together = resample_variances(variances, pixmap, OUT_SHAPE, weight_map=weights, pixfrac=0.7, kernel=kernel,
                                  pixel_scale_ratio=1.1, xmin=1, xmax=30)
    assert together.shape == (3,) + OUT_SHAPE and together.dtype == np.float32
    for k, v in enumerate(variances):
        alone = resample_variance(v, pixmap, OUT_SHAPE, weight_map=weights, pixfrac=0.7, kernel=kernel,
                                  pixel_scale_ratio=1.1, xmin=1, xmax=30)
        np.testing.assert_array_equal(together[k], alone)
    # an identity map at pixfrac 1 hands each pixel its own variance back
    y = np.indices(SHAPE, dtype=np.float64)
    identity = np.dstack([y[1], y[0]])
    back = resample_variances([var, 2 * var], identity, SHAPE, kernel="square")
    np.testing.assert_allclose(back[0], var, rtol=2e-6)
    np.testing.assert_allclose(back[1], 2 * var, rtol=2e-6)


def test_drizzle_add_with_a_stack_updates_its_planes_in_place():
    planes, weights, _, _, pixmap, _ = _inputs(seed=2)
    out = np.zeros((3,) + OUT_SHAPE, np.float32)
    wht = np.zeros(OUT_SHAPE, np.float32)
    drizzle_add(planes, pixmap, out, wht, weight_map=weights, fillval=-1.0)
    for k in range(3):
        one = np.zeros(OUT_SHAPE, np.float32)
        one_wht = np.zeros(OUT_SHAPE, np.float32)
        drizzle_add(planes[k], pixmap, one, one_wht, weight_map=weights, fillval=-1.0)
        np.testing.assert_array_equal(out[k], one)
        np.testing.assert_array_equal(wht, one_wht)
    assert np.any(out[0] == -1.0)


def test_stack_shapes_get_clear_errors():
    planes, _, _, _, pixmap, _ = _inputs()
    with pytest.raises(ValueError, match=r"'data' must have shape \(2, ny, nx\)"):
        Drizzle(out_shape=OUT_SHAPE, nplanes=2).add_image(planes, exptime=1.0, pixmap=pixmap)
    with pytest.raises(ValueError, match="stacks need nplanes"):
        Drizzle(out_shape=OUT_SHAPE).add_image(planes, exptime=1.0, pixmap=pixmap)
    with pytest.raises(ValueError, match="nplanes"):
        Drizzle(nplanes=0)
    with pytest.raises(ValueError, match="2 planes"):
        drizzle_add(planes, pixmap, np.zeros((2,) + OUT_SHAPE, np.float32), np.zeros(OUT_SHAPE, np.float32))
    with pytest.raises(TypeError, match="3-D"):
        drizzle_add(planes, pixmap, np.zeros(OUT_SHAPE, np.float32), np.zeros(OUT_SHAPE, np.float32))
    with pytest.raises(ValueError, match="variance array 1 has shape"):
        resample_variances([planes[0], planes[0][:5]], pixmap, OUT_SHAPE)


@pytest.mark.parametrize("kernel", SUPPORTED_KERNELS)
def test_single_planes_ride_along_bit_identically(monkeypatch, kernel):
    """Planes drizzled alone beside a co-added image equal their own drizzle; the co-add is untouched."""
    planes, weights, var, dq, pixmap, pixmap2 = _inputs(seed=4)
    monkeypatch.setattr(drizzle_module, "_SERIAL_MAX_PIXELS", 0)
    monkeypatch.setattr(drizzle_module, "_band_count", lambda: 3)
    pixfrac = 1.0 if kernel.startswith("lanczos") else 0.7
    single = np.stack([planes[1], planes[2], var])
    common = dict(weight_map=weights, pixfrac=pixfrac, pixel_scale_ratio=1.1, dq=dq, data2=var)

    mosaic = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, max_ctx_id=1, fillval="NaN")
    plain = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, max_ctx_id=1, fillval="NaN")
    for k, pm in enumerate((pixmap, pixmap2)):
        counts = mosaic.add_image(planes[0], exptime=2.0, pixmap=pm, single_data=single, **common)
        assert plain.add_image(planes[0], exptime=2.0, pixmap=pm, **common) == counts
        alone = Drizzle(kernel=kernel, out_shape=OUT_SHAPE, fillval=np.nan, disable_ctx=True, nplanes=3)
        alone.add_image(single, exptime=1.0, pixmap=pm, weight_map=weights, pixfrac=pixfrac, pixel_scale_ratio=1.1)
        np.testing.assert_array_equal(mosaic.out_single, alone.out_img)
        np.testing.assert_array_equal(mosaic.out_single_wht, alone.out_wht)
        assert np.count_nonzero(mosaic.out_single_wht) > 0.1 * mosaic.out_single_wht.size
    for name in ("out_img", "out_wht", "out_ctx", "out_dq"):
        np.testing.assert_array_equal(getattr(mosaic, name), getattr(plain, name))
    np.testing.assert_array_equal(mosaic.out_img2[0], plain.out_img2[0])
    # the variance recipe: squared single planes of sqrt(var) are resample_variances
    mosaic.add_image(planes[0], exptime=1.0, pixmap=pixmap, weight_map=weights, pixfrac=pixfrac,
                     pixel_scale_ratio=1.1, dq=dq, data2=var, single_data=sigma_planes([var, 2 * var]))
    expected = resample_variances([var, 2 * var], pixmap, OUT_SHAPE, weight_map=weights, pixfrac=pixfrac,
                                  kernel=kernel, pixel_scale_ratio=1.1)
    np.testing.assert_array_equal(np.square(mosaic.out_single), expected)


def test_single_planes_get_clear_errors():
    planes, _, _, _, pixmap, _ = _inputs()
    with pytest.raises(ValueError, match="single_data"):
        Drizzle(out_shape=OUT_SHAPE).add_image(planes[0], exptime=1.0, pixmap=pixmap, single_data=planes[:, :5])
    out = np.zeros(OUT_SHAPE, np.float32)
    with pytest.raises(ValueError, match="need 'single_data'"):
        drizzle_add(planes[0], pixmap, out, out.copy(), out_single=np.zeros((1,) + OUT_SHAPE, np.float32))
    with pytest.raises(TypeError, match="out_single"):
        drizzle_add(planes[0], pixmap, out, out.copy(), single_data=planes[:1])
