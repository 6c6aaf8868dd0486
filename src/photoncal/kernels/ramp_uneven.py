"""Roman WFI ramp fitting: unevenly sampled resultants with jump detection.

Casertano et al. (2022) optimal weighting for resultants that average
different numbers of reads (a multi-accumulation table), as stcal's
``ols_cas22`` implements it, with the shared building blocks of
:mod:`photoncal.kernels.ramp_common`:

* resultant ``i`` averages ``n_i`` reads; its mean time is
  ``t_i = read_time * mean(reads)`` and its Poisson "self-covariance" time
  ``tau_i = read_time * sum_j (2 (n_i - j) - 1) r_j / n_i**2``;
* a ramp (run of resultants with DQ == 0) is fitted with weights
  ``w_i = (1 + P) n_i / (1 + P n_i) * |(t_i - t_mid) / t_scale|**P``
  (eq. 45), giving coefficients ``c_i = (f0 t_i - f1) w_i / det``
  (eqs. 35-37), the slope ``sum c_i R_i`` (eq. 38), the read-noise
  variance ``sum c_i**2 sigma**2 / n_i`` (eq. 39) and the Poisson variance
  per unit flux ``sum c_i**2 tau_i + 2 c_i sum_{j<i} c_j t_j`` (eq. 40);
* jump detection (``use_jump``): for every single and double difference of
  the ramp the statistic ``(local slope - slope) / sqrt(var)``; when the
  largest exceeds ``intercept - constant * log10(slope)`` (slope in e-/s,
  clipped to [1, 1e4]), the resultant at the maximum and the next one are
  flagged JUMP_DET and the ramp is split around them; the pieces are
  searched again;
* the ramps of a pixel are averaged with weights ``1 / read variance``; the
  Poisson variance is scaled by ``max(slope, 0)``.

Units: resultants and read noise are converted to electrons with the gain
for the fit and the results converted back to DN/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal import dqflags
from photoncal.kernels.ramp_common import (
    SNR_POWERS,
    iter_row_blocks,
    optimal_weight,
    power_index,
    segment_snr,
    snr_power,
)

__all__ = ["ReadPatternTimes", "UnevenRampFitResult", "read_pattern_times", "fit_ramps_uneven"]


@dataclass(frozen=True)
class ReadPatternTimes:
    """What ramp fitting needs from a multi-accumulation table."""

    t_bar: np.ndarray  #: mean time of each resultant (s)
    tau: np.ndarray  #: Poisson variance time of each resultant (s)
    n_reads: np.ndarray  #: reads averaged into each resultant


@dataclass
class UnevenRampFitResult:
    """Rates (DN/s) of Roman resultants and the resultant DQ with the jumps found."""

    data: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    err: np.ndarray
    groupdq: np.ndarray


def read_pattern_times(read_pattern, read_time) -> ReadPatternTimes:
    """Mean time, Poisson variance time and read count of each resultant.

    Parameters
    ----------
    read_pattern : list of list of int
        1-based read numbers averaged into each resultant.
    read_time : float
        Time between reads (Roman FRAME_TIME), seconds.
    """
    if read_pattern is None or len(read_pattern) == 0:
        raise ValueError("read_pattern must be a non-empty list of lists of read numbers")
    n = len(read_pattern)
    t_bar = np.empty(n)
    tau = np.empty(n)
    n_reads = np.empty(n)
    for i, reads in enumerate(read_pattern):
        reads = np.asarray(reads, dtype=np.float64)
        if reads.size == 0:
            raise ValueError(f"read_pattern resultant {i} lists no reads")
        m = reads.size
        n_reads[i] = m
        t_bar[i] = read_time * reads.mean()
        tau[i] = read_time * np.sum((2 * (m - np.arange(m)) - 1) * reads) / m**2
    if np.any(np.diff(t_bar) <= 0):
        raise ValueError("read_pattern resultants must be in increasing time order")
    return ReadPatternTimes(t_bar, tau, n_reads)


# ---------------------------------------------------------------------------
# Per-ramp building blocks
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fit_ramp(r, t_bar, tau, n_reads, read_noise, start, end, w):
    """Casertano fit of resultants ``start..end`` (inclusive), electrons.

    Returns ``(slope, read_var, poisson_var_per_flux)``; NaNs for a ramp of
    one resultant, zeros when the normal equations are singular.
    """
    n = end - start + 1
    if n <= 1:
        return np.nan, np.nan, np.nan
    power = snr_power(segment_snr(max(r[end] - r[start], 0.0), read_noise))
    t_mid = 0.5 * (t_bar[start] + t_bar[end])
    t_scale = 0.5 * (t_bar[end] - t_bar[start])
    if t_scale == 0.0:
        t_scale = 1.0
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    for i in range(start, end + 1):
        w[i] = optimal_weight(t_bar[i], t_mid, t_scale, n_reads[i], power)
        f0 += w[i]
        f1 += w[i] * t_bar[i]
        f2 += w[i] * t_bar[i] * t_bar[i]
    det = f2 * f0 - f1 * f1
    if det == 0.0:
        return 0.0, 0.0, 0.0
    slope = 0.0
    read_var = 0.0
    poisson_var = 0.0
    earlier = 0.0  # sum_{j < i} c_j t_j
    rn2 = read_noise * read_noise
    for i in range(start, end + 1):
        c = (f0 * t_bar[i] - f1) * w[i] / det
        slope += c * r[i]
        read_var += c * c * rn2 / n_reads[i]
        poisson_var += c * c * tau[i] + 2.0 * c * earlier
        earlier += c * t_bar[i]
    return slope, read_var, poisson_var


@njit(cache=True, nogil=True, error_model="numpy")
def _coefficient_table(t_bar, n_reads):
    """The fit coefficients ``c_i`` of every segment ``[start, end]`` and weighting class.

    The optimal weights depend on the pixel only through the class of its
    segment SNR, so the coefficients of :func:`_fit_ramp` are computed once per
    (start, end, class) with the same operations.  ``singular`` marks segments
    whose normal equations are singular.
    """
    nres = t_bar.size
    npow = SNR_POWERS.size
    table = np.zeros((nres, nres, npow, nres))
    singular = np.zeros((nres, nres, npow), dtype=np.bool_)
    w = np.empty(nres)
    for start in range(nres):
        for end in range(start + 1, nres):
            t_mid = 0.5 * (t_bar[start] + t_bar[end])
            t_scale = 0.5 * (t_bar[end] - t_bar[start])
            if t_scale == 0.0:
                t_scale = 1.0
            for p in range(npow):
                power = SNR_POWERS[p]
                f0 = 0.0
                f1 = 0.0
                f2 = 0.0
                for i in range(start, end + 1):
                    w[i] = optimal_weight(t_bar[i], t_mid, t_scale, n_reads[i], power)
                    f0 += w[i]
                    f1 += w[i] * t_bar[i]
                    f2 += w[i] * t_bar[i] * t_bar[i]
                det = f2 * f0 - f1 * f1
                if det == 0.0:
                    singular[start, end, p] = True
                    continue
                for i in range(start, end + 1):
                    table[start, end, p, i] = (f0 * t_bar[i] - f1) * w[i] / det
    return table, singular


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fit_ramp_table(r, t_bar, tau, n_reads, read_noise, start, end, table, singular):
    """:func:`_fit_ramp` with the coefficients from :func:`_coefficient_table` (same results)."""
    n = end - start + 1
    if n <= 1:
        return np.nan, np.nan, np.nan
    p = power_index(segment_snr(max(r[end] - r[start], 0.0), read_noise))
    if singular[start, end, p]:
        return 0.0, 0.0, 0.0
    slope = 0.0
    read_var = 0.0
    poisson_var = 0.0
    earlier = 0.0  # sum_{j < i} c_j t_j
    rn2 = read_noise * read_noise
    for i in range(start, end + 1):
        c = table[start, end, p, i]
        slope += c * r[i]
        read_var += c * c * rn2 / n_reads[i]
        poisson_var += c * c * tau[i] + 2.0 * c * earlier
        earlier += c * t_bar[i]
    return slope, read_var, poisson_var


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _difference_statistic(r, t_bar, tau, n_reads, rn2, i, j, slope, correction):
    """(local slope - slope) / noise for the difference of resultants i < j."""
    dt = t_bar[j] - t_bar[i]
    local = (r[j] - r[i]) / dt
    var = (rn2 * (1.0 / n_reads[j] + 1.0 / n_reads[i]) + slope * (tau[j] + tau[i] - 2.0 * t_bar[i])) / (dt * dt)
    return (local - slope) / math.sqrt(var + correction)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _largest_statistic(r, t_bar, tau, n_reads, rn2, start, end, slope):
    """Index (relative to ``start``) and value of the largest jump statistic of a ramp."""
    if start == end:
        return 0, np.nan
    correction = -slope / (t_bar[end] - t_bar[start])
    best = end - start - 1
    best_value = _difference_statistic(r, t_bar, tau, n_reads, rn2, end - 1, end, slope, correction)
    for index in range(start, end - 1):
        single = _difference_statistic(r, t_bar, tau, n_reads, rn2, index, index + 1, slope, correction)
        double = _difference_statistic(r, t_bar, tau, n_reads, rn2, index, index + 2, slope, correction)
        # the larger of the two, ignoring a NaN (C fmax)
        value = double if single != single or double > single else single
        if value > best_value:
            best_value = value
            best = index - start
    return best, best_value


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _jump_threshold(intercept, constant, slope):
    s = min(max(slope, 1.0), 1.0e4)
    return intercept - constant * math.log10(s)


# Pixels per tile of a row in :func:`_fit_row`: the jump statistics of the tile's whole ramps are
# computed with the pixels side by side (vector divisions and square roots).
_TILE = 256


def _difference_tables(t_bar, tau, n_reads):
    """The parts of the jump statistic that depend only on the pair of resultants.

    Row 0 is for the single differences ``(i, i + 1)``, row 1 for the double
    differences ``(i, i + 2)``: ``dt``, ``dt**2``, ``1/n_j + 1/n_i`` and
    ``tau_j + tau_i - 2 t_i``, computed as :func:`_difference_statistic`
    computes them, so the statistics are the same to the bit.
    """
    nres = t_bar.size
    tables = np.zeros((4, 2, nres))
    for step in (1, 2):
        for i in range(nres - step):
            j = i + step
            dt = t_bar[j] - t_bar[i]
            tables[0, step - 1, i] = dt
            tables[1, step - 1, i] = dt * dt
            tables[2, step - 1, i] = 1.0 / n_reads[j] + 1.0 / n_reads[i]
            tables[3, step - 1, i] = tau[j] + tau[i] - 2.0 * t_bar[i]
    return tables


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _tile_statistics(values, count, step, slope, rn2, correction, dt, dt2, inv_reads, tau_sum, out):
    """:func:`_difference_statistic` of the differences (i, i + step), i < count, for every pixel of a tile."""
    n = slope.shape[0]
    for i in range(count):
        first = values[i]
        second = values[i + step]
        stat = out[i]
        for k in range(n):
            local = (second[k] - first[k]) / dt[i]
            var = (rn2[k] * inv_reads[i] + slope[k] * tau_sum[i]) / dt2[i]
            stat[k] = (local - slope[k]) / math.sqrt(var + correction[k])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_segment(slope, read_var, poisson_var, total_weight, slope_sum, read_sum, poisson_sum):
    """Fold one segment into the inverse-read-variance weighted sums (a NaN slope adds nothing)."""
    if slope == slope:
        weight = 1.0 / read_var if read_var != 0.0 else 0.0
        total_weight += weight
        slope_sum += weight * slope
        read_sum += weight * weight * read_var
        poisson_sum += weight * weight * poisson_var
    return total_weight, slope_sum, read_sum, poisson_sum


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _write_pixel(sums, g, y, x, out_slope, out_read_var, out_poisson_var):
    """The pixel's slope and variances from the segment sums, in DN (``g`` the gain)."""
    total_weight, slope_sum, read_sum, poisson_sum = sums
    if total_weight != 0.0:
        slope_sum /= total_weight
        read_sum /= total_weight * total_weight
        poisson_sum /= total_weight * total_weight
    poisson_sum *= max(slope_sum, 0.0)
    out_slope[y, x] = slope_sum / g
    out_read_var[y, x] = read_sum / (g * g)
    out_poisson_var[y, x] = poisson_sum / (g * g)


