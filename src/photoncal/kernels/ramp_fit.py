"""JWST ramp fitting: uniform groups to count rates (seed 002, ramp_fit).

Each pixel's ramp is cut into *segments* - runs of usable groups between
saturated, DO_NOT_USE or jump-affected groups - and each segment gets a
weighted least-squares slope with the optimal weights of Fixsen et al.
(2000) (:mod:`photoncal.kernels.ramp_common`).  Segment slopes are combined
into one slope per integration and one per exposure.

The numbers follow the established implementation (stcal's ``OLS_C``) where
the spec is vague or silent; the choices are listed in
``docs/ramp_fitting.md``.  In the notation of the spec, with ``n`` groups in
a segment, ``tg`` the group time, ``g`` the gain (e-/DN), ``R`` the read
noise of one group in electrons (READNOISE * g / sqrt(2 * nframes)) and
``m`` the pixel's median rate estimate (DN/s):

* ``var_r(segment) = 12 R**2 / ((n**3 - n) tg**2 g**2)``  (``n >= 3``;
  ``2 R**2 / (t**2 g**2)`` for 1- and 2-group segments, ``t`` their time)
* ``var_p(segment) = (m + dark) / (tg * g * (n - 1))``
* integration and exposure: inverse-variance sums of the segment
  variances; ``ERR(rate) = sqrt(var_p + var_r)``.
* the integration and exposure slopes are averages of the segment slopes
  weighted by ``1 / var_r`` (the established pipeline's current choice), or
  by ``1 / (var_p + var_r)`` as the spec's formula states, with
  ``weighting="total"``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal import dqflags
from photoncal.kernels.ramp_common import (
    ROW_SORT_MAX,
    iter_row_blocks,
    median_of_finite,
    median_of_sorted_column,
    optimal_weight_table,
    power_index,
    segment_snr,
    sort_columns,
    sorting_network,
)

__all__ = [
    "RampFitFlags",
    "RateProduct",
    "FitOptProduct",
    "RampFitResult",
    "fit_ramps",
]


@dataclass(frozen=True)
class RampFitFlags:
    """DQ flag values ramp fitting reads and writes (defaults: the master table)."""

    do_not_use: int = dqflags.pixel["DO_NOT_USE"]
    saturated: int = dqflags.pixel["SATURATED"]
    jump_det: int = dqflags.pixel["JUMP_DET"]
    persistence: int = dqflags.pixel["PERSISTENCE"]
    no_gain_value: int = dqflags.pixel["NO_GAIN_VALUE"]
    chargeloss: int = dqflags.pixel["CHARGELOSS"]


@dataclass
class RateProduct:
    """Count rates and their uncertainties (``_rate`` 2-D or ``_rateints`` 3-D)."""

    data: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    err: np.ndarray


@dataclass
class FitOptProduct:
    """Per-segment fit information (the ``_fitopt`` product, RampFitOutputModel).

    ``slope, sigslope, var_poisson, var_rnoise, yint, sigyint, weights`` are
    (nints, max_nsegments, ny, nx); ``pedestal`` is (nints, ny, nx);
    ``crmag`` is (nints, max_ncr, ny, nx).  Unused entries are 0.
    """

    slope: np.ndarray
    sigslope: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    yint: np.ndarray
    sigyint: np.ndarray
    pedestal: np.ndarray
    weights: np.ndarray
    crmag: np.ndarray


@dataclass
class RampFitResult:
    """What :func:`fit_ramps` returns.

    Attributes
    ----------
    rate : RateProduct
        Exposure-level 2-D products (``_rate``).
    rateints : RateProduct
        Per-integration 3-D products (``_rateints``).
    fitopt : FitOptProduct or None
        Only with ``save_opt=True``.
    groups_used : slice
        The groups that were fitted (MIRI edge groups flagged DO_NOT_USE
        everywhere are dropped with ``discard_flagged_edge_groups``).
    nothing_to_fit : bool
        True when every pixel was saturated in the first group, or no group
        was usable anywhere: the products are then all NaN / DO_NOT_USE.
    """

    rate: RateProduct
    rateints: RateProduct
    fitopt: FitOptProduct | None
    groups_used: slice
    nothing_to_fit: bool = False


# ---------------------------------------------------------------------------
# Per-pixel building blocks
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _add_segment(seg_start, seg_len, base, nseg, start, end, longest):
    """Append segment [start, end) unless it is 1 group long and a longer one exists."""
    length = end - start
    if length == 1 and longest > 1:
        return nseg, longest
    seg_start[base + nseg] = start
    seg_len[base + nseg] = length
    if length > longest:
        longest = length
    return nseg + 1, longest


@njit(cache=True, nogil=True, inline="always")
def _find_segments(gdq, gbase, ngroups, jump, persistence, seg_start, seg_len, base):
    """Split one integration ramp into segments of usable groups.

    A group is usable when its flags, persistence aside, are 0.  A group
    flagged only JUMP_DET starts the segment that follows it (it is the
    first sample after the jump).  One-group segments are dropped when a
    longer segment exists; if all are one group long, only the first is
    kept.  Returns the number of segments.
    """
    not_pers = ~persistence & 0xFF
    nseg = 0
    longest = 0
    in_seg = False
    start = 0
    for idx in range(ngroups):
        flags = gdq[gbase + idx] & not_pers
        if flags == 0:
            if not in_seg:
                if idx > 0 and (gdq[gbase + idx - 1] & not_pers) == jump:
                    start = idx - 1
                else:
                    start = idx
                in_seg = True
        elif in_seg:
            nseg, longest = _add_segment(seg_start, seg_len, base, nseg, start, idx, longest)
            in_seg = False
    if in_seg:
        nseg, longest = _add_segment(seg_start, seg_len, base, nseg, start, ngroups, longest)
    if nseg >= 2:
        if longest < 2:
            nseg = 1
        else:
            kept = 0
            for s in range(nseg):
                if seg_len[base + s] > 1:
                    seg_start[base + kept] = seg_start[base + s]
                    seg_len[base + kept] = seg_len[base + s]
                    kept += 1
            nseg = kept
    return nseg


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def _count_segments_kernel(
    groupdq, g0, ngroups, zeroframe, use_zeroframe, first_group, last_group, clear_first_jump,
    suppress_one_group, dnu, sat, jump, persistence, seg_count, cr_count,
):
    """Segments and jumps per (integration, pixel), for sizing the fitopt arrays."""
    nints, _, ny, nx = groupdq.shape
    for y in prange(ny):
        g = np.empty(nints * ngroups, dtype=np.uint8)
        seg_start = np.empty(ngroups + 1, dtype=np.int64)
        seg_len = np.empty(ngroups + 1, dtype=np.int64)
        not_pers = ~persistence & 0xFF
        for x in range(nx):
            for i in range(nints):
                base = i * ngroups
                ngood_nopers = 0
                ncr = 0
                for k in range(ngroups):
                    flags = groupdq[i, g0 + k, y, x]
                    if k == 0 and clear_first_jump:
                        flags &= ~jump & 0xFF
                    if k < first_group or k > last_group:
                        flags |= dnu
                    g[base + k] = flags
                    if (flags & not_pers) == 0:
                        ngood_nopers += 1
                    if k > 0 and flags & jump:
                        ncr += 1
                suppressed = suppress_one_group and ngroups > 1 and ngood_nopers == 1
                if suppressed:
                    for k in range(ngroups):
                        g[base + k] |= dnu
                ngood = 0
                for k in range(ngroups):
                    if g[base + k] == 0:
                        ngood += 1
                if (not suppress_one_group and ngood == 0 and use_zeroframe
                        and zeroframe[i, y, x] != 0.0):
                    g[base] = 0
                cr_count[i, y, x] = ncr
                if g[base] & sat:
                    seg_count[i, y, x] = 0
                else:
                    seg_count[i, y, x] = _find_segments(g, base, ngroups, jump, persistence,
                                                        seg_start, seg_len, 0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _group_flags_and_rate(i, k, y, yd, x, data, groupdq, g0, group_time, first_group, last_group, clear_first_jump,
                          dnu, sat, jump):  # pragma: no cover - numba
    """Group ``k``'s effective flags and its rate ``data / group_time`` (NaN when not usable)."""
    flags = groupdq[i, g0 + k, y, x]
    if k == 0 and clear_first_jump:
        flags &= ~jump & 0xFF
    if k < first_group or k > last_group:
        flags |= dnu
    if flags & (dnu | sat):
        return flags, np.nan
    return flags, float(data[i, g0 + k, yd, x]) / group_time


