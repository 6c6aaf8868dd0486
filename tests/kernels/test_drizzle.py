"""photoncal.kernels.drizzle: analytic cases, flux conservation, threads, API behaviour."""

import numpy as np
import pytest

import photoncal.kernels.drizzle as drizzle_module
from photoncal.kernels.drizzle import (
    SUPPORTED_KERNELS,
    Drizzle,
    VarianceCombiner,
    decode_context,
    drizzle_add,
)


def shifted_pixmap(shape, dx, dy, scale=1.0, angle_deg=0.0, center=None):
    """Map (x, y) -> R(angle) * scale * ((x, y) - center) + center + (dx, dy)."""
    ny, nx = shape
    y, x = np.indices(shape, dtype=np.float64)
    cx, cy = center if center is not None else ((nx - 1) / 2, (ny - 1) / 2)
    t = np.deg2rad(angle_deg)
    u = x - cx
    v = y - cy
    xo = scale * (np.cos(t) * u - np.sin(t) * v) + cx + dx
    yo = scale * (np.sin(t) * u + np.cos(t) * v) + cy + dy
    return np.dstack([xo, yo])


def smooth_scene(shape, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.indices(shape, dtype=np.float64)
    scene = 5.0 + 2.0 * np.sin(x / 7.0) * np.cos(y / 9.0)
    return (scene + rng.normal(0.0, 0.1, shape)).astype(np.float32)


# --- analytic cases ------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["square", "point", "turbo"])
def test_identity_map_copies_the_image(kernel):
    data = smooth_scene((20, 24))
    weights = np.random.default_rng(1).uniform(0.5, 2.0, data.shape).astype(np.float32)
    driz = Drizzle(kernel=kernel, out_shape=data.shape)
    nmiss, nskip = driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 0, 0),
                                  weight_map=weights)
    np.testing.assert_array_equal(driz.out_img, data)
    np.testing.assert_allclose(driz.out_wht, weights, rtol=1e-6)
    assert np.all(driz.out_ctx[0] == 1)
    assert (nmiss, nskip) == (-data.shape[0], 0)  # the established count: xmax - xmin per row


def test_integer_shift_moves_pixels():
    data = smooth_scene((16, 18))
    driz = Drizzle(out_shape=(20, 25))
    driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 5, 3))
    np.testing.assert_array_equal(driz.out_img[3:19, 5:23], data)
    assert np.all(np.isnan(driz.out_img[:3])) and np.all(np.isnan(driz.out_img[:, :5]))
    np.testing.assert_array_equal(driz.out_wht[3:19, 5:23], 1.0)
    assert driz.out_wht.sum() == data.size


def test_half_pixel_shift_averages_neighbours():
    rng = np.random.default_rng(2)
    data = rng.uniform(1, 2, (12, 14)).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, data.shape).astype(np.float32)
    driz = Drizzle(out_shape=(12, 16))
    driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 0.5, 0), weight_map=weights)
    # output pixel i (interior) gets half of input pixels i-1 and i
    left, right = data[:, :-1], data[:, 1:]
    wl, wr = weights[:, :-1], weights[:, 1:]
    expected = (0.5 * wl * left + 0.5 * wr * right) / (0.5 * wl + 0.5 * wr)
    np.testing.assert_allclose(driz.out_img[:, 1:14], expected, rtol=1e-6)
    np.testing.assert_allclose(driz.out_wht[:, 1:14], 0.5 * (wl + wr), rtol=1e-6)


def test_tophat_on_integer_shift_copies_or_averages_the_plus_neighbourhood():
    """Radius pixfrac / 2: 0.5 reaches only the pixel itself, 1.0 also its four neighbours."""
    rng = np.random.default_rng(3)
    data = rng.uniform(1, 2, (10, 12)).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, data.shape).astype(np.float32)
    pixmap = shifted_pixmap(data.shape, 2, 1)
    copy = Drizzle(kernel="tophat", out_shape=(12, 15))
    copy.add_image(data, exptime=1.0, pixmap=pixmap, weight_map=weights, pixfrac=1.0)
    np.testing.assert_array_equal(copy.out_img[1:11, 2:14], data)
    np.testing.assert_array_equal(copy.out_wht[1:11, 2:14], weights)
    assert copy.out_wht.sum() == pytest.approx(weights.sum(), rel=1e-6)

    plus = Drizzle(kernel="tophat", out_shape=(12, 15))
    plus.add_image(data, exptime=1.0, pixmap=pixmap, weight_map=weights, pixfrac=2.0)
    # interior output pixel (j + 1, i + 2) gets input (j, i) and its 4 neighbours, full weight each
    wd = weights * data
    num = wd[1:-1, 1:-1] + wd[:-2, 1:-1] + wd[2:, 1:-1] + wd[1:-1, :-2] + wd[1:-1, 2:]
    den = (weights[1:-1, 1:-1] + weights[:-2, 1:-1] + weights[2:, 1:-1] + weights[1:-1, :-2]
           + weights[1:-1, 2:])
    np.testing.assert_allclose(plus.out_img[2:10, 3:13], num / den, rtol=1e-6)
    np.testing.assert_allclose(plus.out_wht[2:10, 3:13], den, rtol=1e-6)
    # weight is not conserved: every input pixel gave its full weight to 5 output pixels
    assert plus.out_wht.sum() == pytest.approx(5 * weights.sum(), rel=1e-6)


