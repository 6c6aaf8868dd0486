"""refpix: remove bias drifts with the reference pixels (seed 002, refpix).

Near-IR detectors (2048 x 2048, a 4-pixel reference border) are corrected in
the detector frame, which the science (DMS) frame reaches by the flips and
transpose that FASTAXIS/SLOWAXIS describe.  For every group of every
integration:

1. For each of the four amplifiers (512 detector columns each) the 3-sigma
   clipped mean of the bottom (rows 0-3) and of the top (rows 2044-2047)
   reference pixels is taken - separately for even and odd detector columns
   when ``odd_even_columns`` - ignoring DO_NOT_USE pixels.  The mean of top
   and bottom (or the one available) is subtracted from every pixel of that
   amplifier (and column parity).  An amplifier without usable reference
   pixels (for either parity) is not corrected.
2. With ``use_side_ref_pixels``, the left (columns 0-3) and right (2044-2047)
   reference columns, already corrected by step 1, give a running median
   over ``side_smoothing_length`` rows centred on the row (for an even length
   the window reaches one row further up than down, as in the established
   pipeline; the columns are mirrored at both ends; DO_NOT_USE pixels
   ignored); left and right are averaged (either
   one if the other has no usable pixel, 0 if neither), and ``side_gain``
   times this row signal is subtracted from every pixel of the row.

Subarrays are placed in the full detector frame: the reference pixels that
the subarray does not contain count as DO_NOT_USE.  With four outputs the
full-frame algorithm runs as above.  With one output a single clipped mean of
all pixels flagged REFERENCE_PIXEL (and not DO_NOT_USE) - or one for even and
one for odd detector columns - is subtracted from every pixel; a subarray
without such pixels is not corrected (:data:`BAD_REFERENCE_PIXELS`).  For the
NIRSpec subarrays that reach no detector edge (SUB512, SUB512S, SUB32) the
first and last four science columns are taken as reference pixels.

MIRI full-frame data (1024 rows x 1032 columns; reference columns 0-3 and
1028-1031, amplifier ``a`` reads columns ``a, a+4, ...``): within each
integration the first group is subtracted; for every later group the clipped
means of the left and right reference column of each amplifier - separately
for even and odd rows when ``odd_even_rows`` - are averaged and subtracted
from that amplifier's pixels (and row parity); the first group is added back.
If an amplifier has no usable reference pixels, no further group is
corrected.  MIRI subarrays are not corrected (:data:`SUBARRAY_SKIPPED`).

The established pipeline's default side-pixel algorithm (``refpix_algorithm
= "median"``) is the running median above; its alternative "sirs"
(convolution kernels from a SIRSKERNEL reference) and NIRSpec IRS2 readouts
are not implemented.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from photoncal.dqflags import pixel as _flags
from photoncal.kernels._arrays import require_inplace

__all__ = [
    "REFPIX_OK",
    "BAD_REFERENCE_PIXELS",
    "SUBARRAY_DOESNTFIT",
    "SUBARRAY_SKIPPED",
    "to_detector_frame",
    "to_science_frame",
    "refpix_nir",
    "refpix_miri",
]

#: Status codes returned by the kernels (the step maps OK to COMPLETE and
#: the others to SKIPPED).
REFPIX_OK = 0
BAD_REFERENCE_PIXELS = 1
SUBARRAY_DOESNTFIT = 2
SUBARRAY_SKIPPED = 3

DO_NOT_USE = _flags["DO_NOT_USE"]
REFERENCE_PIXEL = _flags["REFERENCE_PIXEL"]

NIR_SIZE = 2048
NIR_BORDER = 4
NIR_AMP_WIDTH = 512
MIRI_ROWS = 1024
MIRI_COLUMNS = 1032
MIRI_RIGHT_REFERENCE = 1028


def _sign(v):
    return 1 if v > 0 else -1


def to_detector_frame(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """View of ``array`` (last two axes in the DMS frame) in the detector frame.

    FASTAXIS/SLOWAXIS give the detector readout direction in the DMS frame
    (+-1 is x, +-2 is y; negative means reversed).
    """
    sf, ss = _sign(fastaxis), _sign(slowaxis)
    if abs(fastaxis) == 1:
        return array[..., ::ss, ::sf]
    return np.swapaxes(array[..., ::sf, ::ss], -2, -1)


def to_science_frame(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """Inverse of :func:`to_detector_frame` (a view)."""
    sf, ss = _sign(fastaxis), _sign(slowaxis)
    if abs(fastaxis) == 1:
        return array[..., ::ss, ::sf]
    return np.swapaxes(array, -2, -1)[..., ::sf, ::ss]


# ------------------------------------------------------------ numba helpers


@njit(cache=True, nogil=True)
def _clipped_mean(values, n, nsigma):
    """Iterative ``nsigma`` clipped mean of ``values[:n]`` (NaN when n == 0).

    Same iteration as ``scipy.stats.sigmaclip``: take the mean and population
    standard deviation, keep values inside ``mean +- nsigma*std`` (inclusive),
    repeat until nothing is removed.  ``values`` is reordered.
    """
    if n == 0:
        return np.nan
    while True:
        s = 0.0
        for k in range(n):
            s += values[k]
        mean = s / n
        ss = 0.0
        for k in range(n):
            d = values[k] - mean
            ss += d * d
        std = np.sqrt(ss / n)
        lo = mean - std * nsigma
        hi = mean + std * nsigma
        kept = 0
        for k in range(n):
            v = values[k]
            if v >= lo and v <= hi:
                values[kept] = v
                kept += 1
        if kept == n:
            return mean
        if kept == 0:
            return np.nan
        n = kept


@njit(cache=True, nogil=True)
def _mean_of_two(a, b):
    """Mean of two values where NaN means "not available"."""
    if a != a:
        return b
    if b != b:
        return a
    return 0.5 * (a + b)


@njit(cache=True, nogil=True)
def _mirror(r, n):
    if r < 0:
        return -r
    if r > n - 1:
        return 2 * (n - 1) - r
    return r


@njit(cache=True, nogil=True, parallel=True)
def _nir_fullframe_offsets(tb_vals, tb_dq, side_vals, side_dq, odd_even, use_side,
                           smoothing, side_gain, nsigma, dnu):
    """Per-group detector-column and detector-row offsets of the full-frame algorithm.

    tb_vals (K, 8, 2048): bottom rows 0-3 then top rows 2044-2047;
    side_vals (K, 2048, 8): left columns 0-3 then right columns 2044-2047.
    """
    nk = tb_vals.shape[0]
    ncols = tb_vals.shape[2]
    nrows = side_vals.shape[1]
    col_off = np.zeros((nk, ncols), dtype=np.float64)
    row_off = np.zeros((nk, nrows), dtype=np.float64)
    # The window starts (L|1)//2 rows above the row and is L rows tall: for an
    # even length L the established median filter mirrors (L+1)//2 rows at the
    # ends but keeps the window L rows tall, one row short below.
    below = (smoothing | 1) // 2
    for k in prange(nk):
        buf = np.empty(4 * ncols, dtype=np.float64)
        for amp in range(4):
            c_lo = amp * 512
            c_hi = c_lo + 512
            if odd_even:
                signal = np.empty(2, dtype=np.float64)
                for parity in range(2):
                    edge_mean = np.empty(2, dtype=np.float64)
                    for edge in range(2):
                        n = 0
                        for rr in range(4):
                            r = edge * 4 + rr
                            for c in range(c_lo + parity, c_hi, 2):
                                v = tb_vals[k, r, c]
                                if (tb_dq[r, c] & dnu) == 0 and np.isfinite(v):
                                    buf[n] = v
                                    n += 1
                        edge_mean[edge] = _clipped_mean(buf, n, nsigma)
                    signal[parity] = _mean_of_two(edge_mean[1], edge_mean[0])
                if signal[0] == signal[0] and signal[1] == signal[1]:
                    for c in range(c_lo, c_hi):
                        col_off[k, c] = signal[(c - c_lo) % 2]
            else:
                edge_mean = np.empty(2, dtype=np.float64)
                for edge in range(2):
                    n = 0
                    for rr in range(4):
                        r = edge * 4 + rr
                        for c in range(c_lo, c_hi):
                            v = tb_vals[k, r, c]
                            if (tb_dq[r, c] & dnu) == 0 and np.isfinite(v):
                                buf[n] = v
                                n += 1
                    edge_mean[edge] = _clipped_mean(buf, n, nsigma)
                s = _mean_of_two(edge_mean[1], edge_mean[0])
                if s == s:
                    for c in range(c_lo, c_hi):
                        col_off[k, c] = s
        if use_side:
            window = np.empty(4 * smoothing, dtype=np.float64)
            for r in range(nrows):
                sides = np.empty(2, dtype=np.float64)
                for side in range(2):
                    n = 0
                    for w in range(smoothing):
                        rr = _mirror(r - below + w, nrows)
                        for j in range(4):
                            jj = side * 4 + j
                            c = j if side == 0 else ncols - 4 + j
                            v = side_vals[k, rr, jj]
                            if (side_dq[rr, jj] & dnu) == 0 and np.isfinite(v):
                                window[n] = v - col_off[k, c]
                                n += 1
                    if n == 0:
                        sides[side] = np.nan
                    else:
                        sides[side] = np.median(window[:n])
                combined = _mean_of_two(sides[0], sides[1])
                if combined != combined:
                    combined = 0.0
                row_off[k, r] = side_gain * combined
    return col_off, row_off


@njit(cache=True, nogil=True, parallel=True)
def _subtract_terms(data3, yterm, xterm):
    """data3[k, y, x] -= yterm[k, y] then xterm[k, x] (float64 arithmetic)."""
    nk, ny, nx = data3.shape
    for r in prange(nk * ny):
        k = r // ny
        y = r % ny
        a = yterm[k, y]
        for x in range(nx):
            data3[k, y, x] = (np.float64(data3[k, y, x]) - a) - xterm[k, x]


@njit(cache=True, nogil=True)
def _single_amp_offsets(ref_vals, ref_parity, odd_even, nsigma):
    """Per-group clipped means of the subarray reference pixels: (K, 2) for even/odd detector columns."""
    nk, nref = ref_vals.shape
    out = np.empty((nk, 2), dtype=np.float64)
    for k in range(nk):
        buf = np.empty(nref, dtype=np.float64)
        if odd_even:
            for parity in range(2):
                n = 0
                for m in range(nref):
                    v = ref_vals[k, m]
                    if ref_parity[m] == parity and np.isfinite(v):
                        buf[n] = v
                        n += 1
                out[k, parity] = _clipped_mean(buf, n, nsigma)
        else:
            n = 0
            for m in range(nref):
                v = ref_vals[k, m]
                if np.isfinite(v):
                    buf[n] = v
                    n += 1
            mean = _clipped_mean(buf, n, nsigma)
            out[k, 0] = mean
            out[k, 1] = mean
    return out


@njit(cache=True, nogil=True)
def _miri_offsets(data, dq, odd_even_rows, nsigma, dnu):
    """Offsets (nints, ngroups, 4 amps, 2 row parities) of the MIRI algorithm.

    Computed on each group minus the integration's first group.  Returns the
    offsets and, per (integration, group), whether an amplifier lacked usable
    reference pixels.
    """
    nints, ngroups, ny, nx = data.shape
    off = np.zeros((nints, ngroups, 4, 2), dtype=np.float64)
    bad = np.zeros((nints, ngroups), dtype=np.uint8)
    for kk in range(nints * (ngroups - 1)):
        i = kk // (ngroups - 1)
        g = 1 + kk % (ngroups - 1)
        buf = np.empty(ny, dtype=np.float64)
        for amp in range(4):
            means = np.empty((2, 2), dtype=np.float64)  # [side, parity]
            for side in range(2):
                col = amp if side == 0 else MIRI_RIGHT_REFERENCE + amp
                if odd_even_rows:
                    for parity in range(2):
                        n = 0
                        for y in range(parity, ny, 2):
                            v = np.float32(data[i, g, y, col] - data[i, 0, y, col])
                            if (dq[y, col] & dnu) == 0 and np.isfinite(v):
                                buf[n] = v
                                n += 1
                        means[side, parity] = _clipped_mean(buf, n, nsigma)
                else:
                    n = 0
                    for y in range(ny):
                        v = np.float32(data[i, g, y, col] - data[i, 0, y, col])
                        if (dq[y, col] & dnu) == 0 and np.isfinite(v):
                            buf[n] = v
                            n += 1
                    m = _clipped_mean(buf, n, nsigma)
                    means[side, 0] = m
                    means[side, 1] = m
            for parity in range(2):
                if means[0, parity] != means[0, parity] or means[1, parity] != means[1, parity]:
                    bad[i, g] = 1
                off[i, g, amp, parity] = 0.5 * (means[0, parity] + means[1, parity])
    return off, bad


@njit(cache=True, nogil=True, parallel=True)
def _miri_apply(data, off):
    nints, ngroups, ny, nx = data.shape
    for r in prange(nints * ngroups * ny):
        i = r // (ngroups * ny)
        g = (r // ny) % ngroups
        y = r % ny
        if g == 0:
            continue
        parity = y % 2
        for x in range(nx):
            o = off[i, g, x % 4, parity]
            if o != 0.0:
                data[i, g, y, x] = np.float64(data[i, g, y, x]) - o


# ------------------------------------------------------------ NIR


def _subarray_origin_in_detector(rowstart, rowstop, colstart, colstop, fastaxis, slowaxis):
    """(row, column) of the subarray's first detector-frame pixel in the full detector frame."""
    sf, ss = _sign(fastaxis), _sign(slowaxis)
    if abs(fastaxis) == 1:
        r0 = rowstart if ss > 0 else NIR_SIZE - rowstop
        c0 = colstart if sf > 0 else NIR_SIZE - colstop
    else:
        r0 = colstart if ss > 0 else NIR_SIZE - colstop
        c0 = rowstart if sf > 0 else NIR_SIZE - rowstop
    return r0, c0


