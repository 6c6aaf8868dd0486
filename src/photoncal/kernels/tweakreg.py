"""Catalog matching, linear fits and the image-alignment loop of tweakreg.

Everything happens in a tangent plane with coordinates in **arcsec**
(:class:`photoncal.wcs.tpcorr.TangentPlane`), so ``searchrad``,
``separation``, ``tolerance`` and ``xoffset``/``yoffset`` are arcsec as
in the TweakRegStep parameters.

The pieces, bottom up:

* :func:`estimate_2dhist_shift` - the initial offset from the peak of the
  2-D histogram of all pairwise position differences (``use2dhist``);
* :func:`xyxymatch` - the "tolerance" matcher: after removing the initial
  offset, each reference source takes its nearest image source within
  ``tolerance`` (one to one), after sources closer than ``separation`` to
  another source of the same list are dropped;
* :func:`triangle_match` - pattern matching of similar triangles (Valdes
  et al. 1995), for catalogs whose offset, rotation or scale is unknown;
* :func:`match_catalogs` - the two together, as TweakRegStep uses them;
* :func:`iter_linear_fit` - ``shift``, ``rshift``, ``rscale`` or
  ``general`` least-squares fits with iterative sigma clipping;
* :func:`align_images` - the alignment loop: group catalogs by exposure,
  pick the reference, align each group to the (growing) reference catalog
  and correct its WCS; :func:`relative_align` and :func:`absolute_align`
  are the two ways TweakRegStep calls it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from photoncal.wcs.footprint import SkyPolygon, image_footprint, sky_to_tangent_plane
from photoncal.wcs.tpcorr import TangentPlane, apply_tweak_correction

__all__ = [
    "SUPPORTED_FITGEOM",
    "TweakregError",
    "LinearFit",
    "iter_linear_fit",
    "build_fit_matrix",
    "estimate_2dhist_shift",
    "remove_close_sources",
    "xyxymatch",
    "triangle_match",
    "MatchResult",
    "match_catalogs",
    "AlignInput",
    "AlignResult",
    "align_images",
    "relative_align",
    "absolute_align",
    "wcs_correction_is_small",
    "parse_refcat",
]

#: fit geometries and the minimum number of sources each needs
SUPPORTED_FITGEOM = {"shift": 1, "rshift": 2, "rscale": 2, "general": 3}

#: group id given to every image when aligning to an absolute catalog
#: (the established value, easy to recognise in the products)
ABSOLUTE_GROUP_ID = 987654


class TweakregError(Exception):
    """Alignment cannot be done (too few catalogs, sources or matches)."""


# --------------------------------------------------------------------------
# linear fits
# --------------------------------------------------------------------------

@dataclass
class LinearFit:
    """Result of a linear fit ``xy = matrix . uv + shift``.

    Angles are in degrees with the established convention
    ``matrix = [[sx cos(rx), sy sin(ry)], [-sx sin(rx), sy cos(ry)]]``.
    ``rmse``, ``mae``, ``std`` and ``mad`` are in the units of the
    coordinates (arcsec in the tangent plane).
    """

    fitgeom: str
    matrix: np.ndarray
    shift: np.ndarray
    center: np.ndarray
    proper: bool
    proper_rot: float
    rot: tuple
    mean_rot: float
    scale: tuple
    mean_scale: float
    skew: float
    rmse: float
    mae: float
    std: float
    mad: float
    fitmask: np.ndarray
    resids: np.ndarray
    eff_nclip: int

    def __call__(self, uv):
        """Apply the fitted transformation to ``(N, 2)`` positions."""
        return np.asarray(uv, dtype=np.float64) @ self.matrix.T + self.shift

    def as_dict(self):
        """The fit in the established ``fit_info`` layout."""
        return {
            "fitgeom": self.fitgeom, "matrix": self.matrix, "shift": self.shift,
            "center": self.center, "proper": self.proper, "proper_rot": self.proper_rot,
            "rot": self.rot, "<rot>": self.mean_rot, "scale": self.scale,
            "<scale>": self.mean_scale, "skew": self.skew, "rmse": self.rmse, "mae": self.mae,
            "std": self.std, "mad": self.mad, "fitmask": self.fitmask, "eff_nclip": self.eff_nclip,
        }


def build_fit_matrix(rot, scale=1.0):
    """The 2x2 matrix of a rotation (degrees) and scale, one value or one per axis.

    ``[[sx cos(rx), sy sin(ry)], [-sx sin(rx), sy cos(ry)]]``.
    """
    rx, ry = (rot, rot) if np.isscalar(rot) else rot
    sx, sy = (scale, scale) if np.isscalar(scale) else scale
    rx, ry = math.radians(rx), math.radians(ry)
    return np.array([[sx * math.cos(rx), sy * math.sin(ry)], [-sx * math.sin(rx), sy * math.cos(ry)]])


def _normalised_weights(w, n):
    if w is None:
        return np.full(n, 1.0 / n)
    return w / w.sum()


def _fit_shift(xy, uv, w):
    wn = _normalised_weights(w, len(xy))
    return np.eye(2), wn @ (xy - uv)


def _fit_rotation_scale(xy, uv, w, fixed_scale=None):
    """Shift + rotation (+ scale), allowing a reflection when the data need one."""
    wn = _normalised_weights(w, len(xy))
    xm, um = wn @ xy, wn @ uv
    x, y = (xy - xm).T
    u, v = (uv - um).T
    sxu, syv, sxv, syu = wn @ (x * u), wn @ (y * v), wn @ (x * v), wn @ (y * u)
    flip = sxu * syv - sxv * syu < 0
    if flip:
        num, den = sxv + syu, sxu - syv
    else:
        num, den = sxv - syu, sxu + syv
    theta = math.atan2(num, den) if (num or den) else 0.0
    c, s = math.cos(theta), math.sin(theta)
    if fixed_scale is not None:
        mag = fixed_scale
    else:
        suv = wn @ (u * u + v * v)
        if suv <= 0:
            raise TweakregError("linear fit failed: all matched positions coincide")
        mag = (den * c + num * s) / suv
    if flip:
        matrix = mag * np.array([[c, s], [s, -c]])
    else:
        matrix = mag * np.array([[c, s], [-s, c]])
    return matrix, xm - matrix @ um


def _fit_general(xy, uv, w):
    wn = _normalised_weights(w, len(xy))
    a = np.column_stack([uv, np.ones(len(uv))]) * np.sqrt(wn)[:, None]
    b = xy * np.sqrt(wn)[:, None]
    if np.linalg.matrix_rank(a) < 3:
        raise TweakregError("'general' fit failed: the matched positions are collinear")
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return coef[:2].T, coef[2]


def _fit_once(fitgeom, xy, uv, w):
    if fitgeom == "shift":
        return _fit_shift(xy, uv, w)
    if fitgeom == "rshift":
        return _fit_rotation_scale(xy, uv, w, fixed_scale=1.0)
    if fitgeom == "rscale":
        return _fit_rotation_scale(xy, uv, w)
    return _fit_general(xy, uv, w)


def _statistics(resids, w):
    norm = np.hypot(resids[:, 0], resids[:, 1])
    wn = _normalised_weights(w, len(resids))
    rmse = float(np.sqrt(wn @ (norm**2)))
    mae = float(wn @ norm)
    mean = wn @ resids
    v2 = float(np.sum(wn**2))
    if len(resids) > 1 and v2 < 1:
        std = float(np.sqrt(np.sum(wn @ ((resids - mean) ** 2)) / (1.0 - v2)))
    else:
        std = 0.0
    if w is None:
        med = float(np.median(norm))
    else:
        order = np.argsort(norm)
        cw = np.cumsum(wn[order])
        med = float(norm[order][np.searchsorted(cw, 0.5 * cw[-1])])
    # median norm of isotropic Gaussian residuals is sigma*sqrt(2 ln 2); rmse is sigma*sqrt(2)
    mad = med / math.sqrt(math.log(2.0))
    return rmse, mae, std, mad


def _describe(matrix, fitgeom):
    det = float(np.linalg.det(matrix))
    proper = det >= 0
    if fitgeom == "shift":
        return proper, 0.0, (0.0, 0.0), 0.0, (1.0, 1.0), 1.0, 0.0
    s = math.sqrt(abs(det))
    if fitgeom == "general":
        sx, sy = np.hypot(matrix[0], matrix[1])  # column norms
    else:
        sx = sy = s
    wm = matrix / np.array([sx, sy])
    sdet = 1.0 if det >= 0 else -1.0
    prop = math.degrees(math.atan2(wm[0, 1] - sdet * wm[1, 0], wm[0, 0] + sdet * wm[1, 1]))
    if proper and fitgeom in ("rshift", "rscale"):
        return proper, prop, (prop, prop), prop, (float(sx), float(sy)), s, 0.0
    rx = math.degrees(math.atan2(-wm[1, 0], wm[0, 0]))
    ry = math.degrees(math.atan2(wm[0, 1], wm[1, 1]))
    skew = (ry - rx - 180.0) % 360.0 - 180.0
    return proper, prop, (rx, ry), 0.5 * (rx + ry), (float(sx), float(sy)), s, skew


def iter_linear_fit(xy, uv, *, fitgeom="rshift", nclip=3, sigma=3.0, sigma_stat="rmse",
                    center=None, clip_accum=False, weights=None):
    """Fit ``xy = M . uv + s`` with iterative sigma clipping.

    Parameters
    ----------
    xy : (N, 2) array-like
        Target ("reference") positions.
    uv : (N, 2) array-like
        Positions to transform ("image" positions).
    fitgeom : {'shift', 'rshift', 'rscale', 'general'}
        ``shift``: offsets only; ``rshift``: offsets and a rotation;
        ``rscale``: offsets, rotation and one scale; ``general``: the full
        affine transformation (independent scale and rotation per axis,
        i.e. skew).  ``rshift``/``rscale`` also accept a reflection when
        the data have one.
    nclip : int
        Clipping iterations (0 or None: no clipping).
    sigma : float
        Clipping limit in units of ``sigma_stat``.
    sigma_stat : {'rmse', 'mae', 'std', 'mad'}
        Statistic of the residual norms that ``sigma`` multiplies.
    center : (2,) array-like, optional
        Centre of rotation for the fit (default: mean of the used ``uv``);
        the returned ``shift`` always refers to the origin.
    clip_accum : bool
        Once clipped, a position stays out.  By default each iteration
        re-selects from all positions with the current fit's residuals.
    weights : (N,) array-like, optional
        Weights of the positions (zero or negative: not used).

    Returns
    -------
    LinearFit

    Raises
    ------
    TweakregError
        Fewer usable positions than the geometry needs, or a singular fit.
    ValueError
        Bad arguments.
    """
    fitgeom = str(fitgeom).lower()
    if fitgeom not in SUPPORTED_FITGEOM:
        raise ValueError(
            f"unsupported fitgeom {fitgeom!r}; expected one of {', '.join(SUPPORTED_FITGEOM)}"
        )
    if sigma_stat not in ("rmse", "mae", "std", "mad"):
        raise ValueError(f"sigma_stat must be 'rmse', 'mae', 'std' or 'mad', got {sigma_stat!r}")
    xy = np.asarray(xy, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1:] != (2,) or uv.shape != xy.shape:
        raise ValueError(
            f"xy and uv must both have shape (N, 2); got {xy.shape} and {uv.shape}"
        )
    nclip = 0 if nclip is None else int(nclip)
    if nclip < 0:
        raise ValueError(f"nclip must be non-negative, got {nclip}")
    if nclip and not sigma > 0:
        raise ValueError(f"sigma must be positive when clipping, got {sigma}")
    minobj = SUPPORTED_FITGEOM[fitgeom]
    valid = np.all(np.isfinite(xy), axis=1) & np.all(np.isfinite(uv), axis=1)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(xy),):
            raise ValueError(f"weights must have shape ({len(xy)},), got {w.shape}")
        valid &= np.isfinite(w) & (w > 0)
    if valid.sum() < minobj:
        raise TweakregError(
            f"'{fitgeom}' fit needs at least {minobj} positions, got {int(valid.sum())}"
        )
    if valid.sum() == minobj:
        nclip = 0
    if center is None:
        center = uv[valid].mean(axis=0)
    center = np.asarray(center, dtype=np.float64)
    xyc = xy - center
    uvc = uv - center

    def fit(mask):
        wm = None if w is None else w[mask]
        return _fit_once(fitgeom, xyc[mask], uvc[mask], wm)

    mask = valid.copy()
    matrix, shift = fit(mask)
    eff = 0
    for _ in range(nclip):
        resid_all = xyc - (uvc @ matrix.T + shift)
        norm_all = np.hypot(resid_all[:, 0], resid_all[:, 1])
        stat = _statistics(resid_all[mask], None if w is None else w[mask])
        cutoff = sigma * dict(zip(("rmse", "mae", "std", "mad"), stat))[sigma_stat]
        base = mask if clip_accum else valid
        new = base & (norm_all < cutoff)
        if new.sum() < minobj or np.array_equal(new, mask):
            break
        eff += 1
        mask = new
        matrix, shift = fit(mask)

    resids = (xyc - (uvc @ matrix.T + shift))[mask]
    rmse, mae, std, mad = _statistics(resids, None if w is None else w[mask])
    proper, prop, rot, mrot, scale, mscale, skew = _describe(matrix, fitgeom)
    # refer the shift to the origin: xy = M (uv - c) + s + c = M uv + (s + c - M c)
    shift0 = shift + center - matrix @ center
    return LinearFit(
        fitgeom=fitgeom, matrix=matrix, shift=shift0, center=center, proper=proper,
        proper_rot=prop, rot=rot, mean_rot=mrot, scale=scale, mean_scale=mscale, skew=skew,
        rmse=rmse, mae=mae, std=std, mad=mad, fitmask=mask, resids=resids, eff_nclip=eff,
    )


# --------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------

def _as_xy(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be an (N, 2) array of positions, got shape {a.shape}")
    return a


def estimate_2dhist_shift(imxy, refxy, searchrad=2.0, pscale=1.0):
    """Initial offset ``image - reference`` from the 2-D histogram of pair offsets.

    All pairs closer than about ``searchrad`` in each coordinate are
    histogrammed in bins of ``pscale`` (one image pixel); the offset is the
    mean of the pair offsets within one bin of the fullest bin.

    Parameters
    ----------
    imxy, refxy : (N, 2) array-like
        Image and reference positions (same units).
    searchrad : float
        Largest offset searched.
    pscale : float
        Bin size (the size of an image pixel in the same units).

    Returns
    -------
    (dx, dy) : tuple of float
        ``(0, 0)`` when no pair is within the search radius.
    """
    imxy = _as_xy(imxy, "imxy")
    refxy = _as_xy(refxy, "refxy")
    if not (searchrad > 0 and pscale > 0):
        raise ValueError(f"searchrad and pscale must be positive, got {searchrad}, {pscale}")
    imxy = imxy[np.all(np.isfinite(imxy), axis=1)]
    refxy = refxy[np.all(np.isfinite(refxy), axis=1)]
    if len(imxy) == 0 or len(refxy) == 0:
        return 0.0, 0.0
    r = searchrad / pscale
    half = r + 0.5
    tree = cKDTree(refxy / pscale)
    pairs = tree.query_ball_point(imxy / pscale, half * math.sqrt(2.0))
    ii = np.repeat(np.arange(len(imxy)), [len(p) for p in pairs])
    if ii.size == 0:
        return 0.0, 0.0
    jj = np.concatenate([np.asarray(p, dtype=int) for p in pairs if len(p)])
    d = (imxy[ii] - refxy[jj]) / pscale
    keep = np.all((d >= -half) & (d < half), axis=1)
    d = d[keep]
    if len(d) == 0:
        return 0.0, 0.0
    nbin = 2 * int(math.ceil(r)) + 1
    edge = int(math.ceil(r)) + 0.5
    hist, xe, ye = np.histogram2d(d[:, 0], d[:, 1], bins=nbin, range=[[-edge, edge], [-edge, edge]])
    ix, iy = np.unravel_index(np.argmax(hist), hist.shape)
    cx, cy = 0.5 * (xe[ix] + xe[ix + 1]), 0.5 * (ye[iy] + ye[iy + 1])
    near = (np.abs(d[:, 0] - cx) <= 1.5) & (np.abs(d[:, 1] - cy) <= 1.5)
    dx, dy = d[near].mean(axis=0) * pscale
    return float(dx), float(dy)


def remove_close_sources(xy, separation):
    """Indices of the sources kept after dropping crowded ones.

    Sources are visited in order of increasing y (then x); a source within
    ``separation`` of one already kept is dropped (the rule of the
    established ``xyxymatch``).

    Returns
    -------
    ndarray of int
        Kept indices into ``xy`` in ascending order.
    """
    xy = _as_xy(xy, "xy")
    finite = np.flatnonzero(np.all(np.isfinite(xy), axis=1))
    if separation is None or separation <= 0 or len(finite) < 2:
        return finite
    order = finite[np.lexsort((xy[finite, 0], xy[finite, 1]))]
    tree = cKDTree(xy[order])
    dropped = np.zeros(len(order), dtype=bool)
    for k in range(len(order)):
        if dropped[k]:
            continue
        for j in tree.query_ball_point(xy[order[k]], separation):
            if j > k:
                dropped[j] = True
    return np.sort(order[~dropped])


def xyxymatch(imxy, refxy, *, origin=(0.0, 0.0), tolerance=1.0, separation=0.0):
    """Match image to reference positions within a tolerance, one to one.

    The image positions are first shifted by ``-origin``; sources closer
    than ``separation`` to another source of the same list are dropped;
    then pairs are formed closest first, each source used at most once,
    and only pairs closer than ``tolerance``.

    Returns
    -------
    ref_idx, im_idx : ndarray of int
        Indices of the matched pairs, sorted by ``ref_idx``.
    """
    imxy = _as_xy(imxy, "imxy")
    refxy = _as_xy(refxy, "refxy")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    empty = np.array([], dtype=int)
    im_keep = remove_close_sources(imxy, separation)
    ref_keep = remove_close_sources(refxy, separation)
    if len(im_keep) == 0 or len(ref_keep) == 0:
        return empty, empty.copy()
    shifted = imxy[im_keep] - np.asarray(origin, dtype=np.float64)
    tree = cKDTree(shifted)
    k = min(4, len(im_keep))
    dist, idx = tree.query(refxy[ref_keep], k=k, distance_upper_bound=tolerance)
    dist = np.atleast_2d(dist.reshape(len(ref_keep), -1))
    idx = np.atleast_2d(idx.reshape(len(ref_keep), -1))
    r, c = np.nonzero(np.isfinite(dist) & (dist <= tolerance))
    if r.size == 0:
        return empty, empty.copy()
    d = dist[r, c]
    cand_ref = r
    cand_im = idx[r, c]
    order = np.argsort(d, kind="stable")
    used_ref = np.zeros(len(ref_keep), dtype=bool)
    used_im = np.zeros(len(im_keep), dtype=bool)
    pairs = []
    for o in order:
        a, b = cand_ref[o], cand_im[o]
        if used_ref[a] or used_im[b]:
            continue
        used_ref[a] = used_im[b] = True
        pairs.append((ref_keep[a], im_keep[b]))
    pairs.sort()
    p = np.array(pairs, dtype=int).reshape(-1, 2)
    return p[:, 0], p[:, 1]


def _triangles(xy, tol, maxratio):
    """Invariants of all triangles of a point list (Valdes et al. 1995).

    Vertices are relabelled so that side 1 (shortest) joins v1-v2, side 2
    joins v2-v3 and side 3 (longest) joins v3-v1.  Returns the vertex
    indices, log perimeter, ratio r3/r1, cosine of the angle at v1, their
    tolerances and the orientation (+1 counter-clockwise).
    """
    n = len(xy)
    if n < 3:
        return None
    idx = np.array(list(itertools.combinations(range(n), 3)), dtype=int)
    p = xy[idx]  # (T, 3, 2)
    # side opposite vertex k
    sides = np.stack(
        [np.hypot(*(p[:, 1] - p[:, 2]).T), np.hypot(*(p[:, 2] - p[:, 0]).T),
         np.hypot(*(p[:, 0] - p[:, 1]).T)], axis=1)
    order = np.argsort(sides, axis=1)  # opposite shortest, middle, longest
    # v3 is opposite the shortest side, v1 opposite the middle, v2 opposite the longest
    rows = np.arange(len(idx))
    v3 = idx[rows, order[:, 0]]
    v1 = idx[rows, order[:, 1]]
    v2 = idx[rows, order[:, 2]]
    r1 = sides[rows, order[:, 0]]
    r3 = sides[rows, order[:, 2]]
    good = (r1 > tol) & (r3 < maxratio * r1)
    v1, v2, v3, r1, r3 = v1[good], v2[good], v3[good], r1[good], r3[good]
    if v1.size == 0:
        return None
    a = xy[v2] - xy[v1]  # side 1 (shortest)
    b = xy[v3] - xy[v1]  # side 3 (longest)
    cosang = np.einsum("ij,ij->i", a, b) / (r1 * r3)
    sinang2 = np.clip(1.0 - cosang**2, 0.0, None)
    ratio = r3 / r1
    fac = 1.0 / r3**2 - cosang / (r3 * r1) + 1.0 / r1**2
    tol2 = tol * tol
    tr = np.sqrt(2.0 * ratio**2 * tol2 * fac)
    tc = np.sqrt(2.0 * sinang2 * tol2 * fac + 3.0 * cosang**2 * tol2**2 * fac**2)
    sense = np.sign(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    perim = np.log(np.hypot(*(xy[v3] - xy[v2]).T) + r1 + r3)
    return np.stack([v1, v2, v3], axis=1), perim, ratio, cosang, tr, tc, sense


def triangle_match(imxy, refxy, *, tolerance=1.0, nmatch=30, maxratio=10.0, nreject=10):
    """Match two point lists by similar triangles, no initial guess needed.

    Works for any offset, rotation, scale and flip between the lists, as
    long as they share a good fraction of their points (the first
    ``nmatch`` of each list are used; put the brightest first).

    Parameters
    ----------
    imxy, refxy : (N, 2) array-like
        Image and reference positions.
    tolerance : float
        Position error of the points (sets the triangle tolerances;
        triangles with a side shorter than this are not used).
    nmatch : int
        Number of points of each list used.
    maxratio : float
        Largest ratio of longest to shortest triangle side.
    nreject : int
        Maximum rejection iterations on the perimeter ratio and sense.

    Returns
    -------
    ref_idx, im_idx : ndarray of int
        Pairs confirmed by the vertex vote (may be empty).
    """
    imxy = _as_xy(imxy, "imxy")
    refxy = _as_xy(refxy, "refxy")
    empty = np.array([], dtype=int)
    im_sel = np.flatnonzero(np.all(np.isfinite(imxy), axis=1))[:nmatch]
    ref_sel = np.flatnonzero(np.all(np.isfinite(refxy), axis=1))[:nmatch]
    tr = _triangles(refxy[ref_sel], tolerance, maxratio)
    ti = _triangles(imxy[im_sel], tolerance, maxratio)
    if tr is None or ti is None:
        return empty, empty.copy()
    rv, rp, rr, rc, rtr, rtc, rs = tr
    iv, ip, ir, ic, itr, itc, isn = ti
    # candidate pairs in (ratio, cosine) space, normalised by the largest tolerances
    sr = max(rtr.max(), itr.max(), 1e-12)
    sc = max(rtc.max(), itc.max(), 1e-12)
    tree = cKDTree(np.column_stack([ir / sr, ic / sc]))
    k = min(8, len(ir))
    _, cand = tree.query(np.column_stack([rr / sr, rc / sc]), k=k, distance_upper_bound=2.0)
    cand = cand.reshape(len(rr), k)
    valid = cand < len(ir)
    cidx = np.where(valid, cand, 0)
    dr = (ir[cidx] - rr[:, None]) ** 2 / (itr[cidx] ** 2 + rtr[:, None] ** 2)
    dc = (ic[cidx] - rc[:, None]) ** 2 / (itc[cidx] ** 2 + rtc[:, None] ** 2)
    ok = valid & (dr < 1.0) & (dc < 1.0)
    score = np.where(ok, dr + dc, np.inf)
    best = np.argmin(score, axis=1)
    match_r = np.flatnonzero(np.isfinite(score[np.arange(len(rr)), best]))
    if match_r.size == 0:
        return empty, empty.copy()
    match_i = cidx[match_r, best[match_r]]
    # reject false matches: perimeter (magnification) outliers and the minority sense
    for _ in range(max(1, nreject)):
        logm = rp[match_r] - ip[match_i]
        same = rs[match_r] == isn[match_i]
        keep = same if same.sum() >= (~same).sum() else ~same
        if keep.sum() > 2:
            # true matches share one magnification; false ones scatter widely
            med = np.median(logm[keep])
            spread = 1.4826 * np.median(np.abs(logm[keep] - med))
            keep &= np.abs(logm - med) <= 3.0 * max(spread, 1e-6)
        if keep.all():
            break
        match_r, match_i = match_r[keep], match_i[keep]
        if len(match_r) == 0:
            return empty, empty.copy()
    # vertex vote
    votes = np.zeros((len(ref_sel), len(im_sel)), dtype=np.int64)
    for k in range(3):
        np.add.at(votes, (rv[match_r, k], iv[match_i, k]), 1)
    vmax = votes.max()
    if vmax == 0:
        return empty, empty.copy()
    pairs = []
    for a in range(votes.shape[0]):
        b = int(np.argmax(votes[a]))
        v = votes[a, b]
        if v > 0.5 * vmax and v == votes[:, b].max() and np.count_nonzero(votes[a] == v) == 1:
            pairs.append((ref_sel[a], im_sel[b]))
    if not pairs:
        return empty, empty.copy()
    p = np.array(sorted(pairs), dtype=int)
    return p[:, 0], p[:, 1]


@dataclass
class MatchResult:
    """Matched pairs and the initial offset used (``image - reference``)."""

    ref_idx: np.ndarray
    im_idx: np.ndarray
    offset: tuple

    def __len__(self):
        return len(self.ref_idx)


def match_catalogs(refxy, imxy, *, searchrad=2.0, separation=1.0, tolerance=0.7, use2dhist=True,
                   xoffset=0.0, yoffset=0.0, pscale=1.0, algorithm="tolerance", nmatch=30,
                   refflux=None, imflux=None):
    """Cross-match an image catalog with a reference catalog in a common plane.

    Parameters
    ----------
    refxy, imxy : (N, 2) array-like
        Reference and image positions in the same tangent plane (arcsec).
    searchrad : float
        Search radius for the 2-D histogram offset (``use2dhist``).
    separation : float
        Sources of one list closer than this to each other are dropped.
    tolerance : float
        Matching tolerance after the initial offset (and for triangles,
        the position error).
    use2dhist : bool
        Estimate the initial offset from the 2-D histogram; otherwise use
        ``xoffset``/``yoffset``.
    xoffset, yoffset : float
        Initial offset ``image - reference`` when ``use2dhist`` is False.
    pscale : float
        Size of an image pixel in the plane (histogram bin size).
    algorithm : {'tolerance', 'triangles'}
        ``triangles`` first finds the transformation by triangle pattern
        matching (no offset guess needed, any rotation/scale), then matches
        all sources with the tolerance rule.
    nmatch : int
        Points per list used by the triangle matcher.
    refflux, imflux : array-like, optional
        Source fluxes; the triangle matcher then uses the ``nmatch``
        brightest sources of each list (else the first ones).

    Returns
    -------
    MatchResult
    """
    refxy = _as_xy(refxy, "refxy")
    imxy = _as_xy(imxy, "imxy")
    if not searchrad > 0:
        raise ValueError(f"searchrad must be positive, got {searchrad}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    if algorithm not in ("tolerance", "triangles"):
        raise ValueError(f"algorithm must be 'tolerance' or 'triangles', got {algorithm!r}")
    empty = np.array([], dtype=int)
    if len(refxy) == 0 or len(imxy) == 0:
        return MatchResult(empty, empty.copy(), (0.0, 0.0))
    if algorithm == "triangles":
        r_ord = np.arange(len(refxy)) if refflux is None else np.argsort(-np.nan_to_num(
            np.asarray(refflux, float), nan=-np.inf), kind="stable")
        i_ord = np.arange(len(imxy)) if imflux is None else np.argsort(-np.nan_to_num(
            np.asarray(imflux, float), nan=-np.inf), kind="stable")
        r_idx, i_idx = triangle_match(imxy[i_ord], refxy[r_ord], tolerance=tolerance, nmatch=nmatch)
        r_idx, i_idx = r_ord[r_idx], i_ord[i_idx]
        if len(r_idx) >= 2:
            fit = iter_linear_fit(refxy[r_idx], imxy[i_idx], fitgeom="rscale", nclip=0)
            moved = fit(imxy)
            r2, i2 = xyxymatch(moved, refxy, tolerance=tolerance, separation=separation)
            if len(r2) >= 3:
                # one refinement with all matches
                fit = iter_linear_fit(refxy[r2], imxy[i2], fitgeom="rscale", nclip=0)
                r2, i2 = xyxymatch(fit(imxy), refxy, tolerance=tolerance, separation=separation)
            return MatchResult(r2, i2, (0.0, 0.0))
        return MatchResult(empty, empty.copy(), (0.0, 0.0))
    if use2dhist:
        offset = estimate_2dhist_shift(imxy, refxy, searchrad=searchrad, pscale=pscale)
    else:
        offset = (float(xoffset), float(yoffset))
    r_idx, i_idx = xyxymatch(imxy, refxy, origin=offset, tolerance=tolerance, separation=separation)
    return MatchResult(r_idx, i_idx, offset)


# --------------------------------------------------------------------------
# the alignment loop
# --------------------------------------------------------------------------

@dataclass
class AlignInput:
    """One image to align.

    Attributes
    ----------
    wcs : gwcs.WCS
        The image's imaging WCS.
    catalog : astropy.table.Table
        Sources with ``x``, ``y`` (0-based pixels); an optional ``weight``
        column weights the fit.
    ref_angles : dict, optional
        ``v2_ref``, ``v3_ref`` (arcsec), ``roll_ref`` (deg) from
        ``meta.wcsinfo``; read from the WCS when not given.
    group_id : hashable, optional
        Images with the same id (detectors of one exposure) are fitted
        together; ``None`` aligns the image on its own.
    name : str
        For messages.
    """

    wcs: object
    catalog: Table
    ref_angles: dict | None = None
    group_id: Hashable | None = None
    name: str = ""


@dataclass
class AlignResult:
    """What happened to one image.

    Attributes
    ----------
    status : str
        ``'SUCCESS'``, ``'REFERENCE'`` (the image defined the reference
        catalog), or ``'FAILED: <reason>'``.
    wcs : gwcs.WCS
        The corrected WCS on success, else the input WCS.
    fit : LinearFit or None
        The group's fit (in the fit tangent plane, arcsec).
    nmatches : int
        Matches of the whole group.
    matched_ref_idx, matched_input_idx : ndarray of int
        This image's matched sources: rows of the reference catalog (as it
        was at the time) and rows of this image's catalog.
    """

    name: str
    group_id: Hashable | None
    status: str
    wcs: object
    fit: LinearFit | None = None
    nmatches: int = 0
    matched_ref_idx: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    matched_input_idx: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))

    @property
    def succeeded(self):
        return self.status == "SUCCESS"


class _Member:
    def __init__(self, index, item: AlignInput):
        self.index = index
        self.item = item
        self.wcs = item.wcs
        cat = item.catalog
        for col in ("x", "y"):
            if col not in cat.colnames:
                raise KeyError(
                    f"catalog of image {item.name or index!r} has no {col!r} column "
                    f"(columns: {', '.join(cat.colnames)})"
                )
        x = np.asarray(cat["x"], dtype=np.float64)
        y = np.asarray(cat["y"], dtype=np.float64)
        self.rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        self.x = x[self.rows]
        self.y = y[self.rows]
        self.weight = (np.asarray(cat["weight"], dtype=np.float64)[self.rows]
                       if "weight" in cat.colnames else None)
        self.flux = (np.asarray(cat["flux"], dtype=np.float64)[self.rows]
                     if "flux" in cat.colnames else None)
        self.result = AlignResult(item.name, item.group_id, "FAILED: not aligned", item.wcs)
        self.update_sky()

    def update_sky(self):
        if len(self.x):
            ra, dec = self.wcs(self.x, self.y, with_bounding_box=False)
            self.ra, self.dec = np.asarray(ra, float), np.asarray(dec, float)
            ok = np.isfinite(self.ra) & np.isfinite(self.dec)
            self.polygon = SkyPolygon.from_points(self.ra[ok], self.dec[ok]) if ok.any() else \
                SkyPolygon.from_wcs(self.wcs)
        else:
            self.ra = self.dec = np.array([])
            try:
                self.polygon = SkyPolygon([image_footprint(self.wcs, use_bounding_box=True)])
            except ValueError:
                self.polygon = SkyPolygon([])


class _Group:
    def __init__(self, members, name):
        self.members = members
        self.name = name

    @property
    def polygon(self):
        return SkyPolygon([p for m in self.members for p in m.polygon.pieces])

    def nsources(self):
        return sum(len(m.x) for m in self.members)

    def catalog(self):
        """Combined RA/DEC of the group with (member, row) bookkeeping."""
        ra = np.concatenate([m.ra for m in self.members])
        dec = np.concatenate([m.dec for m in self.members])
        owner = np.concatenate([np.full(len(m.x), k) for k, m in enumerate(self.members)])
        local = np.concatenate([np.arange(len(m.x)) for m in self.members])
        if any(m.weight is not None for m in self.members):
            w = np.concatenate([m.weight if m.weight is not None else np.ones(len(m.x))
                                for m in self.members])
        else:
            w = None
        return ra, dec, owner, local, w

    def fluxes(self):
        if all(m.flux is not None for m in self.members):
            return np.concatenate([m.flux for m in self.members])
        return None


class _RefCatalog:
    def __init__(self, ra, dec, weight=None, flux=None):
        self.ra = np.asarray(ra, float)
        self.dec = np.asarray(dec, float)
        ok = np.isfinite(self.ra) & np.isfinite(self.dec)
        self.ra, self.dec = self.ra[ok], self.dec[ok]
        self.weight = None if weight is None else np.asarray(weight, float)[ok]
        self.flux = None if flux is None else np.asarray(flux, float)[ok]
        self.polygon = SkyPolygon.from_points(self.ra, self.dec)

    def expand(self, ra, dec, weight=None, flux=None):
        if self.weight is not None or weight is not None:
            w0 = self.weight if self.weight is not None else np.ones(len(self.ra))
            w1 = weight if weight is not None else np.ones(len(ra))
            weight = np.concatenate([w0, w1])
        if self.flux is not None and flux is not None:
            flux = np.concatenate([self.flux, flux])
        else:
            flux = None
        self.__init__(np.concatenate([self.ra, ra]), np.concatenate([self.dec, dec]), weight, flux)

    def table(self):
        t = Table({"RA": self.ra, "DEC": self.dec})
        t["id"] = np.arange(1, len(t) + 1)
        if self.weight is not None:
            t["weight"] = self.weight
        return t


def _overlap_matrix(groups):
    n = len(groups)
    mat = np.zeros((n, n))
    polys = [g.polygon for g in groups]
    for i in range(n):
        for j in range(i + 1, n):
            mat[i, j] = mat[j, i] = polys[i].intersection_area(polys[j])
    return mat


def _pop_reference_pair(groups, user_order):
    if len(groups) == 2 or user_order:
        return groups.pop(0), groups.pop(0)
    mat = _overlap_matrix(groups)
    i, j = np.unravel_index(np.argmax(mat), mat.shape)
    if mat[i].sum() < mat[:, j].sum():
        i, j = j, i
    row = mat[i].copy()
    ref, first = groups[i], groups[j]
    rest = [g for k, g in enumerate(groups) if k not in (i, j)]
    rest_overlap = [row[k] for k in range(len(groups)) if k not in (i, j)]
    order = np.argsort(rest_overlap, kind="stable")[::-1]
    groups[:] = [rest[k] for k in order]
    return ref, first


def _pop_next(refcat, groups, user_order):
    if not groups:
        return None, None
    if user_order:
        return groups.pop(0), None
    areas = [refcat.polygon.intersection_area(g.polygon) for g in groups]
    k = int(np.argmax(areas))
    return groups.pop(k), areas[k]


def _align_group(group, refcat, *, minobj, match_kw, fitgeom, nclip, sigma, clip_accum):
    first = group.members[0]
    plane = TangentPlane(first.wcs, first.item.ref_angles)
    ra, dec, owner, local, w = group.catalog()
    imxy = np.column_stack(plane.world_to_tanp(ra, dec))
    refxy = np.column_stack(plane.world_to_tanp(refcat.ra, refcat.dec))
    ok_im = np.all(np.isfinite(imxy), axis=1)
    ok_ref = np.all(np.isfinite(refxy), axis=1)
    if not ok_im.any() or not ok_ref.any():
        for m in group.members:
            m.result.status = "FAILED: no sources in the tangent plane"
        return False, None
    im_sel = np.flatnonzero(ok_im)
    ref_sel = np.flatnonzero(ok_ref)
    imflux = group.fluxes()
    match = match_catalogs(refxy[ref_sel], imxy[im_sel], pscale=plane.pixel_scale(),
                           imflux=None if imflux is None else imflux[im_sel],
                           refflux=None if refcat.flux is None else refcat.flux[ref_sel], **match_kw)
    ref_idx = ref_sel[match.ref_idx]
    im_idx = im_sel[match.im_idx]
    nmatches = len(ref_idx)
    if nmatches < minobj:
        for m in group.members:
            m.result.status = f"FAILED: not enough matches ({nmatches} < minobj={minobj})"
            m.result.nmatches = nmatches
        return False, im_idx
    weights = None
    if w is not None or refcat.weight is not None:
        wi = w[im_idx] if w is not None else None
        wr = refcat.weight[ref_idx] if refcat.weight is not None else None
        if wi is not None and wr is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                weights = np.where((wi > 0) & (wr > 0), wi * wr / (wi + wr), 0.0)
        else:
            weights = wi if wi is not None else wr
    try:
        fit = iter_linear_fit(refxy[ref_idx], imxy[im_idx], fitgeom=fitgeom, nclip=nclip,
                              sigma=sigma, clip_accum=clip_accum, weights=weights)
    except TweakregError as err:
        for m in group.members:
            m.result.status = f"FAILED: {err}"
            m.result.nmatches = nmatches
        return False, im_idx
    for k, m in enumerate(group.members):
        mine = owner[im_idx] == k
        m.wcs = apply_tweak_correction(m.wcs, fit.matrix, fit.shift, m.item.ref_angles,
                                       fit_plane=None if k == 0 else plane)
        m.result.wcs = m.wcs
        m.result.status = "SUCCESS"
        m.result.fit = fit
        m.result.nmatches = nmatches
        m.result.matched_ref_idx = ref_idx[mine]
        m.result.matched_input_idx = m.rows[local[im_idx[mine]]]
        m.update_sky()
    return True, im_idx


def align_images(images: Sequence[AlignInput], refcat: Table | None = None, *,
                 enforce_user_order=True, expand_refcat=False, minobj=None, searchrad=2.0,
                 separation=1.0, tolerance=0.7, use2dhist=True, xoffset=0.0, yoffset=0.0,
                 fitgeometry="rshift", nclip=3, sigma=3.0, clip_accum=False,
                 match_algorithm="tolerance"):
    """Align images (or exposure groups) to each other or to a reference catalog.

    Without ``refcat``, the reference catalog is the sources of one input
    group (the first when the order is the user's, else one of the pair of
    groups overlapping most); every other group is then matched and fitted
    to it, in the user's order or by decreasing overlap with the reference
    catalog (only with ``expand_refcat``: order optimisation needs the
    reference to grow).  With ``expand_refcat`` the sources of each aligned
    group that did not match are added to the reference catalog.

    Parameters
    ----------
    images : sequence of AlignInput
    refcat : astropy.table.Table, optional
        Reference catalog with ``RA`` and ``DEC`` (degrees) and an optional
        ``weight``.
    enforce_user_order, expand_refcat : bool
    minobj : int, optional
        Fewest matches for a fit (default: the geometry's minimum).
    searchrad, separation, tolerance, use2dhist, xoffset, yoffset
        See :func:`match_catalogs` (arcsec).
    fitgeometry, nclip, sigma, clip_accum
        See :func:`iter_linear_fit`.
    match_algorithm : {'tolerance', 'triangles'}

    Returns
    -------
    results : list of AlignResult
        One per input image, in input order.
    refcat : astropy.table.Table
        The final reference catalog (``RA``, ``DEC``, ``id``).

    Raises
    ------
    TweakregError
        Fewer than two groups with sources (one when ``refcat`` is given).
    """
    fitgeometry = str(fitgeometry).lower()
    if fitgeometry not in SUPPORTED_FITGEOM:
        raise ValueError(
            f"unsupported fitgeometry {fitgeometry!r}; expected one of {', '.join(SUPPORTED_FITGEOM)}"
        )
    if minobj is None:
        minobj = SUPPORTED_FITGEOM[fitgeometry]
    members = [_Member(k, item) for k, item in enumerate(images)]
    by_group: dict = {}
    groups = []
    for m in members:
        gid = m.item.group_id
        if gid is None:
            groups.append(_Group([m], m.item.name or f"image {m.index}"))
        elif gid in by_group:
            by_group[gid].members.append(m)
        else:
            by_group[gid] = _Group([m], f"group {gid}")
            groups.append(by_group[gid])
    usable = []
    for g in groups:
        if g.nsources() == 0:
            for m in g.members:
                m.result.status = "FAILED: empty source catalog"
        else:
            usable.append(g)
    if (refcat is None and len(usable) < 2) or not usable:
        raise TweakregError(
            "too few input images (or groups of images) with non-empty catalogs: "
            f"{len(usable)} usable, {'1' if refcat is not None else '2'} needed"
        )
    user_order = enforce_user_order or not expand_refcat
    match_kw = {"searchrad": searchrad, "separation": separation, "tolerance": tolerance,
                "use2dhist": use2dhist, "xoffset": xoffset, "yoffset": yoffset,
                "algorithm": match_algorithm}
    queue = list(usable)
    if refcat is None:
        ref_group, current = _pop_reference_pair(queue, user_order)
        ra, dec, _, _, w = ref_group.catalog()
        ref = _RefCatalog(ra, dec, w, ref_group.fluxes())
        for m in ref_group.members:
            m.result.status = "REFERENCE"
        area = None if user_order else ref.polygon.intersection_area(current.polygon)
    else:
        for col in ("RA", "DEC"):
            if col not in refcat.colnames:
                raise KeyError(f"reference catalog has no {col!r} column (columns: {', '.join(refcat.colnames)})")
        ref = _RefCatalog(refcat["RA"], refcat["DEC"],
                          refcat["weight"] if "weight" in refcat.colnames else None,
                          refcat["flux"] if "flux" in refcat.colnames else None)
        if len(ref.ra) == 0:
            raise TweakregError("the reference catalog has no valid RA/DEC positions")
        current, area = _pop_next(ref, queue, user_order)

    while current is not None:
        ok, im_idx = _align_group(current, ref, minobj=minobj, match_kw=match_kw,
                                  fitgeom=fitgeometry, nclip=nclip, sigma=sigma,
                                  clip_accum=clip_accum)
        if expand_refcat and (ok or not area):
            ra, dec, _, _, w = current.catalog()
            flux = current.fluxes()
            unmatched = np.ones(len(ra), dtype=bool)
            if im_idx is not None and ok:
                unmatched[im_idx] = False
            ref.expand(ra[unmatched], dec[unmatched], None if w is None else w[unmatched],
                       None if flux is None else flux[unmatched])
        current, area = _pop_next(ref, queue, user_order)

    return [m.result for m in members], ref.table()


def _footprint_separation_arcsec(wcs_a, wcs_b):
    fa = image_footprint(wcs_a, use_bounding_box=True)
    fb = image_footprint(wcs_b, use_bounding_box=True)
    xi, eta = sky_to_tangent_plane(fb[:, 0], fb[:, 1], fa[0, 0], fa[0, 1])
    xa, ea = sky_to_tangent_plane(fa[:, 0], fa[:, 1], fa[0, 0], fa[0, 1])
    return float(np.max(np.hypot(xi - xa, eta - ea))) * 3600.0


def wcs_correction_is_small(original_wcs, corrected_wcs, max_arcsec):
    """Whether every corner of an image moved less than ``max_arcsec``."""
    return _footprint_separation_arcsec(original_wcs, corrected_wcs) < max_arcsec


def relative_align(images, *, searchrad=2.0, separation=1.0, use2dhist=True, tolerance=0.7,
                   xoffset=0.0, yoffset=0.0, enforce_user_order=False, expand_refcat=False,
                   minobj=15, fitgeometry="rshift", nclip=3, sigma=3.0, clip_accum=False,
                   match_algorithm="tolerance"):
    """Align the input images to each other (TweakRegStep without ``abs_refcat``).

    Defaults are the established TweakRegStep's.  After the fits, a
    correction that moves any image corner by more than
    ``2 * (searchrad + tolerance)`` arcsec (``2 * (max(|xoffset|,
    |yoffset|) + tolerance)`` without ``use2dhist``) is taken for a
    mismatch and the whole relative alignment is rejected.  With
    ``match_algorithm='triangles'`` there is no such limit: the triangle
    matcher needs no initial guess, so large corrections are expected, and
    its matches are confirmed by the vertex vote and the tolerance match.

    Returns
    -------
    list of AlignResult
        In input order.

    Raises
    ------
    TweakregError
        Alignment impossible or rejected; the message says why, the step
        should log it and leave the WCSs alone.
    """
    results, _ = align_images(
        images, None, enforce_user_order=enforce_user_order, expand_refcat=expand_refcat,
        minobj=minobj, searchrad=searchrad, separation=separation, tolerance=tolerance,
        use2dhist=use2dhist, xoffset=xoffset, yoffset=yoffset, fitgeometry=fitgeometry,
        nclip=nclip, sigma=sigma, clip_accum=clip_accum, match_algorithm=match_algorithm,
    )
    if match_algorithm == "triangles":
        return results
    if use2dhist:
        max_corr = 2.0 * (searchrad + tolerance)
    else:
        max_corr = 2.0 * (max(abs(xoffset), abs(yoffset)) + tolerance)
    for item, res in zip(images, results):
        if res.succeeded:
            moved = _footprint_separation_arcsec(item.wcs, res.wcs)
            if not moved < max_corr:
                raise TweakregError(
                    f"the WCS of {res.name or 'an image'} would move by {moved:.3g} arcsec, more "
                    f"than the {max_corr:.3g} arcsec the matching parameters allow; relative "
                    "alignment rejected"
                )
    return results


def absolute_align(images, refcat, *, abs_searchrad=6.0, abs_separation=1.0, abs_use2dhist=True,
                   abs_tolerance=0.7, abs_minobj=15, abs_fitgeometry="rshift", abs_nclip=3,
                   abs_sigma=3.0, clip_accum=False, match_algorithm="tolerance"):
    """Align all images together to an absolute reference catalog (``abs_refcat``).

    Every image joins one group (fitted as a whole), in user order, with
    no expansion of the reference catalog, as the established step does.

    Parameters
    ----------
    images : sequence of AlignInput
        Typically carrying the WCSs from :func:`relative_align`.
    refcat : astropy.table.Table
        ``RA``/``DEC`` columns (see :func:`parse_refcat`).

    Returns
    -------
    list of AlignResult

    Raises
    ------
    TweakregError
        Fewer than ``abs_minobj`` reference sources, or no usable catalog.
    """
    if len(refcat) < abs_minobj:
        raise TweakregError(
            f"not enough sources ({len(refcat)}) in the reference catalog for the absolute "
            f"alignment (abs_minobj={abs_minobj}); alignment to it skipped"
        )
    grouped = [AlignInput(i.wcs, i.catalog, i.ref_angles, ABSOLUTE_GROUP_ID, i.name) for i in images]
    results, _ = align_images(
        grouped, refcat, enforce_user_order=True, expand_refcat=False, minobj=abs_minobj,
        searchrad=abs_searchrad, separation=abs_separation, tolerance=abs_tolerance,
        use2dhist=abs_use2dhist, xoffset=0.0, yoffset=0.0, fitgeometry=abs_fitgeometry,
        nclip=abs_nclip, sigma=abs_sigma, clip_accum=clip_accum, match_algorithm=match_algorithm,
    )
    for r, i in zip(results, images):
        r.group_id = i.group_id
    return results


def parse_refcat(table: Table, name="reference catalog") -> Table:
    """Normalise a user reference catalog to ``RA``/``DEC`` columns (degrees).

    Accepts ``RA``/``DEC`` in any letter case, or a ``sky_centroid``
    SkyCoord column (a source_catalog ``_cat`` file).

    Raises
    ------
    KeyError
        No usable columns, or ambiguous ones; the message names ``name``.
    """
    t = Table(table, copy=True)
    ra_cols = [c for c in t.colnames if c.upper() == "RA"]
    dec_cols = [c for c in t.colnames if c.upper() == "DEC"]
    sky_cols = [c for c in t.colnames if c.lower() == "sky_centroid"]
    if len(ra_cols) > 1 or len(dec_cols) > 1:
        raise KeyError(f"{name} has several RA or DEC columns (case-insensitive): {t.colnames}")
    if ra_cols and dec_cols:
        if ra_cols[0] != "RA":
            t.rename_column(ra_cols[0], "RA")
        if dec_cols[0] != "DEC":
            t.rename_column(dec_cols[0], "DEC")
        for c in sky_cols:
            warnings.warn(f"{name} has both RA/DEC and {c}; {c} ignored", stacklevel=2)
            t.remove_column(c)
    elif len(sky_cols) == 1:
        sc = t[sky_cols[0]]
        t["RA"] = np.asarray(sc.ra.deg, dtype=np.float64)
        t["DEC"] = np.asarray(sc.dec.deg, dtype=np.float64)
        t.remove_column(sky_cols[0])
    else:
        raise KeyError(
            f"{name} needs RA and DEC columns or one sky_centroid column; it has {t.colnames}"
        )
    for c in ("RA", "DEC"):
        if hasattr(t[c], "unit") and t[c].unit is not None and str(t[c].unit) not in ("deg", ""):
            t[c] = t[c].to("deg")
        t[c] = np.asarray(t[c], dtype=np.float64)
    return t
