"""Tests of the ramp simulator photoncal.sim.ramps against analytic truths."""

import numba
import numpy as np
import pytest
from scipy import stats

from photoncal.sim.ramps import (
    POISSON_GAUSSIAN_MIN,
    jwst_read_pattern,
    random_cosmic_rays,
    read_pattern_times,
    simulate_ramps,
)


def test_jwst_read_pattern_medium8():
    pattern = jwst_read_pattern(8, 2, 3)
    assert pattern == [list(range(1, 9)), list(range(11, 19)), list(range(21, 29))]
    assert jwst_read_pattern(1, 0, 2, nskip=3) == [[4], [5]]
    times = read_pattern_times(jwst_read_pattern(4, 1, 2, nskip=1), 2.0)
    # first group: frames 2..5, mean 3.5 -> 7 s; second: frames 7..10 -> 17 s
    np.testing.assert_allclose(times, [7.0, 17.0])
    with pytest.raises(ValueError, match="nframes"):
        jwst_read_pattern(0, 0, 3)


def test_noiseless_ramp_is_exact_group_means():
    pattern = [[1], [2, 3], [4, 5, 6, 7], [9, 10]]
    rate = np.array([[0.0, 10.0], [123.5, 7.25]])
    sim = simulate_ramps(rate, frame_time=2.5, read_pattern=pattern, gain=2.0, poisson=False,
                         bias=np.full((2, 2), 100.0), nints=2)
    expected = 100.0 + rate / 2.0 * read_pattern_times(pattern, 2.5)[:, None, None]
    for integ in range(2):
        np.testing.assert_allclose(sim.data[integ], expected, rtol=1e-6)
    assert sim.data.dtype == np.float32 and sim.data.shape == (2, 4, 2, 2)
    assert np.all(sim.saturated_group == -1)
    np.testing.assert_allclose(sim.slope, rate / 2.0)


@pytest.mark.parametrize("lam", [0.3, 4.0, 14.0, 60.0, 3000.0])
def test_poisson_distribution_of_single_frame(lam):
    sim = simulate_ramps(np.full((200, 200), lam), frame_time=1.0, read_pattern=[[1]], seed=11)
    values = sim.data[0, 0].astype(np.float64).ravel()
    n = values.size
    assert np.all(values == np.round(values))
    assert abs(values.mean() - lam) < 5 * np.sqrt(lam / n)
    assert abs(values.var() / lam - 1.0) < 5 * np.sqrt(2.0 / n) + 0.01
    if lam < POISSON_GAUSSIAN_MIN:
        # exact Poisson: a chi-square test against the probabilities
        k = np.arange(int(lam + 12 * np.sqrt(lam) + 10))
        counts = np.bincount(values.astype(int), minlength=k.size)[: k.size]
        expected = stats.poisson.pmf(k, lam) * n
        used = expected > 20
        chi2 = np.sum((counts[used] - expected[used]) ** 2 / expected[used])
        assert stats.chi2.sf(chi2, used.sum() - 1) > 1e-3


def test_group_variance_matches_poisson_plus_read_noise():
    # difference of consecutive single-frame groups: var = rate*t/gain^2... in DN
    pattern = jwst_read_pattern(1, 0, 6)
    gain, rn, lam = 2.0, 4.0, 40.0
    sim = simulate_ramps(np.full((80, 80), lam), frame_time=1.0, read_pattern=pattern,
                         gain=gain, read_noise=rn, seed=5)
    diffs = np.diff(sim.data[0].astype(np.float64), axis=0)
    expected_var = lam / gain**2 + 2 * rn**2
    assert abs(diffs.mean() - lam / gain) < 0.05
    assert abs(diffs.var() / expected_var - 1.0) < 0.03
    # a group of n reads carries read_noise / sqrt(n)
    sim4 = simulate_ramps(np.zeros((100, 100)), frame_time=1.0, read_pattern=[[1, 2, 3, 4]],
                          read_noise=rn, seed=2)
    assert abs(sim4.data.std() / (rn / 2.0) - 1.0) < 0.03


