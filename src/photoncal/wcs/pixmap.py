"""Pixel maps between two WCSs, and pixel scales, for drizzle and blot.

A pixel map for an image of shape (ny, nx) is an array (ny, nx, 2) holding,
for each pixel centre of the "from" image, its x (column) and y (row) on the
"to" grid: ``pixmap[..., 0]`` is x, ``pixmap[..., 1]`` is y, 0-based, pixel
centres at integers. Points with no counterpart are NaN.

The WCS objects may be gwcs ``WCS`` objects or anything with the APE 14
low-level methods ``pixel_to_world_values`` / ``world_to_pixel_values``
(e.g. ``astropy.wcs.WCS``); both must share world units.
"""

import contextlib
import hashlib
import math
import os
import threading

import numpy as np

__all__ = ["calc_pixmap", "estimate_pixel_scale_ratio", "pixel_scale", "reproject", "pixmap_cache",
           "current_pixmap_cache"]

_DEFAULT_CHUNK_PIXELS = 1 << 20  # bounds the temporaries of one WCS evaluation

# Exact maps of large images are computed on a sparse grid with a bicubic
# spline, then checked against the WCSs at the centre of every grid cell (the
# points farthest from the evaluated ones); the spline is kept only if it
# agrees there to _EXACT_TOLERANCE pixels, else every pixel is evaluated.
_FAST_MIN_PIXELS = 1 << 18
_FAST_STEP = 16
_EXACT_TOLERANCE = 1e-7


def _bounding_box_f(wcs):
    """The WCS's bounding box as ((xlo, xhi), (ylo, yhi)), or None."""
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return None
    try:
        return bbox.bounding_box(order="F")
    except AttributeError:
        return tuple(bbox)


class _BoundingBoxesOff:
    """Temporarily remove the bounding boxes of some WCS objects."""

    def __init__(self, *wcs_objects):
        self._saved = [(w, _bounding_box_f(w)) for w in wcs_objects]

    def __enter__(self):
        for w, bbox in self._saved:
            if bbox is not None:
                w.bounding_box = None
        return self

    def __exit__(self, *exc):
        for w, bbox in self._saved:
            if bbox is not None:
                w.bounding_box = bbox
        return False


def _map_points(wcs_from, wcs_to, x, y):
    world = wcs_from.pixel_to_world_values(x, y)
    xt, yt = wcs_to.world_to_pixel_values(*world)
    return np.asarray(xt, dtype=np.float64), np.asarray(yt, dtype=np.float64)


_CACHE = threading.local()


@contextlib.contextmanager
def pixmap_cache(directory):
    """Reuse pixel maps computed inside the ``with`` block (kept as ``.npy`` files in ``directory``).

    Stage 3 maps each exposure onto the same output grid three times
    (resampling for outlier detection, blotting the median back, the final
    mosaic); inside the block :func:`calc_pixmap` computes each distinct
    map once and reads it back afterwards.  Maps are identified by the two
    WCSs as they evaluate (a few pixels of each), the shape and the
    options, so a changed WCS is never served a stale map.  Nested blocks
    use the outermost directory.  Files are not removed: the caller owns
    ``directory``.
    """
    if getattr(_CACHE, "directory", None) is not None:
        yield _CACHE.directory
        return
    os.makedirs(directory, exist_ok=True)
    _CACHE.directory = os.fspath(directory)
    try:
        yield _CACHE.directory
    finally:
        _CACHE.directory = None


def current_pixmap_cache():
    """The directory of the active :func:`pixmap_cache` block (None outside one)."""
    return getattr(_CACHE, "directory", None)


