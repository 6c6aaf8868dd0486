"""Which input pixels drizzle visits: the bounding polygon and its row scanner.

Before resampling an image, drizzle works out which input pixels can land on
the output grid at all, so that it never touches the rest:

1. the valid part of the pixel map is bounded (rows/columns whose map is NaN
   at the edges are trimmed);
2. the outline of that input box is mapped to the output frame, clipped to
   the output image rectangle (Sutherland-Hodgman), and the clipped polygon is
   mapped back to the input frame by inverting the pixel map numerically
   (golden-section search on its bilinear interpolant);
3. a scanline walker turns that polygon into a column range for every input
   row; a pixel is visited when its centre lies inside the polygon (within
   ``MAX_INV_ERR``).

The rules, tolerances and the miss/skip counters follow the established
``drizzle`` package (the C library behind ``cdrizzle.tdriz``) so that the
same input pixels contribute; this matters at the output's borders, where an
input pixel whose centre falls just outside the output image is not drizzled
even though part of its footprint overlaps the edge pixel.

Everything here runs once per image on O(rows) data, so it is plain Python
around two numba helpers (map interpolation and inversion).
"""

import math
import sys

import numpy as np

from photoncal.kernels.drizzle_kernels import MAX_INV_ERR, invert_pixmap, map_point

__all__ = ["c_round", "ImageScan", "scan_image"]

VERTEX_ATOL = 1.0e-12  # vertices closer than this are the same vertex
APPROX_ZERO = 1.0e3 * sys.float_info.min  # collinearity threshold
_MAX_POLYGON_VERTICES = 8  # a quadrilateral clipped by a rectangle


def c_round(x):
    """Round half away from zero to an int, as C's ``round`` does.

    Python's ``round`` rounds half to even, which would move pixel boundaries
    that fall exactly on a half-integer.
    """
    if not math.isfinite(x):
        raise ValueError(f"cannot round {x} to a pixel index")
    t = math.trunc(x)
    frac = x - t  # exact for the magnitudes a pixel map holds
    if frac >= 0.5:
        return t + 1
    if frac <= -0.5:
        return t - 1
    return t


class _PixmapInterpolator:
    """Bilinear interpolation (extrapolation at the borders) of a pixel map, and its inverse."""

    def __init__(self, pixmap, xmin, xmax, ymin, ymax):
        self.pixmap = pixmap
        self.box = (xmin, xmax, ymin, ymax)

    def map_point(self, xin, yin):
        """Output (x, y) of an input point, or None; integral points inside the box read the map."""
        i = int(xin)
        j = int(yin)
        if i == xin and j == yin:
            xmin, xmax, ymin, ymax = self.box
            if xmin <= i <= xmax and ymin <= j <= ymax:
                xout, yout = self.pixmap[j, i].tolist()
                if not (math.isfinite(xout) and math.isfinite(yout)):
                    return None
                return xout, yout
            return None
        ok, xout, yout = map_point(self.pixmap, float(xin), float(yin))
        return (xout, yout) if ok else None

    def invert(self, xout, yout):
        """Input point mapping to (xout, yout), or None when the search fails."""
        ok, x, y = invert_pixmap(self.pixmap, float(xout), float(yout), *self.box)
        return (x, y) if ok else None


# --- polygons: lists of (x, y) tuples -------------------------------------------


def _cross(a, b):
    return a[0] * b[1] - a[1] * b[0]


def _strictly_left_of(pt, v_prev, v):
    # sign of the triangle (pt, v_prev, v) as the established code evaluates it
    return (_cross(v, pt) - _cross(v_prev, pt) - _cross(v, v_prev)) > 0.0


def _same_vertex(a, b):
    return abs(a[0] - b[0]) < VERTEX_ATOL and abs(a[1] - b[1]) < VERTEX_ATOL


def _append_vertex(poly, v):
    if poly and (_same_vertex(poly[-1], v) or _same_vertex(poly[0], v)):
        return
    if len(poly) >= _MAX_POLYGON_VERTICES:
        return
    poly.append(v)