@njit(cache=True, nogil=True, error_model="numpy")
def _row_median_rates(
    i, y, yd, data, groupdq, g0, ngroups, group_time, first_group, last_group, clear_first_jump,
    dnu, sat, jump, use_network, network, columns, count, first_rate, previous, median_rate, diffs, scratch,
):
    """Median group-to-group rate of integration ``i`` for every pixel of row ``y``.

    The rates are ``data / group_time`` (NaN where a group is DO_NOT_USE or
    SATURATED); a difference into a jump group is not used.  A pixel with
    no usable difference falls back on its first group's rate.  The
    differences of the whole row are sorted side by side (one vectorised
    sorting network) instead of pixel by pixel; without ``use_network``
    (long ramps) they are taken pixel by pixel, in ``diffs`` and ``scratch``.
    """
    nx = groupdq.shape[3]
    if not use_network:
        for x in range(nx):
            first = np.nan
            previous_rate = np.nan
            any_diff = False
            for k in range(ngroups):
                flags, current = _group_flags_and_rate(i, k, y, yd, x, data, groupdq, g0, group_time, first_group,
                                                        last_group, clear_first_jump, dnu, sat, jump)
                if k == 0:
                    first = current
                else:
                    diffs[k - 1] = np.nan if flags & jump else current - previous_rate
                    if diffs[k - 1] == diffs[k - 1]:
                        any_diff = True
                previous_rate = current
            if not any_diff and first == first:
                diffs[0] = first  # no usable difference: the first group's rate
            median_rate[x] = median_of_finite(diffs, ngroups - 1, scratch)
        return
    for x in range(nx):
        count[x] = 0
    for k in range(ngroups):
        for x in range(nx):
            flags, current = _group_flags_and_rate(i, k, y, yd, x, data, groupdq, g0, group_time, first_group,
                                                    last_group, clear_first_jump, dnu, sat, jump)
            if k == 0:
                first_rate[x] = current
            else:
                diff = np.nan if flags & jump else current - previous[x]
                usable = diff == diff
                columns[k - 1, x] = diff if usable else np.inf
                count[x] += usable
            previous[x] = current
    for x in range(nx):
        if count[x] == 0 and first_rate[x] == first_rate[x]:
            columns[0, x] = first_rate[x]
            count[x] = 1
    sort_columns(columns, network, nx)
    for x in range(nx):
        median_rate[x] = median_of_sorted_column(columns, count[x], x)


