"""Jump (cosmic-ray) detection by the two-point difference method.

Seed 002, jump step; Anderson & Gordon (2011).  For every pixel, in
electrons (DN times the gain):

1. the first differences of adjacent usable groups (SATURATED and
   DO_NOT_USE groups excluded), ``d_k``;
2. the expected noise of a difference from the median difference ``m``
   (Poisson) and the read noise ``R`` (the CDS noise, READNOISE * gain):
   ``sigma = sqrt(|m| dt + R**2 / (0.5 n_reads)) / dt`` with ``dt`` the
   time between the groups in group units (1 for JWST) and ``n_reads`` the
   reads in both groups (``2 * nframes`` for JWST);
3. ``ratio = |d_k - m| / sigma``.  The largest ratio above the threshold
   (``rejection_threshold`` with 4 or more usable differences,
   ``four_group_rejection_threshold`` with 3, ``three_group_rejection_threshold``
   with 2) marks the *later* group of its pair JUMP_DET; that difference is
   dropped, ``m`` (a median with the largest difference clipped) and sigma
   are recomputed, and the search repeats until nothing is above the
   threshold.  With ``min_diffs_single_pass`` or more usable differences all
   differences above the threshold are flagged in one pass, and with
   ``minimum_sigclip_groups`` integrations or more each difference is
   sigma-clipped across integrations instead.

The numbers (medians across integrations, thresholds, the neighbour and
after-jump flagging, the redundant-flag clean-up) follow the established
implementation (stcal ``jump``); see ``docs/ramp_fitting.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal import dqflags
from photoncal.kernels.ramp_common import (
    ROW_SORT_MAX,
    iter_row_blocks,
    median_of_finite,
    median_of_sorted_column,
    sort_columns,
    sorting_network,
)

__all__ = ["JumpFlags", "JumpResult", "JUMP_STEP_DEFAULTS", "detect_jumps", "cosmic_ray_rates"]


@dataclass(frozen=True)
class JumpFlags:
    """DQ flag values jump detection reads and writes (defaults: the master table)."""

    do_not_use: int = dqflags.pixel["DO_NOT_USE"]
    saturated: int = dqflags.pixel["SATURATED"]
    jump_det: int = dqflags.pixel["JUMP_DET"]
    no_gain_value: int = dqflags.pixel["NO_GAIN_VALUE"]
    reference_pixel: int = dqflags.pixel["REFERENCE_PIXEL"]


@dataclass
class JumpResult:
    """What :func:`detect_jumps` returns.

    Attributes
    ----------
    groupdq : ndarray of uint8 (nints, ngroups, ny, nx)
        GROUPDQ with JUMP_DET set on the groups after jumps.
    pixeldq : ndarray of uint32 (ny, nx)
        PIXELDQ with NO_GAIN_VALUE | DO_NOT_USE where the gain is <= 0 or NaN.
    number_crs : int
        Groups flagged by the two-point difference search (before neighbour
        and after-jump flagging); -99 when detection was skipped, as in the
        established pipeline.
    number_extended_events : int
        Snowballs or showers found.
    skipped : str or None
        Why detection was skipped (too few usable groups), else None.
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    number_crs: int
    number_extended_events: int = 0
    skipped: str | None = None


#: The established JumpStep's parameters and defaults (every one is accepted by
#: :func:`detect_jumps`; ``maximum_cores`` and ``use_ellipses`` have no effect).
JUMP_STEP_DEFAULTS = dict(
    rejection_threshold=4.0,
    three_group_rejection_threshold=6.0,
    four_group_rejection_threshold=5.0,
    maximum_cores="1",
    flag_4_neighbors=True,
    max_jump_to_flag_neighbors=1000.0,
    min_jump_to_flag_neighbors=10.0,
    after_jump_flag_dn1=0.0,
    after_jump_flag_time1=0.0,
    after_jump_flag_dn2=0.0,
    after_jump_flag_time2=0.0,
    expand_large_events=False,
    min_sat_area=1.0,
    min_jump_area=5.0,
    expand_factor=2.0,
    use_ellipses=False,
    sat_required_snowball=True,
    min_sat_radius_extend=2.5,
    sat_expand=2,
    edge_size=25,
    mask_snowball_core_next_int=True,
    snowball_time_masked_next_int=4000,
    find_showers=False,
    max_shower_amplitude=4.0,
    extend_snr_threshold=1.2,
    extend_min_area=90,
    extend_inner_radius=1.0,
    extend_outer_radius=2.6,
    extend_ellipse_expand_ratio=1.1,
    time_masked_after_shower=15.0,
    min_diffs_single_pass=10,
    max_extended_radius=200,
    minimum_groups=3,
    minimum_sigclip_groups=100,
    only_use_ints=True,
)

