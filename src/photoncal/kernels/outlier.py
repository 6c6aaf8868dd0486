"""Outlier (cosmic-ray) detection against a median of many exposures.

* :func:`compute_weight_threshold` and :func:`median_stack` - the median of
  N (resampled) images, computed in row sections so memory stays bounded,
  ignoring pixels whose weight is below ``maskpt`` times the typical
  weight, optionally dropping the ``nlow`` lowest and ``nhigh`` highest
  values of each pixel's stack.
* :func:`flag_resampled_crs` - the driz_cr comparison of an exposure with
  the median blotted back onto it:

  ``|sci - blot - backg| > scale1 * |d blot| + snr1 * err`` somewhere in
  the pixel's 3x3 neighbourhood, and
  ``|sci - blot - backg| > scale2 * |d blot| + snr2 * err`` at the pixel,

  where ``|d blot|`` is the largest absolute difference between a blot
  pixel and its four neighbours (so sharp sources are not flagged for
  small misalignments).  ``snr`` and ``scale`` are the step's two-number
  strings, e.g. ``"5.0 4.0"`` and ``"1.2 0.7"``.
* :func:`flag_crs` - the plain comparison used without resampling.
* :func:`flag_outliers_tso` - time series: each integration against the
  (rolling) median through time.

Masks are boolean (``True`` = outlier); the step ORs ``DO_NOT_USE`` and
``OUTLIER`` into the DQ and sets the science values to NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit, prange

__all__ = [
    "parse_pair",
    "compute_weight_threshold",
    "median_stack",
    "abs_derivative",
    "flag_crs",
    "flag_resampled_crs",
    "flag_outliers_tso",
    "rolling_median",
]

#: default working memory for the sectioned median (bytes)
DEFAULT_BUFFER_BYTES = 256 * 1024**2


def parse_pair(value, name="value"):
    """Two floats from a ``"5.0 4.0"`` string (or a pair); a single number is used twice."""
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
    else:
        parts = list(np.atleast_1d(value))
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be one or two numbers, e.g. '5.0 4.0'; got {value!r}") from err
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2:
        raise ValueError(f"{name} must be one or two numbers, e.g. '5.0 4.0'; got {value!r}")
    return nums[0], nums[1]


def compute_weight_threshold(weight, maskpt):
    """``maskpt`` times the typical weight of an image.

    The typical weight is the mean of the finite, non-zero weights after
    3-sigma clipping (5 iterations), as in the established pipeline:
    astropy's ``sigma_clip`` (median centre, standard deviation, no axis)
    and the float64 mean of what it keeps. Float32 and float64 weights of at
    least `_FAST_CLIP_MIN_SIZE` values take a path that repeats numpy's
    arithmetic (pairwise summation, its rounding at each step) in numba and
    so returns the same number in about half the time; other inputs go
    through astropy itself.

    Returns
    -------
    float
        NaN when the image has no non-zero weight.
    """
    w = np.asarray(weight)
    if w.dtype in (np.float32, np.float64) and w.size >= _FAST_CLIP_MIN_SIZE:
        values = _finite_nonzero(np.ascontiguousarray(w).ravel())
        if values.size == 0:
            return math.nan
        if values.size >= _FAST_CLIP_MIN_SIZE:
            mean = _clipped_mean(values, _CLIP_SIGMA, _CLIP_MAXITERS, _FAST_CLIP_MIN_SIZE)
            if not math.isnan(mean):
                return float(mean) * float(maskpt)
    return _weight_threshold_astropy(w, maskpt)


_CLIP_SIGMA = 3
_CLIP_MAXITERS = 5
# the fast path needs numpy's large-array code paths (and is not worth it below)
_FAST_CLIP_MIN_SIZE = 1024


def _weight_threshold_astropy(weight, maskpt):
    """`compute_weight_threshold` through astropy's ``sigma_clip`` (the reference)."""
    from astropy.stats import sigma_clip

    w = np.asarray(weight)
    w = w[np.isfinite(w) & (w != 0)]
    if w.size == 0:
        return math.nan
    clipped = sigma_clip(w, sigma=_CLIP_SIGMA, maxiters=_CLIP_MAXITERS, masked=False, copy=False)
    return float(np.mean(clipped, dtype=np.float64)) * float(maskpt)