def _terms_in_science_frame(col_terms, row_terms, fastaxis, slowaxis):
    """Map detector column/row terms (K, n) of the subarray onto DMS y and x terms."""
    sf, ss = _sign(fastaxis), _sign(slowaxis)
    if abs(fastaxis) == 1:
        yterm = row_terms[:, ::ss]
        xterm = col_terms[:, ::sf]
    else:
        yterm = col_terms[:, ::sf]
        xterm = row_terms[:, ::ss]
    return np.ascontiguousarray(yterm), np.ascontiguousarray(xterm)


def _nir_strips(det4, det_dq, r0, c0, dnu_ref):
    """Reference strips of the full detector frame; pixels outside the subarray are DO_NOT_USE."""
    nints, ngroups, hd, wd = det4.shape
    nk = nints * ngroups
    tb_vals = np.zeros((nk, 8, NIR_SIZE), dtype=np.float64)
    tb_dq = np.full((8, NIR_SIZE), dnu_ref, dtype=np.uint32)
    side_vals = np.zeros((nk, NIR_SIZE, 8), dtype=np.float64)
    side_dq = np.full((NIR_SIZE, 8), dnu_ref, dtype=np.uint32)
    strip_rows = list(range(NIR_BORDER)) + list(range(NIR_SIZE - NIR_BORDER, NIR_SIZE))
    for j, row in enumerate(strip_rows):
        if r0 <= row < r0 + hd:
            tb_vals[:, j, c0:c0 + wd] = det4[:, :, row - r0, :].reshape(nk, wd)
            tb_dq[j, c0:c0 + wd] = det_dq[row - r0, :]
    for j, col in enumerate(strip_rows):
        if c0 <= col < c0 + wd:
            side_vals[:, r0:r0 + hd, j] = det4[:, :, :, col - c0].reshape(nk, hd)
            side_dq[r0:r0 + hd, j] = det_dq[:, col - c0]
    return tb_vals, tb_dq, side_vals, side_dq