_MODE_ITERATIVE = 0
_MODE_SINGLE_PASS = 1
_MODE_MEDIAN_ONLY = 2


# ---------------------------------------------------------------------------
# Per-pixel helpers
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _sort_finite(values, n, out):
    """Copy the finite entries of ``values[:n]`` into ``out`` sorted; return their count."""
    m = 0
    for j in range(n):
        v = values[j]
        if v == v:
            out[m] = v
            m += 1
    if m > 32:
        out[:m].sort()
    else:
        for a in range(1, m):
            v = out[a]
            b = a - 1
            while b >= 0 and out[b] > v:
                out[b + 1] = out[b]
                b -= 1
            out[b + 1] = v
    return m


@njit(cache=True, nogil=True)
def _median_sorted(sorted_values, m):
    if m == 0:
        return np.nan
    half = m // 2
    if m % 2 == 1:
        return sorted_values[half]
    return 0.5 * (sorted_values[half - 1] + sorted_values[half])


@njit(cache=True, nogil=True, inline="always")
def _clipped_median(values, n, scratch):
    """Median of ``|first differences|`` as the iterative search uses it.

    With 4 or more usable differences the largest (all copies of it) is
    left out first; with 3 it is the plain median; with 2 the smaller; with
    fewer, NaN.
    """
    usable = 0
    smallest = np.inf
    for j in range(n):
        v = values[j]
        if v == v:
            usable += 1
            if v < smallest:
                smallest = v
    if usable >= 4:
        return median_of_finite(values, n, scratch, True)
    if usable == 3:
        return median_of_finite(values, n, scratch)
    if usable == 2:
        return smallest
    return np.nan


@njit(cache=True, nogil=True, inline="always")
def _sigma(median, dt, n_reads_diff, rn2):
    """Expected noise of one first difference (per unit dt); NaN when it is 0."""
    s = math.sqrt(abs(median) * dt + rn2 / (0.5 * n_reads_diff)) / dt
    return s if s != 0.0 else np.nan


@njit(cache=True, nogil=True, inline="always")
def _first_differences(data, gdq, y, yd, x, gain32, dt, bad, fd):
    """First differences in electrons per unit dt, NaN where a group is ``bad``.

    ``data`` holds the block of rows that contains row ``y`` at index ``yd``.
    """
    nints, ngroups = data.shape[0], data.shape[1]
    ndiff = ngroups - 1
    for i in range(nints):
        previous = data[i, 0, yd, x] * gain32
        previous_bad = (gdq[i, 0, y, x] & bad) != 0
        for k in range(ndiff):
            current = data[i, k + 1, yd, x] * gain32
            current_bad = (gdq[i, k + 1, y, x] & bad) != 0
            if previous_bad or current_bad:
                fd[i * ndiff + k] = np.nan
            else:
                fd[i * ndiff + k] = np.float32(current - previous) / dt[k]
            previous = current
            previous_bad = current_bad