@pytest.mark.parametrize("lam", [1.8, 300.0])
def test_charge_variance_scales_the_noise_not_the_mean(lam):
    # IPC-coupled charge: mean sum(k r), variance sum(k**2 r) = f * mean.  Both
    # the table sampler (small means) and the grouped Gaussian draw (large
    # means) must keep the mean and scale the variance of a group difference
    # (4 reads averaged: var = 0.6875 * f * mean for single-frame increments).
    f = 0.9
    pattern = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    sim = simulate_ramps(np.full((300, 300), lam), frame_time=1.0, read_pattern=pattern, charge_variance=f, seed=3)
    unit = simulate_ramps(np.full((300, 300), lam), frame_time=1.0, read_pattern=pattern, seed=3)
    diffs = np.diff(sim.data[0].astype(np.float64), axis=0)
    n = diffs.size
    assert abs(diffs.mean() / (4 * lam) - 1.0) < 5 * np.sqrt(0.6875 * f / (4 * lam * n))
    assert abs(diffs.var() / (0.6875 * f * 4 * lam) - 1.0) < 5 * np.sqrt(2.0 / n)
    unit_var = np.diff(unit.data[0].astype(np.float64), axis=0).var()
    assert abs(unit_var / (0.6875 * 4 * lam) - 1.0) < 5 * np.sqrt(2.0 / n)
    # charge_variance=1 is the plain Poisson simulation, number for number
    same = simulate_ramps(np.full((300, 300), lam), frame_time=1.0, read_pattern=pattern, charge_variance=1.0, seed=3)
    np.testing.assert_array_equal(same.data, unit.data)


def test_same_numbers_whatever_the_thread_count():
    kwargs = dict(frame_time=3.0, read_pattern=jwst_read_pattern(2, 1, 5), gain=1.5,
                  read_noise=3.0, nints=2, seed=1234,
                  cosmic_rays=[(1, 6, 3, 4, 500.0)])
    rate = np.linspace(0.0, 2000.0, 40 * 30).reshape(40, 30)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_ramps(rate, **kwargs)
        numba.set_num_threads(before)
        many = simulate_ramps(rate, **kwargs)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.data, many.data)
    other = simulate_ramps(rate, **{**kwargs, "seed": 1235})
    assert not np.array_equal(one.data, other.data)


def test_nonlinearity_inverse_and_saturation():
    pattern = jwst_read_pattern(4, 1, 6)
    rate = np.full((2, 3), 100.0)
    coeffs = np.zeros((3, 2, 3))
    coeffs[1] = 1.0
    coeffs[2] = 2e-6
    sim = simulate_ramps(rate, frame_time=1.0, read_pattern=pattern, bias=np.full((2, 3), 500.0),
                         nonlinearity=coeffs, saturation=np.full((2, 3), 2500.0), poisson=False)
    raw = sim.data[0, :, 0, 0].astype(np.float64) - 500.0
    corrected = raw + 2e-6 * raw**2
    linear = 100.0 * read_pattern_times(pattern, 1.0)
    # groups 0-3 unsaturated: the linearity correction gives the linear signal back
    np.testing.assert_allclose(corrected[:4], linear[:4], rtol=1e-6)
    # saturation at raw 2000 DN above bias = linear 2008 DN: group 4 (frames 21-24) is
    # the first with a clipped read; fully saturated groups hold the saturation level
    assert np.all(sim.saturated_group == 4)
    np.testing.assert_array_equal(sim.data[0, 4:], 2500.0)


def test_partially_saturated_group_is_reported():
    pattern = [[1, 2, 3, 4], [5, 6, 7, 8]]
    sim = simulate_ramps(np.full((1, 1), 100.0), frame_time=1.0, read_pattern=pattern,
                         saturation=np.full((1, 1), 650.0), poisson=False)
    # reads 500, 600, 650(clip), 650 -> mean 600, first affected group is 1
    assert sim.saturated_group[0, 0, 0] == 1
    assert sim.data[0, 1, 0, 0] == pytest.approx(600.0)