@njit(cache=True, nogil=True, error_model="numpy")
def _fit_row(y, row0, resultants, groupdq, gain, readnoise, t_bar, tau, n_reads, table, singular, differences,
             use_jump, intercept, constant, jump_flag, out_slope, out_read_var, out_poisson_var):
    """Fit the pixels of row ``y``, a tile of pixels at a time.

    Most pixels have one whole ramp (no flagged resultant) and no jump: for
    the whole ramps of a tile the fit of :func:`_fit_ramp_table` and the
    statistics of :func:`_largest_statistic` are computed with the pixels
    side by side (the same operations per pixel, so the same numbers); a
    pixel with a flagged resultant or a jump is fitted from the start, ramp
    by ramp.
    """
    nres, _, nx = resultants.shape
    yd = y - row0
    r = np.empty(nres, dtype=np.float64)
    stack_start = np.empty(2 * nres + 2, dtype=np.int64)
    stack_end = np.empty(2 * nres + 2, dtype=np.int64)
    values = np.empty((nres, _TILE), dtype=np.float64)
    whole = np.empty(_TILE, dtype=np.bool_)
    slope0 = np.zeros(_TILE, dtype=np.float64)
    read_var0 = np.zeros(_TILE, dtype=np.float64)
    poisson_var0 = np.zeros(_TILE, dtype=np.float64)
    rn2_tile = np.zeros(_TILE, dtype=np.float64)
    rn_tile = np.zeros(_TILE, dtype=np.float64)
    earlier = np.zeros(_TILE, dtype=np.float64)
    classes = np.zeros(_TILE, dtype=np.int64)
    npow = table.shape[2]
    # coefficients of the whole ramp, resultant by resultant (a zero row where singular)
    whole_table = np.zeros((nres, npow), dtype=np.float64)
    whole_singular = np.zeros(npow, dtype=np.bool_)
    if nres >= 2:
        for p in range(npow):
            whole_singular[p] = singular[0, nres - 1, p]
            for i in range(nres):
                whole_table[i, p] = table[0, nres - 1, p, i]
    correction = np.zeros(_TILE, dtype=np.float64)
    singles = np.zeros((max(nres - 1, 1), _TILE), dtype=np.float64)
    doubles = np.zeros((max(nres - 2, 1), _TILE), dtype=np.float64)
    dt1, dt1sq, inv1, tau1 = differences[0, 0], differences[1, 0], differences[2, 0], differences[3, 0]
    dt2, dt2sq, inv2, tau2 = differences[0, 1], differences[1, 1], differences[2, 1], differences[3, 1]
    last = nres - 1
    span = t_bar[last] - t_bar[0]
    for x0 in range(0, nx, _TILE):
        n = min(_TILE, nx - x0)
        for k in range(n):
            x = x0 + k
            g = float(gain[y, x])
            read_noise = float(readnoise[y, x]) * g
            clean = nres >= 2 and use_jump
            for i in range(nres):
                values[i, k] = float(resultants[i, yd, x]) * g
                if groupdq[i, y, x] != 0:
                    clean = False
            whole[k] = clean
            rn_tile[k] = read_noise
            rn2_tile[k] = read_noise * read_noise
        if nres >= 2 and use_jump:
            # _fit_ramp_table of the whole ramps, the pixels side by side
            first = values[0]
            final = values[last]
            for k in range(n):
                classes[k] = power_index(segment_snr(max(final[k] - first[k], 0.0), rn_tile[k]))
                slope0[k] = 0.0
                read_var0[k] = 0.0
                poisson_var0[k] = 0.0
                earlier[k] = 0.0
            for i in range(nres):
                row = values[i]
                coefficients = whole_table[i]
                for k in range(n):
                    c = coefficients[classes[k]]
                    slope0[k] += c * row[k]
                    read_var0[k] += c * c * rn2_tile[k] / n_reads[i]
                    poisson_var0[k] += c * c * tau[i] + 2.0 * c * earlier[k]
                    earlier[k] += c * t_bar[i]
            for k in range(n):
                if whole_singular[classes[k]]:
                    slope0[k] = 0.0
                    read_var0[k] = 0.0
                    poisson_var0[k] = 0.0
                correction[k] = -slope0[k] / span
            _tile_statistics(values, nres - 1, 1, slope0[:n], rn2_tile, correction, dt1, dt1sq, inv1, tau1, singles)
            _tile_statistics(values, nres - 2, 2, slope0[:n], rn2_tile, correction, dt2, dt2sq, inv2, tau2, doubles)
        for k in range(n):
            x = x0 + k
            g = float(gain[y, x])
            if whole[k]:
                # _largest_statistic of the whole ramp
                slope = slope0[k]
                best_value = singles[last - 1, k]
                for index in range(last - 1):
                    single = singles[index, k]
                    double = doubles[index, k]
                    # the larger of the two, ignoring a NaN (C fmax)
                    value = double if single != single or double > single else single
                    if value > best_value:
                        best_value = value
                if not best_value > _jump_threshold(intercept, constant, slope):
                    _write_pixel(_add_segment(slope, read_var0[k], poisson_var0[k], 0.0, 0.0, 0.0, 0.0), g, y, x,
                                 out_slope, out_read_var, out_poisson_var)
                    continue
            read_noise = float(readnoise[y, x]) * g
            rn2 = read_noise * read_noise
            for i in range(nres):
                r[i] = values[i, k]
            # Initial ramps: runs of unflagged resultants, in time order.
            depth = 0
            start = -1
            for i in range(nres):
                if groupdq[i, y, x] == 0:
                    if start < 0:
                        start = i
                elif start >= 0:
                    stack_start[depth] = start
                    stack_end[depth] = i - 1
                    depth += 1
                    start = -1
            if start >= 0:
                stack_start[depth] = start
                stack_end[depth] = nres - 1
                depth += 1
            total_weight = 0.0
            slope_sum = 0.0
            read_sum = 0.0
            poisson_sum = 0.0
            # Last ramp first; a split pushes its earlier piece, then the later one.
            while depth > 0:
                depth -= 1
                start = stack_start[depth]
                end = stack_end[depth]
                slope, read_var, poisson_var = _fit_ramp_table(r, t_bar, tau, n_reads, read_noise, start, end, table,
                                                               singular)
                if use_jump:
                    index, stat = _largest_statistic(r, t_bar, tau, n_reads, rn2, start, end, slope)
                    if stat > _jump_threshold(intercept, constant, slope):
                        # A jump inside a resultant spreads over it and the next one: drop both.
                        jump0 = start + index
                        jump1 = jump0 + 1
                        groupdq[jump0, y, x] = jump_flag
                        groupdq[jump1, y, x] = jump_flag
                        if jump0 > start:
                            stack_start[depth] = start
                            stack_end[depth] = jump0 - 1
                            depth += 1
                        if jump1 < end:
                            stack_start[depth] = jump1 + 1
                            stack_end[depth] = end
                            depth += 1
                        continue
                total_weight, slope_sum, read_sum, poisson_sum = _add_segment(
                    slope, read_var, poisson_var, total_weight, slope_sum, read_sum, poisson_sum)
            _write_pixel((total_weight, slope_sum, read_sum, poisson_sum), g, y, x,
                         out_slope, out_read_var, out_poisson_var)


