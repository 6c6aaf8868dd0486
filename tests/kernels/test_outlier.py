"""outlier_detection: the sectioned median, the driz_cr rule and the time-series variant."""

import numpy as np
import pytest

from photoncal.kernels import outlier as ol
from photoncal.sim import analytic as S


@pytest.fixture(scope="module")
def stack():
    """Seven aligned exposures of one star field with injected cosmic rays."""
    rng = np.random.default_rng(0)
    shape = (180, 200)
    x = rng.uniform(5, 195, 60)
    y = rng.uniform(5, 175, 60)
    truth = S.gaussian_stars(shape, x, y, rng.uniform(500, 20000, 60), 1.3) + 10.0
    err = np.sqrt(truth + 25.0).astype(np.float32)  # Poisson + read noise 5
    images, crs = [], []
    for _ in range(7):
        im = truth + rng.normal(0, 1, shape) * err
        cr = np.zeros(shape, dtype=bool)
        cr.flat[rng.choice(cr.size, 250, replace=False)] = True
        # cosmic rays from 10 to 400 sigma of the local noise
        im[cr] += rng.uniform(10, 400, cr.sum()) * err[cr]
        images.append(im.astype(np.float32))
        crs.append(cr)
    return images, crs, err


def test_sectioned_median_equals_full_median(stack):
    images, _, _ = stack
    data = [im.copy() for im in images]
    data[2][10:20, 30:40] = np.nan
    full = np.nanmedian(np.array(data), axis=0)
    for rows in (1, 7, 64, 180):
        got = ol.median_stack(data, rows_per_section=rows)
        assert np.array_equal(got, full.astype(np.float32), equal_nan=True)
    tiny = ol.median_stack(data, buffer_bytes=1)  # one row at a time
    assert np.array_equal(tiny, full.astype(np.float32), equal_nan=True)
    # memory-mapped inputs are read a section at a time
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        maps = []
        for k, im in enumerate(data):
            mm = np.lib.format.open_memmap(f"{tmp}/im{k}.npy", mode="w+", dtype=np.float32, shape=im.shape)
            mm[:] = im
            maps.append(mm)
        assert np.array_equal(ol.median_stack(maps, rows_per_section=13), full.astype(np.float32),
                              equal_nan=True)
        del maps


def test_weights_maskpt_and_nlow_nhigh(stack):
    images, _, _ = stack
    weights = [np.ones(images[0].shape, dtype=np.float32) for _ in images]
    weights[0][:50] = 0.5  # below 0.7 of the typical weight
    weights[1][:, :20] = 0.0
    got = ol.median_stack(images, weights, maskpt=0.7, rows_per_section=33)
    arr = np.array(images)
    assert np.allclose(got[:50, 20:], np.median(arr[1:, :50, 20:], axis=0))
    assert np.allclose(got[:50, :20], np.median(arr[2:, :50, :20], axis=0))
    assert np.allclose(got[60:, 30:], np.median(arr[:, 60:, 30:], axis=0))
    # zero weights do not count; a mix of 0.5 and 1 averages to 0.861
    assert ol.compute_weight_threshold(weights[1], 0.7) == pytest.approx(0.7, rel=1e-6)
    assert ol.compute_weight_threshold(weights[0], 0.7) == pytest.approx(0.7 * (50 * 0.5 + 130) / 180)
    assert np.isnan(ol.compute_weight_threshold(np.zeros(4), 0.7))
    trimmed = ol.median_stack(images, nlow=1, nhigh=2)
    ref = np.median(np.sort(arr, axis=0)[1:-2], axis=0)
    assert np.allclose(trimmed, ref)
    assert np.all(np.isnan(ol.median_stack(images[:2], nlow=1, nhigh=1)))


def _weight_maps():
    """Weight maps of the kinds drizzle makes: smooth with holes, skewed, tied, tiny."""
    rng = np.random.default_rng(21)
    maps = []
    for n, dtype in ((60_001, np.float32), (40_000, np.float64), (5_000, np.float32)):
        w = rng.normal(1.0e4, 300.0, n).astype(dtype)
        w[rng.uniform(size=n) < 0.03] *= 0.2  # partly covered pixels
        w[rng.uniform(size=n) < 0.02] = 0.0  # not covered
        w[:3] = [np.nan, np.inf, -np.inf]
        maps.append(w)
    skewed = rng.normal(100.0, 1.0, 30_000).astype(np.float32)
    skewed[:4_000] = rng.uniform(300, 400, 4_000)  # a far tail: the clipped run leaves the sorted middle window
    maps.append(skewed)
    maps.append(np.full((90, 70), 125.5, np.float32))  # exposure-time weights: all equal
    maps.append(np.round(rng.normal(50, 5, (120, 110))).astype(np.float32))  # many ties
    maps.append(rng.normal(3, 1, 300).astype(np.float32))  # small: astropy itself
    return maps