@njit(cache=True, nogil=True, error_model="numpy")
def _row_first_medians(y, yd, data, gdq, gain, dt, bad, clipped, network, columns, differences, count,
                       previous, previous_bad, out):
    """The first median every pixel of row ``y`` needs, for the whole row at once.

    With ``clipped``, the clipped median of the absolute first differences
    that the iterative search starts from (:func:`_clipped_median`);
    otherwise the median of the first differences.  The differences of all
    pixels are sorted side by side by one vectorised sorting network; the
    values are those of :func:`_first_differences`, also left unsorted (NaN
    where unusable) in ``differences``.
    """
    nints, ngroups, _, nx = data.shape
    ndiff = ngroups - 1
    for x in range(nx):
        count[x] = 0
    for i in range(nints):
        for x in range(nx):
            previous[x] = data[i, 0, yd, x] * np.float32(gain[y, x])
            previous_bad[x] = (gdq[i, 0, y, x] & bad) != 0
        for k in range(ndiff):
            row = columns[i * ndiff + k]
            for x in range(nx):
                current = data[i, k + 1, yd, x] * np.float32(gain[y, x])
                current_bad = (gdq[i, k + 1, y, x] & bad) != 0
                if previous_bad[x] or current_bad:
                    value = np.nan
                else:
                    value = np.float32(current - previous[x]) / dt[k]
                    if clipped:
                        value = abs(value)
                usable = value == value
                differences[i * ndiff + k, x] = value
                row[x] = value if usable else np.inf
                count[x] += usable
                previous[x] = current
                previous_bad[x] = current_bad
    sort_columns(columns, network, nx)
    for x in range(nx):
        m = count[x]
        if not clipped or m == 3:
            out[x] = median_of_sorted_column(columns, m, x)
        elif m >= 4:
            # every copy of the largest difference is left out
            top = columns[m - 1, x]
            while m > 0 and columns[m - 1, x] == top:
                m -= 1
            out[x] = median_of_sorted_column(columns, m, x)
        elif m == 2:
            out[x] = columns[0, x]
        else:
            out[x] = np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def _row_quiet_pixels(y, gdq, gain, readnoise, dt, n_reads_diff, iterative, rejection, three_diff_threshold,
                      two_diff_threshold, jump, differences, count, first_median, max_ratio, quiet):
    """Pixels of row ``y`` whose first search pass flags nothing and that carry no JUMP_DET yet.

    The first pass is the one of :func:`_detect_row` (same arithmetic),
    done difference by difference along the row; most pixels have no
    outlier and need nothing more.
    """
    nints, ngroups, _, nx = gdq.shape
    ndiff = ngroups - 1
    for x in range(nx):
        max_ratio[x] = -1.0
        quiet[x] = True
    for j in range(nints * ndiff):
        k = j % ndiff
        row = differences[j]
        for x in range(nx):
            value = row[x]
            if value == value:
                gain32 = np.float32(gain[y, x])
                rn = np.float32(readnoise[y, x]) * gain32
                sigma = _sigma(first_median[x], dt[k], n_reads_diff[k], float(rn * rn))
                if iterative:
                    ratio = abs(np.float32(value - first_median[x])) / sigma
                else:
                    ratio = abs(value - first_median[x]) / sigma
                if ratio > max_ratio[x]:
                    max_ratio[x] = ratio
    for i in range(nints):
        for k in range(ngroups):
            for x in range(nx):
                if gdq[i, k, y, x] & jump:
                    quiet[x] = False
    for x in range(nx):
        if not iterative:
            threshold = rejection
        elif count[x] >= 4:
            threshold = rejection
        elif count[x] == 3:
            threshold = three_diff_threshold
        elif count[x] == 2:
            threshold = two_diff_threshold
        else:
            continue  # fewer than 2 usable differences: never searched
        if max_ratio[x] > threshold:
            quiet[x] = False