def _orient_ccw(poly):
    """The polygon, reversed if its first two vertices turn clockwise about its mean."""
    n = len(poly)
    if n < 3:
        return poly
    cx = sum(v[0] for v in poly) / n
    cy = sum(v[1] for v in poly) / n
    v1 = (poly[0][0] - cx, poly[0][1] - cy)
    v2 = (poly[1][0] - cx, poly[1][1] - cy)
    if _cross(v1, v2) >= 0.0:
        return poly
    return poly[::-1]


def _drop_collinear(poly):
    n = len(poly)
    if n < 3:
        return poly
    kept = []
    for k in range(n):
        prev = poly[k - 1]
        cur = poly[k]
        nxt = poly[(k + 1) % n]
        dp = (nxt[0] - prev[0], nxt[1] - prev[1])
        dq = (cur[0] - prev[0], cur[1] - prev[1])
        if abs(_cross(dp, dq)) > APPROX_ZERO and math.sqrt(dp[0] * dp[0] + dp[1] * dp[1]) > VERTEX_ATOL:
            kept.append(cur)
    return kept


def clip_polygon(poly, window):
    """Intersection of ``poly`` with the convex ``window`` (Sutherland-Hodgman)."""
    poly = _orient_ccw(list(poly))
    window = _orient_ccw(list(window))
    result = poly
    w_prev = window[-1]
    for w in window:
        dw = (w[0] - w_prev[0], w[1] - w_prev[1])
        source = result
        result = []
        if source:
            p_prev = source[-1]
            for p in source:
                dp = (p[0] - p_prev[0], p[1] - p_prev[1])
                prev_inside = _strictly_left_of(w_prev, w, p_prev)
                inside = _strictly_left_of(w_prev, w, p)
                if inside != prev_inside:
                    d = _cross(dp, dw)
                    app = _cross(p, p_prev)
                    aww = _cross(w, w_prev)
                    vi = ((app * dw[0] - aww * dp[0]) / d, (app * dw[1] - aww * dp[1]) / d)
                    if math.isfinite(vi[0]) and math.isfinite(vi[1]):
                        _append_vertex(result, vi)
                    if inside:
                        _append_vertex(result, p)
                elif prev_inside:
                    _append_vertex(result, p)
                p_prev = p
        w_prev = w
    return _drop_collinear(_orient_ccw(result))


# --- scanner ---------------------------------------------------------------------