@njit(cache=True, nogil=True)
def _finite_nonzero(w):
    n = 0
    for i in range(w.shape[0]):
        if math.isfinite(w[i]) and w[i] != 0:
            n += 1
    out = np.empty(n, dtype=w.dtype)
    n = 0
    for i in range(w.shape[0]):
        if math.isfinite(w[i]) and w[i] != 0:
            out[n] = w[i]
            n += 1
    return out


# numpy's pairwise summation (its add-reduce inner loop): blocks of 8
# accumulators up to 128 values, halves (cut at a multiple of 8) above
_PAIRWISE_BLOCK = 128


@njit(cache=True, nogil=True, inline="always")
def _term(a, i, centre, square, acc_zero):
    """``a[i]`` (or ``(a[i] - centre)**2`` in the data type) converted to the accumulator type."""
    v = a[i] - centre if square else a[i]
    return (v * v if square else v) + acc_zero


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n, centre, square, acc_zero):
    """numpy's sum of a block of at most 128 values: 8 accumulators, then the rest in order."""
    if n < 8:
        res = -acc_zero  # numpy starts at -0.0 so that a sum of -0.0 stays -0.0
        for i in range(lo, lo + n):
            res += _term(a, i, centre, square, acc_zero)
        return res
    r0 = _term(a, lo, centre, square, acc_zero)
    r1 = _term(a, lo + 1, centre, square, acc_zero)
    r2 = _term(a, lo + 2, centre, square, acc_zero)
    r3 = _term(a, lo + 3, centre, square, acc_zero)
    r4 = _term(a, lo + 4, centre, square, acc_zero)
    r5 = _term(a, lo + 5, centre, square, acc_zero)
    r6 = _term(a, lo + 6, centre, square, acc_zero)
    r7 = _term(a, lo + 7, centre, square, acc_zero)
    i = lo + 8
    stop = lo + n - n % 8
    while i < stop:
        r0 += _term(a, i, centre, square, acc_zero)
        r1 += _term(a, i + 1, centre, square, acc_zero)
        r2 += _term(a, i + 2, centre, square, acc_zero)
        r3 += _term(a, i + 3, centre, square, acc_zero)
        r4 += _term(a, i + 4, centre, square, acc_zero)
        r5 += _term(a, i + 5, centre, square, acc_zero)
        r6 += _term(a, i + 6, centre, square, acc_zero)
        r7 += _term(a, i + 7, centre, square, acc_zero)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += _term(a, i, centre, square, acc_zero)
        i += 1
    return res


@njit(cache=True, nogil=True)
def _pairwise_sum(a, lo, n, centre, square, acc_zero):
    """numpy's pairwise sum of ``a[lo:lo + n]`` (or of ``(a - centre)**2`` when ``square``).

    ``acc_zero`` sets the accumulator type (a zero of it); values are
    converted to it before they are added, as numpy's casting buffer does.
    numpy recurses (sum = left half + right half); here an explicit stack
    walks the same tree (numba cannot cache recursive functions safely).
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(a, lo, n, centre, square, acc_zero)
    depth = 64
    frame_lo = np.empty(depth, dtype=np.int64)
    frame_n = np.empty(depth, dtype=np.int64)
    frame_stage = np.zeros(depth, dtype=np.int64)
    left = np.empty(depth, dtype=type(acc_zero))
    frame_lo[0] = lo
    frame_n[0] = n
    top = 1
    ret = acc_zero
    while top > 0:
        f = top - 1
        m = frame_n[f]
        if m <= _PAIRWISE_BLOCK:
            ret = _block_sum(a, frame_lo[f], m, centre, square, acc_zero)
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        stage = frame_stage[f]
        if stage == 0:  # the left half first
            frame_stage[f] = 1
            frame_lo[top] = frame_lo[f]
            frame_n[top] = half
            frame_stage[top] = 0
            top += 1
        elif stage == 1:  # left done (in ret): the right half
            left[f] = ret
            frame_stage[f] = 2
            frame_lo[top] = frame_lo[f] + half
            frame_n[top] = m - half
            frame_stage[top] = 0
            top += 1
        else:
            ret = left[f] + ret
            top -= 1
    return ret


@njit(cache=True, nogil=True)
def _std(a, zero):
    """``np.nanstd`` of a float array without NaNs: numpy's float32/64 arithmetic step by step."""
    n = a.shape[0]
    total = zero + _pairwise_sum(a, 0, n, zero, False, zero)
    mean = a.dtype.type(np.float64(total) / n)  # the sum divided by an integer count, in float64
    squares = zero + _pairwise_sum(a, 0, n, mean, True, zero)
    return np.sqrt(a.dtype.type(np.float64(squares) / n))