@njit(cache=True, nogil=True, error_model="numpy")
def _detect_row(
    y, row0, data, gdq, gain, readnoise, dt, n_reads_diff, mode, rejection, three_diff_threshold,
    two_diff_threshold, bad, jump, median_out, ncr_out,
    network, columns, differences, count, previous, previous_bad, first_median, max_ratio, quiet,
):
    """Two-point difference search for every pixel of row ``y``.

    ``network`` sorts ``nints * (ngroups - 1)`` values; ``columns`` (that
    many rows by nx), ``count``, ``previous``, ``previous_bad`` and
    ``first_median`` (nx) are scratch space, and so are ``differences``
    (like ``columns``), ``max_ratio`` and ``quiet`` (nx).
    """
    nints, ngroups, _, nx = data.shape
    yd = y - row0
    ndiff = ngroups - 1
    n = nints * ndiff
    uniform = True
    for k in range(1, ndiff):
        if dt[k] != dt[0] or n_reads_diff[k] != n_reads_diff[0]:
            uniform = False
    fd = np.empty(n, dtype=np.float64)
    fa = np.empty(n, dtype=np.float64)
    scratch = np.empty(n, dtype=np.float64)
    use_network = n <= ROW_SORT_MAX
    if use_network:
        _row_first_medians(y, yd, data, gdq, gain, dt, bad, mode == _MODE_ITERATIVE, network, columns,
                           differences, count, previous, previous_bad, first_median)
    else:
        # Long ramps: pixel by pixel, and every pixel takes the full search.
        for x in range(nx):
            _first_differences(data, gdq, y, yd, x, np.float32(gain[y, x]), dt, bad, fd)
            if mode == _MODE_ITERATIVE:
                for j in range(n):
                    fa[j] = abs(fd[j])
                first_median[x] = _clipped_median(fa, n, scratch)
            else:
                first_median[x] = median_of_finite(fd, n, scratch)
    if mode == _MODE_MEDIAN_ONLY:
        for x in range(nx):
            median_out[y, x] = first_median[x]
        return
    if use_network:
        _row_quiet_pixels(y, gdq, gain, readnoise, dt, n_reads_diff, mode == _MODE_ITERATIVE, rejection,
                          three_diff_threshold, two_diff_threshold, jump, differences, count, first_median,
                          max_ratio, quiet)
    else:
        for x in range(nx):
            quiet[x] = False
    for x in range(nx):
        if quiet[x]:
            if mode == _MODE_SINGLE_PASS:
                median_out[y, x] = first_median[x]
            ncr_out[y, x] = 0
            continue
        gain32 = np.float32(gain[y, x])
        rn = np.float32(readnoise[y, x]) * gain32
        rn2 = float(rn * rn)
        _first_differences(data, gdq, y, yd, x, gain32, dt, bad, fd)
        if mode == _MODE_SINGLE_PASS:
            median = first_median[x]
            median_out[y, x] = median
            sigma = _sigma(median, dt[0], n_reads_diff[0], rn2)
            for j in range(n):
                k = j % ndiff
                if not uniform:
                    sigma = _sigma(median, dt[k], n_reads_diff[k], rn2)
                ratio = abs(fd[j] - median) / sigma
                if ratio > rejection:
                    gdq[j // ndiff, k + 1, y, x] |= jump
        else:
            for j in range(n):
                fa[j] = abs(fd[j])
            for iteration in range(n):
                usable = 0
                for j in range(n):
                    if fa[j] == fa[j]:
                        usable += 1
                if usable >= 4:
                    threshold = rejection
                elif usable == 3:
                    threshold = three_diff_threshold
                elif usable == 2:
                    threshold = two_diff_threshold
                else:
                    break
                clipped = first_median[x] if iteration == 0 else _clipped_median(fa, n, scratch)
                sigma = _sigma(clipped, dt[0], n_reads_diff[0], rn2)
                max_ratio = -1.0
                for j in range(n):
                    if fa[j] == fa[j]:
                        k = j % ndiff
                        if not uniform:
                            sigma = _sigma(clipped, dt[k], n_reads_diff[k], rn2)
                        e = np.float32(fa[j] - clipped)
                        ratio = abs(e) / sigma
                        scratch[j] = ratio
                        if ratio > max_ratio:
                            max_ratio = ratio
                    else:
                        scratch[j] = np.nan
                if not (max_ratio > threshold):
                    break
                for j in range(n):
                    if scratch[j] == max_ratio:
                        gdq[j // ndiff, j % ndiff + 1, y, x] |= jump
                        fa[j] = np.nan
        count = 0
        for i in range(nints):
            for k in range(ngroups):
                if gdq[i, k, y, x] & jump:
                    count += 1
        ncr_out[y, x] = count
        if mode != _MODE_SINGLE_PASS and count > 0:
            # The neighbour and after-jump flagging read the median difference
            # of pixels with jumps only; the others never need it.
            median_out[y, x] = median_of_finite(fd, n, scratch)


@njit(cache=True, nogil=True, parallel=True)
def _detect_kernel(row0, data, gdq, gain, readnoise, dt, n_reads_diff, mode, rejection, three_diff_threshold,
                   two_diff_threshold, bad, jump, median_out, ncr_out, network):
    nints, ngroups, nrows, nx = data.shape
    # Rows go to the threads in blocks, each with its own scratch space.
    rows_per_block = 16
    nblocks = (nrows + rows_per_block - 1) // rows_per_block
    for b in prange(nblocks):
        n = nints * (ngroups - 1)
        columns = np.empty((max(n, 1) if n <= ROW_SORT_MAX else 1, nx), dtype=np.float64)
        differences = np.empty_like(columns)
        count = np.empty(nx, dtype=np.int64)
        previous = np.empty(nx, dtype=np.float32)
        previous_bad = np.empty(nx, dtype=np.bool_)
        first_median = np.empty(nx, dtype=np.float64)
        max_ratio = np.empty(nx, dtype=np.float64)
        quiet = np.empty(nx, dtype=np.bool_)
        for yb in range(b * rows_per_block, min((b + 1) * rows_per_block, nrows)):
            _detect_row(row0 + yb, row0, data, gdq, gain, readnoise, dt, n_reads_diff, mode, rejection,
                        three_diff_threshold, two_diff_threshold, bad, jump, median_out, ncr_out,
                        network, columns, differences, count, previous, previous_bad, first_median,
                        max_ratio, quiet)


@njit(cache=True, nogil=True)
def _sigclip_row(y, row0, data, gdq, gain, dt, bad, jump, sigma, maxiters, only_use_ints, fd_row, used):
    """Sigma-clip each difference across integrations (or across everything)."""
    nints, ngroups, _, nx = data.shape
    yd = y - row0
    ndiff = ngroups - 1
    n = nints * ndiff
    fd = np.empty(n, dtype=np.float64)
    vals = np.empty(n, dtype=np.float64)
    idx = np.empty(n, dtype=np.int64)
    for x in range(nx):
        gain32 = np.float32(gain[y, x])
        _first_differences(data, gdq, y, yd, x, gain32, dt, bad, fd)
        nsets = ndiff if only_use_ints else 1
        for s in range(nsets):
            # The members of this clipping set.
            m = 0
            for j in range(n):
                if only_use_ints and j % ndiff != s:
                    continue
                idx[m] = j
                m += 1
            for a in range(m):
                used[a] = fd[idx[a]] == fd[idx[a]]
            for _ in range(maxiters):
                count = 0
                for a in range(m):
                    if used[a]:
                        vals[count] = fd[idx[a]]
                        count += 1
                if count == 0:
                    break
                mean = 0.0
                for a in range(count):
                    mean += vals[a]
                mean /= count
                var = 0.0
                for a in range(count):
                    var += (vals[a] - mean) ** 2
                std = math.sqrt(var / count)
                c = _sort_finite(vals, count, fd_row)
                center = _median_sorted(fd_row, c)
                lower = center - sigma * std
                upper = center + sigma * std
                changed = False
                for a in range(m):
                    if used[a]:
                        v = fd[idx[a]]
                        if v < lower or v > upper:
                            used[a] = False
                            changed = True
                if not changed:
                    break
            for a in range(m):
                j = idx[a]
                v = fd[j]
                if v == v and not used[a]:
                    i = j // ndiff
                    k = j % ndiff + 1
                    if (gdq[i, k, y, x] & bad) == 0:
                        gdq[i, k, y, x] |= jump


@njit(cache=True, nogil=True, parallel=True)
def _sigclip_kernel(row0, data, gdq, gain, dt, bad, jump, sigma, maxiters, only_use_ints):
    n = data.shape[0] * (data.shape[1] - 1)
    for yb in prange(data.shape[2]):
        fd_row = np.empty(n, dtype=np.float64)
        used = np.empty(n, dtype=np.bool_)
        _sigclip_row(row0 + yb, row0, data, gdq, gain, dt, bad, jump, sigma, maxiters, only_use_ints, fd_row,
                     used)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _neighbour_sources(row0, data, gdq, gain, readnoise, dt, n_reads_diff, median, bad, jump, low, high,
                       source):
    """Mark the jumps whose ratio lies strictly between ``low`` and ``high``."""
    nints, ngroups, nrows, nx = data.shape
    for yb in prange(nrows):
        y = row0 + yb
        # Plane by plane along the row: contiguous reads, and jumps are rare.
        for i in range(nints):
            for k in range(ngroups - 1):
                for x in range(nx):
                    source[i, k, y, x] = 0
                    if not (gdq[i, k + 1, y, x] & jump):
                        continue
                    if (gdq[i, k, y, x] & bad) or (gdq[i, k + 1, y, x] & bad):
                        continue
                    gain32 = np.float32(gain[y, x])
                    rn = np.float32(readnoise[y, x]) * gain32
                    rn2 = float(rn * rn)
                    diff = np.float32(data[i, k + 1, yb, x] * gain32 - data[i, k, yb, x] * gain32) / dt[k]
                    ratio = abs(diff - median[y, x]) / _sigma(median[y, x], dt[k], n_reads_diff[k], rn2)
                    if low < ratio < high:
                        source[i, k, y, x] = 1


@njit(cache=True, nogil=True, parallel=True)
def _neighbour_flags(gdq, source, bad, jump):
    """JUMP_DET on each source and its 4 neighbours (unless SATURATED or DO_NOT_USE)."""
    nints, ngroups, ny, nx = gdq.shape
    for yp in prange(nints * (ngroups - 1) * ny):
        y = yp % ny
        plane = yp // ny
        i = plane // (ngroups - 1)
        k = plane % (ngroups - 1)
        for x in range(nx):
            hit = source[i, k, y, x] != 0
            if y > 0 and source[i, k, y - 1, x]:
                hit = True
            if y < ny - 1 and source[i, k, y + 1, x]:
                hit = True
            if x > 0 and source[i, k, y, x - 1]:
                hit = True
            if x < nx - 1 and source[i, k, y, x + 1]:
                hit = True
            if hit and (gdq[i, k + 1, y, x] & bad) == 0:
                gdq[i, k + 1, y, x] |= jump


@njit(cache=True, nogil=True, parallel=True)
def _after_jump_kernel(row0, data, gdq, gain, dt, median, bad, jump, e1, n1, e2, n2):
    """Flag ``n`` groups after jumps larger than ``e`` electrons (two thresholds)."""
    nints, ngroups, nrows, nx = data.shape
    for yb in prange(nrows):
        y = row0 + yb
        extend = np.zeros(ngroups, dtype=np.bool_)
        for x in range(nx):
            gain32 = np.float32(gain[y, x])
            for i in range(nints):
                for k in range(ngroups):
                    extend[k] = False
                for k in range(1, ngroups):
                    if not (gdq[i, k, y, x] & jump):
                        continue
                    if (gdq[i, k - 1, y, x] & bad) or (gdq[i, k, y, x] & bad):
                        continue
                    diff = np.float32(data[i, k, yb, x] * gain32 - data[i, k - 1, yb, x] * gain32) / dt[k - 1]
                    amplitude = (diff - median[y, x]) * dt[k - 1]
                    for threshold, ngroups_flag in ((e1, n1), (e2, n2)):
                        if ngroups_flag > 0 and amplitude >= threshold:
                            for kk in range(k + 1, min(k + ngroups_flag, ngroups - 1) + 1):
                                extend[kk] = True
                for k in range(ngroups):
                    if extend[k] and (gdq[i, k, y, x] & bad) == 0:
                        gdq[i, k, y, x] |= jump


@njit(cache=True, nogil=True, parallel=True)
def _drop_redundant_jumps(gdq, jump, dnu, sat):
    """JUMP_DET is removed where DO_NOT_USE or SATURATED is also set."""
    nints, ngroups, ny, nx = gdq.shape
    for y in prange(ny):
        for i in range(nints):
            for k in range(ngroups):
                for x in range(nx):
                    f = gdq[i, k, y, x]
                    if (f & jump) and (f & (dnu | sat)):
                        gdq[i, k, y, x] = f & ~jump & 0xFF


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def _plane(value, shape, name, dtype):
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(shape, arr, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"detect_jumps: {name} must have shape {shape} (ny, nx), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _difference_timing(read_pattern, ngroups, nframes):
    """Time between groups (group units) and reads in each pair of groups."""
    if read_pattern is None:
        return np.ones(ngroups - 1), np.full(ngroups - 1, 2.0 * nframes)
    if len(read_pattern) != ngroups:
        raise ValueError(
            f"detect_jumps: read_pattern has {len(read_pattern)} groups but the data have {ngroups}"
        )
    t_group = np.array([np.mean(reads) for reads in read_pattern], dtype=np.float64)
    n_reads = np.array([len(reads) for reads in read_pattern], dtype=np.float64)
    return np.diff(t_group), n_reads[1:] + n_reads[:-1]


def _groups_flagged_everywhere(groupdq, flag):
    nints, ngroups = groupdq.shape[:2]
    counts = np.zeros(nints, dtype=int)
    for i in range(nints):
        for k in range(ngroups):
            if np.all(groupdq[i, k] & flag):
                counts[i] += 1
    return counts


def detect_jumps(
    data,
    groupdq,
    pixeldq,
    gain,
    readnoise,
    *,
    nframes,
    group_time=None,
    read_pattern=None,
    flags=JumpFlags(),
    inplace=False,
    **parameters,
) -> JumpResult:
    """Flag jumps in JWST ramps (two-point difference; the JumpStep algorithm).

    Parameters
    ----------
    data : ndarray (nints, ngroups, ny, nx)
        Ramps in DN after saturation, reference-pixel and linearity
        correction.  Not modified.
    groupdq : ndarray of uint8, same shape
        GROUPDQ.  Copied unless ``inplace``.
    pixeldq : ndarray of uint32 (ny, nx)
        PIXELDQ.  Copied unless ``inplace``.
    gain : ndarray (ny, nx)
        GAIN reference (e-/DN), cut to the science subarray.
    readnoise : ndarray (ny, nx)
        READNOISE reference: CDS read noise in DN.
    nframes : int
        NFRAMES.
    group_time : float, optional
        TGROUP (s); needed to turn the ``after_jump_flag_time*``,
        ``time_masked_after_shower`` and ``snowball_time_masked_next_int``
        times into groups, and ``max_shower_amplitude`` into DN/group.
    read_pattern : list of list, optional
        Reads (in any time unit) averaged into each group, for unevenly
        spaced groups; default: uniform groups of ``nframes`` reads.
    flags : JumpFlags, optional
    inplace : bool, optional
        Update ``groupdq`` and ``pixeldq`` in place.
    **parameters
        The JumpStep parameters, with the same names and defaults
        (:data:`JUMP_STEP_DEFAULTS`).  Unknown names raise TypeError.

    Returns
    -------
    JumpResult
    """
    unknown = set(parameters) - set(JUMP_STEP_DEFAULTS)
    if unknown:
        raise TypeError(f"detect_jumps: unknown parameter(s) {', '.join(sorted(unknown))}; "
                        f"expected the JumpStep parameters: {', '.join(JUMP_STEP_DEFAULTS)}")
    p = dict(JUMP_STEP_DEFAULTS)
    p.update(parameters)

    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(f"detect_jumps: data must be 4-D (nints, ngroups, ny, nx), got shape {data.shape}")
    groupdq = np.asarray(groupdq)
    if groupdq.shape != data.shape:
        raise ValueError(f"detect_jumps: groupdq shape {groupdq.shape} differs from data shape {data.shape}")
    if not (nframes is not None and int(nframes) >= 1):
        raise ValueError(f"detect_jumps: nframes must be >= 1, got {nframes!r}")
    nints, ngroups, ny, nx = data.shape
    image_shape = (ny, nx)
    if inplace and groupdq.dtype == np.uint8 and groupdq.flags.writeable and groupdq.flags.c_contiguous:
        gdq = groupdq
    else:
        gdq = np.array(groupdq, dtype=np.uint8)
    pixeldq_in = np.asarray(pixeldq)
    if pixeldq_in.shape != image_shape:
        raise ValueError(f"detect_jumps: pixeldq must have shape {image_shape}, got {pixeldq_in.shape}")
    if inplace and pixeldq_in.dtype == np.uint32 and pixeldq_in.flags.writeable:
        pdq = pixeldq_in
    else:
        pdq = np.array(pixeldq_in, dtype=np.uint32)
    gain = _plane(gain, image_shape, "gain", np.float32)
    readnoise = _plane(readnoise, image_shape, "readnoise", np.float32)

    dnu, sat, jump = int(flags.do_not_use), int(flags.saturated), int(flags.jump_det)
    bad = dnu | sat
    pdq[~(gain > 0)] |= np.uint32(flags.no_gain_value | dnu)
    input_bad = (gdq & bad) != 0 if p["find_showers"] else None

    def groups(seconds, name):
        if seconds and seconds > 0:
            if not group_time or group_time <= 0:
                raise ValueError(f"detect_jumps: {name} needs group_time (TGROUP) > 0")
            return int(seconds // group_time)
        return 0

    n1 = groups(p["after_jump_flag_time1"], "after_jump_flag_time1")
    n2 = groups(p["after_jump_flag_time2"], "after_jump_flag_time2")

    if ngroups < 2:
        return JumpResult(gdq, pdq, -99, 0, skipped="fewer than 2 groups")
    dt, n_reads_diff = _difference_timing(read_pattern, ngroups, int(nframes))

    # Which flavour of detection: decided from the groups flagged DO_NOT_USE everywhere.
    flagged_per_int = _groups_flagged_everywhere(gdq, dnu)
    min_usable_groups = ngroups - int(flagged_per_int.max())
    total_groups = nints * ngroups - int(flagged_per_int.sum())
    min_usable_diffs = min_usable_groups - 1
    sigclip_count = nints if p["only_use_ints"] else total_groups
    uniform = np.std(dt) == 0 and np.std(n_reads_diff) == 0
    sigclip_fails = sigclip_count < p["minimum_sigclip_groups"]
    min_groups_fails = min_usable_groups < p["minimum_groups"]
    median = np.full(image_shape, np.nan, dtype=np.float64)
    number_crs = -99
    skipped = None
    if sigclip_fails and min_groups_fails:
        skipped = (f"fewer than minimum_groups={p['minimum_groups']} usable groups and fewer than "
                   f"minimum_sigclip_groups={p['minimum_sigclip_groups']} for sigma clipping")
    else:
        ncr = np.zeros(image_shape, dtype=np.int64)
        ndiffs = nints * (ngroups - 1)
        network = sorting_network(ndiffs if ndiffs <= ROW_SORT_MAX else 1)
        use_sigclip = uniform and not sigclip_fails
        mode = _MODE_SINGLE_PASS if min_usable_diffs >= p["min_diffs_single_pass"] else _MODE_ITERATIVE
        if use_sigclip:
            # The medians and noise still serve the neighbour and after-jump flagging.
            for row0, block in iter_row_blocks(data, 2):
                _detect_kernel(row0, block, gdq, gain, readnoise, dt, n_reads_diff, _MODE_MEDIAN_ONLY,
                               np.inf, np.inf, np.inf, bad, jump, median, ncr, network)
                _sigclip_kernel(row0, block, gdq, gain, dt, bad, jump, float(p["rejection_threshold"]), 5,
                                bool(p["only_use_ints"]))
            for i in range(nints):
                for k in range(ngroups):
                    plane = gdq[i, k]
                    if np.all(plane & (jump | dnu)):
                        plane[plane == jump] = 0
            number_crs = int(np.count_nonzero(gdq & jump))
        else:
            for row0, block in iter_row_blocks(data, 2):
                _detect_kernel(row0, block, gdq, gain, readnoise, dt, n_reads_diff, mode,
                               float(p["rejection_threshold"]), float(p["four_group_rejection_threshold"]),
                               float(p["three_group_rejection_threshold"]), bad, jump, median, ncr, network)
            number_crs = int(ncr.sum())
        if p["flag_4_neighbors"]:
            source = np.empty((nints, ngroups - 1, ny, nx), dtype=np.uint8)
            for row0, block in iter_row_blocks(data, 2):
                _neighbour_sources(row0, block, gdq, gain, readnoise, dt, n_reads_diff, median, bad, jump,
                                   float(p["min_jump_to_flag_neighbors"]),
                                   float(p["max_jump_to_flag_neighbors"]), source)
            _neighbour_flags(gdq, source, bad, jump)
            del source
        if n1 > 0 or n2 > 0:
            median_gain = float(np.nanmedian(gain))
            for row0, block in iter_row_blocks(data, 2):
                _after_jump_kernel(row0, block, gdq, gain, dt, median, bad, jump,
                                   float(p["after_jump_flag_dn1"]) * median_gain, n1,
                                   float(p["after_jump_flag_dn2"]) * median_gain, n2)
    _drop_redundant_jumps(gdq, jump, dnu, sat)

    number_events = 0
    if skipped is None and (p["expand_large_events"] or p["find_showers"]):
        from photoncal.kernels import jump_events

        if p["expand_large_events"]:
            number_events = jump_events.flag_snowballs(gdq, p, group_time=group_time, flags=flags)
        if p["find_showers"]:
            number_events = jump_events.flag_showers(data, gdq, pdq, gain, readnoise, p, nframes=int(nframes),
                                                     group_time=group_time, flags=flags, input_bad=input_bad)
    return JumpResult(gdq, pdq, number_crs, number_events, skipped=skipped)


def cosmic_ray_rates(result, group_time, flags=JumpFlags()):
    """The exposure keywords the JumpStep derives from the jumps it found.

    Parameters
    ----------
    result : JumpResult
    group_time : float
        TGROUP in seconds.

    Returns
    -------
    (primary_cosmic_rays, extended_emission_events) : (float, float) or (None, None)
        ``1000 * number_crs / (T * npix)`` and ``1e6 * events / (T * npix)``
        with ``T`` the group time times the groups that are not DO_NOT_USE
        everywhere, less one per integration; None when there is no such
        group.
    """
    nints, ngroups, ny, nx = result.groupdq.shape
    flagged = int(_groups_flagged_everywhere(result.groupdq, int(flags.do_not_use)).sum())
    usable = nints * ngroups - flagged - nints
    if usable < 1:
        return None, None
    exposure = group_time * usable * ny * nx
    return 1000.0 * result.number_crs / exposure, 1.0e6 * result.number_extended_events / exposure
