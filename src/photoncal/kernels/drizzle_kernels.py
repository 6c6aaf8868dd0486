"""Numba kernels of drizzle: spread each input pixel over the output grid.

Every kernel follows the same pattern for an input pixel (i, j) whose centre
maps to output (ox, oy): work out which output pixels its flux reaches, the
overlap ``dover`` with each of them, and fold ``d = data * iscale`` into
each output pixel with weight ``dow = dover * w`` as a running weighted mean

    out  <- (out * wht + dow * d) / (wht + dow)
    wht  <- wht + dow
    out2 <- (out2 * wht**2 + dow**2 * d2) / (wht + dow)**2     (squared weights)

setting the image's bit in the context plane wherever ``dow > 0``. ``data``
and ``out`` are stacks of planes, (K, ny, nx) and (K, ny_out, nx_out): K
images that share the pixel map and the weights (SCI and ERR of an exposure,
its variance arrays) are drizzled in one pass, the overlaps computed once and
the weight plane shared; each plane's arithmetic is that of a one-plane run,
so the results are bit-identical to drizzling the planes one by one.
Optional "single" planes (``sdata``) go with the same drops into outputs
with a total weight of their own (an exposure's variance arrays resampled
alone while its science data join a mosaic). The
arithmetic (float32 where the established ``drizzle`` C library uses float,
its rounding rules, its operation order) is kept so that results agree with
that library to float32 rounding, and so the context bits agree exactly.

Threads and races
-----------------
Several input pixels write to the same output pixel, so input rows cannot
simply be split among threads. Instead each thread *owns a band of output
rows* and writes only there. A thread walks the input rows whose output
footprint can reach its band (per-row footprint bounds are computed first,
race-free, one row per iteration) and, for each pixel, restricts the kernel's
output rows to its band. Every output pixel is therefore written by exactly
one thread, in the same input order as a single-threaded run, so the result
is bit-identical whatever the number of threads. Only the few pixels whose
footprint straddles a band boundary are visited by two threads. A pixel that
reaches no output pixel ("miss") is counted by the band holding the first row
of its footprint.
"""

import contextlib
import math
import warnings

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.core.errors import NumbaPerformanceWarning
from numba.extending import overload

__all__ = [
    "KERNEL_CODES",
    "drizzle_drop_rows",
    "drizzle_point_rows",
    "drizzle_square_rows",
    "fill_uncovered",
    "footprint_row_bounds",
    "invert_pixmap",
    "lanczos_lut",
    "map_point",
    "serial_pipeline_quiet",
    "valid_section",
]

KERNEL_CODES = {"square": 0, "gaussian": 1, "point": 2, "turbo": 3, "lanczos2": 4, "lanczos3": 5,
                "tophat": 6}
_SQUARE, _GAUSSIAN, _POINT, _TURBO, _LANCZOS2, _LANCZOS3, _TOPHAT = range(7)

LANCZOS_LUT_STEP = 0.003  # spacing of the tabulated Lanczos function (pixels)
_GAUSSIAN_NSIGMA = 2.5
_FWHM_TO_SIGMA_FACTOR = 2.3548
# Options for serial workers: numba's parallel pipeline with every automatic
# parallelisation off. Its extra IR simplification compiles these loops into
# measurably faster code (~25%) than the plain pipeline, and nothing in them
# runs in parallel, so the workers can be called from inside a prange.
# Compiling them makes numba say that nothing was parallelised: call them
# (or the parallel functions using them) inside `serial_pipeline_quiet()`.
SERIAL_PIPELINE = dict(comprehension=False, reduction=False, inplace_binop=False, setitem=False,
                       numpy=False, stencil=False, fusion=False, prange=False)


@contextlib.contextmanager
def serial_pipeline_quiet():
    """Context silencing numba's 'no transformation for parallel execution' notice."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="(?s).*no transformation for parallel execution",
                                category=NumbaPerformanceWarning)
        yield


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _c_round(x):
    # C round(): half away from zero (numba's round() is half-to-even)
    t = np.trunc(x)
    frac = x - t
    if frac >= 0.5:
        t += 1.0
    elif frac <= -0.5:
        t -= 1.0
    return np.int64(t)


def lanczos_lut(order, step=LANCZOS_LUT_STEP):
    """Tabulated ``sinc(x) sinc(x / order)`` on ``x = k * step``, zero beyond ``order``."""
    n = int(math.ceil(order / step)) + 1
    lut = np.zeros(n, dtype=np.float64)
    lut[0] = 1.0
    for k in range(1, n):
        x = k * step
        if x <= order:
            px = math.pi * x
            r = px / order
            lut[k] = math.sin(px) * math.sin(r) / (px * r)
    return lut


# --- pixel footprint (square kernel) ----------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bilinear(pixmap, xin, yin):
    """Output (x, y) at input point (xin, yin); extrapolates past the map's edge."""
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    i0 = int(xin)  # truncation toward zero, then clamped to a valid cell
    j0 = int(yin)
    if i0 < 0:
        i0 = 0
    elif i0 > nx - 2:
        i0 = nx - 2
    if j0 < 0:
        j0 = 0
    elif j0 > ny - 2:
        j0 = ny - 2
    x = xin - i0
    y = yin - j0
    x1 = 1.0 - x
    y1 = 1.0 - y
    xo = (pixmap[j0, i0, 0] * x1 * y1 + pixmap[j0, i0 + 1, 0] * x * y1
          + pixmap[j0 + 1, i0, 0] * x1 * y + pixmap[j0 + 1, i0 + 1, 0] * x * y)
    yo = (pixmap[j0, i0, 1] * x1 * y1 + pixmap[j0, i0 + 1, 1] * x * y1
          + pixmap[j0 + 1, i0, 1] * x1 * y + pixmap[j0 + 1, i0 + 1, 1] * x * y)
    return xo, yo


