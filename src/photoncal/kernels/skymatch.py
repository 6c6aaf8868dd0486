"""Sky statistics and sky matching of overlapping images (skymatch).

Four methods (``skymethod``), as in the established SkyMatchStep:

* ``'local'`` - the sky statistic of each image (or exposure group, whose
  sky is the smallest of its members');
* ``'global'`` - the smallest of those, given to every image;
* ``'match'`` - relative sky offsets that make every pair of overlapping
  images agree in their common sky area, in the least-squares sense; the
  lowest (``match_down``) or highest matched image gets 0;
* ``'global+match'`` - ``match``, then the smallest remaining sky
  ("global") added to all, so the lowest image gets its measured sky.

For ``match`` each pair (i, j) of overlapping images gives one equation
``d_i - d_j = s_i(j) - s_j(i)`` where ``s_i(j)`` is the sky statistic of
image i measured inside its overlap with image j; the equation is
weighted by the mean number of pixels used on both sides.  The system is
solved with the pseudo-inverse (images with no overlap get no value).

Footprints come from :mod:`photoncal.wcs.footprint`; overlaps are
rasterised into pixel masks of each image through its inverse WCS.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from photoncal.dqflags import interpret_bit_flags
from photoncal.wcs.footprint import SkyPolygon, image_footprint, overlap_mask, pixel_scale_at

__all__ = [
    "SKYSTATS",
    "SKYMETHODS",
    "sky_statistic",
    "SkyStats",
    "good_pixel_mask",
    "SkyImage",
    "SkyGroup",
    "sky_image",
    "match_sky",
]

SKYSTATS = ("median", "midpt", "mean", "mode")
SKYMETHODS = ("local", "global", "match", "global+match")
_EPS32 = 10.0 * float(np.finfo(np.float32).eps)


def sky_statistic(values, skystat="mode", *, lower=None, upper=None, nclip=5, lsigma=4.0,
                  usigma=4.0, binwidth=0.1):
    """A clipped sky statistic of pixel values (the ``imagestats`` definitions).

    Values outside [``lower``, ``upper``] are ignored.  ``nclip`` times,
    the mean and standard deviation (N-1) of the values inside the current
    limits are computed and the limits become ``[mean - lsigma*std, mean +
    usigma*std]`` (never wider than ``lower``/``upper``).  Then:

    * ``mean`` - mean of the values inside the final limits;
    * ``median`` - their median;
    * ``mode`` - peak of the histogram (bins ``binwidth * std`` wide from the
      smallest clipped value) refined by a parabola through the peak bin
      and its neighbours;
    * ``midpt`` - the value below which half the histogram lies, linearly
      interpolated within its bin.

    Parameters
    ----------
    values : array-like
        Pixel values (any shape; NaNs are ignored).
    skystat : {'mode', 'median', 'midpt', 'mean'}
    lower, upper : float, optional
        Usable value range.
    nclip : int
        Clipping iterations.
    lsigma, usigma : float
        Clipping limits in units of the standard deviation.
    binwidth : float
        Histogram bin width in units of the standard deviation.

    Returns
    -------
    value : float or None
        ``None`` when no value is usable.
    npix : int
        Number of values inside the final limits.
    """
    if skystat not in SKYSTATS:
        raise ValueError(f"unsupported skystat {skystat!r}; expected one of {', '.join(SKYSTATS)}")
    if nclip < 0:
        raise ValueError(f"nclip must be non-negative, got {nclip}")
    if not (lsigma > 0 and usigma > 0 and binwidth > 0):
        raise ValueError("lsigma, usigma and binwidth must be positive")
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"lower ({lower}) must not exceed upper ({upper})")
    v = np.ascontiguousarray(values, dtype=np.float32).ravel()
    n_all, _, _, vmin_all, vmax_all = _range_stats(v, -np.inf, np.inf)
    if n_all == 0:
        return None, 0
    lo = vmin_all if lower is None else float(lower)
    hi = vmax_all if upper is None else float(upper)
    if lo > hi:
        return None, 0
    cmin, cmax = lo, hi
    for it in range(nclip + 1):
        npix, mean, std, vmin, vmax = _range_stats(v, cmin, cmax)
        if npix == 0:
            return None, 0
        if it < nclip:
            cmin = max(lo, mean - lsigma * std)
            cmax = min(hi, mean + usigma * std)
    if skystat == "mean":
        return mean, npix
    if skystat == "median":
        return float(np.median(v[(v >= cmin) & (v <= cmax)])), npix
    hwidth = binwidth * std
    drange = vmax - vmin
    if hwidth < _EPS32 or abs(drange) < _EPS32 or hwidth > drange:
        # everything within one bin
        if skystat == "mode":
            return vmin + 0.5 * hwidth, npix
        return float(np.median(v[(v >= cmin) & (v <= cmax)])), npix
    nbins = int(drange / hwidth) + 1
    dz = drange / (nbins - 1)
    hist = _histogram(v, cmin, cmax, vmin, dz, nbins)
    if skystat == "mode":
        p = int(np.argmax(hist))
        if p == 0 or p == nbins - 1:
            return vmin + (p + 0.5) * dz, npix
        dh1 = hist[p] - hist[p - 1]
        dh2 = hist[p] - hist[p + 1]
        offset = 0.0 if dh1 + dh2 == 0 else 0.5 * (dh1 - dh2) / (dh1 + dh2)
        return vmin + (p + 0.5 + offset) * dz, npix
    cum = np.cumsum(hist) / hist.sum()
    k = int(np.searchsorted(cum, 0.5))
    below = cum[k - 1] if k > 0 else 0.0
    frac = (0.5 - below) / (cum[k] - below) if cum[k] > below else 0.0
    return vmin + (k + frac) * dz, npix


@njit(cache=True, nogil=True)
def _range_stats(v, lo, hi):
    """Count, mean, standard deviation (N-1), min and max of the finite values in [lo, hi]."""
    n = 0
    s = 0.0
    vmin = np.inf
    vmax = -np.inf
    for x in v:
        if x >= lo and x <= hi:
            n += 1
            s += x
            if x < vmin:
                vmin = x
            if x > vmax:
                vmax = x
    if n == 0:
        return 0, np.nan, np.nan, np.nan, np.nan
    mean = s / n
    ss = 0.0
    for x in v:
        if x >= lo and x <= hi:
            d = x - mean
            ss += d * d
    std = np.sqrt(ss / (n - 1)) if n > 1 else 0.0
    return n, mean, std, float(vmin), float(vmax)


@njit(cache=True, nogil=True)
def _histogram(v, lo, hi, start, width, nbins):
    hist = np.zeros(nbins, dtype=np.float64)
    for x in v:
        if x >= lo and x <= hi:
            k = int(np.floor((x - start) / width))
            if k < 0:
                k = 0
            elif k >= nbins:
                k = nbins - 1
            hist[k] += 1.0
    return hist


class SkyStats:
    """A sky statistic with its settings fixed, callable on pixel values.

    ``SkyStats(...)(values) -> (value, npix)``; see :func:`sky_statistic`.
    """

    def __init__(self, skystat="mode", lower=None, upper=None, nclip=5, lsigma=4.0, usigma=4.0,
                 binwidth=0.1):
        self.kwargs = {"skystat": skystat, "lower": lower, "upper": upper, "nclip": nclip,
                       "lsigma": lsigma, "usigma": usigma, "binwidth": binwidth}
        sky_statistic(np.array([0.0, 1.0]), **self.kwargs)  # validate now

    def __call__(self, values):
        return sky_statistic(values, **self.kwargs)


def good_pixel_mask(dq, dqbits):
    """Pixels whose DQ flags are all "good" bits (``dqbits`` semantics).

    Parameters
    ----------
    dq : integer ndarray
    dqbits : int, str or None
        The good bits: ``0`` - any flag is bad; ``'4,8'`` or ``'4+8'`` -
        only flags 4 and 8 are tolerated; ``'~4+8'`` - flags 4 and 8 are
        bad, the rest tolerated; names (``'~DO_NOT_USE+NON_SCIENCE'``)
        work too; ``None`` - DQ ignored.

    Returns
    -------
    bool ndarray
        ``True`` = usable.
    """
    dq = np.asarray(dq)
    good_bits = interpret_bit_flags(dqbits)
    if good_bits is None:
        return np.ones(dq.shape, dtype=bool)
    bad = (~int(good_bits)) & 0xFFFFFFFF
    return (dq.astype(np.uint32, copy=False) & np.uint32(bad)) == 0


@dataclass
class SkyImage:
    """One image taking part in sky matching.

    Attributes
    ----------
    data : (ny, nx) ndarray
        The image; changed in place only by ``match_sky(subtract=True)``.
    mask : bool ndarray
        ``True`` for pixels usable for the sky.
    wcs_inverse : callable
        ``(ra, dec) -> (x, y)``.
    polygon : SkyPolygon
        The image's footprint.
    pixel_scale_deg : float
        Pixel scale, to sample overlap edges finely enough.
    id : object
        For messages.
    sky : float
        The sky value found so far (updated by :func:`match_sky`).
    is_sky_valid : bool
    """

    data: np.ndarray
    mask: np.ndarray
    wcs_inverse: object
    polygon: SkyPolygon
    pixel_scale_deg: float | None = None
    id: object = None
    sky: float = 0.0
    is_sky_valid: bool = False

    def overlap_region(self, other):
        polys = other.member_polygons() if isinstance(other, SkyGroup) else [other.polygon]
        pieces = []
        for p in polys:
            pieces.extend(self.polygon.intersection(p).pieces)
        return SkyPolygon(pieces)

    def member_polygons(self):
        return [self.polygon]

    def calc_sky(self, stat, overlap=None, delta=True):
        """``(sky, npix, area_sr)`` in the whole image or in its overlap with another."""
        if overlap is None:
            values = self.data[self.mask]
            area = self.polygon.area()
        else:
            region = self.overlap_region(overlap)
            area = region.area()
            if area == 0.0:
                return None, 0, 0.0
            inside = overlap_mask(region, self.wcs_inverse, self.data.shape,
                                  pixel_scale_deg=self.pixel_scale_deg)
            inside &= self.mask
            values = self.data[inside]
            if values.size == 0:
                return None, 0, 0.0
        try:
            value, npix = stat(values)
        except ValueError:
            return None, 0, 0.0
        if value is None or not math.isfinite(value):
            return None, 0, 0.0
        if delta:
            value -= self.sky
        return value, npix, area


@dataclass
class SkyGroup:
    """Images whose sky is adjusted together (the detectors of one exposure)."""

    images: list
    id: object = None
    sky: float = field(default=0.0)

    def member_polygons(self):
        return [im.polygon for im in self.images]

    def add_sky(self, value):
        self.sky += value
        for im in self.images:
            im.sky += value

    def calc_sky(self, stat, overlap=None, delta=True):
        if overlap is None:
            # the group's sky is its lowest member sky
            best = (None, 0, 0.0)
            for im in self.images:
                s = im.calc_sky(stat, None, delta)
                if s[0] is not None and (best[0] is None or s[0] < best[0]):
                    best = s
            return best
        wsum, npix, area = 0.0, 0, 0.0
        for im in self.images:
            s, n, a = im.calc_sky(stat, overlap, delta)
            area += a
            if s is not None and n > 0:
                wsum += s * n
                npix += n
        if npix == 0 or area == 0.0:
            return None, npix, area
        return wsum / npix, npix, area


def sky_image(data, wcs, *, dq=None, dqbits=0, mask=None, stepsize=None, id=None, sky=0.0):
    """Build a :class:`SkyImage` from arrays and a WCS.

    Parameters
    ----------
    data : (ny, nx) ndarray
    wcs : gwcs.WCS
        Forward ``(x, y) -> (ra, dec)`` with ``invert``.
    dq : integer ndarray, optional
    dqbits : int, str or None
        See :func:`good_pixel_mask` (established step default
        ``'~DO_NOT_USE+NON_SCIENCE'``).
    mask : ndarray, optional
        User mask, non-zero = usable.
    stepsize : int, optional
        Maximum spacing in pixels of the footprint's vertices.
    id : object, optional
    sky : float
        Starting sky (the level already subtracted from ``data`` when
        re-running with ``subtract=True``).
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"sky matching needs 2-D images, got shape {data.shape} for {id!r}")
    good = np.isfinite(data)
    if dq is not None:
        dq = np.asarray(dq)
        if dq.shape != data.shape:
            raise ValueError(f"DQ shape {dq.shape} does not match data shape {data.shape} for {id!r}")
        good &= good_pixel_mask(dq, dqbits)
    if mask is not None:
        good &= np.asarray(mask) != 0
    footprint = image_footprint(wcs, shape=data.shape, stepsize=stepsize)
    ny, nx = data.shape
    try:
        pscale = pixel_scale_at(wcs, 0.5 * (nx - 1), 0.5 * (ny - 1))
    except Exception:  # noqa: BLE001 - only used to densify overlap edges
        pscale = None

    def inverse(ra, dec):
        try:
            return wcs.invert(ra, dec, with_bounding_box=False)
        except TypeError:
            return wcs.invert(ra, dec)

    return SkyImage(data=data, mask=good, wcs_inverse=inverse, polygon=SkyPolygon([footprint]),
                    pixel_scale_deg=pscale, id=id, sky=float(sky))