def _fingerprint(wcs_from, wcs_to, shape, disable_bbox, stepsize, order):
    """A digest of what the pixel map depends on (the WCSs through sample evaluations)."""
    ny, nx = shape
    fx = np.array([0.0, nx - 1.0, 0.0, nx - 1.0, 0.5 * (nx - 1), 0.31 * nx, 0.77 * nx])
    fy = np.array([0.0, 0.0, ny - 1.0, ny - 1.0, 0.5 * (ny - 1), 0.63 * ny, 0.21 * ny])
    world = wcs_from.pixel_to_world_values(fx, fy)
    back = wcs_to.world_to_pixel_values(*world)
    to_world = wcs_to.pixel_to_world_values(fx, fy)
    h = hashlib.sha256()
    for arr in (*world, *back, *to_world):
        h.update(np.round(np.nan_to_num(np.asarray(arr, dtype=np.float64), nan=-9e99), 10).tobytes())
    h.update(repr((tuple(shape), disable_bbox, stepsize, order, _bounding_box_f(wcs_from),
                   _bounding_box_f(wcs_to))).encode())
    return h.hexdigest()[:32]


def calc_pixmap(wcs_from, wcs_to, shape=None, disable_bbox="to", stepsize=1, order=1,
                chunk_pixels=_DEFAULT_CHUNK_PIXELS):
    """Pixel map from the pixels of ``wcs_from`` to the grid of ``wcs_to``.

    Parameters
    ----------
    wcs_from, wcs_to : WCS
        The image's WCS and the target grid's WCS.
    shape : tuple of int, optional
        Shape (ny, nx) of the "from" image; defaults to ``wcs_from.array_shape``
        or, failing that, the extent of its bounding box.
    disable_bbox : {'to', 'from', 'both', 'none'}
        Which bounding boxes to ignore while mapping. With the default, points
        outside the "from" bounding box are NaN (not drizzled) while points
        off the target's bounding box still get coordinates.
    stepsize : int
        Evaluate the WCSs only every ``stepsize`` pixels (at least 10 points
        per axis) and interpolate the rest with a spline of ``order``; 1
        evaluates every pixel. Falls back to every pixel if a sparse point is
        not finite.
    order : {1, 3}
        Spline order for ``stepsize > 1``.
    chunk_pixels : int
        Largest number of pixels mapped in one WCS call (bounds memory).

    Returns
    -------
    ndarray (ny, nx, 2), float64

    Inside a :func:`pixmap_cache` block a map computed before is read back.
    """
    directory = getattr(_CACHE, "directory", None)
    if directory is None:
        return _compute_pixmap(wcs_from, wcs_to, shape, disable_bbox, stepsize, order, chunk_pixels)
    if shape is None:
        shape = _default_shape(wcs_from)
    path = os.path.join(directory, f"pixmap_{_fingerprint(wcs_from, wcs_to, shape, disable_bbox, stepsize, order)}.npy")
    if os.path.exists(path):
        return np.load(path)
    pixmap = _compute_pixmap(wcs_from, wcs_to, shape, disable_bbox, stepsize, order, chunk_pixels)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp.npy"
    np.save(tmp, pixmap)
    os.replace(tmp, path)
    return pixmap


def _default_shape(wcs_from):
    shape = getattr(wcs_from, "array_shape", None)
    bbox_from = _bounding_box_f(wcs_from)
    if shape is None and bbox_from is not None and np.ndim(bbox_from) > 1:
        shape = tuple(math.ceil(lim[1] + 0.5) for lim in bbox_from[::-1])
    if shape is None:
        raise ValueError("The 'from' WCS has neither array_shape nor a bounding box: pass 'shape'")
    return shape