@njit(cache=True, nogil=True, error_model="numpy")
def map_point(pixmap, xin, yin):
    """Output (ok, x, y) of input point (xin, yin) by bilinear interpolation of the map.

    Extrapolates beyond the map's outer samples; ``ok`` is False when the
    result is not finite.
    """
    xo, yo = _bilinear(pixmap, xin, yin)
    return math.isfinite(xo) and math.isfinite(yo), xo, yo


_GOLDEN = 0.6180339887498948482
_MAX_INVERSION_ITERATIONS = 50
MAX_INV_ERR = 0.03  # accuracy (input pixels) of the inverted pixel map


@njit(cache=True, nogil=True, error_model="numpy")
def invert_pixmap(pixmap, xout, yout, xmin, xmax, ymin, ymax):
    """Input point of the box [xmin-0.5, xmax+0.5] x [ymin-0.5, ymax+0.5] mapping to (xout, yout).

    A two-dimensional golden-section search on the distance between the
    interpolated map and the target, down to 0.03 input pixels. Returns
    ``(ok, x, y)``; ``ok`` is False when the map is not finite on the way or
    the search does not converge in 50 steps.
    """
    xlo = xmin - 0.5
    xhi = xmax + 0.5
    ylo = ymin - 0.5
    yhi = ymax + 0.5
    dx = xhi - xlo
    dy = yhi - ylo
    niter = 0
    while (dx > MAX_INV_ERR or dy > MAX_INV_ERR) and niter < _MAX_INVERSION_ITERATIONS:
        niter += 1
        x1 = xhi - _GOLDEN * dx
        x2 = xlo + _GOLDEN * dx
        y1 = yhi - _GOLDEN * dy
        y2 = ylo + _GOLDEN * dy
        ok, xa, ya = map_point(pixmap, x1, y1)
        if not ok:
            return False, 0.0, 0.0
        d11 = (xa - xout) * (xa - xout) + (ya - yout) * (ya - yout)
        ok, xa, ya = map_point(pixmap, x1, y2)
        if not ok:
            return False, 0.0, 0.0
        d12 = (xa - xout) * (xa - xout) + (ya - yout) * (ya - yout)
        ok, xa, ya = map_point(pixmap, x2, y1)
        if not ok:
            return False, 0.0, 0.0
        d21 = (xa - xout) * (xa - xout) + (ya - yout) * (ya - yout)
        ok, xa, ya = map_point(pixmap, x2, y2)
        if not ok:
            return False, 0.0, 0.0
        d22 = (xa - xout) * (xa - xout) + (ya - yout) * (ya - yout)
        if d11 < d12 and d11 < d21 and d11 < d22:
            xhi = x2
            yhi = y2
        elif d12 < d11 and d12 < d21 and d12 < d22:
            xhi = x2
            ylo = y1
        elif d21 < d11 and d21 < d12 and d21 < d22:
            xlo = x1
            yhi = y2
        else:
            xlo = x1
            ylo = y1
        dx = xhi - xlo
        dy = yhi - ylo
    if niter == _MAX_INVERSION_ITERATIONS:
        return False, 0.0, 0.0
    return True, 0.5 * (xlo + xhi), 0.5 * (ylo + yhi)