def test_tophat_drop_between_output_centres_misses():
    """A disc of radius 0.5 centred 0.566 px from every output centre hits nothing."""
    data = np.ones((6, 7), np.float32)
    driz = Drizzle(kernel="tophat", out_shape=(8, 9), fillval=-1.0)
    nmiss, nskip = driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 1.4, 1.4))
    assert (nmiss, nskip) == (6 * (7 - 1), 0)  # all of them, with drizzle's xmax - xmin per row
    assert np.all(driz.out_wht == 0) and np.all(driz.out_img == -1.0)
    bigger = Drizzle(kernel="tophat", out_shape=(8, 9))
    nmiss, _ = bigger.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 1.4, 1.4),
                                pixfrac=1.2)  # radius 0.6 reaches the nearest centre
    assert nmiss == -6 and bigger.out_wht.sum() == data.size


def test_two_by_two_binning_is_the_block_mean():
    """A map at half scale puts exactly four input pixels into each output pixel."""
    data = smooth_scene((16, 20))
    y, x = np.indices(data.shape, dtype=np.float64)
    pixmap = np.dstack([(x - 0.5) / 2.0, (y - 0.5) / 2.0])
    driz = Drizzle(out_shape=(8, 10))
    driz.add_image(data, exptime=1.0, pixmap=pixmap)
    block_mean = data.reshape(8, 2, 10, 2).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(driz.out_img, block_mean, rtol=1e-6)
    np.testing.assert_allclose(driz.out_wht, 4.0, rtol=1e-6)


def test_weighted_mean_of_two_images():
    a = np.full((10, 12), 3.0, np.float32)
    b = np.full((10, 12), 7.0, np.float32)
    pm = shifted_pixmap(a.shape, 0, 0)
    driz = Drizzle(out_shape=a.shape)
    driz.add_image(a, exptime=1.0, pixmap=pm, weight_map=np.full(a.shape, 1.0, np.float32))
    driz.add_image(b, exptime=1.0, pixmap=pm, weight_map=np.full(a.shape, 3.0, np.float32))
    np.testing.assert_allclose(driz.out_img, (3.0 * 1 + 7.0 * 3) / 4, rtol=1e-6)
    np.testing.assert_allclose(driz.out_wht, 4.0)
    assert np.all(driz.out_ctx[0] == 0b11)
    assert driz.total_exptime == 2.0


def test_counts_units_and_exposure_weighting():
    data = np.full((8, 9), 20.0, np.float32)
    driz = Drizzle(out_shape=data.shape, out_units="counts")
    driz.add_image(data, exptime=4.0, pixmap=shifted_pixmap(data.shape, 0, 0), in_units="counts",
                   wht_scale="exptime")
    np.testing.assert_allclose(driz.out_img, 5.0)          # a rate
    np.testing.assert_allclose(driz.out_wht, 4.0)          # weighted by exposure time
    np.testing.assert_allclose(driz.image_in_units(), 20.0)
    np.testing.assert_allclose(driz.image_in_units("cps"), 5.0)


def test_zero_weight_pixels_do_not_contribute():
    data = smooth_scene((12, 12))
    weights = np.ones_like(data)
    weights[4:7, 5:8] = 0.0
    driz = Drizzle(out_shape=data.shape, fillval=-99)
    driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 0, 0), weight_map=weights)
    assert np.all(driz.out_img[4:7, 5:8] == -99)
    assert np.all(driz.out_ctx[0][4:7, 5:8] == 0)
    assert np.all(driz.out_wht[4:7, 5:8] == 0)


# --- flux conservation --------------------------------------------------------------------