@njit(cache=True, nogil=True, parallel=True)
def _fit_kernel(row0, resultants, groupdq, gain, readnoise, t_bar, tau, n_reads, table, singular, differences,
                use_jump, intercept, constant, jump_flag, out_slope, out_read_var, out_poisson_var):
    for yb in prange(resultants.shape[1]):
        _fit_row(row0 + yb, row0, resultants, groupdq, gain, readnoise, t_bar, tau, n_reads, table, singular,
                 differences, use_jump, intercept, constant, jump_flag, out_slope, out_read_var, out_poisson_var)


@njit(cache=True, nogil=True, parallel=True)
def _pixel_dq(groupdq, pixeldq, gain, slope, err, out_dq, jump, sat, dnu, no_gain):
    """PIXELDQ of the rate image (romancal's rule) and the NaN contract."""
    nres, ny, nx = groupdq.shape
    for y in prange(ny):
        for x in range(nx):
            any_jump = False
            all_sat = True
            all_bad = True
            for i in range(nres):
                f = groupdq[i, y, x]
                if f & jump:
                    any_jump = True
                if not (f & sat):
                    all_sat = False
                if not (f & (sat | dnu)):
                    all_bad = False
            dq = np.int64(pixeldq[y, x])
            if any_jump:
                dq |= jump
            if all_sat:
                dq |= sat
            g = gain[y, x]
            if not math.isfinite(g) or g < 0.0:
                dq |= no_gain
            if all_bad or not math.isfinite(slope[y, x]) or not (err[y, x] > 0.0) or dq & dnu:
                dq |= dnu
                slope[y, x] = np.nan
                err[y, x] = np.nan
            out_dq[y, x] = dq