@njit(cache=True, nogil=True, error_model="numpy")
def _pixel_corners(pixmap, i, j, h):
    """Output positions of the corners (i -+ h, j -+ h) of input pixel (i, j).

    Corners in clockwise order: (-h,+h), (+h,+h), (+h,-h), (-h,-h). Interior
    pixels interpolate inside the 3x3 neighbourhood of map samples; border
    pixels use the general bilinear interpolator (which extrapolates).
    Returns ok=False when any corner is NaN.
    """
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    if i > 0 and i < nx - 2 and j > 0 and j < ny - 2:
        c = (1.0 - h) * (1.0 - h)
        e = (1.0 - h) * h
        k = h * h
        x0_ = np.uint64(i - 1)
        x1_ = np.uint64(i)
        x2_ = np.uint64(i + 1)
        y0_ = np.uint64(j - 1)
        y1_ = np.uint64(j)
        y2_ = np.uint64(j + 1)
        # f[a][b]: map sample at (i - 1 + a, j - 1 + b) times its bilinear weight
        f00 = pixmap[y0_, x0_, 0] * k
        f10 = pixmap[y0_, x1_, 0] * e
        f20 = pixmap[y0_, x2_, 0] * k
        f01 = pixmap[y1_, x0_, 0] * e
        f11 = pixmap[y1_, x1_, 0] * c
        f21 = pixmap[y1_, x2_, 0] * e
        f02 = pixmap[y2_, x0_, 0] * k
        f12 = pixmap[y2_, x1_, 0] * e
        f22 = pixmap[y2_, x2_, 0] * k
        g00 = pixmap[y0_, x0_, 1] * k
        g10 = pixmap[y0_, x1_, 1] * e
        g20 = pixmap[y0_, x2_, 1] * k
        g01 = pixmap[y1_, x0_, 1] * e
        g11 = pixmap[y1_, x1_, 1] * c
        g21 = pixmap[y1_, x2_, 1] * e
        g02 = pixmap[y2_, x0_, 1] * k
        g12 = pixmap[y2_, x1_, 1] * e
        g22 = pixmap[y2_, x2_, 1] * k
        x0 = f01 + f11 + f02 + f12
        y0 = g01 + g11 + g02 + g12
        x1 = f11 + f21 + f12 + f22
        y1 = g11 + g21 + g12 + g22
        x2 = f10 + f20 + f11 + f21
        y2 = g10 + g20 + g11 + g21
        x3 = f00 + f10 + f01 + f11
        y3 = g00 + g10 + g01 + g11
    else:
        x0, y0 = _bilinear(pixmap, i - h, j + h)
        x1, y1 = _bilinear(pixmap, i + h, j + h)
        x2, y2 = _bilinear(pixmap, i + h, j - h)
        x3, y3 = _bilinear(pixmap, i - h, j - h)
    ok = (math.isfinite(x0) and math.isfinite(y0) and math.isfinite(x1) and math.isfinite(y1)
          and math.isfinite(x2) and math.isfinite(y2) and math.isfinite(x3) and math.isfinite(y3))
    return ok, x0, y0, x1, y1, x2, y2, x3, y3


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _area_under_segment(x1, y1, x2, y2):
    """Signed area under segment (x1,y1)-(x2,y2) inside the unit square [0,1]^2."""
    dx = x2 - x1
    dy = y2 - y1
    if dx == 0.0:
        return 0.0
    if dx < 0.0:
        sgn = -1.0
        xlo = x2
        xhi = x1
    else:
        sgn = 1.0
        xlo = x1
        xhi = x2
    if xlo >= 1.0 or xhi <= 0.0:
        return 0.0
    xlo = max(xlo, 0.0)
    xhi = min(xhi, 1.0)
    slope = dy / dx
    ylo = y1 + slope * (xlo - x1)
    yhi = y1 + slope * (xhi - x1)
    if ylo <= 0.0 and yhi <= 0.0:
        return 0.0
    if ylo >= 1.0 and yhi >= 1.0:
        return sgn * (xhi - xlo)
    det = x1 * y2 - y1 * x2
    if ylo < 0.0:
        ylo = 0.0
        xlo = det / dy
    if yhi < 0.0:
        yhi = 0.0
        xhi = det / dy
    if ylo <= 1.0:
        if yhi <= 1.0:
            return sgn * 0.5 * (xhi - xlo) * (yhi + ylo)
        xtop = (dx + det) / dy
        return sgn * (0.5 * (xtop - xlo) * (1.0 + ylo) + xhi - xtop)
    xtop = (dx + det) / dy
    return sgn * (0.5 * (xhi - xtop) * (1.0 + yhi) + xtop - xlo)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _quad_overlap(ii, jj, x0, y0, x1, y1, x2, y2, x3, y3):
    """Signed area of the quadrilateral inside output pixel (ii, jj).

    Positive for a clockwise quadrilateral, negative for an anticlockwise one
    (the sign cancels against the Jacobian).
    """
    ox = ii - 0.5
    oy = jj - 0.5
    ax = x0 - ox
    ay = y0 - oy
    bx = x1 - ox
    by = y1 - oy
    cx = x2 - ox
    cy = y2 - oy
    dx = x3 - ox
    dy = y3 - oy
    return (_area_under_segment(ax, ay, bx, by) + _area_under_segment(bx, by, cx, cy)
            + _area_under_segment(cx, cy, dx, dy) + _area_under_segment(dx, dy, ax, ay))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _box_overlap(ii, jj, xlo, xhi, ylo, yhi):
    """Area of the axis-aligned box inside output pixel (ii, jj)."""
    dx = min(xhi, ii + 0.5) - max(xlo, ii - 0.5)
    dy = min(yhi, jj + 0.5) - max(ylo, jj - 0.5)
    if dx > 0.0 and dy > 0.0:
        return dx * dy
    return 0.0


# --- output update ---------------------------------------------------------------


# An image (2-D data and out) and a stack of planes (3-D) compile separately:
# the one-plane kernels keep d in a register, as fast as before stacks existed.
_OVERLOAD_OPTIONS = dict(inline="always", jit_options=dict(nogil=True, error_model="numpy"))


def _pixel_values(data, j, i, iscale, dk):
    """``d = data * iscale`` of input pixel (i, j): a scalar for an image, ``dk`` filled for a stack.

    Without data (None, no single planes) nothing is read.
    """


@overload(_pixel_values, **_OVERLOAD_OPTIONS)
def _pixel_values_impl(data, j, i, iscale, dk):
    if isinstance(data, types.NoneType):
        def nothing(data, j, i, iscale, dk):
            return dk
        return nothing
    if data.ndim == 2:
        def one(data, j, i, iscale, dk):
            return data[j, i] * iscale
        return one

    def stack(data, j, i, iscale, dk):
        for p in range(dk.shape[0]):
            dk[p] = data[np.uint64(p), j, i] * iscale
        return dk
    return stack


def _first_value(out, jj, ii, d):
    """Output pixel (ii, jj) of every plane takes its first contribution ``d``."""


@overload(_first_value, **_OVERLOAD_OPTIONS)
def _first_value_impl(out, jj, ii, d):
    if out.ndim == 2:
        def one(out, jj, ii, d):
            out[jj, ii] = d
        return one

    def stack(out, jj, ii, d):
        for p in range(d.shape[0]):
            out[np.uint64(p), jj, ii] = d[p]
    return stack


def _running_mean(out, jj, ii, d, vc, dow, vc_plus_dow):
    """``out <- (out * vc + dow * d) / (vc + dow)`` at output pixel (ii, jj) of every plane (float32)."""


@overload(_running_mean, **_OVERLOAD_OPTIONS)
def _running_mean_impl(out, jj, ii, d, vc, dow, vc_plus_dow):
    # all in float32, as the reference library (drizzle 3.0) evaluates it
    if out.ndim == 2:
        def one(out, jj, ii, d, vc, dow, vc_plus_dow):
            out[jj, ii] = (out[jj, ii] * vc + dow * d) / vc_plus_dow
        return one

    def stack(out, jj, ii, d, vc, dow, vc_plus_dow):
        for p in range(d.shape[0]):
            pu = np.uint64(p)
            out[pu, jj, ii] = (out[pu, jj, ii] * vc + dow * d[p]) / vc_plus_dow
    return stack


