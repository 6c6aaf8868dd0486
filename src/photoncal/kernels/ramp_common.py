"""Building blocks shared by the JWST and Roman ramp fits.

Both fits are weighted least-squares lines through up-the-ramp samples
(groups or resultants) with the "optimal" weights of Fixsen et al. (2000)
in the form Casertano et al. (2022, eq. 45) give for resultants of ``n``
reads:

.. math::  w_i = \\frac{(1 + P)\\, n_i}{1 + P\\, n_i}
               \\left|\\frac{t_i - t_{mid}}{t_{scale}}\\right|^{P}

where ``P`` depends on the signal-to-noise ratio of the segment
(Fixsen et al. 2000 / Casertano et al. 2022 table 2) and ``t_mid`` is the
midpoint and ``t_scale`` the half-length of the segment.  A uniform JWST
ramp is the special case ``n_i = 1`` with ``t_i`` the group index.

Everything here is a small numba function meant to be called from the
kernels' per-pixel loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "SNR_BOUNDS",
    "SNR_POWERS",
    "snr_power",
    "power_index",
    "segment_snr",
    "optimal_weight",
    "weighted_line_sums",
    "median_of_finite",
    "optimal_weight_table",
    "ROW_SORT_MAX",
    "sorting_network",
    "sort_columns",
    "median_of_sorted_column",
    "iter_row_blocks",
]

#: Upper SNR bounds of the weighting classes (Fixsen et al. 2000; Casertano et al. 2022, table 2).
SNR_BOUNDS = np.array([5.0, 10.0, 20.0, 50.0, 100.0])
#: The weighting exponent ``P`` of each class; the last applies from SNR 100 on.
SNR_POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])


@njit(cache=True, nogil=True, inline="always")
def power_index(snr):
    """Index into :data:`SNR_POWERS` of the weighting class of ``snr``.

    A NaN SNR falls in the last class, as in the established implementations
    (every ``snr < bound`` test is false).
    """
    if snr < 5.0:
        return 0
    if snr < 10.0:
        return 1
    if snr < 20.0:
        return 2
    if snr < 50.0:
        return 3
    if snr < 100.0:
        return 4
    return 5


@njit(cache=True, nogil=True, inline="always")
def snr_power(snr):
    """The optimal-weighting exponent ``P`` for a segment of SNR ``snr``."""
    i = power_index(snr)
    if i == 0:
        return 0.0
    if i == 1:
        return 0.4
    if i == 2:
        return 1.0
    if i == 3:
        return 3.0
    if i == 4:
        return 6.0
    return 10.0


@njit(cache=True, nogil=True, inline="always")
def segment_snr(signal_electrons, read_noise_electrons):
    """Signal-to-noise ratio of a segment: ``S / sqrt(R**2 + S)``, 0 for ``S <= 0``.

    Parameters
    ----------
    signal_electrons : float
        Last minus first sample of the segment, in electrons.
    read_noise_electrons : float
        Read noise of one sample in electrons.
    """
    if signal_electrons <= 0.0:
        return 0.0
    variance = read_noise_electrons * read_noise_electrons + signal_electrons
    if variance <= 0.0:
        return 0.0
    return signal_electrons / math.sqrt(variance)


@njit(cache=True, nogil=True, inline="always")
def optimal_weight(t, t_mid, t_scale, n_reads, power):
    """Optimal weight of one sample (Casertano et al. 2022, eq. 45).

    Parameters
    ----------
    t : float
        Time (or index) of the sample.
    t_mid, t_scale : float
        Midpoint and half-length of the segment in the same unit.
    n_reads : float
        Reads averaged into the sample (1 for a JWST group as fitted).
    power : float
        Exponent ``P`` from :func:`snr_power`.
    """
    x = abs((t - t_mid) / t_scale)
    if power == 0.0:
        shape = 1.0
    elif power == 1.0:
        shape = x
    elif power == 3.0:
        shape = x * x * x
    elif power == 6.0:
        x3 = x * x * x
        shape = x3 * x3
    elif power == 10.0:
        x2 = x * x
        x4 = x2 * x2
        shape = x4 * x4 * x2
    else:
        shape = x**power
    return (1.0 + power) * n_reads / (1.0 + power * n_reads) * shape


@njit(cache=True, nogil=True)
def optimal_weight_table(max_length):
    """Optimal weights of uniform samples, ``table[class, length, k]``.

    ``class`` is :func:`power_index` of the segment's SNR, ``length`` the
    number of samples (3 to ``max_length``) and ``k`` the sample's index in
    the segment; the value is :func:`optimal_weight` with the segment's
    midpoint as ``t_mid`` and ``t_scale`` and one read per sample - the same
    arithmetic, so a fit reading the table gives the same bits as one
    computing each weight (the power ``x**0.4`` is costly per pixel).
    """
    n = max(max_length, 1)
    table = np.zeros((SNR_POWERS.size, n + 1, n), dtype=np.float64)
    for c in range(SNR_POWERS.size):
        power = SNR_POWERS[c]
        for length in range(3, n + 1):
            mid = (length - 1) / 2.0
            for k in range(length):
                table[c, length, k] = optimal_weight(float(k), mid, mid, 1.0, power)
    return table


@njit(cache=True, nogil=True)
def weighted_line_sums(t, w, start, n):
    """The sums ``(f0, f1, f2) = (sum w, sum w t, sum w t**2)`` over ``n`` samples from ``start``."""
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    for i in range(start, start + n):
        f0 += w[i]
        f1 += w[i] * t[i]
        f2 += w[i] * t[i] * t[i]
    return f0, f1, f2


@njit(cache=True, nogil=True)
def median_of_finite(values, n, scratch, exclude_max=False):
    """Median of the finite entries of ``values[:n]`` (NaN if none).

    With ``exclude_max`` every copy of the largest value is left out first.
    ``scratch`` must hold at least ``n`` entries; ``values`` is not changed.
    Short ramps use a branch-free rank selection, long ones quickselect.
    """
    m = 0
    top = -np.inf
    for i in range(n):
        v = values[i]
        if v == v:
            scratch[m] = v
            m += 1
            if v > top:
                top = v
    if exclude_max:
        kept = 0
        for i in range(m):
            if scratch[i] != top:
                scratch[kept] = scratch[i]
                kept += 1
        m = kept
    if m == 0:
        return np.nan
    half = m // 2
    if m > 48:
        return _select_median(scratch, m)
    upper = np.nan
    lower = np.nan
    for i in range(m):
        v = scratch[i]
        # v holds the sorted positions [below, not_above) of the values.
        below = 0
        not_above = 0
        for j in range(m):
            below += scratch[j] < v
            not_above += scratch[j] <= v
        if below <= half < not_above:
            upper = v
        if below <= half - 1 < not_above:
            lower = v
    if m % 2 == 1:
        return upper
    return 0.5 * (lower + upper)


@njit(cache=True, nogil=True)
def _select_median(a, m):
    """Median of ``a[:m]`` by quickselect (reorders ``a``)."""
    half = m // 2
    lo = 0
    hi = m - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if half <= j:
            hi = j
        elif half >= i:
            lo = i
        else:
            break
    upper = a[half]
    if m % 2 == 1:
        return upper
    lower = a[0]
    for t in range(1, half):
        if a[t] > lower:
            lower = a[t]
    return 0.5 * (lower + upper)


#: The most samples per pixel that the kernels sort side by side along a row
#: (:func:`sort_columns`); the network grows as ``n log(n)**2`` and its
#: scratch space as ``n`` rows, so longer ramps take the median pixel by pixel.
ROW_SORT_MAX = 256


def sorting_network(n):
    """Compare-exchange pairs ``(lo, hi)`` that sort ``n`` values (Batcher's odd-even merge sort).

    Built for the next power of two and pruned to ``n`` inputs: a pruned
    comparator would only meet the +inf padding, which never moves.
    Returns an int64 array of shape (ncomparators, 2).
    """
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


@njit(cache=True, nogil=True)
def sort_columns(columns, network, nx):
    """Sort each column ``columns[:, x]`` (x < ``nx``) in place with ``network``.

    The columns are the samples of ``nx`` pixels side by side, so each
    compare-exchange is one vectorisable pass over a row.  NaN must be
    replaced by +inf first (``a < b`` is then a total order).
    """
    for c in range(network.shape[0]):
        lo = columns[network[c, 0]]
        hi = columns[network[c, 1]]
        for x in range(nx):
            a = lo[x]
            b = hi[x]
            lo[x] = a if a < b else b
            hi[x] = b if a < b else a


@njit(cache=True, nogil=True, inline="always")
def median_of_sorted_column(columns, m, x):
    """Median of the ``m`` smallest entries of the sorted column ``x`` (NaN if ``m == 0``).

    Equals :func:`median_of_finite` of the column's values before sorting
    when the ``m`` finite ones were kept and the others set to +inf.
    """
    if m == 0:
        return np.nan
    half = m // 2
    if m % 2 == 1:
        return columns[half, x]
    return 0.5 * (columns[half - 1, x] + columns[half, x])


def iter_row_blocks(data, row_axis, target_bytes=64 * 2**20):
    """Yield ``(first_row, block)``: ``data`` as C-contiguous native float32 row blocks.

    Native, contiguous float32 input is yielded whole (no copy); anything
    else (another dtype, byte order or layout, e.g. big-endian FITS data) is
    converted one block of rows at a time, so the peak memory grows by one
    block (about ``target_bytes``), not by a copy of the whole cube.
    """
    if data.dtype == np.float32 and data.dtype.isnative and data.flags.c_contiguous:
        yield 0, data
        return
    ny = data.shape[row_axis]
    bytes_per_row = max(1, (data.size // max(ny, 1)) * 4)
    rows = max(1, int(target_bytes // bytes_per_row))
    index = [slice(None)] * data.ndim
    for first in range(0, ny, rows):
        index[row_axis] = slice(first, min(first + rows, ny))
        yield first, np.ascontiguousarray(data[tuple(index)], dtype=np.float32)