def _refpix_nir_core(data, pixeldq, rowstart, colstart, fastaxis, slowaxis, noutputs,
                     odd_even_columns, use_side_ref_pixels, side_smoothing_length, side_gain,
                     nsigma, edgeless, dnu, refflag):
    nints, ngroups, ny, nx = data.shape
    is_subarray = (ny, nx) != (NIR_SIZE, NIR_SIZE)
    rowstop, colstop = rowstart + ny, colstart + nx
    if is_subarray:
        pixeldq = np.array(pixeldq, dtype=np.uint32, copy=True)
        if edgeless:
            pixeldq[:, :NIR_BORDER] |= np.uint32(refflag)
            pixeldq[:, -NIR_BORDER:] |= np.uint32(refflag)
    r0, c0 = _subarray_origin_in_detector(rowstart, rowstop, colstart, colstop, fastaxis, slowaxis)
    det4 = to_detector_frame(data, fastaxis, slowaxis)
    det_dq = to_detector_frame(np.asarray(pixeldq, dtype=np.uint32), fastaxis, slowaxis)
    hd, wd = det4.shape[-2:]
    nk = nints * ngroups
    planes = data.reshape(nk, ny, nx)
    if not np.shares_memory(planes, data):
        raise ValueError("the SCI array must be C-contiguous to be corrected in place")

    if not is_subarray or noutputs == 4:
        tb_vals, tb_dq, side_vals, side_dq = _nir_strips(det4, det_dq, r0, c0, dnu | refflag)
        smoothing = int(side_smoothing_length)
        if smoothing < 1:
            raise ValueError(f"side_smoothing_length must be >= 1, got {side_smoothing_length}")
        col_off, row_off = _nir_fullframe_offsets(
            tb_vals, tb_dq, side_vals, side_dq, bool(odd_even_columns), bool(use_side_ref_pixels),
            smoothing, float(side_gain), float(nsigma), np.uint32(dnu),
        )
        col_terms = col_off[:, c0:c0 + wd]
        row_terms = row_off[:, r0:r0 + hd]
    else:
        ref = ((det_dq & np.uint32(refflag)) != 0) & ((det_dq & np.uint32(dnu)) == 0)
        rows, cols = np.nonzero(ref)
        if rows.size == 0:
            return BAD_REFERENCE_PIXELS
        ref_vals = np.ascontiguousarray(det4[:, :, rows, cols].reshape(nk, rows.size), dtype=np.float64)
        parity = ((cols + c0) % 2).astype(np.int64)
        means = _single_amp_offsets(ref_vals, parity, bool(odd_even_columns), float(nsigma))
        means = np.where(np.isnan(means), 0.0, means)
        full_parity = (np.arange(wd) + c0) % 2
        col_terms = means[:, full_parity]
        row_terms = np.zeros((nk, hd), dtype=np.float64)

    yterm, xterm = _terms_in_science_frame(col_terms, row_terms, fastaxis, slowaxis)
    _subtract_terms(planes, yterm, xterm)
    return REFPIX_OK