def _solve_deltas(items, stat, delta):
    n = len(items)
    skies = np.zeros((n, n))
    npix = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s1, w1, a1 = items[i].calc_sky(stat, items[j], delta)
            s2, w2, a2 = items[j].calc_sky(stat, items[i], delta)
            if a1 == 0.0 or a2 == 0.0 or s1 is None or s2 is None:
                continue
            skies[j, i], npix[j, i] = s1, w1  # sky of i where it overlaps j
            skies[i, j], npix[i, j] = s2, w2
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if npix[i, j] > 0 and npix[j, i] > 0]
    deltas = np.full(n, np.nan)
    if not pairs:
        return deltas
    k = np.zeros((len(pairs), n))
    f = np.zeros(len(pairs))
    used = np.zeros(n, dtype=bool)
    for e, (i, j) in enumerate(pairs):
        w = 0.5 * (npix[i, j] + npix[j, i])
        k[e, i], k[e, j] = w, -w
        f[e] = w * (skies[j, i] - skies[i, j])
        used[i] = used[j] = True
    sol = np.linalg.pinv(k, rcond=1e-12) @ f
    deltas[used] = sol[used]
    return deltas


def _apply(items, values, subtract, keep_valid_if_none):
    for item, value in zip(items, values):
        members = item.images if isinstance(item, SkyGroup) else [item]
        if value is None or not math.isfinite(value):
            if not keep_valid_if_none:
                for im in members:
                    im.is_sky_valid = False
            continue
        if subtract:
            for im in members:
                im.data -= np.asarray(value, dtype=im.data.dtype)
        if isinstance(item, SkyGroup):
            item.add_sky(value)
        else:
            item.sky += value
        for im in members:
            im.is_sky_valid = True


