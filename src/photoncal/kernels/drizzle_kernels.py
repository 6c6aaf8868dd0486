"""Numba kernels of drizzle: spread each input pixel over the output grid.

Every kernel follows the same pattern for an input pixel (i, j) whose centre
maps to output (ox, oy): work out which output pixels its flux reaches, the
overlap ``dover`` with each of them, and fold ``d = data * iscale`` into
each output pixel with weight ``dow = dover * w`` as a running weighted mean

    out  <- (out * wht + dow * d) / (wht + dow)
    wht  <- wht + dow
    out2 <- (out2 * wht**2 + dow**2 * d2) / (wht + dow)**2     (squared weights)

setting the image's bit in the context plane wherever ``dow > 0``. The
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

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "KERNEL_CODES",
    "drizzle_rows",
    "footprint_row_bounds",
    "lanczos_lut",
    "fill_uncovered",
]

KERNEL_CODES = {"square": 0, "gaussian": 1, "point": 2, "turbo": 3, "lanczos2": 4, "lanczos3": 5}
_SQUARE, _GAUSSIAN, _POINT, _TURBO, _LANCZOS2, _LANCZOS3 = range(6)

LANCZOS_LUT_STEP = 0.003  # spacing of the tabulated Lanczos function (pixels)
_GAUSSIAN_NSIGMA = 2.5
_FWHM_TO_SIGMA_FACTOR = 2.3548
_F32_ONE = np.float32(1.0)


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True)
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
        # f[a][b]: map sample at (i - 1 + a, j - 1 + b) times its bilinear weight
        f00 = pixmap[j - 1, i - 1, 0] * k
        f10 = pixmap[j - 1, i, 0] * e
        f20 = pixmap[j - 1, i + 1, 0] * k
        f01 = pixmap[j, i - 1, 0] * e
        f11 = pixmap[j, i, 0] * c
        f21 = pixmap[j, i + 1, 0] * e
        f02 = pixmap[j + 1, i - 1, 0] * k
        f12 = pixmap[j + 1, i, 0] * e
        f22 = pixmap[j + 1, i + 1, 0] * k
        g00 = pixmap[j - 1, i - 1, 1] * k
        g10 = pixmap[j - 1, i, 1] * e
        g20 = pixmap[j - 1, i + 1, 1] * k
        g01 = pixmap[j, i - 1, 1] * e
        g11 = pixmap[j, i, 1] * c
        g21 = pixmap[j, i + 1, 1] * e
        g02 = pixmap[j + 1, i - 1, 1] * k
        g12 = pixmap[j + 1, i, 1] * e
        g22 = pixmap[j + 1, i + 1, 1] * k
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
    ok = not (math.isnan(x0) or math.isnan(y0) or math.isnan(x1) or math.isnan(y1)
              or math.isnan(x2) or math.isnan(y2) or math.isnan(x3) or math.isnan(y3))
    return ok, x0, y0, x1, y1, x2, y2, x3, y3


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True, inline="always")
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


@njit(cache=True, nogil=True, inline="always")
def _box_overlap(ii, jj, xlo, xhi, ylo, yhi):
    """Area of the axis-aligned box inside output pixel (ii, jj)."""
    dx = min(xhi, ii + 0.5) - max(xlo, ii - 0.5)
    dy = min(yhi, jj + 0.5) - max(ylo, jj - 0.5)
    if dx > 0.0 and dy > 0.0:
        return dx * dy
    return 0.0


# --- output update ---------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval):
    """Running weighted mean update of output pixel (ii, jj) by value d, weight dow."""
    if dow == 0.0:
        return
    vc = wht[jj, ii]
    vc_plus_dow = vc + dow
    if vc == 0.0:
        out[jj, ii] = d
        for k in range(n2):
            out2[k, jj, ii] = d2[k, i]
        if use_dq:
            outdq[jj, ii] = dqval
    else:
        # all in float32, as the reference library (drizzle 3.0) evaluates it
        out[jj, ii] = (out[jj, ii] * vc + dow * d) / vc_plus_dow
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


# --- per-row footprint bounds (for the band decomposition) ---------------------------


@njit(cache=True, nogil=True, parallel=True)
def footprint_row_bounds(pixmap, row_first, row_last, kernel, half_width, pixfrac):
    """Conservative range of output rows each input row's pixels can reach.

    Returns ``(lo, hi, bad)``: int64 arrays such that every output row index a
    kernel computes for a pixel of input row j lies in ``[lo[j], hi[j]]``, and
    the number of pixel-map values that are infinite (which drizzle cannot use).
    Rows without finite map values get ``lo = hi = 0``.
    """
    ny = pixmap.shape[0]
    nx = pixmap.shape[1]
    lo = np.zeros(ny, dtype=np.int64)
    hi = np.zeros(ny, dtype=np.int64)
    bad = np.zeros(ny, dtype=np.int64)
    h = 0.5 * pixfrac
    for j in prange(ny):
        x1 = row_first[j]
        x2 = row_last[j]
        if x1 > x2:
            continue
        ymin = np.inf
        ymax = -np.inf
        nbad = 0
        if kernel == _SQUARE:
            # interior pixels' corners are convex combinations of the 3x3
            # neighbourhood samples: bound them by those samples
            for jj in range(max(j - 1, 0), min(j + 1, ny - 1) + 1):
                for i in range(max(x1 - 1, 0), min(x2 + 1, nx - 1) + 1):
                    y = pixmap[jj, i, 1]
                    if math.isinf(y) or math.isinf(pixmap[jj, i, 0]):
                        nbad += 1
                    elif y == y:
                        ymin = min(ymin, y)
                        ymax = max(ymax, y)
            # border pixels may extrapolate: use their actual corners
            for i in range(x1, x2 + 1):
                if i > 0 and i < nx - 2 and j > 0 and j < ny - 2:
                    continue
                ok, x0, y0, xa, y1, xb, y2, xc, y3 = _pixel_corners(pixmap, i, j, h)
                if ok:
                    ymin = min(ymin, y0, y1, y2, y3)
                    ymax = max(ymax, y0, y1, y2, y3)
        else:
            for i in range(x1, x2 + 1):
                y = pixmap[j, i, 1]
                if math.isinf(y) or math.isinf(pixmap[j, i, 0]):
                    nbad += 1
                elif y == y:
                    ymin = min(ymin, y - half_width)
                    ymax = max(ymax, y + half_width)
        bad[j] = nbad
        if ymin <= ymax and nbad == 0:
            lo[j] = np.int64(math.floor(ymin)) - 2
            hi[j] = np.int64(math.ceil(ymax)) + 2
    return lo, hi, bad.sum()


# --- the drizzle loop ------------------------------------------------------------------


@njit(cache=True, nogil=True, parallel=True)
def drizzle_rows(kernel, data, weights, pixmap, out, wht, ctx, use_ctx, bitval,
                 data2, out2, dq, outdq, use_dq,
                 row_first, row_last, row_lo, row_hi, bands,
                 iscale, wscale, pixfrac, pscale_ratio, lut):
    """Drizzle the listed input pixels onto the output arrays, in place.

    Parameters
    ----------
    kernel : int
        One of `KERNEL_CODES`.
    data, weights : float32 (ny, nx)
        Input values and their weights.
    pixmap : float64 (ny, nx, 2)
        Output (x, y) of each input pixel centre.
    out, wht : float32 (ny_out, nx_out)
        Running weighted mean and total weight, updated in place.
    ctx : int32 (ny_out, nx_out)
        Context plane of this image (ignored unless ``use_ctx``).
    bitval : int32
        This image's bit in ``ctx``.
    data2, out2 : float32 (n2, ny, nx), (n2, ny_out, nx_out)
        Arrays co-added with squared weights (n2 may be 0).
    dq, outdq : uint32 (ny, nx), (ny_out, nx_out)
        DQ bit-ORed into the output where ``use_dq``.
    row_first, row_last : int32 (ny,)
        Columns to drizzle in each input row (none where first > last).
    row_lo, row_hi : int64 (ny,)
        Output rows each input row can reach (`footprint_row_bounds`).
    bands : int64 (nbands + 1,)
        Output row boundaries of the bands owned by the threads; the first
        and last are -inf and +inf stand-ins.
    iscale, wscale : float32
        Data and weight scale factors.
    pixfrac : float64
        Linear size of the drop relative to the input pixel.
    pscale_ratio : float32
        Output/input linear pixel scale, sizes the turbo/gaussian/lanczos drop.
    lut : float64 (n,)
        Lanczos table (`lanczos_lut`), used by the lanczos kernels.

    Returns
    -------
    nmiss : int
        Input pixels (of those listed) that reached no output pixel.
    nbad : int
        Pixels whose footprint escaped the row bounds: always 0 unless the
        bounds are wrong (the caller treats it as an internal error).
    """
    ny = data.shape[0]
    nx = data.shape[1]
    ny_out = out.shape[0]
    nx_out = out.shape[1]
    n2 = data2.shape[0]
    nbands = bands.shape[0] - 1
    misses = np.zeros(nbands, dtype=np.int64)
    escapes = np.zeros(nbands, dtype=np.int64)
    iscale2 = iscale * iscale

    # kernel geometry (see the module docstring of photoncal.kernels.drizzle)
    dh = 0.5 * pixfrac
    psr = np.float64(pscale_ratio)
    ac = 1.0 / (pixfrac * pixfrac)
    if kernel == _TURBO:
        pfo = pixfrac / psr / 2.0
    elif kernel == _GAUSSIAN:
        pfo = _GAUSSIAN_NSIGMA * pixfrac / _FWHM_TO_SIGMA_FACTOR / psr
        pfo = max(pfo, 1.2 / psr)
    elif kernel == _LANCZOS2:
        pfo = 2.0 / psr
    elif kernel == _LANCZOS3:
        pfo = 3.0 / psr
    else:
        pfo = 0.0
    turbo_scale = ac * psr * psr
    gauss_efac = (_FWHM_TO_SIGMA_FACTOR * _FWHM_TO_SIGMA_FACTOR) * (psr * psr) * ac / 2.0
    gauss_norm = gauss_efac / math.pi
    lut_per_pixel = np.float64(pscale_ratio) / LANCZOS_LUT_STEP
    nlut = lut.shape[0]

    for b in prange(nbands):
        band_lo = bands[b]
        band_hi = bands[b + 1]
        write_lo = max(band_lo, 0)
        write_hi = min(band_hi, ny_out) - 1
        nmiss = 0
        nescape = 0
        d2 = np.zeros((n2, nx), dtype=np.float32)
        for j in range(ny):
            x1 = row_first[j]
            x2 = row_last[j]
            if x1 > x2:
                continue
            if row_hi[j] < band_lo or row_lo[j] >= band_hi:
                continue
            # misses of pixels with no usable map go to the band holding row_lo
            owns_row_misses = row_lo[j] >= band_lo
            for k in range(n2):
                for i in range(x1, x2 + 1):
                    d2[k, i] = data2[k, j, i] * iscale2
            for i in range(x1, x2 + 1):
                d = data[j, i] * iscale
                dqval = dq[j, i] if use_dq else np.uint32(0)
                xa = ya = xb = yb = xc = yc = xd = yd = 0.0
                ox = pixmap[j, i, 0]
                oy = pixmap[j, i, 1]
                w = 0.0

                if kernel == _SQUARE:
                    ok, xa, ya, xb, yb, xc, yc, xd, yd = _pixel_corners(pixmap, i, j, dh)
                    if not ok:
                        if owns_row_misses:
                            nmiss += 1
                        continue
                    jaco = 0.5 * ((xb - xd) * (ya - yc) - (xa - xc) * (yb - yd))
                    w = np.float64(weights[j, i] * wscale) / jaco
                    first_row = _c_round(min(ya, yb, yc, yd))
                    last_row = _c_round(max(ya, yb, yc, yd))
                    first_col = max(_c_round(min(xa, xb, xc, xd)), 0)
                    last_col = min(_c_round(max(xa, xb, xc, xd)), nx_out - 1)
                else:
                    if math.isnan(ox) or math.isnan(oy):
                        if owns_row_misses:
                            nmiss += 1
                        continue
                    if kernel == _POINT:
                        ii = _c_round(ox)
                        jj = _c_round(oy)
                        if jj < row_lo[j] or jj > row_hi[j]:
                            nescape += 1
                        if jj < band_lo or jj >= band_hi:
                            continue
                        if ii < 0 or ii >= nx_out or jj < 0 or jj >= ny_out:
                            nmiss += 1
                            continue
                        dow = weights[j, i] * wscale
                        if use_ctx and dow > 0.0:
                            ctx[jj, ii] |= bitval
                        _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval)
                        continue
                    w = np.float64(weights[j, i] * wscale)
                    if kernel == _LANCZOS2 or kernel == _LANCZOS3:
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
                # the band holding the footprint's first row counts its miss
                owner = band_lo <= first_row < band_hi
                if not owner and (last_row < write_lo or first_row > write_hi):
                    continue
                jlo = max(first_row, 0)
                jhi = min(last_row, ny_out - 1)
                nhit = 0
                for pass_ in range(2):
                    if pass_ == 0:
                        # rows of this band: compute and write
                        r0 = max(jlo, write_lo)
                        r1 = min(jhi, write_hi)
                        write = True
                    else:
                        # owner without a hit so far: look for one in rows
                        # that other bands write, without writing
                        if not owner or nhit > 0 or jhi <= write_hi:
                            break
                        r0 = max(jlo, write_hi + 1)
                        r1 = jhi
                        write = False
                    for jj in range(r0, r1 + 1):
                        for ii in range(first_col, last_col + 1):
                            if kernel == _SQUARE:
                                dover = _quad_overlap(ii, jj, xa, ya, xb, yb, xc, yc, xd, yd)
                                if dover == 0.0:
                                    continue
                                dow = np.float32(dover * w)
                            elif kernel == _TURBO:
                                dover = _box_overlap(ii, jj, ox - pfo, ox + pfo, oy - pfo, oy + pfo)
                                if dover <= 0.0:
                                    continue
                                dow = np.float32(dover * turbo_scale * w)
                            elif kernel == _GAUSSIAN:
                                ddx = ox - ii
                                ddy = oy - jj
                                dover = gauss_norm * math.exp(-(ddx * ddx + ddy * ddy) * gauss_efac)
                                dow = np.float32(dover * w)
                            else:
                                lx = _c_round(abs((ox - ii) * lut_per_pixel))
                                ly = _c_round(abs((oy - jj) * lut_per_pixel))
                                if lx >= nlut or ly >= nlut:
                                    continue
                                dow = np.float32(lut[lx] * lut[ly] * w)
                            nhit += 1
                            if not write:
                                break
                            if use_ctx and dow > 0.0:
                                ctx[jj, ii] |= bitval
                            _fold_in(out, wht, ii, jj, d, dow, out2, d2, n2, i, use_dq, outdq, dqval)
                        if nhit > 0 and not write:
                            break
                if owner and nhit == 0:
                    nmiss += 1
        misses[b] = nmiss
        escapes[b] = nescape
    return misses.sum(), escapes.sum()


@njit(cache=True, nogil=True, parallel=True)
def fill_uncovered(out, wht, fill_value, out2, fill2, fill_value2):
    """Set output pixels with zero total weight to ``fill_value`` (and ``out2``)."""
    ny = out.shape[0]
    nx = out.shape[1]
    n2 = out2.shape[0]
    for j in prange(ny):
        for i in range(nx):
            if wht[j, i] == 0.0:
                out[j, i] = fill_value
                if fill2:
                    for k in range(n2):
                        out2[k, j, i] = fill_value2