@njit(cache=True, nogil=True)
def _keep_between(values, n, low, high):
    """Move the first ``n`` values within [low, high] to the front, in order.

    Returns how many were kept and how many were below ``low``.
    """
    kept = 0
    below = 0
    for i in range(n):  # in order: the sums depend on it
        v = values[i]
        if v >= low and v <= high:
            values[kept] = v
            kept += 1
        elif v < low:
            below += 1
    return kept, below


@njit(cache=True, nogil=True)
def _mean64(values, chunk):
    """``np.mean(values, dtype=np.float64)``: float32 data are cast in buffers of ``chunk`` values,
    each summed pairwise and added to the running total (float64 data: chunk = all)."""
    n = values.shape[0]
    total = 0.0
    for start in range(0, n, chunk):
        total += _pairwise_sum(values, start, min(chunk, n - start), 0.0, False, 0.0)
    return total / n


class _MiddleOrder:
    """Order statistics of a set of values near its middle, from one partial sort.

    Sigma clipping keeps the values within an interval: what is left is a
    run of the sorted values, and its median is the sorted value at
    ``below + (kept - 1) / 2`` (the mean of two for an even count), with
    ``below`` the number clipped from the low side. Values within
    ``window`` of the middle are sorted once.
    """

    def __init__(self, values, window=0.02):
        n = values.shape[0]
        half = max(64, int(n * window))
        self.lo = max(0, n // 2 - half)
        self.hi = min(n - 1, n // 2 + half)
        part = np.partition(values, [self.lo, self.hi])
        self.sorted = np.sort(part[self.lo:self.hi + 1])

    def median(self, below, count):
        """``np.median`` of the sorted run ``[below, below + count)``, or None outside the window."""
        first = below + (count - 1) // 2
        last = below + count // 2
        if first < self.lo or last > self.hi:
            return None
        # numpy's median is the mean of the middle one or two values of a partition
        return np.mean(self.sorted[first - self.lo:last - self.lo + 1])


def _clipped_mean(values, sigma, maxiters, min_size):
    """float64 mean of ``values`` after astropy's axis-less sigma clipping (median, std).

    Medians are numpy's (`_MiddleOrder`, else ``np.median``); the standard
    deviation and the clipping are numba passes with numpy's arithmetic.
    ``values`` is compacted in place. Returns NaN when fewer than
    ``min_size`` values are left (the caller then asks astropy).
    """
    zero = values.dtype.type(0)
    s = values.dtype.type(sigma)
    n = values.shape[0]
    middle = _MiddleOrder(values)
    below = 0
    for _ in range(maxiters):
        if n < min_size:
            return math.nan
        a = values[:n]
        centre = middle.median(below, n)
        if centre is None:
            centre = np.median(a)
        deviation = _std(a, zero) * s
        kept, clipped_low = _keep_between(values, n, centre - deviation, centre + deviation)
        if kept == n:
            break
        n = kept
        below += clipped_low
    if n < min_size:
        return math.nan
    return _mean64(values[:n], np.getbufsize() if values.dtype != np.float64 else max(n, 1))


@njit(cache=True, nogil=True, parallel=True)
def _stack_median(stack, valid, nlow, nhigh, out):
    nimg, nrow, ncol = stack.shape
    for r in prange(nrow):
        buf = np.empty(nimg, dtype=np.float32)
        for c in range(ncol):
            n = 0
            for k in range(nimg):
                v = stack[k, r, c]
                if valid[k, r, c] and v == v:
                    # insertion sort as we go: stacks are short
                    j = n
                    while j > 0 and buf[j - 1] > v:
                        buf[j] = buf[j - 1]
                        j -= 1
                    buf[j] = v
                    n += 1
            lo = nlow
            hi = n - nhigh
            m = hi - lo
            if m <= 0:
                out[r, c] = np.nan
            elif m % 2 == 1:
                out[r, c] = buf[lo + m // 2]
            else:
                out[r, c] = 0.5 * (buf[lo + m // 2 - 1] + buf[lo + m // 2])
    return out


def median_stack(images: Sequence, weights: Sequence | None = None, *, maskpt=0.7, nlow=0,
                 nhigh=0, thresholds=None, buffer_bytes=DEFAULT_BUFFER_BYTES, rows_per_section=None):
    """Median of a stack of same-shaped images, in row sections.

    Parameters
    ----------
    images : sequence of (ny, nx) array-likes
        The (resampled) images; anything sliceable by rows works
        (``ndarray``, ``np.memmap``, memory-mapped FITS data), so only one
        section of each is read at a time.
    weights : sequence of (ny, nx) array-likes, optional
        Their weight maps; a pixel counts only where its weight is at
        least its image's threshold.
    maskpt : float
        Threshold = ``maskpt`` times the typical weight
        (:func:`compute_weight_threshold`).
    nlow, nhigh : int
        Number of lowest / highest valid values dropped from each pixel's
        stack before the median.
    thresholds : sequence of float, optional
        Precomputed weight thresholds (else computed from ``weights``).
    buffer_bytes : int
        Working memory for one section of the stack.
    rows_per_section : int, optional
        Force the section height (otherwise set by ``buffer_bytes``).

    Returns
    -------
    (ny, nx) float32 ndarray
        NaN where no value is left.
    """
    images = list(images)
    if not images:
        raise ValueError("median_stack needs at least one image")
    shape = np.shape(images[0])
    if len(shape) != 2:
        raise ValueError(f"median_stack takes 2-D images, got shape {shape}")
    for k, im in enumerate(images):
        if np.shape(im) != shape:
            raise ValueError(f"image {k} has shape {np.shape(im)}, expected {shape}")
    nimg = len(images)
    if nlow < 0 or nhigh < 0:
        raise ValueError("nlow and nhigh must be non-negative")
    if weights is not None:
        weights = list(weights)
        if len(weights) != nimg:
            raise ValueError(f"{len(weights)} weight maps for {nimg} images")
        for k, w in enumerate(weights):
            if np.shape(w) != shape:
                raise ValueError(f"weight map {k} has shape {np.shape(w)}, expected {shape}")
        if thresholds is None:
            thresholds = [compute_weight_threshold(w, maskpt) for w in weights]
    ny, nx = shape
    if rows_per_section is None:
        per_row = max(1, nimg * nx * 5)  # float32 value + bool flag
        rows_per_section = max(1, int(buffer_bytes // per_row))
    rows_per_section = int(min(max(1, rows_per_section), ny))
    out = np.empty(shape, dtype=np.float32)
    stack = np.empty((nimg, rows_per_section, nx), dtype=np.float32)
    valid = np.empty((nimg, rows_per_section, nx), dtype=np.bool_)
    for r0 in range(0, ny, rows_per_section):
        r1 = min(ny, r0 + rows_per_section)
        h = r1 - r0
        for k in range(nimg):
            stack[k, :h] = np.asarray(images[k][r0:r1], dtype=np.float32)
            if weights is None:
                valid[k, :h] = True
            else:
                thr = thresholds[k]
                w = np.asarray(weights[k][r0:r1])
                valid[k, :h] = (w >= thr) if np.isfinite(thr) else False
        _stack_median(stack[:, :h], valid[:, :h], int(nlow), int(nhigh), out[r0:r1])
    return out


@njit(cache=True, nogil=True, parallel=True)
def _abs_deriv(a, out):
    ny, nx = a.shape
    for j in prange(ny):
        for i in range(nx):
            v = a[j, i]
            if v != v:
                out[j, i] = np.nan
                continue
            best = 0.0
            if j > 0:
                d = abs(v - a[j - 1, i])
                if d > best:
                    best = d
            if j < ny - 1:
                d = abs(a[j + 1, i] - v)
                if d > best:
                    best = d
            if i > 0:
                d = abs(v - a[j, i - 1])
                if d > best:
                    best = d
            if i < nx - 1:
                d = abs(a[j, i + 1] - v)
                if d > best:
                    best = d
            out[j, i] = best
    return out


def abs_derivative(array):
    """Largest absolute difference between each pixel and its four neighbours.

    NaN pixels give NaN; differences with NaN neighbours are ignored.
    """
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"abs_derivative takes a 2-D array, got shape {a.shape}")
    return _abs_deriv(a, np.empty_like(a))


@njit(cache=True, nogil=True, parallel=True)
def _driz_cr(sci, err, blot, snr1, snr2, scale1, scale2, backg, first, out):
    ny, nx = sci.shape
    # first pass: the looser test at each pixel
    for j in prange(ny):
        for i in range(nx):
            b = blot[j, i]
            e = err[j, i]
            if e != e:
                e = 0.0
            diff = abs(sci[j, i] - b - backg)
            # derivative of the blotted median at this pixel
            deriv = 0.0
            if b == b:
                if j > 0 and blot[j - 1, i] == blot[j - 1, i]:
                    deriv = max(deriv, abs(b - blot[j - 1, i]))
                if j < ny - 1 and blot[j + 1, i] == blot[j + 1, i]:
                    deriv = max(deriv, abs(blot[j + 1, i] - b))
                if i > 0 and blot[j, i - 1] == blot[j, i - 1]:
                    deriv = max(deriv, abs(b - blot[j, i - 1]))
                if i < nx - 1 and blot[j, i + 1] == blot[j, i + 1]:
                    deriv = max(deriv, abs(blot[j, i + 1] - b))
            else:
                deriv = np.nan
            first[j, i] = diff > scale1 * deriv + snr1 * e
            out[j, i] = diff > scale2 * deriv + snr2 * e
    # second pass: the tighter test must hold here and the looser one nearby
    for j in prange(ny):
        for i in range(nx):
            if not out[j, i]:
                continue
            near = False
            for dj in range(-1, 2):
                jj = min(max(j + dj, 0), ny - 1)
                for di in range(-1, 2):
                    ii = min(max(i + di, 0), nx - 1)
                    if first[jj, ii]:
                        near = True
            out[j, i] = near
    return out


def _grow(mask, grow):
    """Dilate by a ``grow`` x ``grow`` box (``grow <= 1``: unchanged)."""
    grow = int(grow)
    if grow <= 1 or not mask.any():
        return mask
    from scipy import ndimage

    return ndimage.binary_dilation(mask, structure=np.ones((grow, grow), dtype=bool))


def flag_resampled_crs(sci, err, blot, snr1, snr2, scale1, scale2, backg=0.0, grow=1):
    """Outliers of an exposure compared with the median blotted onto it (driz_cr).

    Parameters
    ----------
    sci, err : (ny, nx) ndarray
        Science and total-error arrays of the exposure (NaN errors count
        as 0).
    blot : (ny, nx) ndarray
        The median image blotted onto the exposure (NaN where it has no
        coverage: such pixels are never flagged).
    snr1, snr2 : float
        Signal-to-noise thresholds of the looser (neighbourhood) and the
        tighter (pixel) tests (the step's ``snr``, default ``"5.0 4.0"``).
    scale1, scale2 : float
        Multipliers of the blot derivative (``scale``, default
        ``"1.2 0.7"``).
    backg : float
        Background added to the blot (the sky level the exposure still
        contains).
    grow : int
        Box size (pixels) by which the final mask is dilated; 1 (the
        spec's default) or less means no growth.

    Returns
    -------
    bool ndarray
        ``True`` for outliers.
    """
    sci = np.ascontiguousarray(sci, dtype=np.float32)
    if sci.ndim != 2:
        raise ValueError(f"flag_resampled_crs takes 2-D images, got shape {sci.shape}")
    err = np.ascontiguousarray(err, dtype=np.float32)
    blot = np.ascontiguousarray(blot, dtype=np.float32)
    for name, arr in (("err", err), ("blot", blot)):
        if arr.shape != sci.shape:
            raise ValueError(f"{name} shape {arr.shape} does not match sci shape {sci.shape}")
    first = np.empty(sci.shape, dtype=np.bool_)
    out = np.empty(sci.shape, dtype=np.bool_)
    _driz_cr(sci, err, blot, float(snr1), float(snr2), float(scale1), float(scale2), float(backg),
             first, out)
    return _grow(out, grow)


@njit(cache=True, nogil=True, parallel=True)
def _plain_crs(sci, err, blot, snr, out):
    for k in prange(sci.size):
        e = err[k]
        if e != e:
            e = 0.0
        out[k] = abs(sci[k] - blot[k]) > snr * e
    return out


def flag_crs(sci, err, blot, snr):
    """Outliers by a plain comparison: ``|sci - blot| > snr * err``.

    Used when the exposures are not resampled (aligned stacks, TSO,
    coronagraphy).  ``blot`` may broadcast against ``sci`` (one median for
    a whole cube); NaN errors count as 0.
    """
    sci = np.asarray(sci)
    blot = np.broadcast_to(np.asarray(blot), sci.shape)
    err = np.broadcast_to(np.asarray(err), sci.shape)
    out = np.empty(sci.shape, dtype=np.bool_)
    if sci.ndim == 3 and blot.strides[0] == 0:
        # one median image for every plane: compare plane by plane without copies
        for k in range(sci.shape[0]):
            out[k] = flag_crs(sci[k], err[k], blot[k], snr)
        return out
    _plain_crs(np.ascontiguousarray(sci, dtype=np.float32).ravel(),
               np.ascontiguousarray(err, dtype=np.float32).ravel(),
               np.ascontiguousarray(blot, dtype=np.float32).ravel(), float(snr), out.ravel())
    return out


@njit(cache=True, nogil=True, parallel=True)
def _rolling_median(cube, width, out):
    nt, ny, nx = cube.shape
    half = width // 2
    nwin = nt - width + 1
    for j in prange(ny):
        buf = np.empty(width, dtype=np.float64)
        meds = np.empty(nwin, dtype=np.float64)
        for i in range(nx):
            for s in range(nwin):
                n = 0
                for t in range(s, s + width):
                    v = cube[t, j, i]
                    if v == v:
                        k = n
                        while k > 0 and buf[k - 1] > v:
                            buf[k] = buf[k - 1]
                            k -= 1
                        buf[k] = v
                        n += 1
                if n == 0:
                    meds[s] = np.nan
                elif n % 2 == 1:
                    meds[s] = buf[n // 2]
                else:
                    meds[s] = 0.5 * (buf[n // 2 - 1] + buf[n // 2])
            # the median of each window belongs to the window's centre;
            # the ends take the nearest complete window
            for t in range(nt):
                s = t - half
                if s < 0:
                    s = 0
                if s > nwin - 1:
                    s = nwin - 1
                out[t, j, i] = meds[s]
    return out


def rolling_median(cube, width):
    """Median over a sliding window of ``width`` planes along axis 0 (NaN-aware).

    Each plane gets the median of the window centred on it; planes too
    close to the ends get the nearest complete window's median.
    """
    cube = np.ascontiguousarray(cube, dtype=np.float32)
    if cube.ndim != 3:
        raise ValueError(f"rolling_median takes a 3-D cube, got shape {cube.shape}")
    width = int(width)
    if width < 2 or width > cube.shape[0]:
        raise ValueError(f"window width must be between 2 and {cube.shape[0]}, got {width}")
    return _rolling_median(cube, width, np.empty(cube.shape, dtype=np.float32))


def flag_outliers_tso(cube, err, dq=None, *, good_mask=None, maskpt=0.7, snr=5.0,
                      rolling_window_width=25):
    """Outliers of a time series (or a coronagraphic stack) of aligned images.

    Each integration is compared with the median through time of the good
    pixels - a rolling median over ``rolling_window_width`` integrations
    when ``1 < width < nints``, else one median of all integrations:
    ``|sci - median| > snr * err``.

    Parameters
    ----------
    cube : (nints, ny, nx) ndarray
    err : (nints, ny, nx) ndarray
    dq : unused, kept for symmetry with the step (pass ``good_mask``)
    good_mask : bool ndarray, optional
        ``True`` for pixels allowed into the median (from DQ and
        ``good_bits``); their weight is 1, the others 0, and pixels under
        ``maskpt`` times the typical weight are left out.
    maskpt : float
    snr : float
        Threshold (the first value of the step's ``snr`` string).
    rolling_window_width : int

    Returns
    -------
    bool ndarray, same shape as ``cube``
    """
    cube = np.asarray(cube, dtype=np.float32)
    if cube.ndim != 3:
        raise ValueError(f"flag_outliers_tso takes an (nints, ny, nx) cube, got shape {cube.shape}")
    work = np.array(cube, dtype=np.float32, copy=True)
    if good_mask is not None:
        good = np.asarray(good_mask, dtype=bool)
        if good.shape != cube.shape:
            raise ValueError(f"good_mask shape {good.shape} does not match the cube {cube.shape}")
        # weights are 1 (good) or 0: the typical weight is 1, so maskpt <= 1 keeps
        # exactly the good pixels and a larger maskpt keeps none
        if maskpt <= 1.0 and good.any():
            work[~good] = np.nan
        else:
            work[:] = np.nan
    nints = cube.shape[0]
    if 1 < rolling_window_width < nints:
        medians = rolling_median(work, rolling_window_width)
    else:
        flat = median_stack([work[k] for k in range(nints)])
        medians = np.broadcast_to(flat, cube.shape)
    return flag_crs(cube, err, medians, snr)