@njit(cache=True, nogil=True, error_model="numpy")
def _fit_row(
    y, row0,
    data, groupdq, g0, ngroups, pixeldq, gain, readnoise, dark_current, zeroframe, use_zeroframe,
    frame_time, group_time, nframes, pedestal_time, first_group, last_group, clear_first_jump,
    suppress_one_group, weight_by_total, dnu, sat, jump, persistence, no_gain, chargeloss,
    # outputs
    rate, rate_dq, rate_vp, rate_vr, rate_err,
    ints, ints_dq, ints_vp, ints_vr, ints_err,
    save_opt, o_slope, o_sigslope, o_vp, o_vr, o_yint, o_sigyint, o_weights, o_pedestal, o_crmag,
    weight_table, use_network, network, columns, count, first_rate, previous, median_rates, diffs, scratch,
):
    """Fit every pixel of row ``y``; ``data`` holds the rows from ``row0`` on.

    ``weight_table`` is :func:`optimal_weight_table`, ``network`` the
    sorting network of ``ngroups - 1`` values (used with ``use_network``);
    ``columns`` (ngroups - 1, nx), ``count``, ``first_rate``, ``previous``
    (nx), ``median_rates`` (nints, nx), ``diffs`` and ``scratch``
    (ngroups) are scratch space.
    """
    nints, _, ny, nx = groupdq.shape
    yd = y - row0
    one_group_time = (nframes + 1.0) * frame_time / 2.0
    invalid = dnu | sat
    not_pers = ~persistence & 0xFF
    n_all = nints * ngroups
    if ngroups > 1:
        for i in range(nints):
            _row_median_rates(i, y, yd, data, groupdq, g0, ngroups, group_time, first_group, last_group,
                              clear_first_jump, dnu, sat, jump, use_network, network, columns, count,
                              first_rate, previous, median_rates[i], diffs, scratch)
    d = np.empty(n_all, dtype=np.float64)
    g = np.empty(n_all, dtype=np.uint8)
    seg_start = np.empty(nints * (ngroups + 1), dtype=np.int64)
    seg_len = np.empty(nints * (ngroups + 1), dtype=np.int64)
    nseg = np.zeros(nints, dtype=np.int64)
    cnt_good = np.zeros(nints, dtype=np.int64)
    cnt_dnu = np.zeros(nints, dtype=np.int64)
    cnt_dnu_sat = np.zeros(nints, dtype=np.int64)
    cnt_sat = np.zeros(nints, dtype=np.int64)
    has_chargeloss = np.zeros(nints, dtype=np.bool_)
    is_0th = np.zeros(nints, dtype=np.bool_)
    is_zframe = np.zeros(nints, dtype=np.bool_)
    int_dq = np.zeros(nints, dtype=np.int64)
    for x in range(nx):
        pixel_gain = float(gain[y, x])
        pdq = np.int64(pixeldq[y, x])
        if not (pixel_gain > 0.0):
            pdq |= dnu | no_gain
        # Read noise of one group in electrons.
        rn_e = float(readnoise[y, x]) * pixel_gain / math.sqrt(2.0 * nframes)
        if not math.isfinite(rn_e):
            # No read noise, no uncertainty: the established fit gives NaN here too.
            pdq |= dnu
        dark = float(dark_current[y, x])
        pix_dq = pdq

        # One pass over each integration: local flags, data (NaN where
        # saturated), group statistics, CR magnitudes and the first
        # differences for the median rate.
        rate_total = 0.0
        for i in range(nints):
            base = i * ngroups
            int_dq[i] = pdq
            n_usable = 0
            n_good = 0
            n_dnu = 0
            n_dnu_sat = 0
            n_sat = 0
            any_jump = False
            any_pers = False
            has_chargeloss[i] = False
            ncr = 0
            for k in range(ngroups):
                flags = groupdq[i, g0 + k, y, x]
                if k == 0 and clear_first_jump:
                    flags &= ~jump & 0xFF
                if k < first_group or k > last_group:
                    flags |= dnu
                g[base + k] = flags
                value = np.nan if flags & sat else float(data[i, g0 + k, yd, x])
                d[base + k] = value
                if (flags & not_pers) == 0:
                    n_usable += 1
                if flags == 0:
                    n_good += 1
                elif flags & dnu:
                    n_dnu += 1
                if flags & (dnu | sat):
                    n_dnu_sat += 1
                if flags & sat:
                    n_sat += 1
                if flags & persistence:
                    any_pers = True
                if flags & chargeloss:
                    has_chargeloss[i] = True
                if flags & jump:
                    any_jump = True
                    if save_opt and k > 0:
                        if ncr < o_crmag.shape[1]:
                            o_crmag[i, ncr, y, x] = value - d[base + k - 1]
                        ncr += 1
            is_0th[i] = False
            is_zframe[i] = False
            suppressed = suppress_one_group and n_usable == 1
            if suppressed:
                # Exactly one usable group: treated as none (established default).
                for k in range(ngroups):
                    g[base + k] |= dnu
                n_good = 0
                n_dnu = ngroups
                n_dnu_sat = ngroups
            if not suppress_one_group:
                if n_good == 1 and g[base] == 0:
                    is_0th[i] = True
                elif n_good == 0 and use_zeroframe and zeroframe[i, y, x] != 0.0:
                    d[base] = zeroframe[i, y, x]
                    g[base] = 0
                    n_good = 1
                    n_dnu_sat -= 1
                    if n_sat == ngroups:
                        n_sat -= 1
                    if n_dnu == ngroups:
                        n_dnu -= 1
                    is_zframe[i] = True
            cnt_good[i] = n_good
            cnt_dnu[i] = n_dnu
            cnt_dnu_sat[i] = n_dnu_sat
            cnt_sat[i] = n_sat
            if any_jump:
                int_dq[i] |= jump
                pix_dq |= jump
            if any_pers:
                int_dq[i] |= persistence
                pix_dq |= persistence

            # This integration's contribution to the pixel's median rate.
            if ngroups == 1:
                int_rate = d[base] / one_group_time
            elif is_0th[i]:
                int_rate = d[base] / one_group_time
            elif is_zframe[i]:
                int_rate = d[base] / frame_time
            elif suppressed:
                int_rate = np.nan
            else:
                int_rate = median_rates[i, x]
            if int_rate != int_rate and ngroups > 1:
                int_rate = 0.0
            rate_total += int_rate
        median_rate = rate_total / nints
        poisson_rate = median_rate + dark if median_rate > 0.0 else dark

        sum_invvar_p = 0.0
        sum_invvar_r = 0.0
        sum_slope_wt = 0.0
        sum_wt = 0.0
        nfitted = 0
        n_dnu_ints = 0
        n_sat_ints = 0
        any_partial_sat = False
        for i in range(nints):
            base = i * ngroups
            sbase = i * (ngroups + 1)
            int_slope = 0.0
            int_vp = 0.0
            int_vr = 0.0
            int_err = 0.0
            if g[base] & sat:
                # Saturated in the first group: no slope for this integration.
                int_dq[i] |= dnu | sat
                int_slope = np.nan
                nseg[i] = 0
            else:
                nseg[i] = _find_segments(g, base, ngroups, jump, persistence,
                                         seg_start, seg_len, sbase)
            if cnt_dnu_sat[i] == ngroups:
                int_dq[i] |= dnu
                if cnt_sat[i] == ngroups:
                    int_dq[i] |= sat
            elif nseg[i] == 0:
                # No usable segment (e.g. every group flagged): no data to fit.
                int_dq[i] |= dnu
            else:
                invvar_r = 0.0
                invvar_p = 0.0
                invvar_e = 0.0
                slope_wt = 0.0
                wt_sum = 0.0
                for s in range(nseg[i]):
                    start = seg_start[sbase + s]
                    length = seg_len[sbase + s]
                    sigslope = 0.0
                    yint = 0.0
                    sigyint = 0.0
                    if length == 1:
                        if is_0th[i]:
                            timing = one_group_time
                        elif is_zframe[i]:
                            timing = frame_time
                        else:
                            timing = group_time
                        slope = d[base + start] / timing
                        var_p = poisson_rate / (timing * pixel_gain)
                        shape_r = 2.0 / (timing * timing * pixel_gain * pixel_gain)
                    elif length == 2:
                        d0 = d[base + start]
                        d1 = d[base + start + 1]
                        slope = (d1 - d0) / group_time
                        var_p = poisson_rate / (group_time * pixel_gain)
                        shape_r = 2.0 / (group_time * group_time * pixel_gain * pixel_gain)
                        if save_opt:
                            sigslope = math.sqrt(2.0) * rn_e
                            second = start + 1.0
                            yint = d1 * (1.0 - second) + d0 * second
                            sigyint = sigslope
                    else:
                        d_first = d[base + start]
                        d_last = d[base + start + length - 1]
                        weights = weight_table[power_index(segment_snr((d_last - d_first) * pixel_gain, rn_e)),
                                               length]
                        sumw = 0.0
                        sumx = 0.0
                        sumxx = 0.0
                        sumy = 0.0
                        sumxy = 0.0
                        for k in range(length):
                            w = weights[k]
                            xval = float(start + k)
                            value = d[base + start + k]
                            if value != value:
                                value = 0.0
                            sumw += w
                            sumx += w * xval
                            sumxx += w * xval * xval
                            sumy += w * value
                            sumxy += w * xval * value
                        den = sumw * sumxx - sumx * sumx
                        slope = (sumw * sumxy - sumx * sumy) / den / group_time
                        if save_opt:
                            # The weights proper carry 1/R**2; it cancels in the slope.
                            sigslope = rn_e * math.sqrt(sumw / den)
                            yint = (sumxx * sumy - sumx * sumxy) / den
                            sigyint = rn_e * math.sqrt(sumxx / den)
                        var_p = poisson_rate / (group_time * pixel_gain * (length - 1.0))
                        n3 = float(length) ** 3 - length
                        shape_r = 12.0 / (n3 * group_time * group_time * pixel_gain * pixel_gain)
                    var_r = rn_e * rn_e * shape_r
                    var_e = var_p + var_r
                    if weight_by_total:
                        wt = 1.0 / var_e
                    else:
                        # 1 / var_r up to the pixel's constant R**2 (well defined for R = 0).
                        wt = 1.0 / shape_r
                    slope_wt += slope * wt
                    wt_sum += wt
                    invvar_r += 1.0 / var_r
                    if var_p > 0.0:
                        invvar_p += 1.0 / var_p
                    invvar_e += 1.0 / var_e
                    if save_opt:
                        o_slope[i, s, y, x] = slope
                        o_sigslope[i, s, y, x] = sigslope
                        o_vp[i, s, y, x] = var_p
                        o_vr[i, s, y, x] = var_r
                        o_yint[i, s, y, x] = yint
                        o_sigyint[i, s, y, x] = sigyint
                        o_weights[i, s, y, x] = 1.0 / var_r
                int_vp = 1.0 / invvar_p if invvar_p > 0.0 else 0.0
                int_vr = 1.0 / invvar_r if invvar_r > 0.0 else 0.0
                if int_dq[i] & invalid:
                    int_slope = np.nan
                    int_vp = 0.0
                    int_vr = 0.0
                else:
                    int_slope = slope_wt / wt_sum
                    int_err = math.sqrt(1.0 / invvar_e)
                if invvar_p > 0.0:
                    sum_invvar_p += invvar_p
                sum_invvar_r += invvar_r
                sum_slope_wt += slope_wt
                sum_wt += wt_sum
                nfitted += 1
            if int_dq[i] & dnu:
                n_dnu_ints += 1
                int_slope = np.nan
            if save_opt:
                if int_dq[i] & sat:
                    o_pedestal[i, y, x] = 0.0
                else:
                    ped = d[base] - int_slope * pedestal_time
                    o_pedestal[i, y, x] = 0.0 if ped != ped else ped
            if int_dq[i] & sat:
                n_sat_ints += 1
                int_slope = np.nan
            if cnt_sat[i] > 0:
                int_dq[i] |= sat
                any_partial_sat = True
            ints[i, y, x] = int_slope
            ints_vp[i, y, x] = int_vp
            ints_vr[i, y, x] = int_vr
            ints_err[i, y, x] = int_err

        if has_chargeloss.any():
            # Groups flagged CHARGELOSS hold good charge for the read noise:
            # recompute var_rnoise with them as usable (stcal's OLS_C).
            cl_invvar_r = 0.0
            for i in range(nints):
                if not has_chargeloss[i]:
                    if ints_vr[i, y, x] > 0.0:
                        cl_invvar_r += 1.0 / ints_vr[i, y, x]
                    continue
                base = i * ngroups
                for k in range(ngroups):
                    flags = groupdq[i, g0 + k, y, x]
                    if k == 0 and clear_first_jump:
                        flags &= ~jump & 0xFF
                    if k < first_group or k > last_group:
                        flags |= dnu
                    if flags & chargeloss:
                        flags ^= dnu | chargeloss
                    g[base + k] = flags
                sbase = i * (ngroups + 1)
                ns = _find_segments(g, base, ngroups, jump, persistence, seg_start, seg_len, sbase)
                invvar_r = 0.0
                for s in range(ns):
                    length = seg_len[sbase + s]
                    if length == 1:
                        timing = one_group_time if is_0th[i] else (frame_time if is_zframe[i] else group_time)
                        var_r = 2.0 * rn_e * rn_e / (timing * timing * pixel_gain * pixel_gain)
                    elif length == 2:
                        var_r = 2.0 * rn_e * rn_e / (group_time * group_time * pixel_gain * pixel_gain)
                    else:
                        n3 = float(length) ** 3 - length
                        var_r = 12.0 * rn_e * rn_e / (n3 * group_time * group_time * pixel_gain * pixel_gain)
                    if var_r > 0.0:
                        invvar_r += 1.0 / var_r
                ints_vr[i, y, x] = 1.0 / invvar_r if invvar_r > 0.0 else 0.0
                cl_invvar_r += invvar_r
            chargeloss_vr = 1.0 / cl_invvar_r if cl_invvar_r > 0.0 else 0.0
        else:
            chargeloss_vr = -1.0

        if n_dnu_ints == nints:
            pix_dq |= dnu
        if n_sat_ints == nints:
            pix_dq |= sat
        vp = 1.0 / sum_invvar_p if sum_invvar_p > 0.0 else 0.0
        vr = 1.0 / sum_invvar_r if sum_invvar_r > 0.0 else 0.0
        err = math.sqrt(vp + vr)
        if pix_dq & invalid or nfitted == 0:
            slope = np.nan
        else:
            slope = sum_slope_wt / sum_wt
        if chargeloss_vr >= 0.0:
            vr = chargeloss_vr
        if any_partial_sat:
            pix_dq |= sat
        rate[y, x] = slope
        rate_dq[y, x] = pix_dq
        rate_vp[y, x] = vp
        rate_vr[y, x] = vr
        rate_err[y, x] = err
        for i in range(nints):
            ints_dq[i, y, x] = int_dq[i]