@pytest.mark.parametrize("pixfrac", [1.0, 0.6, 0.25])
@pytest.mark.parametrize("geometry", [
    dict(dx=6.3, dy=4.8),
    dict(dx=9.1, dy=8.7, angle_deg=27.0),
    dict(dx=2.2, dy=3.1, scale=0.45, angle_deg=-14.0),
    dict(dx=13.7, dy=12.3, scale=1.6, angle_deg=8.0),
])
def test_square_kernel_conserves_flux(pixfrac, geometry):
    """Total flux in (sum of data) equals total flux out (sum of out * wht)."""
    rng = np.random.default_rng(5)
    data = rng.uniform(0.0, 10.0, (30, 34)).astype(np.float32)
    pixmap = shifted_pixmap(data.shape, **geometry)
    # a mild distortion too
    pixmap[..., 0] += 0.002 * (pixmap[..., 1] - 15.0) ** 2
    # place the footprint fully inside the output, 3 pixels from its edges
    pixmap -= pixmap.reshape(-1, 2).min(axis=0) - 3.0
    xs, ys = pixmap[..., 0], pixmap[..., 1]
    out_shape = (int(np.ceil(ys.max())) + 4, int(np.ceil(xs.max())) + 4)
    driz = Drizzle(out_shape=out_shape)
    nmiss, nskip = driz.add_image(data, exptime=1.0, pixmap=pixmap, pixfrac=pixfrac)
    covered = driz.out_wht > 0
    flux_out = np.sum(driz.out_img[covered].astype(np.float64) * driz.out_wht[covered])
    flux_in = np.sum(data.astype(np.float64))
    assert flux_out == pytest.approx(flux_in, rel=1e-6)
    assert nskip == 0


def test_point_and_turbo_conserve_flux_on_a_shifted_grid():
    data = np.random.default_rng(6).uniform(0, 5, (24, 26)).astype(np.float32)
    pixmap = shifted_pixmap(data.shape, 3.4, 2.7)
    for kernel in ("point", "turbo"):
        driz = Drizzle(kernel=kernel, out_shape=(32, 34))
        driz.add_image(data, exptime=1.0, pixmap=pixmap)
        covered = driz.out_wht > 0
        flux_out = np.sum(driz.out_img[covered].astype(np.float64) * driz.out_wht[covered])
        assert flux_out == pytest.approx(float(data.sum(dtype=np.float64)), rel=1e-6)


# --- threads --------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", SUPPORTED_KERNELS)
def test_result_is_independent_of_the_band_decomposition(monkeypatch, kernel):
    """Any number of output-row bands gives bit-identical SCI, WHT, CON and counts."""
    rng = np.random.default_rng(8)
    shape = (48, 40)
    data = rng.normal(3.0, 1.0, shape).astype(np.float32)
    weights = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    var = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    dq = rng.integers(0, 8, shape).astype(np.uint32)
    pixmap = shifted_pixmap(shape, 9.0, 7.0, scale=1.1, angle_deg=35.0)
    pixmap[..., 1] += 0.01 * (pixmap[..., 0] - 20) ** 2
    pixmap[20:23, 5:9] = np.nan

    def run(nbands):
        monkeypatch.setattr(drizzle_module, "_SERIAL_MAX_PIXELS", 0)
        monkeypatch.setattr(drizzle_module, "_band_count", lambda: nbands)
        driz = Drizzle(kernel=kernel, out_shape=(60, 66))
        counts = driz.add_image(data, exptime=1.0, pixmap=pixmap, weight_map=weights, data2=var, dq=dq,
                                pixfrac=1.0 if kernel.startswith("lanczos") else 0.8)
        return driz, counts

    reference, ref_counts = run(1)
    for nbands in (2, 7):
        driz, counts = run(nbands)
        assert counts == ref_counts
        np.testing.assert_array_equal(driz.out_img, reference.out_img)
        np.testing.assert_array_equal(driz.out_wht, reference.out_wht)
        np.testing.assert_array_equal(driz.out_ctx, reference.out_ctx)
        np.testing.assert_array_equal(driz.out_img2[0], reference.out_img2[0])
        np.testing.assert_array_equal(driz.out_dq, reference.out_dq)


def test_output_bands_split_the_work_evenly():
    row_first = np.zeros(100, np.int32)
    row_last = np.full(100, 49, np.int32)
    lo = np.arange(100, dtype=np.int64) - 2
    hi = np.arange(100, dtype=np.int64) + 2
    bands = drizzle_module._output_bands(row_first, row_last, lo, hi, 100, 4)
    assert bands[0] < -1e18 and bands[-1] > 1e18
    np.testing.assert_allclose(bands[1:-1], [25, 50, 75], atol=2)


# --- API behaviour and errors ------------------------------------------------------------------