def _single_buffer(sdata):
    """Room for one input pixel's values of the single planes (none without them)."""


@overload(_single_buffer, **_OVERLOAD_OPTIONS)
def _single_buffer_impl(sdata):
    if isinstance(sdata, types.NoneType):
        def nothing(sdata):
            return np.empty(0, dtype=np.float32)
        return nothing

    def planes(sdata):
        return np.empty(sdata.shape[0], dtype=np.float32)
    return planes


def _fold_in_single(sout, swht, ii_, jj_, sd, dow):
    """Running weighted mean of the single planes (own total weight ``swht``); nothing without them."""


@overload(_fold_in_single, **_OVERLOAD_OPTIONS)
def _fold_in_single_impl(sout, swht, ii_, jj_, sd, dow):
    if isinstance(sout, types.NoneType):
        def nothing(sout, swht, ii_, jj_, sd, dow):
            return
        return nothing

    def planes(sout, swht, ii_, jj_, sd, dow):
        if dow == 0.0:
            return
        ii = np.uint64(ii_)
        jj = np.uint64(jj_)
        vc = swht[jj, ii]
        vc_plus_dow = vc + dow
        if vc == 0.0:
            _first_value(sout, jj, ii, sd)
        else:
            _running_mean(sout, jj, ii, sd, vc, dow, vc_plus_dow)
        swht[jj, ii] = vc_plus_dow
    return planes


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fold_in(out, wht, ii_, jj_, d, dow, out2, d2, n2, i, use_dq, outdq, dqval):
    """Running weighted mean update of output pixel (ii, jj) by value(s) d, weight dow."""
    if dow == 0.0:
        return
    # unsigned indices spare numba's negative-index wraparound on every access
    ii = np.uint64(ii_)
    jj = np.uint64(jj_)
    vc = wht[jj, ii]
    vc_plus_dow = vc + dow
    if vc == 0.0:
        _first_value(out, jj, ii, d)
        for k in range(n2):
            out2[k, jj, ii] = d2[k, i]
        if use_dq:
            outdq[jj, ii] = dqval
    else:
        _running_mean(out, jj, ii, d, vc, dow, vc_plus_dow)
        if n2 > 0:
            # squared weights in float32, the rest in double (as drizzle 3.0)
            dow2 = np.float64(dow * dow)
            vc2 = np.float64(vc * vc)
            total2 = np.float64(vc_plus_dow) * np.float64(vc_plus_dow)
            for k in range(n2):
                out2[k, jj, ii] = np.float32((out2[k, jj, ii] * vc2 + dow2 * d2[k, i]) / total2)
        if use_dq:
            outdq[jj, ii] = outdq[jj, ii] | dqval
    wht[jj, ii] = vc_plus_dow


# --- which part of the map is usable ---------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def valid_section(pixmap, xmin, xmax, ymin, ymax):
    """Tightest box inside ``[xmin, xmax] x [ymin, ymax]`` with a valid map on each edge.

    A map entry is valid unless its x or y is NaN. Returns
    ``(ok, xmin, xmax, ymin, ymax)``; ``ok`` is False when fewer than two
    valid columns or rows remain.
    """
    first_col = xmax
    first_row = ymax
    for j in range(ymin, ymax + 1):
        for i in range(xmin, xmax + 1):
            if math.isfinite(pixmap[j, i, 0]) and math.isfinite(pixmap[j, i, 1]):
                first_col = min(first_col, i)
                first_row = min(first_row, j)
                break
    last_col = first_col
    last_row = first_row
    for j in range(ymax, ymin - 1, -1):
        for i in range(xmax, xmin - 1, -1):
            if math.isfinite(pixmap[j, i, 0]) and math.isfinite(pixmap[j, i, 1]):
                last_col = max(last_col, i)
                last_row = max(last_row, j)
                break
    ok = first_col < last_col and first_row < last_row
    return ok, first_col, last_col, first_row, last_row


# --- per-row footprint bounds (for the band decomposition) ---------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _finite_y_range(pixmap, j):
    lo_y = np.inf
    hi_y = -np.inf
    for i in range(pixmap.shape[1]):
        y = pixmap[j, i, 1]
        if math.isfinite(y):
            lo_y = min(lo_y, y)
            hi_y = max(hi_y, y)
    return lo_y, hi_y


@njit(cache=True, nogil=True, error_model="numpy")
def _row_bounds(pixmap, j, x1, x2, row_min, row_max, square, half_width, h):
    """(lo, hi) output rows that pixels x1..x2 of input row j can reach."""
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    if square:
        # interior corners are convex combinations of the 3x3 neighbourhood
        lo_y = min(row_min[max(j - 1, 0)], row_min[j], row_min[min(j + 1, ny - 1)])
        hi_y = max(row_max[max(j - 1, 0)], row_max[j], row_max[min(j + 1, ny - 1)])
        # border pixels may extrapolate: take their actual corners
        for i in range(x1, x2 + 1):
            if i > 0 and i < nx - 2 and j > 0 and j < ny - 2:
                continue
            ok, xa, ya, xb, yb, xc, yc, xd, yd = _pixel_corners(pixmap, i, j, h)
            if ok:
                lo_y = min(lo_y, ya, yb, yc, yd)
                hi_y = max(hi_y, ya, yb, yc, yd)
    else:
        lo_y = row_min[j] - half_width
        hi_y = row_max[j] + half_width
    if lo_y <= hi_y:
        return np.int64(math.floor(lo_y)) - 2, np.int64(math.ceil(hi_y)) + 2
    return np.int64(0), np.int64(0)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def footprint_row_bounds(pixmap, row_first, row_last, square, half_width, pixfrac):
    """Conservative range of output rows each input row's pixels can reach.

    Returns int64 arrays ``(lo, hi)`` such that every output row index a
    kernel computes for a pixel of input row j lies in ``[lo[j], hi[j]]``.
    Non-finite map values are ignored (those pixels are not drizzled); rows
    without finite values get ``lo = hi = 0``.
    """
    ny = pixmap.shape[0]
    row_min = np.empty(ny)
    row_max = np.empty(ny)
    for j in prange(ny):
        row_min[j], row_max[j] = _finite_y_range(pixmap, j)
    lo = np.zeros(ny, dtype=np.int64)
    hi = np.zeros(ny, dtype=np.int64)
    h = 0.5 * pixfrac
    for j in prange(ny):
        if row_first[j] <= row_last[j]:
            lo[j], hi[j] = _row_bounds(pixmap, j, row_first[j], row_last[j], row_min, row_max,
                                       square, half_width, h)
    return lo, hi