def _compute_pixmap(wcs_from, wcs_to, shape, disable_bbox, stepsize, order, chunk_pixels):
    if disable_bbox not in ("to", "from", "both", "none"):
        raise ValueError(f"disable_bbox={disable_bbox!r}: expected 'to', 'from', 'both' or 'none'")
    bbox_from = _bounding_box_f(wcs_from)
    if shape is None:
        shape = _default_shape(wcs_from)
    ny, nx = (int(n) for n in shape)

    off = []
    if disable_bbox in ("from", "both"):
        off.append(wcs_from)
    if disable_bbox in ("to", "both"):
        off.append(wcs_to)

    if bbox_from is None or np.ndim(bbox_from) < 2:
        xmin, xmax, ymin, ymax = 0, nx - 1, 0, ny - 1
    else:
        (bx0, bx1), (by0, by1) = bbox_from
        xmin = max(0, int(math.ceil(bx0)))
        xmax = min(nx - 1, int(math.floor(bx1)))
        ymin = max(0, int(math.ceil(by0)))
        ymax = min(ny - 1, int(math.floor(by1)))

    pixmap = np.empty((ny, nx, 2), dtype=np.float64)
    with _BoundingBoxesOff(*off):
        width = xmax - xmin + 1
        height = ymax - ymin + 1
        if stepsize > 1 and max(width, height) > 10 and width > 0 and height > 0:
            if order not in (1, 3):
                raise ValueError(f"order={order}: the pixel-map spline order must be 1 or 3")
            if _sparse_pixmap(wcs_from, wcs_to, pixmap, xmin, xmax, ymin, ymax, stepsize, order):
                return pixmap
        elif (disable_bbox == "to" and width * height >= _FAST_MIN_PIXELS
              and min(width, height) >= 4 * _FAST_STEP):
            if (_sparse_pixmap(wcs_from, wcs_to, pixmap, xmin, xmax, ymin, ymax, _FAST_STEP, 3)
                    and _agrees_with_wcs(wcs_from, wcs_to, pixmap, xmin, xmax, ymin, ymax)):
                return pixmap
        rows_per_chunk = max(1, int(chunk_pixels) // max(nx, 1))
        x = np.arange(nx, dtype=np.float64)
        for r0 in range(0, ny, rows_per_chunk):
            r1 = min(ny, r0 + rows_per_chunk)
            yy, xx = np.meshgrid(np.arange(r0, r1, dtype=np.float64), x, indexing="ij")
            xt, yt = _map_points(wcs_from, wcs_to, xx, yy)
            pixmap[r0:r1, :, 0] = xt
            pixmap[r0:r1, :, 1] = yt
    return pixmap


def _agrees_with_wcs(wcs_from, wcs_to, pixmap, xmin, xmax, ymin, ymax):
    """Whether an interpolated map matches the WCSs at every grid-cell centre (and the last row/column)."""
    half = _FAST_STEP // 2
    xs = np.unique(np.append(np.arange(xmin + half, xmax + 1, _FAST_STEP), xmax))
    ys = np.unique(np.append(np.arange(ymin + half, ymax + 1, _FAST_STEP), ymax))
    gx, gy = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    xt, yt = _map_points(wcs_from, wcs_to, gx, gy)
    if not (np.all(np.isfinite(xt)) and np.all(np.isfinite(yt))):
        return False
    sample = pixmap[np.ix_(ys, xs)]
    error = max(np.max(np.abs(sample[..., 0] - xt)), np.max(np.abs(sample[..., 1] - yt)))
    return bool(error <= _EXACT_TOLERANCE)


def _sparse_pixmap(wcs_from, wcs_to, pixmap, xmin, xmax, ymin, ymax, stepsize, order):
    """Fill ``pixmap`` by spline interpolation of a sparse grid; False if unusable."""
    from scipy.interpolate import RectBivariateSpline

    width = xmax - xmin + 1
    height = ymax - ymin + 1
    npts_x = max(int(math.ceil(width / stepsize)), min(10, width))
    npts_y = max(int(math.ceil(height / stepsize)), min(10, height))
    xs = np.linspace(xmin, xmax, npts_x)
    ys = np.linspace(ymin, ymax, npts_y)
    gx, gy = np.meshgrid(xs, ys)
    xt, yt = _map_points(wcs_from, wcs_to, gx, gy)
    if not (np.all(np.isfinite(xt)) and np.all(np.isfinite(yt))):
        return False
    fx = RectBivariateSpline(ys, xs, xt, kx=order, ky=order)
    fy = RectBivariateSpline(ys, xs, yt, kx=order, ky=order)
    pixmap[...] = np.nan
    rows = np.arange(ymin, ymax + 1)
    cols = np.arange(xmin, xmax + 1)
    pixmap[ymin:ymax + 1, xmin:xmax + 1, 0] = fx(rows, cols)
    pixmap[ymin:ymax + 1, xmin:xmax + 1, 1] = fy(rows, cols)
    return True


def reproject(wcs1, wcs2):
    """A function mapping pixel coordinates of ``wcs1`` to pixel coordinates of ``wcs2``.

    Returns
    -------
    callable
        ``f(x, y) -> (x2, y2)``, arrays of float64 (NaN where undefined).
    """
    def _reproject(x, y):
        return _map_points(wcs1, wcs2, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))

    return _reproject