@pytest.mark.parametrize("index", range(7))
def test_weight_threshold_is_astropys_sigma_clip_bit_for_bit(index):
    weight = _weight_maps()[index]
    fast = ol.compute_weight_threshold(weight, 0.7)
    reference = ol._weight_threshold_astropy(weight, 0.7)
    assert fast == reference
    # a plain cross-check of what that number is: 0.7 x the clipped mean
    good = weight[np.isfinite(weight) & (weight != 0)]
    assert 0.5 * np.median(good) < fast / 0.7 < 1.5 * np.median(good)


def test_cosmic_rays_are_flagged_and_good_pixels_kept(stack):
    images, crs, err = stack
    median = ol.median_stack(images)
    found = total = false = good = 0
    for im, cr in zip(images, crs):
        mask = ol.flag_resampled_crs(im, err, median, 5.0, 4.0, 1.2, 0.7)
        found += np.count_nonzero(mask & cr)
        total += np.count_nonzero(cr)
        false += np.count_nonzero(mask & ~cr)
        good += np.count_nonzero(~cr)
    assert found >= 0.95 * total
    assert false < 0.001 * good


def test_two_pass_neighbour_rule():
    sci = np.zeros((7, 7), dtype=np.float32)
    err = np.ones((7, 7), dtype=np.float32)
    blot = np.zeros((7, 7), dtype=np.float32)
    sci[2, 2] = 4.5  # passes snr2 = 4 alone, not snr1 = 5
    sci[4, 4] = 6.0  # passes snr1
    sci[4, 5] = 4.5  # passes snr2 next to (4, 4)
    mask = ol.flag_resampled_crs(sci, err, blot, 5.0, 4.0, 0.0, 0.0)
    assert mask[4, 4] and mask[4, 5] and not mask[2, 2]
    assert mask.sum() == 2
    # a steep blot gradient raises the threshold by scale * |derivative|
    blot2 = blot.copy()
    blot2[4, 3] = 20.0
    mask = ol.flag_resampled_crs(sci, err, blot2, 5.0, 4.0, 1.2, 0.7)
    assert not mask[4, 4]
    # background level and grow
    mask = ol.flag_resampled_crs(sci + 100, err, blot, 5.0, 4.0, 0.0, 0.0, backg=100.0)
    assert mask.sum() == 2
    grown = ol.flag_resampled_crs(sci, err, blot, 5.0, 4.0, 0.0, 0.0, grow=3)
    assert grown.sum() == 12 and grown[3:6, 3:7].all()
    # no coverage in the blot: never an outlier
    blot3 = blot.copy()
    blot3[4, 4] = np.nan
    assert not ol.flag_resampled_crs(sci, err, blot3, 5.0, 4.0, 0.0, 0.0)[4, 4]


def test_abs_derivative_and_plain_comparison():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (20, 30)).astype(np.float32)
    a[5, 5] = np.nan
    d = ol.abs_derivative(a)
    padded = np.pad(a, 1, constant_values=np.nan)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    import warnings

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the NaN pixel itself
        ref = np.nanmax(np.abs(neighbours - a), axis=0)
    ref[np.isnan(a)] = np.nan
    assert np.allclose(d, ref, equal_nan=True)
    mask = ol.flag_crs(np.array([1.0, 10.0, 10.0]), np.array([1.0, 1.0, np.nan]), np.zeros(3), 5.0)
    assert mask.tolist() == [False, True, True]


def test_parse_pair():
    assert ol.parse_pair("5.0 4.0") == (5.0, 4.0)
    assert ol.parse_pair("1.2,0.7") == (1.2, 0.7)
    assert ol.parse_pair(3) == (3.0, 3.0)
    with pytest.raises(ValueError, match="snr"):
        ol.parse_pair("five four", "snr")


def test_time_series_outliers_follow_slow_changes():
    rng = np.random.default_rng(7)
    nints, shape = 60, (24, 26)
    # a transit-like dip of 3 % over 20 integrations on a 1000-count source
    flux = 1000.0 * (1 - 0.03 * (np.abs(np.arange(nints) - 30) < 10))
    cube = flux[:, None, None] + rng.normal(0, 3.0, (nints, *shape))
    err = np.full(cube.shape, 3.0, dtype=np.float32)
    cr = np.zeros(cube.shape, dtype=bool)
    cr.flat[rng.choice(cr.size, 120, replace=False)] = True
    cube[cr] += 200.0
    good = np.ones(cube.shape, dtype=bool)
    good[:, 0, 0] = False  # a bad pixel never enters the median
    mask = ol.flag_outliers_tso(cube, err, good_mask=good, snr=5.0, rolling_window_width=9)
    assert np.count_nonzero(mask & cr) >= 0.95 * cr.sum()
    assert np.count_nonzero(mask & ~cr) < 0.001 * (~cr).sum()
    # one median for the whole series flags the transit itself
    whole = ol.flag_outliers_tso(cube, err, snr=5.0, rolling_window_width=1)
    assert np.count_nonzero(whole & ~cr) > 100
    rm = ol.rolling_median(np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2)), 3)
    assert rm[:, 0, 0].tolist() == [1, 1, 2, 3, 4, 5, 6, 7, 8, 8]