# --- threads own bands of output rows -----------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _row_share(first_row, last_row, band_lo, band_hi, write_lo, write_hi, ny_out):
    """How a band treats a drop spanning output rows [first_row, last_row].

    Returns ``(visit, owner, r0, r1, e0, e1)``: the band writes rows r0..r1;
    the owner (the band holding ``first_row``) also decides whether the drop
    missed, looking at rows e0..e1 (written by other bands) if it found no
    hit in its own rows.
    """
    owner = band_lo <= first_row < band_hi
    jlo = max(first_row, 0)
    jhi = min(last_row, ny_out - 1)
    r0 = max(jlo, write_lo)
    r1 = min(jhi, write_hi)
    e0 = max(jlo, write_hi + 1)
    e1 = jhi
    visit = owner or r0 <= r1
    return visit, owner, r0, r1, e0, e1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fill_d2(d2, data2, j, x1, x2, iscale2):
    for k in range(data2.shape[0]):
        for i in range(x1, x2 + 1):
            d2[k, i] = data2[k, j, i] * iscale2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _node(pixmap, bi, bj, c):
    """Map at input (bi + 0.5, bj + 0.5): the mean of the four samples around it.

    Summed in the order the per-pixel corner interpolation uses, so that a
    node shared by four pixels is bit-identical to each pixel's own corner
    when pixfrac = 1 (all bilinear factors are then exactly 0.25).
    """
    b0 = np.uint64(bi)
    b1 = np.uint64(bi + 1)
    r0 = np.uint64(bj)
    r1 = np.uint64(bj + 1)
    x = (pixmap[r0, b0, 0] * c + pixmap[r0, b1, 0] * c
         + pixmap[r1, b0, 0] * c + pixmap[r1, b1, 0] * c)
    y = (pixmap[r0, b0, 1] * c + pixmap[r0, b1, 1] * c
         + pixmap[r1, b0, 1] * c + pixmap[r1, b1, 1] * c)
    return x, y


@njit(cache=True, nogil=True, error_model="numpy")
def _square_hit(r0, r1, c0, c1, xa, ya, xb, yb, xc, yc, xd, yd):
    for jj in range(r0, r1 + 1):
        for ii in range(c0, c1 + 1):
            if _quad_overlap(ii, jj, xa, ya, xb, yb, xc, yc, xd, yd) != 0.0:
                return True
    return False


