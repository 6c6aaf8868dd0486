"""Numba kernels of source detection (:mod:`photoncal.kernels.starfind`).

The IRAF and DAO finders follow photutils' ``IRAFStarFinder`` and
``DAOStarFinder`` step by step, and the background mesh photutils'
``Background2D``; these kernels are their per-pixel, per-source and
per-box loops:

* :func:`correlate_fill_zero` - the image correlated with a short list of
  taps ``(dy, dx, weight)``, pixels beyond the edges read as 0.  Each output
  is accumulated in float64 in the order of the taps, so with the taps in
  ``scipy.ndimage.convolve``'s order (the flipped kernel, row-major, weights
  of magnitude <= DBL_EPSILON dropped) the result is bit-identical to it.
* :func:`mark_local_peaks` - pixels above a threshold that are the maximum
  of a footprint around them (``scipy.ndimage.maximum_filter`` with
  ``mode='constant', cval=0``: a footprint reaching beyond the image makes
  0 a competitor; NaN pixels count as the image's smallest finite value).
* :func:`iraf_source_sums` and :func:`dao_source_sums` - the sums over each
  source's cutout (the kernel's shape, centred on the peak pixel, 0 outside
  the image) from which the catalog columns follow.
* :func:`box_statistics` - the sigma-clipped median and standard deviation
  of each box of the background mesh (astropy's ``SigmaClip`` fast path
  and numpy's ``nanmedian``/``nanstd``, operation for operation).
* :func:`convolve_fill_interpolate` - the smoothing of the segmentation
  finder (``astropy.convolution.convolve``: zero fill beyond the edges,
  NaN pixels interpolated by renormalising the kernel), bit-identical.

Sums whose exact value decides something discrete (the IRAF sky, which
decides which pixels are clipped to 0, and the flux, which orders
``n_brightest``) use numpy's pairwise summation (:func:`pairwise_sum`), so
they are bit-identical to ``numpy.sum`` over the same cutout; the other sums
are plain float64 loops (equal to photutils' BLAS products to ~1e-15).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "pairwise_sum",
    "correlate_fill_zero",
    "image_extent",
    "mark_local_peaks",
    "iraf_source_sums",
    "dao_source_sums",
    "kth_smallest",
    "sigma_clip_bounds",
    "box_statistics",
    "convolve_fill_interpolate",
    "IRAF_FIELDS",
    "DAO_FIELDS",
]

#: columns of :func:`iraf_source_sums`' output
IRAF_FIELDS = ("sky", "n_nonzero", "m00", "x_cut", "y_cut", "mu_xx", "mu_yy", "mu_xy", "peak", "flux")
#: columns of :func:`dao_source_sums`' output
DAO_FIELDS = ("peak", "conv_peak", "sum2", "sum4", "masked_sum", "flux",
              "x_data_sum", "x_data_kern_sum", "x_data_dkern_sum", "x_data_dx_sum",
              "y_data_sum", "y_data_kern_sum", "y_data_dkern_sum", "y_data_dx_sum")


@njit(cache=True, nogil=True)
def _pairwise_block(values, start, count, zero):
    """numpy's pairwise sum of at most 128 terms (see :func:`pairwise_sum`)."""
    if count < 8:
        total = zero
        for i in range(count):
            total += values[start + i]
        return total
    r0 = values[start]
    r1 = values[start + 1]
    r2 = values[start + 2]
    r3 = values[start + 3]
    r4 = values[start + 4]
    r5 = values[start + 5]
    r6 = values[start + 6]
    r7 = values[start + 7]
    i = 8
    whole = count - count % 8
    while i < whole:
        r0 += values[start + i]
        r1 += values[start + i + 1]
        r2 += values[start + i + 2]
        r3 += values[start + i + 3]
        r4 += values[start + i + 4]
        r5 += values[start + i + 5]
        r6 += values[start + i + 6]
        r7 += values[start + i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < count:
        total += values[start + i]
        i += 1
    return total


@njit(cache=True, nogil=True)
def pairwise_sum(values, start, count, zero=0.0):
    """Sum of ``values[start:start + count]`` associated as numpy's pairwise summation.

    ``zero`` sets the accumulator type: ``0.0`` for float64 sums,
    ``np.float32(0)`` to sum a float32 array in float32 as numpy does.

    Below 8 terms a running sum; up to 128, eight interleaved partial sums
    combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`` and the leftover
    terms added one by one; above, the two halves (the first a multiple of
    8 long) summed separately and added.  The halving runs on an explicit
    stack: numba's cache cannot reload recursive functions safely.
    """
    if count <= 128:
        return _pairwise_block(values, start, count, zero)
    # post-order walk of the halving tree: a node is expanded once, then combined
    node_start = np.empty(128, dtype=np.int64)
    node_count = np.empty(128, dtype=np.int64)
    node_expanded = np.zeros(128, dtype=np.bool_)
    partial = np.empty(128, values.dtype)
    top = 0
    nvalues = 0
    node_start[0] = start
    node_count[0] = count
    node_expanded[0] = False
    while top >= 0:
        lo = node_start[top]
        n = node_count[top]
        if n <= 128:
            partial[nvalues] = _pairwise_block(values, lo, n, zero)
            nvalues += 1
            top -= 1
        elif node_expanded[top]:
            partial[nvalues - 2] = partial[nvalues - 2] + partial[nvalues - 1]
            nvalues -= 1
            top -= 1
        else:
            half = n // 2
            half -= half % 8
            node_expanded[top] = True
            # the right half goes below the left so that the left is summed first
            node_start[top + 1] = lo + half
            node_count[top + 1] = n - half
            node_expanded[top + 1] = False
            node_start[top + 2] = lo
            node_count[top + 2] = half
            node_expanded[top + 2] = False
            top += 2
    return partial[0]


#: output rows per parallel task of the convolutions (their padded input band stays in cache)
_BAND_ROWS = 32


@njit(cache=True, nogil=True)
def _padded_band(image, y0, y1, pad_y, pad_x, fill_value, nan_to_zero, values, valid):
    """Rows ``y0 - pad_y .. y1 + pad_y`` of ``image`` framed by ``pad_x`` columns, into ``values``.

    Pixels beyond the image read as ``fill_value``.  With ``nan_to_zero``
    a NaN (image or fill) reads as 0 and ``valid`` is 0 there, 1 elsewhere.
    """
    ny, nx = image.shape
    for r in range(y1 - y0 + 2 * pad_y):
        yy = y0 - pad_y + r
        for c in range(nx + 2 * pad_x):
            xx = c - pad_x
            if yy >= 0 and yy < ny and xx >= 0 and xx < nx:
                value = image[yy, xx]
            else:
                value = fill_value
            if nan_to_zero:
                if math.isnan(value):
                    values[r, c] = 0.0
                    valid[r, c] = 0.0
                else:
                    values[r, c] = value
                    valid[r, c] = 1.0
            else:
                values[r, c] = value


@njit(cache=True, nogil=True, parallel=True)
def correlate_fill_zero(image, tap_dy, tap_dx, tap_weight, out):
    """``out[y, x] = sum_k tap_weight[k] * image[y + tap_dy[k], x + tap_dx[k]]``, 0 beyond the edges.

    Each output is accumulated in float64 in tap order (a tap beyond the
    edges adds ``weight * 0``, as scipy's constant mode does); NaN pixels
    under a tap propagate.  The loops run tap by tap along whole rows of a
    zero-framed band of the image, which keeps every output's order of
    additions and lets the compiler use SIMD across pixels.
    """
    ny, nx = image.shape
    ntap = tap_weight.size
    reach_y = 0
    reach_x = 0
    for k in range(ntap):
        reach_y = max(reach_y, abs(tap_dy[k]))
        reach_x = max(reach_x, abs(tap_dx[k]))
    nband = (ny + _BAND_ROWS - 1) // _BAND_ROWS
    for band in prange(nband):
        y0 = band * _BAND_ROWS
        y1 = min(ny, y0 + _BAND_ROWS)
        values = np.empty((y1 - y0 + 2 * reach_y, nx + 2 * reach_x))
        _padded_band(image, y0, y1, reach_y, reach_x, 0.0, False, values, values)
        acc = np.empty(nx)
        for y in range(y0, y1):
            acc[:] = 0.0
            for k in range(ntap):
                weight = tap_weight[k]
                row = values[y - y0 + reach_y + tap_dy[k]]
                start = reach_x + tap_dx[k]
                for x in range(nx):
                    acc[x] += weight * row[start + x]
            for x in range(nx):
                out[y, x] = acc[x]


@njit(cache=True, nogil=True, parallel=True)
def image_extent(image):
    """``(constant, has_nan, finite_min)`` of an image in one pass.

    ``constant``: every pixel equals the first (False when the first is
    NaN); ``finite_min``: the smallest non-NaN value (NaN when there is none).
    """
    ny, nx = image.shape
    first = image[0, 0]
    row_constant = np.empty(ny, np.bool_)
    row_nan = np.empty(ny, np.bool_)
    row_min = np.empty(ny)
    for y in prange(ny):
        constant = True
        has_nan = False
        low = np.inf
        found = False
        for x in range(nx):
            value = image[y, x]
            if value != first:
                constant = False
            if math.isnan(value):
                has_nan = True
            else:
                found = True
                if value < low:
                    low = value
        row_constant[y] = constant
        row_nan[y] = has_nan
        row_min[y] = low if found else np.nan
    constant = True
    has_nan = False
    low = np.nan
    for y in range(ny):
        constant = constant and row_constant[y]
        has_nan = has_nan or row_nan[y]
        if not math.isnan(row_min[y]) and (math.isnan(low) or row_min[y] < low):
            low = row_min[y]
    return constant, has_nan, low


@njit(cache=True, nogil=True, parallel=True)
def mark_local_peaks(image, threshold, excluded, fp_dy, fp_dx, nan_value, border_y, border_x, peaks):
    """Set ``peaks[y, x]`` where ``image[y, x]`` is a local maximum above ``threshold``.

    A pixel is a peak when it is not ``excluded``, lies at least
    ``border_y``/``border_x`` pixels inside the edges, is strictly above
    ``threshold`` and no footprint pixel ``(y + fp_dy[k], x + fp_dx[k])``
    is larger; a footprint pixel beyond the image counts as 0 and a NaN one
    as ``nan_value``.  Ties are all peaks.
    """
    ny, nx = image.shape
    nfp = fp_dy.size
    for y in prange(ny):
        for x in range(nx):
            peaks[y, x] = False
            value = image[y, x]
            if not value > threshold:  # also rejects NaN
                continue
            if excluded[y, x]:
                continue
            if y < border_y or y >= ny - border_y or x < border_x or x >= nx - border_x:
                continue
            is_peak = True
            for k in range(nfp):
                yy = y + fp_dy[k]
                xx = x + fp_dx[k]
                if yy < 0 or yy >= ny or xx < 0 or xx >= nx:
                    other = 0.0
                else:
                    other = image[yy, xx]
                    if math.isnan(other):
                        other = nan_value
                if other > value:
                    is_peak = False
                    break
            peaks[y, x] = is_peak


@njit(cache=True, nogil=True)
def _cutout(image, xc, yc, radius_y, radius_x, buf):
    """Row-major cutout of ``(2 radius_y + 1, 2 radius_x + 1)`` pixels centred on (xc, yc), 0 outside."""
    ny, nx = image.shape
    ky = 2 * radius_y + 1
    kx = 2 * radius_x + 1
    for i in range(ky):
        yy = yc - radius_y + i
        for j in range(kx):
            xx = xc - radius_x + j
            if yy >= 0 and yy < ny and xx >= 0 and xx < nx:
                buf[i * kx + j] = image[yy, xx]
            else:
                buf[i * kx + j] = 0.0


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def iraf_source_sums(image, xs, ys, kernel_mask, out):
    """Cutout sums of IRAF starfind for each source (one row of ``out`` per source).

    In the kernel-shaped cutout around each peak, the sky is the mean of
    the pixels outside the kernel footprint (``kernel_mask == 0``); the
    object pixels are ``max(cutout - sky, 0)`` inside the footprint and 0
    outside.  Columns (:data:`IRAF_FIELDS`): sky, the count of nonzero
    object pixels, their sum ``m00``, the moment centroid in cutout
    coordinates, the central second moments divided by ``m00``
    (``mu_xx``, ``mu_yy``, ``mu_xy``), the largest object pixel and the
    flux (the object pixels' sum, numpy-pairwise).
    """
    ky, kx = kernel_mask.shape
    radius_y = ky // 2
    radius_x = kx // 2
    npix = ky * kx
    nsky = 0
    for i in range(ky):
        for j in range(kx):
            if kernel_mask[i, j] == 0:
                nsky += 1
    for s in prange(xs.size):
        cut = np.empty(npix)
        work = np.empty(npix)
        _cutout(image, xs[s], ys[s], radius_y, radius_x, cut)
        for p in range(npix):
            # the sky sum runs over every cutout pixel (x 0 inside the footprint), so a NaN
            # anywhere in the cutout makes the sky NaN, as photutils' product does
            work[p] = cut[p] * (1.0 if kernel_mask[p // kx, p % kx] == 0 else 0.0)
        sky = pairwise_sum(work, 0, npix) / nsky
        nonzero = 0
        peak = -np.inf
        has_nan = False
        m00 = 0.0
        m10 = 0.0
        m01 = 0.0
        for p in range(npix):
            value = (cut[p] - sky) * kernel_mask[p // kx, p % kx]
            if value < 0.0:
                value = 0.0
            work[p] = value
            if value != 0.0:
                nonzero += 1
            if math.isnan(value):
                has_nan = True
            elif value > peak:
                peak = value
            m00 += value
            m10 += (p // kx) * value
            m01 += (p % kx) * value
        flux = pairwise_sum(work, 0, npix)
        y_cut = m10 / m00
        x_cut = m01 / m00
        mu_xx = 0.0
        mu_yy = 0.0
        mu_xy = 0.0
        for p in range(npix):
            dy = (p // kx) - y_cut
            dx = (p % kx) - x_cut
            mu_xx += dx * dx * work[p]
            mu_yy += dy * dy * work[p]
            mu_xy += dx * dy * work[p]
        row = out[s]
        row[0] = sky
        row[1] = nonzero
        row[2] = m00
        row[3] = x_cut
        row[4] = y_cut
        row[5] = mu_xx / m00
        row[6] = mu_yy / m00
        row[7] = mu_xy / m00
        row[8] = np.nan if has_nan else peak
        row[9] = flux


@njit(cache=True, nogil=True, inline="always")
def _marginal_fit_sums(cut, stride_across, stride_along, n_along, wt_across, wt_along, kern, dkern, dxx, row,
                       start):  # pragma: no cover - numba
    """The four weighted sums of one marginal Gaussian fit, into ``row[start:start + 4]``.

    Pixel ``(a, b)`` (``a`` along the marginal's axis, ``b`` across it) is
    ``cut[a * stride_along + b * stride_across]``; the marginal at ``a`` sums
    across with the weights ``wt_across``.
    """
    n_across = wt_across.size
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for a in range(n_along):
        marginal = 0.0
        for b in range(n_across):
            marginal += cut[a * stride_along + b * stride_across] * wt_across[b]
        s0 += marginal * wt_along[a]
        s1 += marginal * kern[a] * wt_along[a]
        s2 += marginal * dkern[a] * wt_along[a]
        s3 += marginal * dxx[a] * wt_along[a]
    row[start] = s0
    row[start + 1] = s1
    row[start + 2] = s2
    row[start + 3] = s3


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def dao_source_sums(image, convolved, xs, ys, kernel_mask,
                    wt_x, wt_y, kern_x, kern_y, dkern_x, dkern_y, dxx_x, dxx_y, out):
    """Cutout sums of DAOFIND for each source (one row of ``out`` per source).

    Columns (:data:`DAO_FIELDS`): the central pixel of the image and of the
    convolved image; the roundness sums of the convolved cutout with its
    centre set to 0 (``sum2`` = -q1 + q2 - q3 + q4 over the four
    quadrants, ``sum4`` = sum of absolute values); the image cutout's sum
    inside the kernel footprint and its total (the flux); and, for the x
    then the y marginal, the weighted sums of the marginal Gaussian fit:
    ``sum w m``, ``sum w m k``, ``sum w m dk`` and ``sum w m d``, where
    ``m`` is the marginal distribution (weighted by the triangular weights
    ``wt`` of the other axis), ``k`` the kernel's marginal, ``dk`` its
    derivative term and ``d`` the pixel offsets from the centre.
    """
    ky, kx = kernel_mask.shape
    cy = (ky - 1) // 2
    cx = (kx - 1) // 2
    npix = ky * kx
    for s in prange(xs.size):
        cut = np.empty(npix)
        conv = np.empty(npix)
        work = np.empty(npix)
        _cutout(image, xs[s], ys[s], cy, cx, cut)
        _cutout(convolved, xs[s], ys[s], cy, cx, conv)
        row = out[s]
        row[0] = cut[cy * kx + cx]
        row[1] = conv[cy * kx + cx]
        conv[cy * kx + cx] = 0.0
        quad1 = 0.0  # rows <= cy, columns > cx
        quad2 = 0.0  # rows < cy, columns <= cx
        quad3 = 0.0  # rows >= cy, columns < cx
        quad4 = 0.0  # rows > cy, columns >= cx
        for i in range(ky):
            for j in range(kx):
                value = conv[i * kx + j]
                if i <= cy and j > cx:
                    quad1 += value
                if i < cy and j <= cx:
                    quad2 += value
                if i >= cy and j < cx:
                    quad3 += value
                if i > cy and j >= cx:
                    quad4 += value
        row[2] = -quad1 + quad2 - quad3 + quad4
        for p in range(npix):
            work[p] = abs(conv[p])
        row[3] = pairwise_sum(work, 0, npix)
        for p in range(npix):
            work[p] = cut[p] * kernel_mask[p // kx, p % kx]
        row[4] = pairwise_sum(work, 0, npix)
        row[5] = pairwise_sum(cut, 0, npix)
        # x marginal: each column summed over rows with the row weights
        _marginal_fit_sums(cut, kx, 1, kx, wt_y, wt_x, kern_x, dkern_x, dxx_x, row, 6)
        # y marginal: each row summed over columns with the column weights
        _marginal_fit_sums(cut, 1, kx, ky, wt_x, wt_y, kern_y, dkern_y, dxx_y, row, 10)


# --------------------------------------------------------------------------------------------
# Background mesh: sigma-clipped median and standard deviation per box
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def kth_smallest(values, count, k):
    """The ``k``-th smallest of ``values[:count]`` by Wirth's selection, reordering them in place.

    The reordering is part of the result: the clipping loop sums the
    buffer in this order, as astropy's C sigma clipping does.
    """
    lo = 0
    hi = count - 1
    while lo < hi:
        pivot = values[k]
        i = lo
        j = hi
        while True:
            while values[i] < pivot:
                i += 1
            while pivot < values[j]:
                j -= 1
            if i <= j:
                tmp = values[i]
                values[i] = values[j]
                values[j] = tmp
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return values[k]


@njit(cache=True, nogil=True)
def sigma_clip_bounds(buffer, count, sigma_lower, sigma_upper, maxiters):
    """Iterative median/std sigma clipping of ``buffer[:count]`` (float64), in place.

    Each pass takes the median (Wirth selection; an even count averages
    the two middle values) and the population standard deviation about
    the mean, keeps the values within ``median - sigma_lower std`` and
    ``median + sigma_upper std`` (packed to the front of ``buffer``), and
    stops when nothing more is clipped, nothing is left, or after
    ``maxiters`` passes (-1: no limit) - astropy's ``SigmaClip`` fast
    path, operation for operation, so the bounds are bit-identical.

    Returns
    -------
    lower, upper : float
        The final bounds.
    kept : int
        Values within them, now ``buffer[:kept]``.
    low_mid, high_mid : float
        The two middle values (equal for an odd count) of the last pass.
    settled : bool
        Whether the last pass clipped nothing, so that its middle values
        are those of the kept values.
    """
    iteration = 0
    while True:
        if count % 2 == 0:
            high_mid = kth_smallest(buffer, count, count // 2)
            low_mid = kth_smallest(buffer, count, count // 2 - 1)
            median = 0.5 * (high_mid + low_mid)
        else:
            median = kth_smallest(buffer, count, (count - 1) // 2)
            low_mid = median
            high_mid = median
        mean = 0.0
        for i in range(count):
            mean += buffer[i]
        mean /= count
        var = 0.0
        for i in range(count):
            var += (buffer[i] - mean) * (buffer[i] - mean)
        std = math.sqrt(var / count)
        lower = median - sigma_lower * std
        upper = median + sigma_upper * std
        kept = 0
        for i in range(count):
            if buffer[i] >= lower and buffer[i] <= upper:
                buffer[kept] = buffer[i]
                kept += 1
        if kept == count or kept == 0:
            return lower, upper, kept, low_mid, high_mid, kept == count
        count = kept
        iteration += 1
        if maxiters != -1 and iteration >= maxiters:
            return lower, upper, kept, low_mid, high_mid, False


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def box_statistics(data, excluded, box_y, box_x, sigma_lower, sigma_upper, maxiters,
                   median_out, std_out, ngood_out):
    """Sigma-clipped median, standard deviation and pixel count of each full box of a mesh.

    Box ``(i, j)`` covers ``data[i*box_y:(i+1)*box_y, j*box_x:(j+1)*box_x]``
    (``median_out.shape`` boxes).  Pixels that are ``excluded`` or not
    finite are left out; the rest are clipped with
    :func:`sigma_clip_bounds` (bounds compared in float64).  The median of
    the kept pixels and their population standard deviation are computed
    in the data's precision exactly as numpy's ``nanmedian`` and
    ``nanstd`` do along the box's row-major pixel order (two middle values
    added in that precision and halved; pairwise sums, the mean and the
    variance rounded to that precision), so float32 data give numpy's
    float32 numbers bit for bit.  No kept pixel: NaN, NaN, 0.
    """
    nby, nbx = median_out.shape
    npix = box_y * box_x
    zero = np.zeros(1, data.dtype)[0]
    for b in prange(nby * nbx):
        iy = b // nbx
        ix = b % nbx
        y0 = iy * box_y
        x0 = ix * box_x
        buffer = np.empty(npix)
        keep = np.empty(npix, np.bool_)
        values = np.empty(npix, data.dtype)
        rounded = np.empty(1, data.dtype)
        count = 0
        for r in range(box_y):
            for c in range(box_x):
                p = r * box_x + c
                v = data[y0 + r, x0 + c]
                if excluded[y0 + r, x0 + c] or not np.isfinite(v):
                    keep[p] = False
                else:
                    keep[p] = True
                    buffer[count] = v
                    count += 1
        if count == 0:
            ngood_out[iy, ix] = 0
            median_out[iy, ix] = np.nan
            std_out[iy, ix] = np.nan
            continue
        lower, upper, ngood, low_mid, high_mid, settled = sigma_clip_bounds(
            buffer, count, sigma_lower, sigma_upper, maxiters)
        ngood_out[iy, ix] = ngood
        if ngood == 0:
            median_out[iy, ix] = np.nan
            std_out[iy, ix] = np.nan
            continue
        for r in range(box_y):
            for c in range(box_x):
                p = r * box_x + c
                v = data[y0 + r, x0 + c]
                if keep[p] and not (v < lower or v > upper):
                    values[p] = v
                else:
                    keep[p] = False
                    values[p] = zero
        # the kept pixels are buffer[:ngood]; their middle values are the last pass's when it
        # clipped nothing
        if not settled:
            if ngood % 2 == 1:
                low_mid = kth_smallest(buffer, ngood, ngood // 2)
                high_mid = low_mid
            else:
                high_mid = kth_smallest(buffer, ngood, ngood // 2)
                low_mid = kth_smallest(buffer, ngood, ngood // 2 - 1)
        if ngood % 2 == 1:
            median_out[iy, ix] = low_mid
        else:
            rounded[0] = low_mid + high_mid  # exact in float64, rounded once to the data's type
            median_out[iy, ix] = rounded[0] / 2
        rounded[0] = pairwise_sum(values, 0, npix, zero) / ngood
        mean = rounded[0]
        for p in range(npix):
            if keep[p]:
                dev = values[p] - mean
                values[p] = dev * dev
        rounded[0] = pairwise_sum(values, 0, npix, zero) / ngood
        std_out[iy, ix] = math.sqrt(rounded[0])


# --------------------------------------------------------------------------------------------
# Normalised convolution with NaN interpolation (the segmentation finder's smoothing)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, parallel=True)
def convolve_fill_interpolate(image, kernel, fill_value, nan_interpolate, out):
    """``astropy.convolution.convolve`` of ``image`` by ``kernel`` with ``boundary='fill'``, unnormalised.

    Pixels beyond the edges read as ``fill_value``.  For each output pixel
    the kernel (flipped: a true convolution) runs row by row over the
    window, accumulating ``top = sum(value * weight)`` in float64.  With
    ``nan_interpolate`` NaN pixels are left out and ``bot = sum(weight)``
    over the others is accumulated too, and the output is ``top / bot``
    (the centre pixel itself where every weight was left out); without it
    the output is ``top`` (the caller divides by the kernel sum).  These
    are astropy's C loop's operations in its order (a left-out pixel adds
    an exact 0 instead of being skipped), so the result is bit-identical;
    the loops run weight by weight along whole rows of a framed band of
    the image so that the compiler can use SIMD across pixels.
    """
    ny, nx = image.shape
    ky, kx = kernel.shape
    ry = ky // 2
    rx = kx // 2
    nband = (ny + _BAND_ROWS - 1) // _BAND_ROWS
    for band in prange(nband):
        y0 = band * _BAND_ROWS
        y1 = min(ny, y0 + _BAND_ROWS)
        values = np.empty((y1 - y0 + 2 * ry, nx + 2 * rx))
        valid = np.empty((y1 - y0 + 2 * ry, nx + 2 * rx)) if nan_interpolate else values
        _padded_band(image, y0, y1, ry, rx, fill_value, nan_interpolate, values, valid)
        top = np.empty(nx)
        bot = np.empty(nx)
        for y in range(y0, y1):
            top[:] = 0.0
            bot[:] = 0.0
            for i in range(ky):
                row = values[y - y0 + i]
                on = valid[y - y0 + i]
                for j in range(kx):
                    weight = kernel[ky - 1 - i, kx - 1 - j]
                    if nan_interpolate:
                        for x in range(nx):
                            top[x] += row[x + j] * weight
                            bot[x] += on[x + j] * weight
                    else:
                        for x in range(nx):
                            top[x] += row[x + j] * weight
            for x in range(nx):
                if nan_interpolate:
                    out[y, x] = image[y, x] if bot[x] == 0 else top[x] / bot[x]
                else:
                    out[y, x] = top[x]