def fit_ramps_uneven(
    resultants,
    groupdq,
    pixeldq,
    gain,
    readnoise,
    *,
    read_pattern,
    read_time,
    use_jump=True,
    threshold_intercept=5.5,
    threshold_constant=1.0 / 3.0,
    flags=None,
) -> UnevenRampFitResult:
    """Fit count rates to unevenly sampled resultants (Casertano et al. 2022).

    Parameters
    ----------
    resultants : ndarray (nresultants, ny, nx)
        Resultants in DN after the detector corrections (a leading axis of
        length 1 is accepted).
    groupdq : ndarray of uint8, same shape
        Resultant DQ: any non-zero flag excludes the resultant.  Not modified.
    pixeldq : ndarray of uint32 (ny, nx)
        PIXELDQ, OR'ed into the output DQ.
    gain : ndarray (ny, nx)
        e-/DN.
    readnoise : ndarray (ny, nx)
        Roman READNOISE: noise of one read in DN.
    read_pattern : list of list of int
        1-based read numbers of each resultant (the MA table).
    read_time : float
        Time between reads, seconds (FRAME_TIME).
    use_jump : bool, optional
        Detect jumps while fitting (True, the romancal default).
    threshold_intercept, threshold_constant : float, optional
        The jump threshold ``intercept - constant * log10(slope)``.
    flags : dict, optional
        Flag values (``JUMP_DET``, ``SATURATED``, ``DO_NOT_USE``,
        ``NO_GAIN_VALUE``); default: the master table.

    Returns
    -------
    UnevenRampFitResult
        ``data`` (DN/s), ``dq``, ``var_poisson``, ``var_rnoise``, ``err``
        (float32, (ny, nx)) and ``groupdq`` with JUMP_DET on the resultants
        dropped around each jump.  The DQ follows romancal: JUMP_DET if any
        jump, SATURATED if every resultant is saturated, DO_NOT_USE if every
        resultant is saturated or DO_NOT_USE or no rate could be measured,
        NO_GAIN_VALUE for a non-finite or negative gain.
    """
    table = dict(dqflags.pixel)
    if flags:
        table.update(flags)
    resultants = np.asarray(resultants)
    groupdq = np.asarray(groupdq)
    if resultants.ndim == 4 and resultants.shape[0] == 1:
        resultants = resultants[0]
        groupdq = groupdq[0] if groupdq.ndim == 4 else groupdq
    if resultants.ndim != 3:
        raise ValueError(f"fit_ramps_uneven: resultants must be 3-D (nresultants, ny, nx), "
                         f"got shape {resultants.shape}")
    if groupdq.shape != resultants.shape:
        raise ValueError(f"fit_ramps_uneven: groupdq shape {groupdq.shape} differs from resultants "
                         f"shape {resultants.shape}")
    nres, ny, nx = resultants.shape
    if len(read_pattern) != nres:
        raise ValueError(f"fit_ramps_uneven: read_pattern has {len(read_pattern)} resultants but the data "
                         f"have {nres}")
    if not (read_time and read_time > 0):
        raise ValueError(f"fit_ramps_uneven: read_time must be > 0 s, got {read_time!r}")
    times = read_pattern_times(read_pattern, float(read_time))

    def plane(value, name, dtype):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return np.full((ny, nx), arr, dtype=dtype)
        if arr.shape != (ny, nx):
            raise ValueError(f"fit_ramps_uneven: {name} must have shape {(ny, nx)}, got {arr.shape}")
        return np.ascontiguousarray(arr, dtype=dtype)

    gain = plane(gain, "gain", np.float32)
    readnoise = plane(readnoise, "readnoise", np.float32)
    pixeldq = plane(pixeldq, "pixeldq", np.uint32)
    gdq = np.array(groupdq, dtype=np.uint8)

    slope = np.empty((ny, nx), dtype=np.float32)
    var_rnoise = np.empty((ny, nx), dtype=np.float32)
    var_poisson = np.empty((ny, nx), dtype=np.float32)
    coefficients, singular = _coefficient_table(times.t_bar, times.n_reads)
    differences = _difference_tables(times.t_bar, times.tau, times.n_reads)
    for row0, block in iter_row_blocks(resultants, 1):
        _fit_kernel(row0, block, gdq, gain, readnoise, times.t_bar, times.tau, times.n_reads, coefficients, singular,
                    differences, bool(use_jump), float(threshold_intercept), float(threshold_constant), int(table["JUMP_DET"]),
                    slope, var_rnoise, var_poisson)
    err = np.sqrt(var_poisson + var_rnoise)
    dq = np.empty((ny, nx), dtype=np.uint32)
    _pixel_dq(gdq, pixeldq, gain, slope, err, dq, int(table["JUMP_DET"]), int(table["SATURATED"]),
              int(table["DO_NOT_USE"]), int(table["NO_GAIN_VALUE"]))
    bad = np.isnan(slope)
    var_poisson[bad] = np.nan
    var_rnoise[bad] = np.nan
    return UnevenRampFitResult(slope, dq, var_poisson, var_rnoise, err, gdq)