def _ieee_div(a, b):
    """a / b with IEEE results (inf, nan) where Python would raise."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


class _Edge:
    __slots__ = ("v1", "v2", "slope", "c")

    def __init__(self, v1, v2, side):
        # x = slope * y + intercept along the edge; c moves the intercept half a
        # pixel (plus the slope's run) inward so that whole pixels fit inside.
        # A horizontal edge (inversion can make one) gets infinite/NaN terms
        # and is passed over by the scan, as in the established code.
        self.v1 = v1
        self.v2 = v2
        dy = v2[1] - v1[1]
        self.slope = _ieee_div(v2[0] - v1[0], dy)
        intercept = _ieee_div(v1[0] * v2[1] - v1[1] * v2[0], dy)
        self.c = intercept - math.copysign(0.5 + 0.5 * abs(self.slope), side)


def _split_edges(poly):
    """Left and right edge chains of a CCW polygon, each from bottom to top."""
    n = len(poly)
    ys = [v[1] for v in poly]
    min_y = min(ys)
    min_left = ys.index(min_y)
    i1 = (min_left - 1) % n
    i2 = (min_left + 1) % n
    min_right = i1 if ys[i1] < ys[i2] else i2
    if ys[min_right] <= min_y * (1.0 + math.copysign(VERTEX_ATOL, min_y)):
        if poly[min_left][0] > poly[min_right][0]:
            min_left, min_right = min_right, min_left
    else:
        min_right = min_left

    max_y = max(ys)
    max_right = ys.index(max_y)
    i1 = (max_right - 1) % n
    i2 = (max_right + 1) % n
    max_left = i1 if ys[i1] > ys[i2] else i2
    if ys[max_left] >= max_y * (1.0 - math.copysign(VERTEX_ATOL, max_y)):
        if poly[max_left][0] > poly[max_right][0]:
            max_left, max_right = max_right, max_left
    else:
        max_left = max_right

    if max_left > min_left:
        min_left += n
    left = []
    for k in range(min_left - max_left):
        a = (min_left - k) % n
        left.append(_Edge(poly[a], poly[(a - 1) % n], -1.0))
    if max_right < min_right:
        max_right += n
    right = []
    for k in range(max_right - min_right):
        a = (min_right + k) % n
        right.append(_Edge(poly[a], poly[(a + 1) % n], 1.0))
    return left, right, min_y, max_y


class ImageScan:
    """Input pixels to drizzle and the established miss/skip counters.

    Attributes
    ----------
    row_first, row_last : ndarray of int32, shape (ny,)
        First and last column to drizzle in each input row; a row is skipped
        where ``row_first > row_last``.
    nmiss, nskip : int
        Counters of input pixels and lines that cannot contribute, seeded as
        the established code seeds them (before per-pixel misses are added).
    polygon : list of (x, y)
        The bounding polygon in the input frame.
    empty : bool
        True when nothing of the input reaches the output.
    """

    def __init__(self, ny):
        self.row_first = np.zeros(ny, dtype=np.int32)
        self.row_last = np.full(ny, -1, dtype=np.int32)
        self.nmiss = 0
        self.nskip = 0
        self.polygon = []
        self.empty = True
        self.box = None

    def pscale_ratio_estimate(self, pixmap):
        """Linear scale of the pixel map near the centroid of the bounding polygon."""
        poly = self.polygon
        n = len(poly)
        area = 0.0
        for k in range(n):
            xa, ya = poly[k - 1]
            xb, yb = poly[k]
            area += (xa + xb) * (ya - yb)
        area *= 0.5
        if abs(area) < APPROX_ZERO or n < 3:
            raise ValueError("Unable to estimate the pixel scale ratio from the pixel map: "
                             "the input footprint on the output is degenerate")
        sx = sy = 0.0
        for k in range(n):
            xa, ya = poly[k - 1]
            xb, yb = poly[k]
            f = xa * yb - xb * ya
            sx += (xa + xb) * f
            sy += (ya + yb) * f
        cx = sx / (6.0 * area)
        cy = sy / (6.0 * area)
        ny, nx = pixmap.shape[:2]
        i = max(min(int(cx), nx - 2), 0)
        j = max(min(int(cy), ny - 2), 0)
        ox, oy = pixmap[j, i].tolist()
        ox1, oy1 = pixmap[j, i + 1].tolist()
        ox2, oy2 = pixmap[j + 1, i].tolist()
        det = (ox1 - ox) * (oy2 - oy) - (oy1 - oy) * (ox2 - ox)
        if not math.isfinite(det):
            raise ValueError("Unable to estimate the pixel scale ratio: the pixel map is NaN "
                             f"near input pixel ({i}, {j})")
        return float(np.float32(math.sqrt(abs(det))))


def scan_image(pixmap, out_shape, xmin, xmax, ymin, ymax):
    """Work out which input pixels to drizzle onto an output of ``out_shape``.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2), float64
        Output (x, y) of each input pixel centre.
    out_shape : tuple of int
        Output image shape (ny_out, nx_out).
    xmin, xmax, ymin, ymax : int
        Inclusive 0-based input box, already trimmed to the valid map
        (`photoncal.kernels.drizzle_kernels.valid_section`).

    Returns
    -------
    ImageScan
    """
    ny = pixmap.shape[0]
    scan = ImageScan(ny)
    scan.box = (xmin, xmax, ymin, ymax)
    mapper = _PixmapInterpolator(pixmap, xmin, xmax, ymin, ymax)

    box = [(xmin - 0.5, ymin - 0.5), (xmax + 0.5, ymin - 0.5),
           (xmax + 0.5, ymax + 0.5), (xmin - 0.5, ymax + 0.5)]
    outline = list(box)  # falls back to the input box when mapping fails

    mapped = [mapper.map_point(x, y) for x, y in box]
    if all(p is not None for p in mapped):
        ny_out, nx_out = out_shape
        window = [(-0.5, -0.5), (nx_out - 0.5, -0.5), (nx_out - 0.5, ny_out - 0.5), (-0.5, ny_out - 0.5)]
        clipped = clip_polygon(mapped, window)
        # the inversion is only good to MAX_INV_ERR, so distinct output
        # vertices can invert to the same input point: drop duplicates. A
        # failed inversion keeps what was inverted so far (often too few
        # vertices: nothing is drizzled), as the established code does.
        outline = []
        for v in clipped:
            p = mapper.invert(v[0], v[1])
            if p is None:
                break
            _append_vertex(outline, p)
        else:
            outline = _orient_ccw(outline)

    scan.polygon = outline
    if len(outline) < 3:
        return scan
    left, right, min_y, max_y = _split_edges(outline)

    first_row = max(0, int(min_y + 0.5 + 2.0 * MAX_INV_ERR))
    last_row = min(ymax, int(max_y + 2.0 * MAX_INV_ERR))
    width = xmax - xmin  # the established counters use xmax - xmin, not + 1
    nskip = (ymax - ymin) - (last_row - first_row)
    nmiss = nskip * width

    li = ri = 0
    nl = len(left)
    nr = len(right)
    scanning = nl > 0 and nr > 0
    for y in range(first_row, last_row + 1):
        status, x1, x2 = _scanline(y, left, right, nl, nr, li, ri, min_y, max_y,
                                   xmin, xmax, ymin, ymax, scanning)
        if status == 1:
            nskip += last_row + 1 - y
            nmiss += (last_row + 1 - y) * width
            break
        li, ri = x1[1], x2[1]
        x1, x2 = x1[0], x2[0]
        if status in (2, 3):
            nmiss += width
            nskip += 1
            continue
        nmiss += width - (x2 + 1 - x1)
        scan.row_first[y] = x1
        scan.row_last[y] = x2
    scan.nmiss = nmiss
    scan.nskip = nskip
    scan.empty = False
    return scan


def _scanline(y, left, right, nl, nr, li, ri, min_y, max_y, xmin, xmax, ymin, ymax, scanning):
    """Column range of row ``y``: (status, (x1, li), (x2, ri)).

    status 0: ok; 1: the scan has passed the top of the polygon; 2: the row is
    outside the polygon or image; 3: the row has zero width. ``li``/``ri``
    are the edge indices to resume from (edges only advance upward).
    """
    if ymax >= ymin and (y < 0 or y > ymax):
        return 2, (0, li), (0, ri)
    pyb = y - 0.5
    pyt = y + 0.5
    if pyt <= min_y or pyb >= max_y + 1:
        return 2, (0, li), (0, ri)
    if not scanning:
        return 1, (0, li), (0, ri)
    while pyb > left[li].v2[1]:
        if li == nl - 1:
            return 1, (0, li), (0, ri)
        li += 1
    while pyb > right[ri].v2[1]:
        if ri == nr - 1:
            return 1, (0, li), (0, ri)
        ri += 1
    xlb = left[li].slope * y + left[li].c - MAX_INV_ERR
    xrb = right[ri].slope * y + right[ri].c + MAX_INV_ERR
    while pyt > left[li].v2[1] + 0.5 + MAX_INV_ERR:
        if li == nl - 1:
            return 1, (0, li), (0, ri)
        li += 1
    while pyt > right[ri].v2[1] + 0.5 + MAX_INV_ERR:
        if ri == nr - 1:
            return 1, (0, li), (0, ri)
        ri += 1
    xlt = left[li].slope * y + left[li].c - MAX_INV_ERR
    xrt = right[ri].slope * y + right[ri].c + MAX_INV_ERR
    # comparisons written as in C so that NaN limits behave the same
    if xmax >= xmin:
        if xlb < xmin:
            xlb = xmin
        if xlt < xmin:
            xlt = xmin
        if xrb > xmax:
            xrb = xmax
        if xrt > xmax:
            xrt = xmax
    if xlt >= xrt:
        status = 3 if xlb >= xrb else 0
        x1, x2 = xlb, xrb
    elif xlb >= xrb:
        status = 0
        x1, x2 = xlt, xrt
    else:
        status = 0
        x1 = xlb if xlb > xlt else xlt
        x2 = xrb if xrb < xrt else xrt
    if not (math.isfinite(x1) and math.isfinite(x2)):
        # a degenerate (horizontal) edge: the established code rounds NaN to
        # INT_MIN here (undefined behaviour); skip the row instead
        return 2, (0, li), (0, ri)
    return status, (c_round(x1), li), (c_round(x2), ri)