@njit(cache=True, nogil=True, parallel=True)
def _fit_kernel(
    row0, data, groupdq, g0, ngroups, pixeldq, gain, readnoise, dark_current, zeroframe, use_zeroframe,
    frame_time, group_time, nframes, pedestal_time, first_group, last_group, clear_first_jump,
    suppress_one_group, weight_by_total, dnu, sat, jump, persistence, no_gain, chargeloss,
    # outputs
    rate, rate_dq, rate_vp, rate_vr, rate_err,
    ints, ints_dq, ints_vp, ints_vr, ints_err,
    save_opt, o_slope, o_sigslope, o_vp, o_vr, o_yint, o_sigyint, o_weights, o_pedestal, o_crmag,
    weight_table, network,
):
    nints, nrows, nx = data.shape[0], data.shape[2], data.shape[3]
    use_network = ngroups - 1 <= ROW_SORT_MAX
    # Rows go to the threads in blocks, each with its own scratch space.
    rows_per_block = 16
    nblocks = (nrows + rows_per_block - 1) // rows_per_block
    for b in prange(nblocks):
        columns = np.empty((max(ngroups - 1, 1) if use_network else 1, nx), dtype=np.float64)
        diffs = np.empty(max(ngroups, 1), dtype=np.float64)
        scratch = np.empty(max(ngroups, 1), dtype=np.float64)
        count = np.empty(nx, dtype=np.int64)
        first_rate = np.empty(nx, dtype=np.float64)
        previous = np.empty(nx, dtype=np.float64)
        median_rates = np.empty((nints, nx), dtype=np.float64)
        for yb in range(b * rows_per_block, min((b + 1) * rows_per_block, nrows)):
            _fit_row(
                row0 + yb, row0, data, groupdq, g0, ngroups, pixeldq, gain, readnoise, dark_current, zeroframe,
                use_zeroframe, frame_time, group_time, nframes, pedestal_time, first_group, last_group,
                clear_first_jump, suppress_one_group, weight_by_total, dnu, sat, jump, persistence, no_gain,
                chargeloss,
                rate, rate_dq, rate_vp, rate_vr, rate_err,
                ints, ints_dq, ints_vp, ints_vr, ints_err,
                save_opt, o_slope, o_sigslope, o_vp, o_vr, o_yint, o_sigyint, o_weights, o_pedestal, o_crmag,
                weight_table, use_network, network, columns, count, first_rate, previous, median_rates,
                diffs, scratch,
            )