@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _square_band(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2,
                 out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi,
                 band_lo, band_hi, iscale, wscale, pixfrac):
    """One band of `drizzle_square_rows`: write output rows [band_lo, band_hi) only."""
    ny = data.shape[-2]
    nx = data.shape[-1]
    ny_out = out.shape[-2]
    nx_out = out.shape[-1]
    n2 = data2.shape[0]
    dk = np.empty(data.shape[0] if data.ndim == 3 else 0, dtype=np.float32)
    sdk = _single_buffer(sdata)
    iscale2 = iscale * iscale
    h = 0.5 * pixfrac
    share_nodes = h == 0.5
    quarter = 0.25
    write_lo = max(band_lo, 0)
    write_hi = min(band_hi, ny_out) - 1
    nmiss = 0
    nescape = 0
    d2 = np.zeros((n2, nx), dtype=np.float32)
    # corner nodes of the rows below (base row j - 1) and above (base row j)
    below_x = np.empty(nx)
    below_y = np.empty(nx)
    above_x = np.empty(nx)
    above_y = np.empty(nx)
    above_row = -2
    above_c0 = 0
    above_c1 = -1
    for j in range(ny):
        x1 = row_first[j]
        x2 = row_last[j]
        if x1 > x2 or row_hi[j] < band_lo or row_lo[j] >= band_hi:
            continue
        owns_row_misses = row_lo[j] >= band_lo
        _fill_d2(d2, data2, j, x1, x2, iscale2)
        interior_row = j > 0 and j < ny - 2
        if share_nodes and interior_row:
            c0 = max(x1, 1) - 1
            c1 = min(x2, nx - 3)
            if above_row == j - 1 and above_c0 <= c0 and above_c1 >= c1:
                below_x, above_x = above_x, below_x
                below_y, above_y = above_y, below_y
            else:
                for bi in range(c0, c1 + 1):
                    below_x[bi], below_y[bi] = _node(pixmap, bi, j - 1, quarter)
            for bi in range(c0, c1 + 1):
                above_x[bi], above_y[bi] = _node(pixmap, bi, j, quarter)
            above_row = j
            above_c0 = c0
            above_c1 = c1

        for i in range(x1, x2 + 1):
            if share_nodes and interior_row and i > 0 and i < nx - 2:
                iu = np.uint64(i)
                im = np.uint64(i - 1)
                xa = above_x[im]
                ya = above_y[im]
                xb = above_x[iu]
                yb = above_y[iu]
                xc = below_x[iu]
                yc = below_y[iu]
                xd = below_x[im]
                yd = below_y[im]
                ok = (math.isfinite(xa) and math.isfinite(ya) and math.isfinite(xb)
                      and math.isfinite(yb) and math.isfinite(xc) and math.isfinite(yc)
                      and math.isfinite(xd) and math.isfinite(yd))
            else:
                ok, xa, ya, xb, yb, xc, yc, xd, yd = _pixel_corners(pixmap, i, j, h)
            if not ok:
                if owns_row_misses:
                    nmiss += 1
                continue
            first_row = _c_round(min(ya, yb, yc, yd))
            last_row = _c_round(max(ya, yb, yc, yd))
            if first_row < row_lo[j] or last_row > row_hi[j]:
                nescape += 1
            visit, owner, r0, r1, e0, e1 = _row_share(first_row, last_row, band_lo, band_hi,
                                                      write_lo, write_hi, ny_out)
            if not visit:
                continue
            first_col = max(_c_round(min(xa, xb, xc, xd)), 0)
            last_col = min(_c_round(max(xa, xb, xc, xd)), nx_out - 1)
            # Jacobian: area of the mapped drop (signed like the overlaps)
            jaco = 0.5 * ((xb - xd) * (ya - yc) - (xa - xc) * (yb - yd))
            ju = np.uint64(j)
            iu = np.uint64(i)
            wt = weights[ju, iu] if use_weights else np.float32(1.0)
            w = np.float64(wt * wscale) / jaco
            d = _pixel_values(data, ju, iu, iscale, dk)
            sd = _pixel_values(sdata, ju, iu, iscale, sdk)
            dqval = dq[ju, iu] if use_dq else np.uint32(0)
            nhit = 0
            for jj in range(r0, r1 + 1):
                for ii in range(first_col, last_col + 1):
                    dover = _quad_overlap(ii, jj, xa, ya, xb, yb, xc, yc, xd, yd)
                    if dover != 0.0:
                        nhit += 1
                        dow = np.float32(dover * w)
                        if use_ctx and dow > 0.0:
                            ctx[np.uint64(jj), np.uint64(ii)] |= bitval
                        _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval)
                        _fold_in_single(sout, swht, ii, jj, sd, dow)
            if owner and nhit == 0:
                if not _square_hit(e0, e1, first_col, last_col, xa, ya, xb, yb, xc, yc, xd, yd):
                    nmiss += 1
    return nmiss, nescape


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def drizzle_square_rows(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
                        data2, out2, dq, outdq, use_dq, sdata, sout, swht,
                        row_first, row_last, row_lo, row_hi, bands,
                        iscale, wscale, pixfrac):
    """Square kernel: drizzle the listed input pixels onto the outputs, in place.

    Parameters
    ----------
    data : float32 (ny, nx) or (K, ny, nx)
        Input values: an image, or K planes drizzled with the same overlaps
        and weights.
    weights : float32 (ny, nx)
        Input weights.
    use_weights : bool
        False to take every weight as 1 (``weights`` is then a placeholder).
    pixmap : float64 (ny, nx, 2)
        Output (x, y) of each input pixel centre.
    out : float32 (ny_out, nx_out) or (K, ny_out, nx_out), like ``data``
        Running weighted mean (of each plane), updated in place.
    wht : float32 (ny_out, nx_out)
        Total weight (shared by the planes), updated in place.
    ctx : int32 (ny_out, nx_out)
        Context plane of this image (ignored unless ``use_ctx``).
    bitval : int32
        This image's bit in ``ctx``.
    data2, out2 : float32 (n2, ny, nx), (n2, ny_out, nx_out)
        Arrays co-added with squared weights (n2 may be 0).
    dq, outdq : uint32 (ny, nx), (ny_out, nx_out)
        DQ bit-ORed into the output where ``use_dq``.
    sdata, sout, swht : float32 (K2, ny, nx), (K2, ny_out, nx_out), (ny_out, nx_out), or None
        "Single" planes: drizzled with the same drops (overlaps and weights)
        into outputs of their own, with their own total weight ``swht``
        (e.g. an exposure's variance arrays resampled alone while its
        science data are co-added into a mosaic). None: no single planes.
    row_first, row_last : int32 (ny,)
        Columns to drizzle in each input row (none where first > last).
    row_lo, row_hi : int64 (ny,)
        Output rows each input row can reach (`footprint_row_bounds`).
    bands : int64 (nbands + 1,)
        Output row boundaries of the bands owned by the threads; the first
        and last stand in for -inf and +inf.
    iscale, wscale : float32
        Data and weight scale factors.
    pixfrac : float64
        Linear size of the drop relative to the input pixel.

    Returns
    -------
    nmiss : int
        Listed input pixels that reached no output pixel.
    nescape : int
        Pixels whose footprint escaped the row bounds: 0 unless the bounds
        are wrong (the caller treats it as an internal error).
    """
    nbands = bands.shape[0] - 1
    misses = np.zeros(nbands, dtype=np.int64)
    escapes = np.zeros(nbands, dtype=np.int64)
    for b in prange(nbands):
        misses[b], escapes[b] = _square_band(
            data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2, dq,
            outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, bands[b],
            bands[b + 1], iscale, wscale, pixfrac)
    return misses.sum(), escapes.sum()