def test_cosmic_rays_land_in_the_right_group():
    pattern = jwst_read_pattern(4, 1, 6)  # group g holds frames 5g+1 .. 5g+4
    crs = [(0, 7, 1, 2, 300.0), (0, 10, 1, 2, 50.0), (1, 50, 0, 0, 10.0), (1, 1, 0, 1, 80.0)]
    sim = simulate_ramps(np.zeros((2, 3)), frame_time=1.0, read_pattern=pattern,
                         poisson=False, cosmic_rays=crs, nints=2)
    table = sim.cosmic_rays
    by_key = {(r["integration"], r["y"], r["x"], r["frame"]): r["group"] for r in table}
    assert by_key[(0, 1, 2, 7)] == 1      # frame 7 is inside group 1 (frames 6-9)
    assert by_key[(0, 1, 2, 10)] == 2     # frame 10 is in the gap: first seen by group 2
    assert by_key[(1, 0, 0, 50)] == -1    # after the last read
    assert by_key[(1, 0, 1, 1)] == 0
    # frame 7 is the 2nd of the 4 reads of group 1: 3/4 of 300 e- in group 1
    np.testing.assert_allclose(sim.data[0, :, 1, 2], [0, 225, 350, 350, 350, 350])
    np.testing.assert_allclose(sim.data[1, :, 0, 1], 80.0)
    np.testing.assert_allclose(sim.data[1, :, 0, 0], 0.0)


def test_random_cosmic_rays_shape_and_ranges():
    crs = random_cosmic_rays((50, 40), nints=3, last_frame=20, hits_per_pixel=0.1, seed=3)
    assert crs.shape[1] == 5 and 400 < len(crs) < 800
    assert crs[:, 0].max() < 3 and crs[:, 1].min() >= 2 and crs[:, 1].max() <= 20
    assert crs[:, 4].min() >= 1e3 and crs[:, 4].max() <= 1e5


def test_bad_inputs_raise_clear_errors():
    pattern = [[1], [2]]
    with pytest.raises(ValueError, match="rate must be a 2-D"):
        simulate_ramps(np.zeros(5), frame_time=1.0, read_pattern=pattern)
    with pytest.raises(ValueError, match=">= 0 electrons/s"):
        simulate_ramps(-np.ones((2, 2)), frame_time=1.0, read_pattern=pattern)
    with pytest.raises(ValueError, match="strictly increasing"):
        simulate_ramps(np.ones((2, 2)), frame_time=1.0, read_pattern=[[2], [1]])
    with pytest.raises(ValueError, match="gain must be finite"):
        simulate_ramps(np.ones((2, 2)), frame_time=1.0, read_pattern=pattern, gain=0.0)
    with pytest.raises(ValueError, match="shape"):
        simulate_ramps(np.ones((2, 2)), frame_time=1.0, read_pattern=pattern, bias=np.ones((3, 3)))
    with pytest.raises(ValueError, match="cosmic_rays y"):
        simulate_ramps(np.ones((2, 2)), frame_time=1.0, read_pattern=pattern,
                       cosmic_rays=[(0, 1, 5, 0, 10.0)])
    with pytest.raises(ValueError, match="charge_variance must be finite and > 0"):
        simulate_ramps(np.ones((2, 2)), frame_time=1.0, read_pattern=pattern, charge_variance=0.0)


def test_per_pixel_planes_on_a_single_row():
    # a (1, n) detector: per-pixel gain/bias must not be mistaken for scalars
    gain = np.array([[1.0, 2.0, 4.0]])
    sim = simulate_ramps(np.full((1, 3), 40.0), frame_time=1.0, read_pattern=[[1], [2]], gain=gain,
                         bias=np.array([[0.0, 10.0, 20.0]]), poisson=False)
    np.testing.assert_allclose(sim.data[0, 0, 0], [40.0, 30.0, 30.0])
    assert sim.gain.shape == (1, 3) and sim.read_noise.shape == (1, 3)
