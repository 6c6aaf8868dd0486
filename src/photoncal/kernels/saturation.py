"""saturation: flag groups at or above the per-pixel saturation threshold.

The algorithm (seed 002, saturation; behaviour of the established pipeline
where the seed is silent):

* A group whose value is at or above the pixel's threshold is SATURATED, and
  so is every later group of that integration.
* Thresholds that are NaN, or pixels whose reference DQ has NO_SAT_CHECK, get
  a threshold above the 16-bit A-to-D limit (``atod_limit + 1``), so they are
  never flagged; NaN thresholds add NO_SAT_CHECK to the reference DQ, which is
  OR-ed into PIXELDQ.
* The SATURATED flag of every group grows to the ``(2n+1) x (2n+1)`` box of
  neighbours (``n_pix_grow_sat``, default 1) for charge spilling.
* A group at or below 0 DN gets AD_FLOOR | DO_NOT_USE (that group only).
* With a read pattern of frame-averaged groups, a group whose value is at or
  above ``threshold * mean(frames)/last frame`` while the next group is
  SATURATED had frames that saturated inside it: it gets DO_NOT_USE (grown to
  its neighbours).  And a second group that jumps by more than
  ``(threshold - group1)/nframes`` while the third is saturated, for a pixel
  whose first-group rate would not reach the threshold by group 3, gets
  DO_NOT_USE (the superbias, when given, is the zero point of that
  extrapolation).
* A ZEROFRAME value that saturates (grown) or is at or below 0 is set to 0.

The flag values are arguments, so the kernel is mission-neutral.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal.dqflags import pixel as _flags
from photoncal.kernels._arrays import native, require_inplace
from photoncal.kernels._neighbourhood import box_dilate

__all__ = ["ATOD_LIMIT", "SaturationResult", "frame_read_pattern", "flag_saturation"]

#: Hard DN limit of the 16-bit A-to-D converter.
ATOD_LIMIT = 65535.0

DO_NOT_USE = _flags["DO_NOT_USE"]
SATURATED = _flags["SATURATED"]
AD_FLOOR = _flags["AD_FLOOR"]
NO_SAT_CHECK = _flags["NO_SAT_CHECK"]


@dataclass
class SaturationResult:
    """What the saturation step reports.

    Attributes
    ----------
    n_saturated : int
        Pixels with SATURATED in at least one group of one integration.
    n_ad_floor : int
        Pixels with AD_FLOOR in at least one group of one integration.
    all_saturated : bool
        True when every group of every integration of every pixel is SATURATED
        (nothing is left to fit).
    """

    n_saturated: int
    n_ad_floor: int
    all_saturated: bool


def frame_read_pattern(nframes: int, ngroups: int) -> list[list[int]]:
    """The read pattern the established saturation step builds for ``use_readpatt``.

    Group ``g`` holds frames ``g*nframes+1 .. g*nframes+nframes`` (1-based).
    Dropped frames (GROUPGAP) are not counted, exactly as in the established
    pipeline; only the ratio mean/last and the first group's frame numbers
    enter the checks.
    """
    if nframes < 1 or ngroups < 1:
        raise ValueError(f"nframes and ngroups must be >= 1, got {nframes} and {ngroups}")
    return [[x + 1 + g * nframes for x in range(nframes)] for g in range(ngroups)]


# ---------------------------------------------------------------- numba parts


@njit(cache=True, nogil=True, parallel=True)
def _forward_pass(data_int, gdq_int, thresh, first_sat, row_min, sat, floor_flags):
    """Flag SATURATED from the first group at/above threshold on, AD floor per group.

    Stores the first saturated group (``ngroups`` if none) in ``first_sat``
    and its minimum over each row in ``row_min``.  Returns the number of rows
    on which the input GROUPDQ already carried a SATURATED bit before the
    pixel's first saturated group.
    """
    ngroups, ny, nx = data_int.shape
    irregular_rows = np.zeros(ny, dtype=np.int64)
    for y in prange(ny):
        fs = first_sat[y]
        for x in range(nx):
            fs[x] = ngroups
        for g in range(ngroups):
            drow = data_int[g, y]
            qrow = gdq_int[g, y]
            trow = thresh[y]
            for x in range(nx):
                v = drow[x]
                if fs[x] == ngroups and v >= trow[x]:
                    fs[x] = g
                f = qrow[x]
                if g >= fs[x]:
                    f |= sat
                elif f & sat:
                    irregular_rows[y] = 1
                if v <= 0.0:
                    f |= floor_flags
                qrow[x] = f
        m = ngroups
        for x in range(nx):
            if fs[x] < m:
                m = fs[x]
        row_min[y] = m
    return irregular_rows.sum()


@njit(cache=True, nogil=True, parallel=True)
def _grow_first_saturated(gdq_int, first_sat, row_min, half_width, sat):
    """Give every pixel SATURATED from the earliest first-saturated group in its box.

    SATURATED at group g is exactly ``first_sat <= g`` here, so growing each
    group's flags by the box equals a box minimum of ``first_sat``.  Rows with
    no saturated pixel within the box are skipped.
    """
    ngroups, ny, nx = gdq_int.shape
    for y in prange(ny):
        lo_y = max(0, y - half_width)
        hi_y = min(ny, y + half_width + 1)
        near = ngroups
        for yy in range(lo_y, hi_y):
            if row_min[yy] < near:
                near = row_min[yy]
        if near >= ngroups:
            continue
        for x in range(nx):
            own = first_sat[y, x]
            if own <= near:
                continue
            lo_x = max(0, x - half_width)
            hi_x = min(nx, x + half_width + 1)
            m = own
            for yy in range(lo_y, hi_y):
                if row_min[yy] >= m:
                    continue
                for xx in range(lo_x, hi_x):
                    if first_sat[yy, xx] < m:
                        m = first_sat[yy, xx]
            for g in range(m, own):
                gdq_int[g, y, x] |= sat


@njit(cache=True, nogil=True)
def _sat_plane(gdq_plane, sat):
    ny, nx = gdq_plane.shape
    out = np.zeros((ny, nx), dtype=np.uint8)
    for y in range(ny):
        for x in range(nx):
            if gdq_plane[y, x] & sat:
                out[y, x] = 1
    return out


@njit(cache=True, nogil=True)
def _or_where(plane, mask, flag):
    ny, nx = plane.shape
    for y in range(ny):
        for x in range(nx):
            if mask[y, x]:
                plane[y, x] |= flag


@njit(cache=True, nogil=True, inline="always")
def _is_partially_saturated(plane, thisdq, nextdq, thresh, dilution, no_check, sat, satdnu, y, x):
    """Saturated inside a frame-averaged group: the next group is SATURATED,
    this one is not (nor DO_NOT_USE), and its average reaches the diluted
    threshold.  The cheap flag tests come first: most pixels fail them."""
    if (nextdq[y, x] & sat) == 0 or (thisdq[y, x] & satdnu) != 0:
        return False
    d = 1.0 if no_check[y, x] else dilution
    return plane[y, x] >= thresh[y, x] * d


@njit(cache=True, nogil=True, parallel=True)
def _count_partial_saturation(plane, thisdq, nextdq, thresh, dilution, no_check, sat, dnu):
    """Number of pixels :func:`_partial_saturation` would mark (no array allocated)."""
    ny, nx = plane.shape
    satdnu = sat | dnu
    per_row = np.zeros(ny, dtype=np.int64)
    for y in prange(ny):
        n = 0
        for x in range(nx):
            n += _is_partially_saturated(plane, thisdq, nextdq, thresh, dilution, no_check, sat, satdnu, y, x)
        per_row[y] = n
    return per_row.sum()


@njit(cache=True, nogil=True, parallel=True)
def _partial_saturation(plane, thisdq, nextdq, thresh, dilution, no_check, sat, dnu):
    """Candidates that saturated inside a frame-averaged group (before growth)."""
    ny, nx = plane.shape
    out = np.zeros((ny, nx), dtype=np.uint8)
    satdnu = sat | dnu
    for y in prange(ny):
        for x in range(nx):
            if _is_partially_saturated(plane, thisdq, nextdq, thresh, dilution, no_check, sat, satdnu, y, x):
                out[y, x] = 1
    return out


@njit(cache=True, nogil=True, parallel=True)
def _second_group_check(d0, d1, dq2, dq3, thresh, bias, has_bias, mean_first, last_third, n_second, sat, dnu):
    ny, nx = d0.shape
    for y in prange(ny):
        for x in range(nx):
            if (dq3[y, x] & sat) == 0 or (dq2[y, x] & sat) != 0:
                continue
            b = np.float64(bias[y, x]) if has_bias else 0.0
            th = np.float64(thresh[y, x])
            g0 = np.float64(d0[y, x])
            expect_ok = ((g0 - b) / mean_first) * last_third + b < th
            jump = np.float64(d1[y, x]) - g0 > (th - g0) / n_second
            if expect_ok and jump:
                dq2[y, x] |= dnu


@njit(cache=True, nogil=True, parallel=True)
def _count_flags(gdq, sat, floor):
    """Pixels with SATURATED anywhere, with AD_FLOOR anywhere, and SATURATED everywhere."""
    nints, ngroups, ny, nx = gdq.shape
    n_sat = np.zeros(ny, dtype=np.int64)
    n_floor = np.zeros(ny, dtype=np.int64)
    n_full = np.zeros(ny, dtype=np.int64)
    for y in prange(ny):
        any_flags = np.zeros(nx, dtype=np.uint8)
        all_sat = np.full(nx, sat, dtype=np.uint8)
        for i in range(nints):
            for g in range(ngroups):
                row = gdq[i, g, y]
                for x in range(nx):
                    any_flags[x] |= row[x]
                    all_sat[x] &= row[x]
        for x in range(nx):
            if any_flags[x] & sat:
                n_sat[y] += 1
            if any_flags[x] & floor:
                n_floor[y] += 1
            if all_sat[x] & sat:
                n_full[y] += 1
    return n_sat.sum(), n_floor.sum(), n_full.sum()


@njit(cache=True, nogil=True)
def _effective_thresholds_kernel(sat_thresh, sat_dq, atod_limit, no_sat_check, thresh, ref_dq, no_check):
    ny, nx = sat_thresh.shape
    nsc = np.uint32(no_sat_check)
    for y in range(ny):
        for x in range(nx):
            t = sat_thresh[y, x]
            q = np.uint32(sat_dq[y, x])
            isnan = t != t
            if isnan:
                q |= nsc
            unchecked = isnan or (q & nsc) == nsc
            no_check[y, x] = unchecked
            thresh[y, x] = atod_limit + 1.0 if unchecked else t
            ref_dq[y, x] = q


# ---------------------------------------------------------------- public API


def _effective_thresholds(sat_thresh, sat_dq, atod_limit, no_sat_check):
    sat_thresh = native(sat_thresh)
    # float32 thresholds compare exactly like the reference file's values;
    # anything else is compared in float64.
    dtype = np.float32 if sat_thresh.dtype == np.float32 else np.float64
    thresh = np.empty(sat_thresh.shape, dtype=dtype)
    ref_dq = np.empty(sat_thresh.shape, dtype=np.uint32)
    no_check = np.empty(sat_thresh.shape, dtype=np.bool_)
    _effective_thresholds_kernel(sat_thresh.astype(dtype, copy=False), native(sat_dq), float(atod_limit),
                                 int(no_sat_check), thresh, ref_dq, no_check)
    return thresh, ref_dq, no_check


def flag_saturation(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    sat_thresh: np.ndarray,
    sat_dq: np.ndarray,
    *,
    n_pix_grow_sat: int = 1,
    read_pattern: list[list[int]] | None = None,
    bias: np.ndarray | None = None,
    zeroframe: np.ndarray | None = None,
    atod_limit: float = ATOD_LIMIT,
    do_not_use: int = DO_NOT_USE,
    saturated: int = SATURATED,
    ad_floor: int = AD_FLOOR,
    no_sat_check: int = NO_SAT_CHECK,
) -> SaturationResult:
    """Flag saturated and A/D-floor groups; update GROUPDQ, PIXELDQ and ZEROFRAME in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
        The raw ramp in DN (not modified).
    groupdq : ndarray of uint8, same shape as ``data``
        Receives SATURATED, AD_FLOOR and DO_NOT_USE.
    pixeldq : ndarray of uint32, shape (ny, nx)
        Receives the reference DQ (plus NO_SAT_CHECK where the threshold is NaN).
    sat_thresh : ndarray, shape (ny, nx)
        SATURATION reference SCI in DN, cut to the science subarray (not modified).
    sat_dq : ndarray of int, shape (ny, nx)
        SATURATION reference DQ in master-table bits (not modified).
    n_pix_grow_sat : int
        Neighbour rings that also get SATURATED (step parameter, default 1).
    read_pattern : list of lists of int, optional
        The 1-based frames of each group (``use_readpatt=True``; see
        :func:`frame_read_pattern`).  ``None`` disables the frame-averaging
        checks.
    bias : ndarray, shape (ny, nx), optional
        SUPERBIAS reference SCI, the zero point of the second-group check.
    zeroframe : ndarray of float32, shape (nints, ny, nx), optional
        ZEROFRAME; saturated and A/D-floor values are set to 0 in place.
    atod_limit : float
        A-to-D limit; unchecked pixels get ``atod_limit + 1``.
    do_not_use, saturated, ad_floor, no_sat_check : int
        Flag values.

    Returns
    -------
    SaturationResult
    """
    data = native(data)
    require_inplace(groupdq, "GROUPDQ")
    require_inplace(pixeldq, "PIXELDQ")
    if zeroframe is not None:
        require_inplace(zeroframe, "ZEROFRAME")
    if data.ndim != 4:
        raise ValueError(f"saturation expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    if groupdq.shape != data.shape:
        raise ValueError(f"GROUPDQ shape {groupdq.shape} does not match SCI shape {data.shape}")
    nints, ngroups, ny, nx = data.shape
    for name, arr in (("saturation threshold", sat_thresh), ("saturation DQ", sat_dq), ("PIXELDQ", pixeldq)):
        if np.shape(arr) != (ny, nx):
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected ({ny}, {nx})")
    if n_pix_grow_sat < 0:
        raise ValueError(f"n_pix_grow_sat must be >= 0, got {n_pix_grow_sat}")
    if read_pattern is not None and len(read_pattern) < ngroups:
        raise ValueError(f"read_pattern has {len(read_pattern)} groups, the ramp has {ngroups}")

    thresh, ref_dq, no_check = _effective_thresholds(sat_thresh, sat_dq, atod_limit, no_sat_check)
    sat = np.uint8(saturated)
    dnu = np.uint8(do_not_use)
    floor_flags = np.uint8(ad_floor | do_not_use)
    if bias is None:
        bias_arr = None
    else:
        if np.shape(bias) != (ny, nx):
            raise ValueError(f"superbias has shape {np.shape(bias)}, expected ({ny}, {nx})")
        bias_arr = np.asarray(bias)
        if bias_arr.dtype not in (np.float32, np.float64):
            bias_arr = bias_arr.astype(np.float64)

    first_sat = np.empty((ny, nx), dtype=np.int32)
    row_min = np.empty(ny, dtype=np.int32)
    for i in range(nints):
        data_int = data[i]
        gdq_int = groupdq[i]
        irregular = _forward_pass(data_int, gdq_int, thresh, first_sat, row_min, sat, floor_flags)
        if n_pix_grow_sat > 0:
            if irregular == 0:
                _grow_first_saturated(gdq_int, first_sat, row_min, n_pix_grow_sat, sat)
            else:
                for g in range(ngroups):
                    grown_plane = box_dilate(_sat_plane(gdq_int[g], sat), n_pix_grow_sat)
                    _or_where(gdq_int[g], grown_plane, sat)

        if read_pattern is not None:
            for g in range(ngroups - 2, -1, -1):
                frames = read_pattern[g]
                dilution = float(np.mean(frames)) / float(frames[-1])
                if dilution == 1.0:
                    continue
                args = (data_int[g], gdq_int[g], gdq_int[g + 1], thresh, dilution, no_check, sat, dnu)
                if _count_partial_saturation(*args) == 0:
                    continue  # the usual case: no group saturated within its frames
                cand = _partial_saturation(*args)
                if n_pix_grow_sat > 0:
                    cand = box_dilate(cand, n_pix_grow_sat)
                _or_where(gdq_int[g], cand, dnu)
            if ngroups > 2:
                _second_group_check(
                    data_int[0], data_int[1], gdq_int[1], gdq_int[2], thresh,
                    bias_arr if bias_arr is not None else np.zeros((1, 1), np.float32), bias_arr is not None,
                    float(np.mean(read_pattern[0])), float(read_pattern[2][-1]),
                    float(len(read_pattern[1])), sat, dnu,
                )

        if zeroframe is not None:
            plane = zeroframe[i]
            with np.errstate(invalid="ignore"):
                zsat = (plane >= thresh).astype(np.uint8)
                zlow = plane <= 0
            if n_pix_grow_sat > 0:
                zsat = box_dilate(zsat, n_pix_grow_sat)
            plane[(zsat != 0) | zlow] = 0.0

    np.bitwise_or(pixeldq, ref_dq.astype(pixeldq.dtype, copy=False), out=pixeldq)
    n_sat, n_floor, n_full = _count_flags(groupdq, sat, np.uint8(ad_floor))
    return SaturationResult(int(n_sat), int(n_floor), bool(n_full == ny * nx))