def refpix_nir(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    xstart: int = 1,
    ystart: int = 1,
    fastaxis: int = 1,
    slowaxis: int = 2,
    noutputs: int | None = 4,
    odd_even_columns: bool = True,
    use_side_ref_pixels: bool = True,
    side_smoothing_length: int = 11,
    side_gain: float = 1.0,
    sigma_clip: float = 3.0,
    edgeless_subarray: bool = False,
    zeroframe: np.ndarray | None = None,
    do_not_use: int = DO_NOT_USE,
    reference_pixel: int = REFERENCE_PIXEL,
) -> int:
    """Reference-pixel correction of a near-IR ramp, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
        The ramp in the DMS frame (superbias already subtracted).
    pixeldq : ndarray of uint32, shape (ny, nx)
        PIXELDQ (not modified): DO_NOT_USE pixels are ignored; in one-output
        subarrays REFERENCE_PIXEL marks the reference pixels.
    xstart, ystart : int
        1-based SUBSTRT1/SUBSTRT2 of the (sub)array in the full frame.
    fastaxis, slowaxis : int
        FASTAXIS/SLOWAXIS keywords.
    noutputs : int or None
        NOUTPUTS; a subarray read through 4 outputs gets the full-frame
        algorithm, any other value the single-output one.
    odd_even_columns, use_side_ref_pixels, side_smoothing_length, side_gain : see module
        Step parameters (defaults True, True, 11, 1.0).
    sigma_clip : float
        Clipping limit of the reference-pixel means (``siglimit``, default 3).
    edgeless_subarray : bool
        NIRSpec SUB512/SUB512S/SUB32: use the first/last 4 columns as
        reference pixels.
    zeroframe : ndarray of float32, shape (nints, ny, nx), optional
        Corrected the same way; zero values stay zero.
    do_not_use, reference_pixel : int
        Flag values.

    Returns
    -------
    int
        :data:`REFPIX_OK`, :data:`BAD_REFERENCE_PIXELS` (one-output subarray
        without reference pixels; data unchanged) or
        :data:`SUBARRAY_DOESNTFIT` (data unchanged).
    """
    require_inplace(data, "SCI")
    if zeroframe is not None:
        require_inplace(zeroframe, "ZEROFRAME")
    if data.ndim != 4:
        raise ValueError(f"refpix expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    ny, nx = data.shape[-2:]
    if np.shape(pixeldq) != (ny, nx):
        raise ValueError(f"PIXELDQ has shape {np.shape(pixeldq)}, expected ({ny}, {nx})")
    if abs(fastaxis) not in (1, 2) or abs(slowaxis) not in (1, 2) or abs(fastaxis) == abs(slowaxis):
        raise ValueError(f"FASTAXIS/SLOWAXIS must be a permutation of +-1, +-2, got {fastaxis}, {slowaxis}")
    if ny > NIR_SIZE or nx > NIR_SIZE:
        raise ValueError(f"near-IR refpix handles at most {NIR_SIZE}x{NIR_SIZE} pixels, got {ny}x{nx} (IRS2 is not supported)")
    rowstart, colstart = int(ystart) - 1, int(xstart) - 1
    if rowstart < 0 or colstart < 0 or rowstart + ny > NIR_SIZE or colstart + nx > NIR_SIZE:
        return SUBARRAY_DOESNTFIT
    args = (rowstart, colstart, fastaxis, slowaxis, noutputs, odd_even_columns, use_side_ref_pixels,
            side_smoothing_length, side_gain, sigma_clip, edgeless_subarray, do_not_use, reference_pixel)
    status = _refpix_nir_core(data, pixeldq, *args)
    if zeroframe is not None and status == REFPIX_OK:
        was_zero = zeroframe == 0.0
        zf4 = zeroframe[:, np.newaxis]
        _refpix_nir_core(zf4, pixeldq, *args)
        zeroframe[was_zero] = 0.0
    return status


# ------------------------------------------------------------ MIRI


def refpix_miri(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    odd_even_rows: bool = True,
    sigma_clip: float = 3.0,
    do_not_use: int = DO_NOT_USE,
) -> int:
    """Reference-pixel correction of a MIRI full-frame ramp, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, 1024, 1032)
    pixeldq : ndarray of uint32, shape (1024, 1032)
        DO_NOT_USE reference pixels are ignored (not modified).
    odd_even_rows : bool
        Separate means for even and odd rows (step default True).
    sigma_clip : float
        Clipping limit (``siglimit``, default 3).
    do_not_use : int
        Value of DO_NOT_USE.

    Returns
    -------
    int
        :data:`REFPIX_OK`, :data:`SUBARRAY_SKIPPED` for a subarray (data
        unchanged) or :data:`BAD_REFERENCE_PIXELS` when an amplifier had no
        usable reference pixels (groups from there on are not corrected).
    """
    require_inplace(data, "SCI")
    if data.ndim != 4:
        raise ValueError(f"refpix expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    ny, nx = data.shape[-2:]
    if np.shape(pixeldq) != (ny, nx):
        raise ValueError(f"PIXELDQ has shape {np.shape(pixeldq)}, expected ({ny}, {nx})")
    if (ny, nx) != (MIRI_ROWS, MIRI_COLUMNS):
        if ny < MIRI_ROWS or nx < MIRI_COLUMNS:
            return SUBARRAY_SKIPPED
        raise ValueError(f"MIRI refpix expects {MIRI_ROWS}x{MIRI_COLUMNS} pixels, got {ny}x{nx}")
    nints, ngroups = data.shape[:2]
    if ngroups < 2:
        return REFPIX_OK
    off, bad = _miri_offsets(data, np.asarray(pixeldq, dtype=np.uint32), bool(odd_even_rows),
                             float(sigma_clip), np.uint32(do_not_use))
    status = REFPIX_OK
    flat_bad = bad[:, 1:].reshape(-1)
    if flat_bad.any():
        # Once an amplifier lacks reference pixels nothing later is corrected.
        first = int(np.argmax(flat_bad))
        i0, g0 = divmod(first, ngroups - 1)
        g0 += 1
        off[i0, g0:] = 0.0
        off[i0 + 1:] = 0.0
        status = BAD_REFERENCE_PIXELS
    _miri_apply(data, off)
    return status
