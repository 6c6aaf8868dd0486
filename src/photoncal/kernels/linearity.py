"""linearity: the "classic" per-pixel polynomial correction.

``F_c = c0 + c1 F + c2 F^2 + ...`` with every coefficient plane of the
LINEARITY reference (seed 002, linearity), evaluated group by group, except:

* groups flagged SATURATED keep their value;
* pixels with any NaN coefficient, a zero linear coefficient, or NO_LIN_CORR
  in the reference DQ get the identity polynomial; NaN and zero-linear pixels
  also get NO_LIN_CORR in PIXELDQ;
* the reference DQ is OR-ed into PIXELDQ.

For frame-averaged groups (NFRAMES > 1) with inverse coefficients available,
the established pipeline corrects each frame rather than the group mean: it
rebuilds the frames of every group from a linear count rate between the first
and the last unsaturated group, un-linearizes them with the inverse
polynomial, shifts them to the measured group mean, linearizes each frame and
averages.  :func:`correct_linearity` does that when ``inverse_coeffs`` and
``read_pattern`` are given.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from photoncal.dqflags import pixel as _flags
from photoncal.kernels._arrays import native, require_inplace

__all__ = ["prepare_coefficients", "correct_linearity"]

SATURATED = _flags["SATURATED"]
NO_LIN_CORR = _flags["NO_LIN_CORR"]


@njit(cache=True, nogil=True, parallel=True)
def _usable_pixels(coeffs, lin_dq, no_lin_corr, usable, extra_dq):
    """usable = coefficients may be applied; extra_dq = NO_LIN_CORR for NaN or zero-linear sets."""
    ncoeffs, ny, nx = coeffs.shape
    flag = np.uint32(no_lin_corr)
    for y in prange(ny):
        bad = np.zeros(nx, dtype=np.bool_)
        for j in range(ncoeffs):
            crow = coeffs[j, y]
            for x in range(nx):
                bad[x] |= crow[x] != crow[x]
        lin = coeffs[1, y]
        qrow = lin_dq[y]
        for x in range(nx):
            b = bad[x] or lin[x] == 0
            usable[y, x] = not (b or (np.uint32(qrow[x]) & flag) != 0)
            extra_dq[y, x] = flag if b else np.uint32(0)


def prepare_coefficients(
    coeffs: np.ndarray,
    lin_dq: np.ndarray,
    *,
    no_lin_corr: int = NO_LIN_CORR,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the pixels whose coefficients can be applied.

    A pixel is left uncorrected (the identity polynomial) when any coefficient
    is NaN, the linear coefficient is zero, or the reference DQ has
    NO_LIN_CORR; the first two also earn NO_LIN_CORR in PIXELDQ.

    Parameters
    ----------
    coeffs : ndarray, shape (ncoeffs, ny, nx)
        Polynomial coefficients (not modified).
    lin_dq : ndarray of int, shape (ny, nx)
        LINEARITY reference DQ in master-table bits.
    no_lin_corr : int
        Value of NO_LIN_CORR.

    Returns
    -------
    usable : ndarray of bool, shape (ny, nx)
    extra_dq : ndarray of uint32, shape (ny, nx)
        NO_LIN_CORR where a coefficient was NaN or the linear term zero.
    """
    coeffs = np.asarray(coeffs)
    if coeffs.ndim != 3 or coeffs.shape[0] < 2:
        raise ValueError(
            f"LINEARITY COEFFS must have shape (ncoeffs>=2, ny, nx), got {coeffs.shape}"
        )
    usable = np.empty(coeffs.shape[1:], dtype=np.bool_)
    extra_dq = np.empty(coeffs.shape[1:], dtype=np.uint32)
    _usable_pixels(native(coeffs), native(lin_dq), int(no_lin_corr), usable, extra_dq)
    return usable, extra_dq


@njit(cache=True, nogil=True, inline="always")
def _horner(coeffs, y, x, value):
    n = coeffs.shape[0]
    acc = coeffs[n - 1, y, x] * value
    for j in range(n - 2, 0, -1):
        acc = (acc + coeffs[j, y, x]) * value
    return acc + coeffs[0, y, x]


@njit(cache=True, nogil=True, parallel=True)
def _classic(data, gdq, coeffs, usable, sat):
    # Horner's rule along whole rows keeps the inner loops simple enough to vectorize.
    nints, ngroups, ny, nx = data.shape
    ncoeffs = coeffs.shape[0]
    for y in prange(ny):
        ok = usable[y]
        acc = np.empty(nx, dtype=data.dtype)
        for i in range(nints):
            for g in range(ngroups):
                drow = data[i, g, y]
                qrow = gdq[i, g, y]
                top = coeffs[ncoeffs - 1, y]
                for x in range(nx):
                    acc[x] = top[x] * drow[x]
                for j in range(ncoeffs - 2, 0, -1):
                    cj = coeffs[j, y]
                    for x in range(nx):
                        acc[x] = (acc[x] + cj[x]) * drow[x]
                c0 = coeffs[0, y]
                for x in range(nx):
                    keep = (not ok[x]) or (qrow[x] & sat) != 0
                    drow[x] = drow[x] if keep else acc[x] + c0[x]


