"""Image footprints on the sky, their overlaps, and the mosaic WCS that covers them.

Geometry is done in a gnomonic (TAN) tangent plane.  The gnomonic projection
maps great circles onto straight lines, so a sky polygon whose edges are
great-circle arcs becomes an exact planar polygon in the tangent plane (as
long as every vertex lies within 90 degrees of the tangent point).  Overlaps
are therefore computed exactly by planar polygon clipping, and the spherical
area of any polygon is computed from its vertices on the unit sphere.

The clipping is Sutherland-Hodgman, which needs a *convex* clipping polygon.
Image footprints are convex up to the detector's distortion; the second
polygon of an intersection is replaced by its convex hull, which differs
from the true outline by the bowing of a distorted edge (a few pixels at
most for the JWST imagers).

Coordinates: ``(ra, dec)`` in degrees; tangent-plane coordinates ``(xi,
eta)`` in degrees with ``xi`` growing to the east (increasing RA) and ``eta``
to the north.  Pixel coordinates are 0-based with the centre of the first
pixel at ``(0, 0)``; a pixel covers ``[i - 0.5, i + 0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

__all__ = [
    "sky_to_unit_vectors",
    "unit_vectors_to_sky",
    "mean_sky_point",
    "midrange_sky_point",
    "sky_to_tangent_plane",
    "tangent_plane_to_sky",
    "convex_hull",
    "polygon_area",
    "spherical_polygon_area",
    "clip_polygon",
    "pixel_border",
    "image_footprint",
    "SkyPolygon",
    "polygon_mask",
    "overlap_mask",
    "overlap_area",
    "pixel_scale_at",
    "wcs_from_footprints",
    "s_region_from_footprint",
]

_DEG = math.pi / 180.0


# --------------------------------------------------------------------------
# sphere <-> tangent plane
# --------------------------------------------------------------------------

def sky_to_unit_vectors(ra, dec):
    """Unit vectors ``(x, y, z)`` of sky positions given in degrees."""
    ra = np.deg2rad(np.asarray(ra, dtype=np.float64))
    dec = np.deg2rad(np.asarray(dec, dtype=np.float64))
    cd = np.cos(dec)
    return cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)


def unit_vectors_to_sky(x, y, z):
    """Sky positions ``(ra, dec)`` in degrees of (not necessarily unit) vectors."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    ra = np.rad2deg(np.arctan2(y, x)) % 360.0
    dec = np.rad2deg(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def mean_sky_point(ra, dec):
    """The direction of the mean unit vector of a set of sky positions.

    Returns
    -------
    (ra0, dec0) : tuple of float
        Degrees.
    """
    x, y, z = sky_to_unit_vectors(ra, dec)
    r, d = unit_vectors_to_sky(x.mean(), y.mean(), z.mean())
    return float(r), float(d)


def midrange_sky_point(ra, dec):
    """The centre of the Cartesian bounding box of a set of sky positions.

    This is the fiducial point the established resample uses for the
    output mosaic (the midpoint of the extreme unit-vector components).
    """
    x, y, z = sky_to_unit_vectors(ra, dec)
    xm = 0.5 * (x.max() + x.min())
    ym = 0.5 * (y.max() + y.min())
    zm = 0.5 * (z.max() + z.min())
    r, d = unit_vectors_to_sky(xm, ym, zm)
    return float(r), float(d)


def _tangent_basis(ra0, dec0):
    """Orthonormal basis (centre, east, north) of the tangent plane at a point."""
    a = ra0 * _DEG
    d = dec0 * _DEG
    centre = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.array([-math.sin(d) * math.cos(a), -math.sin(d) * math.sin(a), math.cos(d)])
    return centre, east, north


def sky_to_tangent_plane(ra, dec, ra0, dec0):
    """Gnomonic projection of sky positions onto the plane tangent at ``(ra0, dec0)``.

    Parameters
    ----------
    ra, dec : array-like
        Sky positions in degrees.
    ra0, dec0 : float
        Tangent point in degrees.

    Returns
    -------
    xi, eta : ndarray
        Tangent-plane coordinates in degrees (``xi`` east, ``eta`` north).
        Points 90 degrees or more from the tangent point have no projection
        and come back as NaN.
    """
    x, y, z = sky_to_unit_vectors(ra, dec)
    c, e, n = _tangent_basis(ra0, dec0)
    cosd = x * c[0] + y * c[1] + z * c[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = (x * e[0] + y * e[1] + z * e[2]) / cosd
        eta = (x * n[0] + y * n[1] + z * n[2]) / cosd
    bad = ~(cosd > 0)
    if np.any(bad):
        xi = np.where(bad, np.nan, xi)
        eta = np.where(bad, np.nan, eta)
    return np.rad2deg(xi), np.rad2deg(eta)


def tangent_plane_to_sky(xi, eta, ra0, dec0):
    """Inverse of :func:`sky_to_tangent_plane` (coordinates in degrees)."""
    xi = np.deg2rad(np.asarray(xi, dtype=np.float64))
    eta = np.deg2rad(np.asarray(eta, dtype=np.float64))
    c, e, n = _tangent_basis(ra0, dec0)
    x = c[0] + xi * e[0] + eta * n[0]
    y = c[1] + xi * e[1] + eta * n[1]
    z = c[2] + xi * e[2] + eta * n[2]
    return unit_vectors_to_sky(x, y, z)


# --------------------------------------------------------------------------
# planar polygons
# --------------------------------------------------------------------------

def convex_hull(x, y):
    """Convex hull of points in the plane (Andrew's monotone chain).

    Parameters
    ----------
    x, y : array-like
        Point coordinates.

    Returns
    -------
    xh, yh : ndarray
        Hull vertices in counter-clockwise order, starting with the
        lexicographically smallest point, not closed.  Collinear points on
        the hull are dropped; fewer than three distinct points come back
        as they are (deduplicated).
    """
    pts = np.unique(np.column_stack([np.asarray(x, float), np.asarray(y, float)]), axis=0)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 3:
        return pts[:, 0].copy(), pts[:, 1].copy()

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = np.array(lower[:-1] + upper[:-1])
    return hull[:, 0].copy(), hull[:, 1].copy()


def polygon_area(x, y):
    """Signed area of a planar polygon (shoelace; positive when counter-clockwise)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3:
        return 0.0
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def spherical_polygon_area(ra, dec):
    """Solid angle (steradians) enclosed by a simple polygon with great-circle edges.

    The polygon is split into a fan of spherical triangles from its first
    vertex; each triangle's signed solid angle comes from the formula of
    Van Oosterom & Strackee (1983).  The absolute value of the sum is
    returned, so the vertex order does not matter.
    """
    x, y, z = sky_to_unit_vectors(ra, dec)
    v = np.column_stack([x, y, z])
    if len(v) > 1 and np.allclose(v[0], v[-1]):
        v = v[:-1]
    if len(v) < 3:
        return 0.0
    a = v[0]
    b = v[1:-1]
    c = v[2:]
    numer = np.einsum("ij,ij->i", np.cross(b, c), np.broadcast_to(a, b.shape))
    denom = 1.0 + b @ a + c @ a + np.einsum("ij,ij->i", b, c)
    return float(abs(np.sum(2.0 * np.arctan2(numer, denom))))


def clip_polygon(subject, clip):
    """Intersection of a polygon with a convex polygon (Sutherland-Hodgman).

    Parameters
    ----------
    subject : (N, 2) array-like
        Polygon to clip, any orientation, not closed.  May be concave.
    clip : (M, 2) array-like
        Convex clipping polygon, any orientation, not closed.

    Returns
    -------
    (K, 2) ndarray
        The clipped polygon (counter-clockwise when ``subject`` is), empty
        with shape ``(0, 2)`` when the polygons do not overlap.
    """
    out = np.asarray(subject, dtype=np.float64).reshape(-1, 2)
    clip = np.asarray(clip, dtype=np.float64).reshape(-1, 2)
    if len(out) < 3 or len(clip) < 3:
        return np.empty((0, 2))
    if polygon_area(clip[:, 0], clip[:, 1]) < 0:
        clip = clip[::-1]
    for k in range(len(clip)):
        if len(out) == 0:
            break
        a = clip[k]
        b = clip[(k + 1) % len(clip)]
        ex, ey = b - a
        # inside: on the left of the directed clip edge a -> b
        side = ex * (out[:, 1] - a[1]) - ey * (out[:, 0] - a[0])
        inside = side >= 0.0
        prev = np.roll(out, 1, axis=0)
        prev_side = np.roll(side, 1)
        prev_inside = np.roll(inside, 1)
        new = []
        for p, q, sp, sq, ip, iq in zip(prev, out, prev_side, side, prev_inside, inside):
            if iq:
                if not ip:
                    new.append(p + (q - p) * (sp / (sp - sq)))
                new.append(q)
            elif ip:
                new.append(p + (q - p) * (sp / (sp - sq)))
        out = np.array(new).reshape(-1, 2)
    if len(out) < 3:
        return np.empty((0, 2))
    return out


# --------------------------------------------------------------------------
# footprints
# --------------------------------------------------------------------------

def pixel_border(shape, stepsize=None, bounding_box=None):
    """Pixel coordinates tracing the outer edge of an image.

    Parameters
    ----------
    shape : (ny, nx)
        Image shape.
    stepsize : int or None
        Maximum spacing in pixels between consecutive vertices; ``None``
        gives the four corners only (the established ``stepsize``).
    bounding_box : ((xlo, xhi), (ylo, yhi)) or None
        Use these edges instead of the full image edges.

    Returns
    -------
    x, y : ndarray
        Vertices counter-clockwise on the detector (bottom, right, top,
        left edges), starting at the lower-left corner, not closed.
    """
    if bounding_box is None:
        ny, nx = shape
        (lx, hx), (ly, hy) = (-0.5, nx - 0.5), (-0.5, ny - 0.5)
    else:
        (lx, hx), (ly, hy) = bounding_box
    if stepsize is None:
        nint_x = nint_y = 1
    else:
        if stepsize <= 0:
            raise ValueError(f"stepsize must be a positive number of pixels, got {stepsize}")
        nint_x = max(1, int(math.ceil((hx - lx) / stepsize)))
        nint_y = max(1, int(math.ceil((hy - ly) / stepsize)))
    xs = np.linspace(lx, hx, nint_x + 1)
    ys = np.linspace(ly, hy, nint_y + 1)
    x = np.concatenate([xs[:-1], np.full(nint_y, hx), xs[::-1][:-1], np.full(nint_y, lx)])
    y = np.concatenate([np.full(nint_x, ly), ys[:-1], np.full(nint_x, hy), ys[::-1][:-1]])
    return x, y


def _bounding_box_of(wcs):
    bb = getattr(wcs, "bounding_box", None)
    if bb is None:
        return None
    try:
        (lx, hx), (ly, hy) = bb
    except (TypeError, ValueError):
        (lx, hx), (ly, hy) = bb.bounding_box(order="F")
    return (float(lx), float(hx)), (float(ly), float(hy))


def image_footprint(wcs, shape=None, stepsize=None, use_bounding_box=False):
    """The outline of an image on the sky.

    Parameters
    ----------
    wcs : gwcs.WCS or callable
        Pixel -> (ra, dec) transform (called with ``x, y``).
    shape : (ny, nx), optional
        Image shape.  Needed unless ``use_bounding_box`` is set and the WCS
        has a bounding box, or the WCS knows its ``array_shape``.
    stepsize : int or None
        Maximum spacing in pixels between outline vertices.
    use_bounding_box : bool
        Trace the WCS bounding box instead of the full image edges.

    Returns
    -------
    (N, 2) ndarray
        ``(ra, dec)`` vertices in degrees, not closed.
    """
    bb = _bounding_box_of(wcs) if use_bounding_box else None
    if bb is None and shape is None:
        shape = getattr(wcs, "array_shape", None)
        if shape is None:
            bb = _bounding_box_of(wcs)
        if shape is None and bb is None:
            raise ValueError(
                "image_footprint needs the image shape: the WCS has neither an "
                "array_shape nor a bounding_box"
            )
    x, y = pixel_border(shape, stepsize=stepsize, bounding_box=bb)
    try:
        ra, dec = wcs(x, y, with_bounding_box=False)
    except TypeError:
        ra, dec = wcs(x, y)
    return np.column_stack([np.asarray(ra, float), np.asarray(dec, float)])


class SkyPolygon:
    """A sky region made of one or more polygons with great-circle edges.

    A single image is one polygon; an exposure made of several detectors
    (a "group") is the list of its detectors' polygons, which are assumed
    not to overlap each other.  Intersections are formed piece by piece.

    Parameters
    ----------
    pieces : sequence of (N, 2) arrays
        ``(ra, dec)`` vertices in degrees of each polygon, not closed.
    """

    def __init__(self, pieces: Sequence[np.ndarray]):
        self.pieces = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pieces]
        self.pieces = [p for p in self.pieces if len(p) >= 3]

    @classmethod
    def from_wcs(cls, wcs, shape=None, stepsize=None):
        """The footprint of one image."""
        return cls([image_footprint(wcs, shape=shape, stepsize=stepsize)])

    @classmethod
    def from_points(cls, ra, dec, min_size_deg=1.0 / 3600):
        """The convex hull of a set of sky positions (e.g. a source catalog).

        Fewer than three distinct points are widened into a small square
        or strip ``min_size_deg`` across so the region keeps a finite area.
        """
        ra = np.asarray(ra, float)
        dec = np.asarray(dec, float)
        good = np.isfinite(ra) & np.isfinite(dec)
        ra, dec = ra[good], dec[good]
        if ra.size == 0:
            return cls([])
        ra0, dec0 = mean_sky_point(ra, dec)
        xi, eta = sky_to_tangent_plane(ra, dec, ra0, dec0)
        hx, hy = convex_hull(xi, eta)
        if len(hx) < 3:
            h = 0.5 * min_size_deg
            cx = np.concatenate([hx - h, hx + h, hx + h, hx - h])
            cy = np.concatenate([hy - h, hy - h, hy + h, hy + h])
            hx, hy = convex_hull(cx, cy)
        r, d = tangent_plane_to_sky(hx, hy, ra0, dec0)
        return cls([np.column_stack([r, d])])

    @property
    def vertices(self):
        """All vertices of all pieces, ``(N, 2)``."""
        if not self.pieces:
            return np.empty((0, 2))
        return np.vstack(self.pieces)

    def is_empty(self):
        return not self.pieces

    def area(self):
        """Solid angle in steradians (sum over pieces)."""
        return sum(spherical_polygon_area(p[:, 0], p[:, 1]) for p in self.pieces)

    def center(self):
        """Mean direction of all vertices (a good tangent point)."""
        v = self.vertices
        return mean_sky_point(v[:, 0], v[:, 1])

    def intersection(self, other: SkyPolygon) -> SkyPolygon:
        """The region common to both (``other``'s pieces are made convex)."""
        if self.is_empty() or other.is_empty():
            return SkyPolygon([])
        allv = np.vstack([self.vertices, other.vertices])
        ra0, dec0 = mean_sky_point(allv[:, 0], allv[:, 1])
        out = []
        for p in self.pieces:
            px, py = sky_to_tangent_plane(p[:, 0], p[:, 1], ra0, dec0)
            subject = np.column_stack([px, py])
            if not np.all(np.isfinite(subject)):
                continue
            if polygon_area(px, py) < 0:
                subject = subject[::-1]
            for q in other.pieces:
                qx, qy = sky_to_tangent_plane(q[:, 0], q[:, 1], ra0, dec0)
                if not (np.all(np.isfinite(qx)) and np.all(np.isfinite(qy))):
                    continue
                hx, hy = convex_hull(qx, qy)
                if len(hx) < 3:
                    continue
                clipped = clip_polygon(subject, np.column_stack([hx, hy]))
                if len(clipped) >= 3 and abs(polygon_area(clipped[:, 0], clipped[:, 1])) > 0:
                    r, d = tangent_plane_to_sky(clipped[:, 0], clipped[:, 1], ra0, dec0)
                    out.append(np.column_stack([r, d]))
        return SkyPolygon(out)

    def intersection_area(self, other: SkyPolygon) -> float:
        """Solid angle (sr) of the intersection."""
        return self.intersection(other).area()

    def __repr__(self):
        return f"SkyPolygon({len(self.pieces)} piece(s), area={self.area():.4g} sr)"


# --------------------------------------------------------------------------
# rasterisation
# --------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _scanline_fill(vx, vy, mask):
    ny, nx = mask.shape
    n = vx.size
    xs = np.empty(n, dtype=np.float64)
    ymin = vy.min()
    ymax = vy.max()
    j0 = max(0, int(math.ceil(ymin)))
    j1 = min(ny - 1, int(math.floor(ymax)))
    for j in range(j0, j1 + 1):
        yc = float(j)
        k = 0
        for i in range(n):
            x0 = vx[i]
            y0 = vy[i]
            x1 = vx[(i + 1) % n]
            y1 = vy[(i + 1) % n]
            # half-open rule so that a vertex on the scan line counts once
            if (y0 <= yc < y1) or (y1 <= yc < y0):
                xs[k] = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
                k += 1
        if k < 2:
            continue
        cross = np.sort(xs[:k])
        for m in range(0, k - 1, 2):
            # pixel centres inside [cross[m], cross[m+1])
            i0 = max(0, int(math.ceil(cross[m])))
            i1 = min(nx - 1, int(math.ceil(cross[m + 1])) - 1)
            for i in range(i0, i1 + 1):
                mask[j, i] = True
    return mask


def polygon_mask(x, y, shape, out=None):
    """Pixels whose centres lie inside a polygon (even-odd rule).

    Parameters
    ----------
    x, y : array-like
        Polygon vertices in pixel coordinates, not closed.
    shape : (ny, nx)
        Shape of the mask.
    out : bool ndarray, optional
        A mask to OR the polygon into (modified in place).

    Returns
    -------
    bool ndarray
        ``True`` inside the polygon.
    """
    mask = np.zeros(shape, dtype=bool) if out is None else out
    vx = np.ascontiguousarray(x, dtype=np.float64)
    vy = np.ascontiguousarray(y, dtype=np.float64)
    if vx.size < 3 or not (np.all(np.isfinite(vx)) and np.all(np.isfinite(vy))):
        return mask
    return _scanline_fill(vx, vy, mask)


def _densify(ra, dec, ra0, dec0, max_step_deg):
    """Add tangent-plane points along each polygon edge (edges stay straight in the plane)."""
    xi, eta = sky_to_tangent_plane(ra, dec, ra0, dec0)
    xs, ys = [], []
    n = xi.size
    for i in range(n):
        x0, y0 = xi[i], eta[i]
        x1, y1 = xi[(i + 1) % n], eta[(i + 1) % n]
        nseg = max(1, int(math.ceil(math.hypot(x1 - x0, y1 - y0) / max_step_deg)))
        t = np.arange(nseg) / nseg
        xs.append(x0 + t * (x1 - x0))
        ys.append(y0 + t * (y1 - y0))
    return tangent_plane_to_sky(np.concatenate(xs), np.concatenate(ys), ra0, dec0)


def overlap_mask(region: SkyPolygon, wcs_inverse, shape, max_step_pixels=64.0, pixel_scale_deg=None):
    """Pixels of an image whose centres fall inside a sky region.

    Parameters
    ----------
    region : SkyPolygon
        The sky region (e.g. the intersection of two footprints).
    wcs_inverse : callable
        ``(ra, dec) -> (x, y)`` of the image (e.g. ``wcs.invert``).
    shape : (ny, nx)
        Image shape.
    max_step_pixels : float
        Edges are sampled about every this many pixels before they are
        mapped to the detector, so distortion bends them correctly.
    pixel_scale_deg : float, optional
        Pixel scale used to turn ``max_step_pixels`` into degrees; when not
        given, edges are not densified.

    Returns
    -------
    bool ndarray
    """
    mask = np.zeros(shape, dtype=bool)
    for piece in region.pieces:
        ra, dec = piece[:, 0], piece[:, 1]
        if pixel_scale_deg:
            ra0, dec0 = mean_sky_point(ra, dec)
            ra, dec = _densify(ra, dec, ra0, dec0, max_step_pixels * pixel_scale_deg)
        try:
            x, y = wcs_inverse(ra, dec, with_bounding_box=False)
        except TypeError:
            x, y = wcs_inverse(ra, dec)
        polygon_mask(np.asarray(x, float), np.asarray(y, float), shape, out=mask)
    return mask


def overlap_area(region1: SkyPolygon, region2: SkyPolygon) -> float:
    """Solid angle (sr) common to two sky regions."""
    return region1.intersection_area(region2)


# --------------------------------------------------------------------------
# output mosaic WCS
# --------------------------------------------------------------------------

def _call_wcs(wcs, x, y):
    try:
        return wcs(x, y, with_bounding_box=False)
    except TypeError:
        return wcs(x, y)


def _invert_wcs(wcs, ra, dec):
    try:
        return wcs.invert(ra, dec, with_bounding_box=False)
    except TypeError:
        return wcs.invert(ra, dec)


def pixel_scale_at(wcs, x, y):
    """Geometric-mean pixel scale (degrees) of a WCS at a pixel position.

    The angular distance covered by one-pixel steps along x and along y,
    as the established ``compute_scale`` measures it.
    """
    ra, dec = _call_wcs(wcs, np.array([x, x + 1.0, x]), np.array([y, y, y + 1.0]))
    x3, y3, z3 = sky_to_unit_vectors(ra, dec)
    v = np.column_stack([x3, y3, z3])

    def sep(a, b):
        return math.degrees(math.atan2(np.linalg.norm(np.cross(a, b)), float(np.dot(a, b))))

    return math.sqrt(sep(v[0], v[1]) * sep(v[0], v[2]))


def _local_jacobian(wcs, x, y, ra0, dec0, h=1.0):
    """d(xi, eta)/d(x, y) in degrees per pixel at a pixel position."""
    px = np.array([x - h, x + h, x, x])
    py = np.array([y, y, y - h, y + h])
    ra, dec = _call_wcs(wcs, px, py)
    xi, eta = sky_to_tangent_plane(ra, dec, ra0, dec0)
    return np.array(
        [[(xi[1] - xi[0]) / (2 * h), (xi[3] - xi[2]) / (2 * h)],
         [(eta[1] - eta[0]) / (2 * h), (eta[3] - eta[2]) / (2 * h)]]
    )


def _reference_pixel(wcs, ref_wcsinfo):
    if ref_wcsinfo is not None and ref_wcsinfo.get("ra_ref") is not None:
        x, y = _invert_wcs(wcs, ref_wcsinfo["ra_ref"], ref_wcsinfo["dec_ref"])
        if np.isfinite(x) and np.isfinite(y):
            return float(x), float(y)
    bb = _bounding_box_of(wcs)
    if bb is not None:
        return 0.5 * (bb[0][0] + bb[0][1]), 0.5 * (bb[1][0] + bb[1][1])
    shape = getattr(wcs, "array_shape", None)
    if shape is None:
        raise ValueError(
            "wcs_from_footprints: the reference WCS has no bounding_box or "
            "array_shape and no ra_ref/dec_ref was given, so its reference "
            "pixel is unknown"
        )
    return 0.5 * (shape[1] - 1), 0.5 * (shape[0] - 1)


def wcs_from_footprints(
    wcs_list,
    *,
    shapes=None,
    footprints=None,
    ref_wcs=None,
    ref_wcsinfo=None,
    pixel_scale_ratio=1.0,
    pixel_scale=None,
    rotation=None,
    shape=None,
    crpix=None,
    crval=None,
):
    """The TAN WCS of an output mosaic covering several images.

    Follows the established resample's defaults: the tangent point is the
    centre of the footprints' Cartesian bounding box; the pixel scale is the
    reference WCS's scale at its reference point times
    ``pixel_scale_ratio``; the orientation is the reference exposure's
    (``roll_ref``, ``v3yangle``, ``vparity`` when ``ref_wcsinfo`` has them,
    else the rotation/parity part of the reference WCS's local Jacobian);
    the shape just covers every footprint.

    Parameters
    ----------
    wcs_list : list of gwcs.WCS
        The input images' WCSs.
    shapes : list of (ny, nx), optional
        Their image shapes (else taken from each WCS's bounding box or
        ``array_shape``).
    footprints : list of (N, 2) arrays, optional
        Precomputed ``(ra, dec)`` footprints (e.g. from S_REGION); computed
        from ``wcs_list`` when not given.
    ref_wcs : gwcs.WCS, optional
        The reference WCS (default: the first of ``wcs_list``); its input
        and output frames are reused.
    ref_wcsinfo : dict, optional
        ``ra_ref``, ``dec_ref``, ``roll_ref`` (deg), ``v3yangle`` (deg),
        ``vparity`` of the reference exposure (``meta.wcsinfo``).
    pixel_scale_ratio : float
        Output / input pixel scale (ignored when ``pixel_scale`` is given).
    pixel_scale : float, optional
        Output pixel scale in **arcsec**.
    rotation : float, optional
        Position angle of the output y axis east of north, degrees
        (0 = north up).  ``None`` keeps the reference orientation.
    shape : (ny, nx), optional
        Output shape; default covers all footprints.
    crpix : (x, y), optional
        0-based pixel of ``crval``; default puts the footprints' lower-left
        extreme at pixel (0, 0) as the established code does.
    crval : (ra, dec), optional
        Tangent point in degrees.

    Returns
    -------
    gwcs.WCS
        Pipeline ``detector -> world`` with ``bounding_box``,
        ``pixel_shape`` and ``array_shape`` set.
    """
    import gwcs
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models as m
    from gwcs import coordinate_frames as cf

    wcs_list = list(wcs_list)
    if not wcs_list:
        raise ValueError("wcs_from_footprints needs at least one input WCS")
    if ref_wcs is None:
        ref_wcs = wcs_list[0]
    if footprints is None:
        if shapes is None:
            shapes = [None] * len(wcs_list)
        footprints = [
            image_footprint(w, shape=s, use_bounding_box=s is None) for w, s in zip(wcs_list, shapes)
        ]
    allv = np.vstack(footprints)

    if crval is None:
        crval = midrange_sky_point(allv[:, 0], allv[:, 1])
    crval = (float(crval[0]), float(crval[1]))

    xref, yref = _reference_pixel(ref_wcs, ref_wcsinfo)
    if pixel_scale:
        cdelt = float(pixel_scale) / 3600.0
    else:
        cdelt = pixel_scale_at(ref_wcs, xref, yref) * float(pixel_scale_ratio)

    info = ref_wcsinfo or {}
    have_roll = all(info.get(k) is not None for k in ("roll_ref", "v3yangle", "vparity"))
    if have_roll:
        vparity = int(info["vparity"])
        if vparity not in (1, -1):
            raise ValueError(f"wcsinfo vparity must be 1 or -1, got {vparity}")
        if rotation is None:
            rel = math.radians(float(info["roll_ref"]) - vparity * float(info["v3yangle"]))
        else:
            rel = math.radians(float(rotation))
    else:
        ra_c, dec_c = _call_wcs(ref_wcs, xref, yref)
        jac = _local_jacobian(ref_wcs, xref, yref, float(ra_c), float(dec_c))
        vparity = 1 if np.linalg.det(jac) > 0 else -1
        # direction of the detector +y axis measured east of north
        pa_y = math.atan2(jac[0, 1], jac[1, 1])
        rel = pa_y if rotation is None else math.radians(float(rotation))
    # PC maps (x, y) pixel steps to (east, north) intermediate steps;
    # rel is the position angle of the output +y axis (east of north) with
    # the sign convention of the established calc_rotation_matrix.
    pc = np.array(
        [[vparity * math.cos(rel), math.sin(rel)], [-vparity * math.sin(rel), math.cos(rel)]]
    )

    tan = m.Pix2Sky_TAN()
    celestial = m.RotateNative2Celestial(crval[0], crval[1], 180.0)
    linear = m.AffineTransformation2D(matrix=pc * cdelt, translation=[0.0, 0.0])
    plane_to_sky = linear | tan | celestial

    # where every footprint vertex lands with crpix = 0
    px, py = plane_to_sky.inverse(allv[:, 0], allv[:, 1])
    fx, fy = plane_to_sky.inverse(crval[0], crval[1])
    dmin = np.array([np.nanmin(px), np.nanmin(py)])
    dmax = np.array([np.nanmax(px), np.nanmax(py)])
    native = np.array([float(fx), float(fy)])
    if crpix is None:
        offsets = native - dmin
    else:
        offsets = np.asarray(crpix, dtype=float) - native
    dmin = dmin + offsets
    dmax = dmax + offsets
    if shape is None:
        out_shape = (int(dmax[1] + 0.5), int(dmax[0] + 0.5))
        bbox = ((-0.5, out_shape[1] - 0.5), (-0.5, out_shape[0] - 0.5))
    else:
        out_shape = (int(shape[0]), int(shape[1]))
        bbox = tuple(
            (max(0, int(lo + 0.5)) - 0.5, min(int(hi + 0.5), size) - 0.5)
            for lo, hi, size in zip(dmin, dmax, out_shape[::-1])
        )
    if min(out_shape) < 2:
        raise ValueError(
            f"wcs_from_footprints: the computed output shape {out_shape} is too small; "
            "check pixel_scale / pixel_scale_ratio and the input footprints"
        )

    shift = m.Shift(-offsets[0], name="crpix1") & m.Shift(-offsets[1], name="crpix2")
    transform = shift | plane_to_sky
    transform.name = "detector_to_world"

    in_frame = getattr(ref_wcs, "input_frame", None)
    out_frame = getattr(ref_wcs, "output_frame", None)
    if in_frame is None or not hasattr(in_frame, "name"):
        in_frame = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    if out_frame is None or not isinstance(out_frame, cf.CelestialFrame):
        out_frame = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    new_wcs = gwcs.WCS([(in_frame, transform), (out_frame, None)])
    new_wcs.bounding_box = bbox
    new_wcs.pixel_shape = out_shape[::-1]
    new_wcs.array_shape = out_shape
    return new_wcs


def s_region_from_footprint(footprint) -> str:
    """The S_REGION keyword value (``POLYGON ICRS ...``) of a footprint."""
    v = np.asarray(footprint, dtype=float).reshape(-1, 2)
    return "POLYGON ICRS " + " ".join(f"{ra:.9f} {dec:.9f}" for ra, dec in v)
