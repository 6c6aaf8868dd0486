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
]

#: Upper SNR bounds of the weighting classes (Fixsen et al. 2000; Casertano et al. 2022, table 2).
SNR_BOUNDS = np.array([5.0, 10.0, 20.0, 50.0, 100.0])
#: The weighting exponent ``P`` of each class; the last applies from SNR 100 on.
SNR_POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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
    Short ramps use a branch-free rank selection, long ones a sort.
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
    if m > 24:
        scratch[:m].sort()
        if m % 2 == 1:
            return scratch[half]
        return 0.5 * (scratch[half - 1] + scratch[half])
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