@njit(cache=True, nogil=True)
def _classic_planes(planes, coeffs, usable):
    nplanes, ny, nx = planes.shape
    for y in range(ny):
        for k in range(nplanes):
            for x in range(nx):
                if usable[y, x]:
                    planes[k, y, x] = _horner(coeffs, y, x, planes[k, y, x])


# Pixels per work item of the frame-level kernel: the per-pixel vectors of a tile (the reads of a
# group, the rates, the sums) stay in the L1 cache while every polynomial runs along the tile.
_TILE = 256


@njit(cache=True, nogil=True, inline="always")
def _horner_tile(coeffs, y, x0, values, out, n):
    """out[x] = sum_j coeffs[j, y, x0 + x] values[x]**j for x < n (the operations of :func:`_horner`)."""
    m = coeffs.shape[0]
    # Sliced rows are indexed from zero: a non-negative index keeps the loops vectorized.
    top = coeffs[m - 1, y, x0:x0 + n]
    for x in range(n):
        out[x] = top[x] * values[x]
    for j in range(m - 2, 0, -1):
        cj = coeffs[j, y, x0:x0 + n]
        for x in range(n):
            out[x] = (out[x] + cj[x]) * values[x]
    c0 = coeffs[0, y, x0:x0 + n]
    for x in range(n):
        out[x] = out[x] + c0[x]


@njit(cache=True, nogil=True, parallel=True)
def _frame_level(data, gdq, coeffs, inv, usable, frames, nframes_per_group, mean_frame, sat):
    # Float64 throughout, as the established frame-level correction computes.  Each tile of
    # a row is processed as vectors (every polynomial evaluated along the tile) so the
    # Horner chains of neighbouring pixels run side by side; per pixel the arithmetic is
    # the same sequence of operations as pixel by pixel.
    nints, ngroups, ny, nx = data.shape
    maxf = frames.shape[1]
    ntiles = (nx + _TILE - 1) // _TILE
    for job in prange(ny * ntiles):
        y = job // ntiles
        x0 = (job % ntiles) * _TILE
        n = min(_TILE, nx - x0)
        reads = np.empty((maxf, _TILE), dtype=np.float64)
        first_lin = np.empty(_TILE, dtype=np.float64)
        rate = np.empty(_TILE, dtype=np.float64)
        lin = np.empty(_TILE, dtype=np.float64)
        work = np.empty(_TILE, dtype=np.float64)
        predicted = np.empty(_TILE, dtype=np.float64)
        total = np.empty(_TILE, dtype=np.float64)
        last_index = np.empty(_TILE, dtype=np.int64)
        ok = usable[y, x0:x0 + n]
        for i in range(nints):
            dq = gdq[i, :, y, x0:x0 + n]
            for x in range(n):
                n_unsat = 0
                for g in range(ngroups):
                    if (dq[g, x] & sat) == 0:
                        n_unsat += 1
                # The last unsaturated group may hold frames that saturated.
                n_unsat -= 1
                if n_unsat < 2:
                    n_unsat = 2
                last_index[x] = min(n_unsat - 1, ngroups - 1)
                lin[x] = np.float64(data[i, 0, y, x0 + x])
                work[x] = np.float64(data[i, last_index[x], y, x0 + x])
            _horner_tile(coeffs, y, x0, lin, first_lin, n)
            _horner_tile(coeffs, y, x0, work, predicted, n)
            for x in range(n):
                if dq[0, x] & sat:
                    first_lin[x] = lin[x]
                last = last_index[x]
                last_lin = work[x] if (dq[last, x] & sat) else predicted[x]
                d_reads = mean_frame[last] - mean_frame[0]
                rate[x] = 0.0
                if d_reads != 0.0:
                    rate[x] = (last_lin - first_lin[x]) / d_reads
            for g in range(ngroups):
                nf = nframes_per_group[g]
                row = data[i, g, y, x0:x0 + n]
                for x in range(n):
                    predicted[x] = 0.0
                for k in range(nf):
                    dt = frames[g, k] - mean_frame[0]
                    for x in range(n):
                        lin[x] = first_lin[x] + rate[x] * dt
                    rk = reads[k]
                    _horner_tile(inv, y, x0, lin, rk, n)
                    for x in range(n):
                        predicted[x] += rk[x]
                for x in range(n):
                    work[x] = np.float64(row[x]) - predicted[x] / nf
                    total[x] = 0.0
                for k in range(nf):
                    rk = reads[k]
                    for x in range(n):
                        lin[x] = rk[x] + work[x]
                    _horner_tile(coeffs, y, x0, lin, predicted, n)
                    for x in range(n):
                        total[x] += predicted[x]
                for x in range(n):
                    if ok[x] and (dq[g, x] & sat) == 0:
                        row[x] = total[x] / nf


