"""The vectorised building blocks of the ramp fit give the per-pixel answers."""

import numpy as np
import pytest

from photoncal.kernels.ramp_common import (
    SNR_POWERS,
    median_of_finite,
    median_of_sorted_column,
    optimal_weight,
    optimal_weight_table,
    sort_columns,
    sorting_network,
)


@pytest.mark.parametrize("n", range(1, 15))
def test_sorting_network_sorts_every_zero_one_input(n):
    # 0-1 principle: a comparator network that sorts all 2**n bit vectors sorts everything.
    columns = ((np.arange(2**n)[None, :] >> np.arange(n)[:, None]) & 1).astype(np.float64)
    ones = columns.sum(axis=0)
    sort_columns(columns, sorting_network(n), columns.shape[1])
    assert np.all(np.diff(columns, axis=0) >= 0)
    np.testing.assert_array_equal(columns.sum(axis=0), ones)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 19, 49, 70])
def test_column_median_equals_median_of_finite(n):
    rng = np.random.default_rng(n)
    nx = 300
    values = rng.normal(size=(n, nx))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, :5] = np.nan          # no finite value
    values[:, 5:10] = 1.5           # ties
    values[0, 10] = np.inf          # an infinite value counts as usable
    count = np.sum(~np.isnan(values), axis=0)
    columns = np.where(np.isnan(values), np.inf, values)
    sort_columns(columns, sorting_network(n), nx)
    np.testing.assert_array_equal(columns, np.sort(columns, axis=0))
    scratch = np.empty(n)
    for x in range(nx):
        expected = median_of_finite(values[:, x].copy(), n, scratch)
        np.testing.assert_array_equal(median_of_sorted_column(columns, count[x], x), expected)


def test_optimal_weight_table_matches_each_weight():
    table = optimal_weight_table(12)
    assert table.shape == (SNR_POWERS.size, 13, 12)
    for c, power in enumerate(SNR_POWERS):
        for length in range(3, 13):
            mid = (length - 1) / 2.0
            expected = [optimal_weight(float(k), mid, mid, 1.0, power) for k in range(length)]
            assert table[c, length, :length].tolist() == expected
    # P = 1: weights grow linearly away from the midpoint, 1 at the ends.
    np.testing.assert_allclose(table[2, 5, :5], [1.0, 0.5, 0.0, 0.5, 1.0])
    # P = 0: uniform weights.
    np.testing.assert_array_equal(table[0, 7, :7], np.ones(7))


def test_ramps_longer_than_the_row_sort_take_the_per_pixel_median():
    from photoncal.kernels.jump import detect_jumps
    from photoncal.kernels.ramp_common import ROW_SORT_MAX
    from photoncal.kernels.ramp_fit import fit_ramps

    ngroups, shape, tgroup = ROW_SORT_MAX + 40, (3, 4), 10.0
    rate = np.array([[1.0, 2.0, 5.0, 10.0]] * 3)  # DN/s
    t = tgroup * np.arange(1, ngroups + 1)
    data = (rate[None, None] * t[None, :, None, None]).astype(np.float32)
    data[0, 100:, 1, 2] += 800.0  # a cosmic ray in group 100 of one pixel
    gdq = np.zeros(data.shape, np.uint8)
    pdq = np.zeros(shape, np.uint32)
    jumps = detect_jumps(data, gdq, pdq, 2.0, 5.0, nframes=1, group_time=tgroup, flag_4_neighbors=False)
    flagged = np.argwhere(jumps.groupdq & 4)
    np.testing.assert_array_equal(flagged, [[0, 100, 1, 2]])
    fit = fit_ramps(data, jumps.groupdq, pdq, 2.0, 5.0, frame_time=tgroup, group_time=tgroup, nframes=1)
    np.testing.assert_allclose(fit.rate.data, rate, rtol=1e-4)
    # The Poisson variance uses the median group-to-group rate: rate / (tgroup * gain * (n - 1)) per segment.
    expected_vp = rate / (tgroup * 2.0 * (ngroups - 1))
    clean = np.ones(shape, bool)
    clean[1, 2] = False
    np.testing.assert_allclose(fit.rate.var_poisson[clean], expected_vp[clean], rtol=1e-3)