@njit(cache=True, nogil=True, parallel=True)
def _apply_nan_contract(sci, dq, var_poisson, var_rnoise, err, dnu):
    """NaN SCI <=> DO_NOT_USE, with NaN ERR and variances (architecture.md).

    A pixel without a finite rate or uncertainty (e.g. a NaN READNOISE) is
    DO_NOT_USE.
    """
    flat_sci = sci.reshape(-1)
    flat_dq = dq.reshape(-1)
    flat_vp = var_poisson.reshape(-1)
    flat_vr = var_rnoise.reshape(-1)
    flat_err = err.reshape(-1)
    for j in prange(flat_sci.size):
        bad = (flat_dq[j] & dnu) != 0 or not math.isfinite(flat_sci[j]) or not math.isfinite(flat_err[j])
        if bad:
            flat_sci[j] = np.nan
            flat_dq[j] |= dnu
            flat_vp[j] = np.nan
            flat_vr[j] = np.nan
            flat_err[j] = np.nan


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def _plane(value, shape, name, dtype):
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(shape, arr, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"fit_ramps: {name} must have shape {shape} (ny, nx), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _group_range(firstgroup, lastgroup, ngroups):
    """Validate firstgroup/lastgroup (0-based) the way the established step does."""
    first = 0 if firstgroup is None else int(firstgroup)
    last = ngroups - 1 if lastgroup is None else int(lastgroup)
    if first < 0:
        warnings.warn("firstgroup < 0, reset to 0", stacklevel=3)
        first = 0
    if last >= ngroups:
        warnings.warn(f"lastgroup >= number of groups ({ngroups}), reset to {ngroups - 1}", stacklevel=3)
        last = ngroups - 1
    if first >= last and ngroups > 1:
        warnings.warn(f"firstgroup ({first}) cannot be >= lastgroup ({last}); group selectors ignored",
                      stacklevel=3)
        first, last = 0, ngroups - 1
    return first, last


def _flagged_everywhere(groupdq, flag):
    """Groups (along axis 1) flagged ``flag`` in every pixel of every integration."""
    return np.array([np.all(groupdq[:, k] & flag) for k in range(groupdq.shape[1])])


def fit_ramps(
    data,
    groupdq,
    pixeldq,
    gain,
    readnoise,
    *,
    frame_time,
    group_time,
    nframes,
    groupgap=0,
    dropframes1=0,
    suppress_one_group=True,
    firstgroup=None,
    lastgroup=None,
    save_opt=False,
    average_dark_current=None,
    zeroframe=None,
    discard_flagged_edge_groups=False,
    weighting="readnoise",
    flags=RampFitFlags(),
) -> RampFitResult:
    """Fit count rates to JWST ramps (optimal-weighting OLS, stcal ``OLS_C``).

    Parameters
    ----------
    data : ndarray (nints, ngroups, ny, nx)
        Ramps in DN after all detector corrections (float32 preferred; other
        dtypes are converted).
    groupdq : ndarray of uint8, same shape
        GROUPDQ: JUMP_DET starts a new segment, SATURATED and DO_NOT_USE
        groups are not used.  Not modified.
    pixeldq : ndarray of uint32 (ny, nx)
        PIXELDQ, OR'ed into the output DQ.
    gain : ndarray (ny, nx)
        GAIN reference in e-/DN (cut to the science subarray).  Pixels with
        gain <= 0 or NaN get NO_GAIN_VALUE | DO_NOT_USE.
    readnoise : ndarray (ny, nx)
        READNOISE reference: CDS read noise in DN.
    frame_time, group_time : float
        TFRAME and TGROUP in seconds.
    nframes : int
        NFRAMES, frames averaged per group.
    groupgap, dropframes1 : int, optional
        GROUPGAP and DRPFRMS1 (used for the pedestal).
    suppress_one_group : bool, optional
        Treat integrations with exactly one usable group as having none
        (the established step's default, True).  When False, a lone usable
        first group gives ``SCI / ((nframes + 1) / 2 * frame_time)`` and
        ``zeroframe`` rescues fully saturated integrations.
    firstgroup, lastgroup : int, optional
        0-based range of groups to fit; the others are treated as DO_NOT_USE.
    save_opt : bool, optional
        Also return the per-segment ``fitopt`` arrays.
    average_dark_current : ndarray (ny, nx), optional
        Dark current in DN/s added to the Poisson variance.
    zeroframe : ndarray (nints, ny, nx), optional
        ZEROFRAME data (only used with ``suppress_one_group=False``).
    discard_flagged_edge_groups : bool, optional
        MIRI: drop leading groups and the last group that are DO_NOT_USE in
        every pixel, as the established pipeline does.
    weighting : {"readnoise", "total"}, optional
        Weights of segment slopes in the integration and exposure slopes:
        ``1 / var_rnoise`` (the established pipeline) or
        ``1 / (var_poisson + var_rnoise)`` (the spec's formula).
    flags : RampFitFlags, optional
        DQ flag values.

    Returns
    -------
    RampFitResult
        ``rate`` and ``rateints`` products (float32 data/variances/err,
        uint32 dq) and optionally ``fitopt``.  Pixels without usable data
        have NaN SCI/ERR/variances and DO_NOT_USE.
    """
    data = np.asarray(data)
    groupdq = np.asarray(groupdq)
    if data.ndim != 4:
        raise ValueError(f"fit_ramps: data must be 4-D (nints, ngroups, ny, nx), got shape {data.shape}")
    if groupdq.shape != data.shape:
        raise ValueError(f"fit_ramps: groupdq shape {groupdq.shape} differs from data shape {data.shape}")
    if weighting not in ("readnoise", "total"):
        raise ValueError(f"fit_ramps: weighting must be 'readnoise' or 'total', got {weighting!r}")
    for name, value in (("frame_time", frame_time), ("group_time", group_time)):
        if not (value is not None and float(value) > 0):
            raise ValueError(f"fit_ramps: {name} must be > 0 seconds, got {value!r}")
    if not (nframes is not None and int(nframes) >= 1):
        raise ValueError(f"fit_ramps: nframes must be >= 1, got {nframes!r}")
    nints, ngroups_in, ny, nx = data.shape
    image_shape = (ny, nx)
    pixeldq = _plane(pixeldq, image_shape, "pixeldq", np.uint32)
    gain = _plane(gain, image_shape, "gain", np.float32)
    readnoise = _plane(readnoise, image_shape, "readnoise", np.float32)
    dark = _plane(0.0 if average_dark_current is None else average_dark_current, image_shape,
                  "average_dark_current", np.float32)
    use_zeroframe = zeroframe is not None
    if use_zeroframe:
        zeroframe = np.asarray(zeroframe, dtype=np.float32)
        if zeroframe.shape != (nints, ny, nx):
            raise ValueError(f"fit_ramps: zeroframe must have shape {(nints, ny, nx)}, got {zeroframe.shape}")
    else:
        zeroframe = np.zeros((1, 1, 1), dtype=np.float32)

    groupdq = np.ascontiguousarray(groupdq, dtype=np.uint8)

    dnu = int(flags.do_not_use)
    first, last = _group_range(firstgroup, lastgroup, ngroups_in)
    # Groups outside [first, last] are DO_NOT_USE; they count as flagged everywhere below.
    g0, g1 = 0, ngroups_in
    clear_first_jump = False
    if discard_flagged_edge_groups and ngroups_in > 1:
        flagged = _flagged_everywhere(groupdq, dnu)
        flagged[:first] = True
        flagged[last + 1:] = True
        while g0 < g1 and flagged[g0]:
            g0 += 1
        clear_first_jump = g0 > 0
        if g0 < g1 and flagged[g1 - 1]:
            g1 -= 1
        if g1 - g0 < 2:
            return _nothing_to_fit(nints, image_shape, pixeldq, slice(g0, g1), dnu, save_opt)
        first = max(first - g0, 0)
        last = min(last - g0, g1 - g0 - 1)
    ngroups = g1 - g0

    if np.all(groupdq[:, g0] & int(flags.saturated)):
        return _nothing_to_fit(nints, image_shape, pixeldq, slice(g0, g1), dnu, save_opt,
                               sat=int(flags.saturated))

    suppress = bool(suppress_one_group) and ngroups > 1
    pedestal_time = float(frame_time) * ((int(nframes) + 1) / 2.0 + int(dropframes1 or 0))

    rate = RateProduct(*(np.empty(image_shape, dtype=t) for t in
                         (np.float32, np.uint32, np.float32, np.float32, np.float32)))
    rateints = RateProduct(*(np.empty((nints, ny, nx), dtype=t) for t in
                             (np.float32, np.uint32, np.float32, np.float32, np.float32)))
    if save_opt:
        seg_count = np.empty((nints, ny, nx), dtype=np.int32)
        cr_count = np.empty((nints, ny, nx), dtype=np.int32)
        _count_segments_kernel(groupdq, g0, ngroups, zeroframe, use_zeroframe, first, last, clear_first_jump,
                               suppress, dnu, int(flags.saturated), int(flags.jump_det),
                               int(flags.persistence), seg_count, cr_count)
        max_segs = max(1, int(seg_count.max()))
        max_crs = int(cr_count.max())
        opt_shape = (nints, max_segs, ny, nx)
        fitopt = FitOptProduct(
            *(np.zeros(opt_shape, dtype=np.float32) for _ in range(6)),
            pedestal=np.zeros((nints, ny, nx), dtype=np.float32),
            weights=np.zeros(opt_shape, dtype=np.float32),
            crmag=np.zeros((nints, max_crs, ny, nx), dtype=np.float32),
        )
        opt_arrays = (fitopt.slope, fitopt.sigslope, fitopt.var_poisson, fitopt.var_rnoise,
                      fitopt.yint, fitopt.sigyint, fitopt.weights, fitopt.pedestal, fitopt.crmag)
    else:
        fitopt = None
        dummy4 = np.zeros((1, 1, 1, 1), dtype=np.float32)
        dummy3 = np.zeros((1, 1, 1), dtype=np.float32)
        opt_arrays = (dummy4,) * 7 + (dummy3, dummy4)

    weight_table = optimal_weight_table(ngroups)
    network = sorting_network(max(ngroups - 1, 1) if ngroups - 1 <= ROW_SORT_MAX else 1)
    for row0, block in iter_row_blocks(data, 2):
        _fit_kernel(
            row0, block, groupdq, g0, ngroups, pixeldq, gain, readnoise, dark, zeroframe, use_zeroframe,
            float(frame_time), float(group_time), int(nframes), pedestal_time, first, last,
            clear_first_jump, suppress, weighting == "total",
            dnu, int(flags.saturated), int(flags.jump_det), int(flags.persistence),
            int(flags.no_gain_value), int(flags.chargeloss),
            rate.data, rate.dq, rate.var_poisson, rate.var_rnoise, rate.err,
            rateints.data, rateints.dq, rateints.var_poisson, rateints.var_rnoise, rateints.err,
            bool(save_opt), *opt_arrays, weight_table, network,
        )
    for product in (rate, rateints):
        _apply_nan_contract(product.data, product.dq, product.var_poisson, product.var_rnoise,
                            product.err, dnu)
    return RampFitResult(rate=rate, rateints=rateints, fitopt=fitopt, groups_used=slice(g0, g1))


def _nothing_to_fit(nints, image_shape, pixeldq, groups, dnu, save_opt, sat=0):
    """Products for an exposure with nothing to fit: NaN everywhere, DO_NOT_USE."""
    ny, nx = image_shape

    def product(shape, dq):
        nan = np.full(shape, np.nan, dtype=np.float32)
        return RateProduct(nan, dq, nan.copy(), nan.copy(), nan.copy())

    dq = pixeldq | np.uint32(dnu | sat)
    rate = product(image_shape, dq.copy())
    rateints = product((nints, ny, nx), np.broadcast_to(dq, (nints, ny, nx)).copy())
    fitopt = None
    if save_opt:
        zeros = np.zeros((nints, 1, ny, nx), dtype=np.float32)
        fitopt = FitOptProduct(*(zeros.copy() for _ in range(6)),
                               pedestal=np.zeros((nints, ny, nx), dtype=np.float32),
                               weights=zeros.copy(),
                               crmag=np.zeros((nints, 0, ny, nx), dtype=np.float32))
    return RampFitResult(rate=rate, rateints=rateints, fitopt=fitopt, groups_used=groups,
                         nothing_to_fit=True)