def correct_linearity(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    coeffs: np.ndarray,
    lin_dq: np.ndarray,
    *,
    inverse_coeffs: np.ndarray | None = None,
    read_pattern: list[list[int]] | None = None,
    zeroframe: np.ndarray | None = None,
    saturated: int = SATURATED,
    no_lin_corr: int = NO_LIN_CORR,
) -> None:
    """Apply the linearity correction to ``data`` and update ``pixeldq``, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
    groupdq : ndarray of uint8, same shape
        SATURATED groups are left as they are.
    pixeldq : ndarray of uint32, shape (ny, nx)
        Receives the reference DQ and NO_LIN_CORR.
    coeffs : ndarray, shape (ncoeffs, ny, nx)
        LINEARITY COEFFS cut to the science subarray (not modified).
    lin_dq : ndarray of int, shape (ny, nx)
        LINEARITY DQ in master-table bits.
    inverse_coeffs : ndarray, shape (ncoeffs_inv, ny, nx), optional
        LINEARITY INV_COEFFS; with ``read_pattern`` selects the frame-level
        correction for frame-averaged groups (the step passes them only when
        NFRAMES > 1 and the exposure has no per-read times).
    read_pattern : list of lists of int, optional
        1-based frames of each group (as
        :func:`photoncal.kernels.saturation.frame_read_pattern`).
    zeroframe : ndarray of float32, shape (nints, ny, nx), optional
        Corrected too; zero values (unusable data) stay zero.
    saturated, no_lin_corr : int
        Flag values.
    """
    for name, arr in (("SCI", data), ("GROUPDQ", groupdq), ("PIXELDQ", pixeldq)):
        require_inplace(arr, name)
    if data.ndim != 4:
        raise ValueError(f"linearity expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    if groupdq.shape != data.shape:
        raise ValueError(f"GROUPDQ shape {groupdq.shape} does not match SCI shape {data.shape}")
    shape2 = data.shape[-2:]
    if np.shape(coeffs)[1:] != shape2:
        raise ValueError(f"LINEARITY COEFFS has shape {np.shape(coeffs)}, expected (ncoeffs, {shape2[0]}, {shape2[1]})")
    if np.shape(lin_dq) != shape2:
        raise ValueError(f"LINEARITY DQ has shape {np.shape(lin_dq)}, expected {shape2}")
    if inverse_coeffs is not None and read_pattern is None:
        raise ValueError("inverse_coeffs were given without a read_pattern")

    lin = np.asarray(coeffs)
    if lin.dtype not in (np.float32, np.float64):
        lin = lin.astype(np.float32)
    usable, extra_dq = prepare_coefficients(lin, lin_dq, no_lin_corr=no_lin_corr)
    np.bitwise_or(pixeldq, np.asarray(lin_dq).astype(pixeldq.dtype, copy=False), out=pixeldq)
    sat = np.uint8(saturated)

    if inverse_coeffs is None:
        _classic(data, groupdq, lin, usable, sat)
    else:
        inv = np.asarray(inverse_coeffs)
        if inv.shape[1:] != shape2:
            raise ValueError(
                f"LINEARITY INV_COEFFS has shape {inv.shape}, expected (ncoeffs, {shape2[0]}, {shape2[1]})"
            )
        if inv.dtype not in (np.float32, np.float64):
            inv = inv.astype(np.float32)
        ngroups = data.shape[1]
        if len(read_pattern) < ngroups:
            raise ValueError(f"read_pattern has {len(read_pattern)} groups, the ramp has {ngroups}")
        inv_usable, inv_dq = prepare_coefficients(inv, lin_dq, no_lin_corr=no_lin_corr)
        extra_dq |= inv_dq
        usable &= inv_usable
        maxf = max(len(r) for r in read_pattern[:ngroups])
        frames = np.zeros((ngroups, maxf), dtype=np.float64)
        nper = np.zeros(ngroups, dtype=np.int64)
        for g in range(ngroups):
            frames[g, : len(read_pattern[g])] = read_pattern[g]
            nper[g] = len(read_pattern[g])
        mean_frame = np.array([np.mean(r) for r in read_pattern[:ngroups]], dtype=np.float64)
        _frame_level(data, groupdq, lin, inv, usable, frames, nper, mean_frame, sat)
    np.bitwise_or(pixeldq, extra_dq.astype(pixeldq.dtype, copy=False), out=pixeldq)

    if zeroframe is not None:
        was_zero = zeroframe == 0.0
        _classic_planes(zeroframe, lin, usable)
        zeroframe[was_zero] = 0.0