@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _point_band(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2,
                dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, band_lo,
                band_hi, iscale, wscale):
    """One band of `drizzle_point_rows`: write output rows [band_lo, band_hi) only."""
    ny = data.shape[-2]
    nx = data.shape[-1]
    ny_out = out.shape[-2]
    nx_out = out.shape[-1]
    n2 = data2.shape[0]
    dk = np.empty(data.shape[0] if data.ndim == 3 else 0, dtype=np.float32)
    sdk = _single_buffer(sdata)
    iscale2 = iscale * iscale

    nmiss = 0
    nescape = 0
    d2 = np.zeros((n2, nx), dtype=np.float32)
    for j in range(ny):
        x1 = row_first[j]
        x2 = row_last[j]
        if x1 > x2 or row_hi[j] < band_lo or row_lo[j] >= band_hi:
            continue
        owns_row_misses = row_lo[j] >= band_lo
        _fill_d2(d2, data2, j, x1, x2, iscale2)
        for i in range(x1, x2 + 1):
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            if not (math.isfinite(ox) and math.isfinite(oy)):
                if owns_row_misses:
                    nmiss += 1
                continue
            ii = _c_round(ox)
            jj = _c_round(oy)
            if jj < row_lo[j] or jj > row_hi[j]:
                nescape += 1
            if jj < band_lo or jj >= band_hi:
                continue
            if ii < 0 or ii >= nx_out or jj < 0 or jj >= ny_out:
                nmiss += 1
                continue
            d = _pixel_values(data, j, i, iscale, dk)
            sd = _pixel_values(sdata, j, i, iscale, sdk)
            dow = (weights[j, i] if use_weights else np.float32(1.0)) * wscale
            dqval = dq[j, i] if use_dq else np.uint32(0)
            if use_ctx and dow > 0.0:
                ctx[np.uint64(jj), np.uint64(ii)] |= bitval
            _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval)
            _fold_in_single(sout, swht, ii, jj, sd, dow)
    return nmiss, nescape


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def drizzle_point_rows(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
                       data2, out2, dq, outdq, use_dq, sdata, sout, swht,
                       row_first, row_last, row_lo, row_hi, bands, iscale, wscale):
    """Point kernel: each input pixel goes to the output pixel holding its centre.

    Arguments and returns as `drizzle_square_rows` (without ``pixfrac``).
    """
    nbands = bands.shape[0] - 1
    misses = np.zeros(nbands, dtype=np.int64)
    escapes = np.zeros(nbands, dtype=np.int64)
    for b in prange(nbands):
        misses[b], escapes[b] = _point_band(
            data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2, dq,
            outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, bands[b],
            bands[b + 1], iscale, wscale)
    return misses.sum(), escapes.sum()

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _drop_weight(kernel, ii, jj, ox, oy, pfo, turbo_scale, gauss_norm, gauss_efac, tophat_r2, lut,
                 lut_per_pixel):
    """Overlap of a turbo/gaussian/tophat/lanczos drop centred on (ox, oy) with output pixel (ii, jj).

    Returns ``(hit, dover)``; pixels that are not hits are skipped.
    """
    if kernel == _TOPHAT:
        # full weight for every output pixel whose centre lies in the disc
        ddx = ox - ii
        ddy = oy - jj
        return ddx * ddx + ddy * ddy <= tophat_r2, 1.0
    if kernel == _TURBO:
        dover = _box_overlap(ii, jj, ox - pfo, ox + pfo, oy - pfo, oy + pfo)
        return dover > 0.0, dover * turbo_scale
    if kernel == _GAUSSIAN:
        ddx = ox - ii
        ddy = oy - jj
        return True, gauss_norm * math.exp(-(ddx * ddx + ddy * ddy) * gauss_efac)
    lx = _c_round(abs((ox - ii) * lut_per_pixel))
    ly = _c_round(abs((oy - jj) * lut_per_pixel))
    if lx >= lut.shape[0] or ly >= lut.shape[0] or lx < 0 or ly < 0:  # < 0: absurd coordinates
        return False, 0.0
    return True, lut[lx] * lut[ly]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _drop_body(kernel, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
               data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
               row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio,
               lut):
    """One band of `drizzle_drop_rows`: write output rows [band_lo, band_hi) only.

    Inlined into per-kernel workers so that a constant ``kernel`` prunes the
    other kernels' branches.
    """
    ny = data.shape[-2]
    nx = data.shape[-1]
    ny_out = out.shape[-2]
    nx_out = out.shape[-1]
    n2 = data2.shape[0]
    dk = np.empty(data.shape[0] if data.ndim == 3 else 0, dtype=np.float32)
    sdk = _single_buffer(sdata)
    iscale2 = iscale * iscale

    psr = np.float64(pscale_ratio)
    ac = 1.0 / (pixfrac * pixfrac)
    lanczos = kernel == _LANCZOS2 or kernel == _LANCZOS3
    if kernel == _TURBO:
        pfo = pixfrac / psr / 2.0
    elif kernel == _GAUSSIAN:
        pfo = max(_GAUSSIAN_NSIGMA * pixfrac / _FWHM_TO_SIGMA_FACTOR / psr, 1.2 / psr)
    elif kernel == _TOPHAT:
        # radius and its square in float32, as the last drizzle with this kernel (1.15)
        pfo = np.float64(np.float32(pixfrac / psr / 2.0))
    elif kernel == _LANCZOS2:
        pfo = 2.0 / psr
    else:
        pfo = 3.0 / psr
    turbo_scale = ac * psr * psr
    gauss_efac = (_FWHM_TO_SIGMA_FACTOR * _FWHM_TO_SIGMA_FACTOR) * (psr * psr) * ac / 2.0
    gauss_norm = gauss_efac / math.pi
    tophat_r2 = np.float64(np.float32(pfo) * np.float32(pfo))
    lut_per_pixel = psr / LANCZOS_LUT_STEP
    write_lo = max(band_lo, 0)
    write_hi = min(band_hi, ny_out) - 1
    nmiss = 0
    nescape = 0
    d2 = np.zeros((n2, nx), dtype=np.float32)
    for j in range(ny):
        x1 = row_first[j]
        x2 = row_last[j]
        if x1 > x2 or row_hi[j] < band_lo or row_lo[j] >= band_hi:
            continue
        owns_row_misses = row_lo[j] >= band_lo
        _fill_d2(d2, data2, j, x1, x2, iscale2)
        for i in range(x1, x2 + 1):
            ox = pixmap[j, i, 0]
            oy = pixmap[j, i, 1]
            if not (math.isfinite(ox) and math.isfinite(oy)):
                if owns_row_misses:
                    nmiss += 1
                continue
            if lanczos:
                first_row = np.int64(math.floor(oy - pfo)) + 1
                last_row = np.int64(math.floor(oy + pfo))
                first_col = max(np.int64(math.floor(ox - pfo)) + 1, 0)
                last_col = min(np.int64(math.floor(ox + pfo)), nx_out - 1)
            else:
                first_row = _c_round(oy - pfo)
                last_row = _c_round(oy + pfo)
                first_col = max(_c_round(ox - pfo), 0)
                last_col = min(_c_round(ox + pfo), nx_out - 1)
            if first_row < row_lo[j] or last_row > row_hi[j]:
                nescape += 1
            visit, owner, r0, r1, e0, e1 = _row_share(first_row, last_row, band_lo, band_hi,
                                                      write_lo, write_hi, ny_out)
            if not visit:
                continue
            w = np.float64((weights[j, i] if use_weights else np.float32(1.0)) * wscale)
            d = _pixel_values(data, j, i, iscale, dk)
            sd = _pixel_values(sdata, j, i, iscale, sdk)
            dqval = dq[j, i] if use_dq else np.uint32(0)
            nhit = 0
            for jj in range(r0, r1 + 1):
                for ii in range(first_col, last_col + 1):
                    hit, dover = _drop_weight(kernel, ii, jj, ox, oy, pfo, turbo_scale,
                                              gauss_norm, gauss_efac, tophat_r2, lut, lut_per_pixel)
                    if not hit:
                        continue
                    nhit += 1
                    dow = np.float32(dover * w)
                    if use_ctx and dow > 0.0:
                        ctx[np.uint64(jj), np.uint64(ii)] |= bitval
                    _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval)
                    _fold_in_single(sout, swht, ii, jj, sd, dow)
            if owner and nhit == 0:
                for jj in range(e0, e1 + 1):
                    for ii in range(first_col, last_col + 1):
                        hit, dover = _drop_weight(kernel, ii, jj, ox, oy, pfo, turbo_scale,
                                                  gauss_norm, gauss_efac, tophat_r2, lut, lut_per_pixel)
                        if hit:
                            nhit += 1
                            break
                    if nhit:
                        break
                if nhit == 0:
                    nmiss += 1
    return nmiss, nescape