def match_sky(images: Sequence, skymethod="global+match", match_down=True, subtract=False,
              stat=None):
    """Compute (and optionally subtract) the sky of overlapping images.

    Parameters
    ----------
    images : sequence of SkyImage or SkyGroup
        Modified in place: ``sky``, ``is_sky_valid`` and, with
        ``subtract``, ``data``.
    skymethod : {'local', 'global', 'match', 'global+match'}
    match_down : bool
        ``match``: bring every image down to the lowest sky (True) or up to
        the highest (False).
    subtract : bool
        Subtract the sky found from the data.
    stat : callable, optional
        ``values -> (value, npix)``; default ``SkyStats()`` (clipped mode).

    Returns
    -------
    list of (float, bool)
        ``(sky, is_sky_valid)`` of every image, groups flattened in order.
        An image whose sky could not be found keeps sky 0 and is invalid.
    """
    skymethod = str(skymethod).lower()
    if skymethod not in SKYMETHODS:
        raise ValueError(f"unsupported skymethod {skymethod!r}; expected one of {', '.join(SKYMETHODS)}")
    items = list(images)
    for it in items:
        if not isinstance(it, (SkyImage, SkyGroup)):
            raise TypeError(f"match_sky takes SkyImage and SkyGroup objects, got {type(it).__name__}")
    if not items:
        raise ValueError("match_sky needs at least one image")
    stat = SkyStats() if stat is None else stat
    do_match = "match" in skymethod
    do_global = "global" in skymethod

    if do_match:
        deltas = _solve_deltas(items, stat, delta=not subtract)
        good = np.isfinite(deltas)
        if good.any():
            ref = deltas[good].min() if match_down else deltas[good].max()
            deltas[good] -= ref
        if not good.all():
            names = [str(items[i].id) for i in np.flatnonzero(~good)]
            warnings.warn(
                "no sky overlap with any other image for " + ", ".join(names)
                + "; their sky could not be matched",
                RuntimeWarning,
                stacklevel=2,
            )
        _apply(items, [float(d) if np.isfinite(d) else None for d in deltas], subtract, False)

    if do_global or not do_match:
        values = [it.calc_sky(stat, None, delta=not subtract)[0] for it in items]
        if do_global:
            finite = [v for v in values if v is not None]
            gmin = min(finite) if finite else None
            if gmin is None:
                warnings.warn("unable to compute a global sky value", RuntimeWarning, stacklevel=2)
            values = [gmin] * len(items)
            # a global value that cannot be computed leaves the match result as it is
            _apply(items, values, subtract, keep_valid_if_none=True)
        else:
            _apply(items, values, subtract, keep_valid_if_none=False)

    out = []
    for it in items:
        for im in (it.images if isinstance(it, SkyGroup) else [it]):
            out.append((float(im.sky), bool(im.is_sky_valid)))
    return out