def _tangent_plane(lon_deg, lat_deg, lon0_deg, lat0_deg):
    """Gnomonic (xi, eta) in radians of points about (lon0, lat0).

    Written without the cancellation of the textbook form, so that offsets
    of a fraction of an arcsecond keep ~10 significant digits.
    """
    dlon = np.deg2rad((np.asarray(lon_deg) - lon0_deg + 180.0) % 360.0 - 180.0)
    lat = np.deg2rad(lat_deg)
    lat0 = math.radians(lat0_deg)
    half = np.sin(0.5 * dlon)
    cos_c = math.sin(lat0) * np.sin(lat) + math.cos(lat0) * np.cos(lat) * np.cos(dlon)
    xi = np.cos(lat) * np.sin(dlon) / cos_c
    eta = (np.sin(lat - lat0) + math.sin(lat0) * np.cos(lat) * 2.0 * half * half) / cos_c
    return xi, eta


def pixel_scale(wcs, refpix=None):
    """Linear pixel scale (degrees): the square root of the pixel's area on the sky.

    Parameters
    ----------
    wcs : WCS
        A celestial WCS (world coordinates in degrees).
    refpix : sequence of 2 float, optional
        Pixel (x, y) where to measure; defaults to the centre of the bounding
        box, else of ``pixel_shape``, else (0, 0).

    Returns
    -------
    float
    """
    if refpix is None:
        bbox = _bounding_box_f(wcs)
        if bbox is not None:
            refpix = np.mean(np.asarray(bbox, dtype=np.float64), axis=-1)
        elif getattr(wcs, "pixel_shape", None):
            refpix = np.array([(n - 1) // 2 for n in wcs.pixel_shape], dtype=np.float64)
        else:
            refpix = np.zeros(2)
    x0, y0 = (float(v) for v in refpix)
    xc = np.array([x0, x0 - 0.5, x0 + 0.5, x0 + 0.5, x0 - 0.5])
    yc = np.array([y0, y0 - 0.5, y0 - 0.5, y0 + 0.5, y0 + 0.5])
    lon, lat = (np.asarray(v, dtype=np.float64) for v in wcs.pixel_to_world_values(xc, yc))
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        raise ValueError(f"The WCS is undefined at or around pixel ({x0}, {y0})")
    # the pixel's outline on the tangent plane at its centre: for pixels of
    # a degree or less the planar area equals the solid angle to < 1e-4
    xi, eta = _tangent_plane(lon[1:], lat[1:], lon[0], lat[0])
    area = 0.5 * abs(np.dot(xi, np.roll(eta, -1)) - np.dot(eta, np.roll(xi, -1)))
    return math.degrees(math.sqrt(area))


def estimate_pixel_scale_ratio(wcs_from, wcs_to, refpix_from=None, refpix_to=None):
    """Ratio of the "to" pixel scale to the "from" pixel scale.

    This is the ``pixel_scale_ratio`` drizzle needs (output over input linear
    pixel size), each scale measured at its reference pixel (see
    `pixel_scale`).
    """
    return pixel_scale(wcs_to, refpix_to) / pixel_scale(wcs_from, refpix_from)