def test_context_bits_follow_image_numbers():
    data = np.ones((6, 7), np.float32)
    pm = shifted_pixmap(data.shape, 0, 0)
    driz = Drizzle(out_shape=data.shape, begin_ctx_id=30, max_ctx_id=33)
    assert driz.out_ctx.shape == (2, 6, 7)
    for _ in range(4):
        driz.add_image(data, exptime=1.0, pixmap=pm)
    bits_30_31 = np.array(2**30 + 2**31, dtype=np.uint32).view(np.int32)
    assert np.all(driz.out_ctx[0] == bits_30_31)
    assert np.all(driz.out_ctx[1] == 0b11)
    np.testing.assert_array_equal(decode_context(driz.out_ctx, [3], [2])[0], [30, 31, 32, 33])
    assert driz.ctx_id == 34


def test_fill_values():
    data = np.ones((6, 6), np.float32)
    pm = shifted_pixmap(data.shape, 3, 0)
    for fillval, expected in ((None, np.nan), ("INDEF", np.nan), (0, 0.0), ("-2.5", -2.5)):
        driz = Drizzle(out_shape=(6, 10), fillval=fillval)
        driz.add_image(data, exptime=1.0, pixmap=pm)
        np.testing.assert_array_equal(driz.out_img[:, :3], expected)
    # with a supplied output, INDEF leaves uncovered pixels untouched
    out = np.full((6, 10), 42.0, np.float32)
    driz = Drizzle(out_img=out)
    driz.add_image(data, exptime=1.0, pixmap=pm)
    assert driz.out_img is out
    assert np.all(out[:, :3] == 42.0) and np.all(out[:, 3:9] == 1.0)


def test_output_shape_from_the_pixel_map():
    data = np.ones((5, 8), np.float32)
    driz = Drizzle()
    driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 10.0, 20.0))
    assert driz.out_img.shape == (5, 8)
    assert np.all(driz.out_wht == 1.0)


def test_variance_combiner_weights():
    combiner = VarianceCombiner((3, 4))
    v1 = np.full((3, 4), 2.0)
    v2 = np.full((3, 4), 8.0)
    v2[0, 0] = np.nan
    combiner.add(v1, 1.0)
    combiner.add(v2, np.full((3, 4), 3.0))
    out = combiner.result(scaling=0.5)
    assert out[1, 1] == pytest.approx(0.5 * (1 * 2.0 + 9 * 8.0) / 16)
    assert out[0, 0] == pytest.approx(0.5 * 2.0)
    empty = VarianceCombiner((2, 2)).result()
    assert np.all(np.isnan(empty))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(pixmap=np.zeros((4, 5, 2))), ValueError, "pixmap"),
    (dict(weight_map=np.ones((3, 3))), ValueError, "weight_map"),
    (dict(exptime=0.0), ValueError, "exptime"),
    (dict(in_units="electrons"), ValueError, "in_units"),
    (dict(wht_scale="often"), ValueError, "wht_scale"),
    (dict(pixmap=np.full((6, 7, 2), np.nan)), ValueError, "valid pixels"),
])
def test_bad_input_gets_a_clear_error(kwargs, error, match):
    data = np.ones((6, 7), np.float32)
    args = dict(data=data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 0, 0))
    args.update(kwargs)
    driz = Drizzle(out_shape=(6, 7))
    with pytest.raises(error, match=match):
        driz.add_image(**args)


def test_bad_construction_gets_a_clear_error():
    with pytest.raises(ValueError, match="Kernel 'sinc' is not supported"):
        Drizzle(kernel="sinc")
    with pytest.raises(ValueError, match="Inconsistent output shapes"):
        Drizzle(out_shape=(4, 4), out_img=np.zeros((5, 5), np.float32))
    with pytest.raises(TypeError, match="out_img"):
        drizzle_add(np.ones((4, 4)), shifted_pixmap((4, 4), 0, 0), np.zeros((4, 4)), np.zeros((4, 4), np.float32))


def test_tiny_pixfrac_falls_back_to_point_kernel():
    data = smooth_scene((8, 8))
    pm = shifted_pixmap(data.shape, 0.2, 0.1)
    ours = Drizzle(out_shape=(8, 8))
    with pytest.warns(RuntimeWarning, match="point"):
        ours.add_image(data, exptime=1.0, pixmap=pm, pixfrac=0.0005)
    point = Drizzle(kernel="point", out_shape=(8, 8))
    point.add_image(data, exptime=1.0, pixmap=pm)
    np.testing.assert_array_equal(ours.out_img, point.out_img)


def test_image_entirely_off_the_output_changes_nothing():
    data = np.ones((6, 6), np.float32)
    driz = Drizzle(out_shape=(6, 6), fillval=0)
    counts = driz.add_image(data, exptime=1.0, pixmap=shifted_pixmap(data.shape, 100, 100))
    assert counts == (0, 0)
    assert np.all(driz.out_wht == 0) and np.all(driz.out_img == 0)