@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _turbo_band(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
               data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
               row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio,
               lut):
    """`_drop_body` for the turbo kernel, compiled with the kernel fixed (~20% faster)."""
    return _drop_body(_TURBO, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx,
                      bitval, data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
                      row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio, lut)


@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _tophat_band(data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
                 data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
                 row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio,
                 lut):
    """`_drop_body` for the tophat kernel, compiled with the kernel fixed."""
    return _drop_body(_TOPHAT, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx,
                      bitval, data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
                      row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio, lut)


@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _drop_band(kernel, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
               data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
               row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio,
               lut):
    """`_drop_body` for the gaussian and lanczos kernels."""
    return _drop_body(kernel, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx,
                      bitval, data2, out2, dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo,
                      row_hi, band_lo, band_hi, iscale, wscale, pixfrac, pscale_ratio, lut)


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def drizzle_drop_rows(kernel, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval,
                      data2, out2, dq, outdq, use_dq, sdata, sout, swht,
                      row_first, row_last, row_lo, row_hi, bands,
                      iscale, wscale, pixfrac, pscale_ratio, lut):
    """Turbo, gaussian, tophat and lanczos kernels: a drop of fixed shape about each centre.

    Arguments and returns as `drizzle_square_rows`, plus ``kernel`` (a code of
    `KERNEL_CODES`), ``pscale_ratio`` (float32, output over input linear pixel
    size, which sizes the drop) and ``lut`` (`lanczos_lut`, for lanczos).
    """
    nbands = bands.shape[0] - 1
    misses = np.zeros(nbands, dtype=np.int64)
    escapes = np.zeros(nbands, dtype=np.int64)
    for b in prange(nbands):
        if kernel == _TURBO:
            misses[b], escapes[b] = _turbo_band(
                data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2,
                dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, bands[b],
                bands[b + 1], iscale, wscale, pixfrac, pscale_ratio, lut)
            continue
        if kernel == _TOPHAT:
            misses[b], escapes[b] = _tophat_band(
                data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2,
                dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, bands[b],
                bands[b + 1], iscale, wscale, pixfrac, pscale_ratio, lut)
            continue
        misses[b], escapes[b] = _drop_band(
            kernel, data, weights, use_weights, pixmap, out, wht, ctx, use_ctx, bitval, data2, out2,
            dq, outdq, use_dq, sdata, sout, swht, row_first, row_last, row_lo, row_hi, bands[b],
            bands[b + 1], iscale, wscale, pixfrac, pscale_ratio, lut)
    return misses.sum(), escapes.sum()

@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def fill_uncovered(out, wht, fill_value, out2, fill2, fill_value2):
    """Set output pixels with zero total weight to ``fill_value`` in every plane of ``out`` (and ``out2``)."""
    nplanes = out.shape[0]
    ny = out.shape[1]
    nx = out.shape[2]
    n2 = out2.shape[0]
    for j in prange(ny):
        for i in range(nx):
            if wht[j, i] == 0.0:
                for p in range(nplanes):
                    out[p, j, i] = fill_value
                if fill2:
                    for k in range(n2):
                        out2[k, j, i] = fill_value2
