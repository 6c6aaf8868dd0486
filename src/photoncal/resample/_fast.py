"""Fast paths of the resampling driver (numba), exact to rounding.

* :func:`imaging_pixmap`: the pixel map between an imaging WCS (detector ->
  V2/V3 -> sky, the V2/V3 -> sky part a pure rotation) and a TAN output
  grid, computed as: the detector -> V2/V3 transform of the input (astropy
  models, as gwcs evaluates it), then unit vectors, one 3x3 rotation
  straight to the output's tangent-point frame and the gnomonic projection.
  It skips gwcs's per-model spherical <-> Cartesian round trips (the bulk
  of ``calc_pixmap``'s time).  Both WCSs are checked: when either has
  another structure (a tweakreg correction, a custom output WCS), or when
  the result disagrees with gwcs at test points by more than 1e-6 pixel,
  it returns None and the caller uses ``calc_pixmap``.
* :class:`VarianceAccumulator`: ``sum(w^2 var)`` and ``sum(w)`` per output
  pixel in one fused pass (the established ``sum(w^2 var) / sum(w)^2``
  combination of resampled variances), with the ``ivm`` weight
  ``1 / resampled VAR_RNOISE`` computed on the fly.
* :func:`drizzle_input`: the science values an input contributes (0 and
  zero weight where not finite, minus an unsubtracted background level) in
  one pass (the standard deviations of its variance arrays, drizzled
  beside it, are :func:`photoncal.kernels.drizzle.sigma_planes`).
* :func:`error_from_variances`: ERR = sqrt of the sum of the variances that
  are not NaN, in one pass (``np.sqrt(np.nansum(stack, axis=0))`` without
  the stack and its temporaries).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["imaging_pixmap", "VarianceAccumulator", "error_from_variances", "drizzle_input"]

_ARCSEC = math.pi / (180.0 * 3600.0)


def _unit(lon_deg, lat_deg):
    lon = np.deg2rad(np.asarray(lon_deg, dtype=np.float64))
    lat = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _rotation_of(transform):
    """The 3x3 matrix M with sky = M v for a V2/V3 (arcsec) -> sky (deg) transform, or None.

    Fitted from 12 points and accepted only if it reproduces 12 other
    points to 1e-13 (a pure rotation).
    """
    rng = np.random.default_rng(1234)
    pts = rng.uniform(-900.0, 900.0, (24, 2))  # arcsec: a few times a detector's field
    try:
        ra, dec = transform(pts[:, 0], pts[:, 1])
    except Exception:  # noqa: BLE001 - any failure means "not this structure"
        return None
    v = _unit(pts[:, 0] / 3600.0, pts[:, 1] / 3600.0)
    s = _unit(ra, dec)
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(s))):
        return None
    matrix, *_ = np.linalg.lstsq(v[:12], s[:12], rcond=None)
    matrix = matrix.T
    if np.max(np.abs(v[12:] @ matrix.T - s[12:])) > 1e-13:
        return None
    return matrix


@numba.njit(cache=True, nogil=True, parallel=True)
def _project_rows(v2, v3, rot, cdinv, crpix, out):  # pragma: no cover - numba
    """Output pixel (x, y) of V2/V3 points (arcsec) through ``rot`` and a TAN grid.

    ``rot`` takes V-frame unit vectors to the output's tangent-point frame
    (x toward the tangent point, y east, z north); the gnomonic coordinates
    are (y/x, z/x) in degrees, then ``pixel = cdinv (xi, eta) + crpix``.
    """
    ny, nx = v2.shape
    deg = 180.0 / math.pi
    for j in numba.prange(ny):
        for i in range(nx):
            a = v2[j, i] * _ARCSEC
            b = v3[j, i] * _ARCSEC
            if not (math.isfinite(a) and math.isfinite(b)):
                out[j, i, 0] = math.nan
                out[j, i, 1] = math.nan
                continue
            cb = math.cos(b)
            ux = cb * math.cos(a)
            uy = cb * math.sin(a)
            uz = math.sin(b)
            t0 = rot[0, 0] * ux + rot[0, 1] * uy + rot[0, 2] * uz
            t1 = rot[1, 0] * ux + rot[1, 1] * uy + rot[1, 2] * uz
            t2 = rot[2, 0] * ux + rot[2, 1] * uy + rot[2, 2] * uz
            if t0 <= 0.0:
                out[j, i, 0] = math.nan
                out[j, i, 1] = math.nan
                continue
            xi = t1 / t0 * deg
            eta = t2 / t0 * deg
            out[j, i, 0] = cdinv[0, 0] * xi + cdinv[0, 1] * eta + crpix[0]
            out[j, i, 1] = cdinv[1, 0] * xi + cdinv[1, 1] * eta + crpix[1]


def _tan_grid(wcs, shape):
    """(crval, cd, crpix0) of an output grid made by ``output_wcs_from_inputs``, or None."""
    from .utils import fits_keywords_of_output_wcs

    try:
        keys = fits_keywords_of_output_wcs(wcs, shape)
    except Exception:  # noqa: BLE001
        return None
    if keys.get("CTYPE1") != "RA---TAN" or keys.get("CTYPE2") != "DEC--TAN" or "PC1_1" not in keys:
        return None
    cd = np.array([[keys["PC1_1"], keys["PC1_2"]], [keys["PC2_1"], keys["PC2_2"]]], dtype=np.float64)
    cd *= np.array([[keys["CDELT1"]], [keys["CDELT2"]]])
    return (keys["CRVAL1"], keys["CRVAL2"]), cd, np.array([keys["CRPIX1"] - 1.0, keys["CRPIX2"] - 1.0])


def imaging_pixmap(wcs_from, wcs_to, shape, chunk_rows=256):
    """Pixel map of an imaging WCS onto a TAN grid, or None when not applicable.

    Parameters
    ----------
    wcs_from : gwcs.WCS
        Input WCS with frames ``detector``, ``v2v3``, ..., ``world``.
    wcs_to : gwcs.WCS
        Output TAN grid (from :func:`photoncal.resample.utils.output_wcs_from_inputs`).
    shape : (ny, nx)
        Input image shape.
    chunk_rows : int
        Rows evaluated per call of the detector -> V2/V3 transform.

    Returns
    -------
    ndarray (ny, nx, 2) float64 or None
        Output (x, y) of each input pixel (NaN outside the input's bounding
        box), as ``calc_pixmap`` returns it.
    """
    frames = list(getattr(wcs_from, "available_frames", []) or [])
    if len(frames) < 3 or frames[0] != "detector" or "v2v3" not in frames:
        return None
    grid = _tan_grid(wcs_to, None)
    if grid is None:
        return None
    try:
        det2v = wcs_from.get_transform(frames[0], "v2v3")
        v2sky = wcs_from.get_transform("v2v3", frames[-1])
    except Exception:  # noqa: BLE001
        return None
    to_sky = _rotation_of(v2sky)
    if to_sky is None:
        return None
    (ra0, dec0), cd, crpix = grid
    a0, d0 = math.radians(ra0), math.radians(dec0)
    # rows: the tangent point, east, north at (ra0, dec0)
    basis = np.array([
        [math.cos(d0) * math.cos(a0), math.cos(d0) * math.sin(a0), math.sin(d0)],
        [-math.sin(a0), math.cos(a0), 0.0],
        [-math.sin(d0) * math.cos(a0), -math.sin(d0) * math.sin(a0), math.cos(d0)],
    ])
    rot = np.ascontiguousarray(basis @ to_sky)
    cdinv = np.ascontiguousarray(np.linalg.inv(cd))

    ny, nx = shape
    pixmap = np.empty((ny, nx, 2), dtype=np.float64)
    xs = np.arange(nx, dtype=np.float64)
    for start in range(0, ny, chunk_rows):
        stop = min(ny, start + chunk_rows)
        gx, gy = np.meshgrid(xs, np.arange(start, stop, dtype=np.float64))
        v2, v3 = det2v(gx, gy)
        _project_rows(np.ascontiguousarray(v2, dtype=np.float64), np.ascontiguousarray(v3, dtype=np.float64),
                      rot, cdinv, crpix, pixmap[start:stop])
    bbox = _bbox_f(wcs_from)
    if bbox is not None:
        (xlo, xhi), (ylo, yhi) = bbox
        cols = (xs < xlo) | (xs > xhi)
        rows = (np.arange(ny) < ylo) | (np.arange(ny) > yhi)
        pixmap[:, cols] = np.nan
        pixmap[rows] = np.nan
    if not _agrees_with_gwcs(wcs_from, wcs_to, pixmap):
        return None
    return pixmap


def _bbox_f(wcs):
    from .utils import bounding_box_f

    return bounding_box_f(wcs)


def _agrees_with_gwcs(wcs_from, wcs_to, pixmap, tol=1e-6):
    """Spot-check the map against gwcs at a few pixels."""
    ny, nx = pixmap.shape[:2]
    ys = np.array([0, ny // 3, ny // 2, ny - 1, 1, (2 * ny) // 3])
    xs = np.array([0, nx // 2, nx - 1, nx // 3, nx - 2, (2 * nx) // 3])
    world = wcs_from(xs.astype(float), ys.astype(float), with_bounding_box=False)
    try:
        xt, yt = wcs_to.invert(*world, with_bounding_box=False)
    except TypeError:
        xt, yt = wcs_to.invert(*world)
    fast = pixmap[ys, xs]
    ok = np.isfinite(fast[:, 0])
    if not ok.any():
        return False
    return bool(np.all(np.abs(fast[ok, 0] - np.asarray(xt)[ok]) < tol)
                and np.all(np.abs(fast[ok, 1] - np.asarray(yt)[ok]) < tol))


@numba.njit(cache=True, nogil=True, inline="always")
def _add_weighted_variance(wsum, wtot, j, i, v, w):  # pragma: no cover - numba
    """Fold ``w**2 v`` and ``w`` into pixel (j, i) when the variance ``v`` is finite and >= 0."""
    if math.isfinite(v) and v >= 0.0:
        term = v * w * w
        if math.isnan(wsum[j, i]):
            wsum[j, i] = term
        else:
            wsum[j, i] += term
        wtot[j, i] += w


@numba.njit(cache=True, nogil=True, parallel=True)
def _accumulate(wsum, wtot, var, weight, scalar_weight, use_scalar):  # pragma: no cover - numba
    ny, nx = var.shape
    for j in numba.prange(ny):
        for i in range(nx):
            v = var[j, i]
            w = scalar_weight if use_scalar else weight[j, i]
            if w > 0.0:
                _add_weighted_variance(wsum, wtot, j, i, v, w)


@numba.njit(cache=True, nogil=True, parallel=True)
def _accumulate_ivm(wsum, wtot, var, rnoise):  # pragma: no cover - numba
    ny, nx = var.shape
    one = np.float32(1.0)
    for j in numba.prange(ny):
        for i in range(nx):
            r = rnoise[j, i]
            if not (math.isfinite(r) and r > 0.0):
                continue  # weight 0
            # the weight as the array path computes it: 1 / r in float32, then float64
            w = np.float64(one / r)
            _add_weighted_variance(wsum, wtot, j, i, var[j, i], w)


@numba.njit(cache=True, nogil=True, parallel=True)
def _finish(wsum, wtot, scaling, out):  # pragma: no cover - numba
    ny, nx = out.shape
    for j in numba.prange(ny):
        for i in range(nx):
            t = wtot[j, i]
            if t > 0.0:
                out[j, i] = wsum[j, i] * scaling / t / t
            else:
                out[j, i] = math.nan


class VarianceAccumulator:
    """``scaling * sum(w^2 var) / sum(w)^2`` per output pixel over images.

    Images add where their resampled variance is finite and >= 0 and their
    weight is > 0; pixels no image reached are NaN.  Same arithmetic as
    :class:`photoncal.kernels.drizzle.VarianceCombiner`, in one fused pass
    per image, with float32 sums by default (each term is computed in
    float64).
    """

    def __init__(self, shape, dtype=np.float32):
        # float32 sums (as the established code keeps them): a mosaic's three
        # variance accumulators cost 24 bytes per output pixel
        self._wsum = np.full(shape, np.nan, dtype=dtype)
        self._wtot = np.zeros(shape, dtype=dtype)

    def add(self, variance, weight):
        """Fold in one image's resampled variance with its weight (scalar or array)."""
        variance = np.ascontiguousarray(variance)
        if np.ndim(weight) == 0:
            _accumulate(self._wsum, self._wtot, variance, np.zeros((1, 1)), float(weight), True)
        else:
            _accumulate(self._wsum, self._wtot, variance, np.ascontiguousarray(weight, dtype=np.float64), 0.0,
                        False)

    def add_inverse_weighted(self, variance, rnoise):
        """Fold in one image's resampled variance weighted by ``1 / rnoise`` (0 where not finite and > 0).

        The ``ivm`` weighting: ``rnoise`` is the image's resampled read-noise
        variance. Same result as ``add(variance, w)`` with that weight array,
        without building it.
        """
        variance = np.ascontiguousarray(variance)
        rnoise = np.ascontiguousarray(rnoise, dtype=np.float32)
        if rnoise.shape != variance.shape:
            raise ValueError(f"'rnoise' has shape {rnoise.shape}; expected {variance.shape} like 'variance'")
        _accumulate_ivm(self._wsum, self._wtot, variance, rnoise)

    def result(self, scaling=1.0, dtype=np.float32):
        """The combined variance (NaN where no image contributed)."""
        out = np.empty(self._wsum.shape, dtype=dtype)
        _finish(self._wsum, self._wtot, float(scaling), out)
        return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _error_from_variances(variances, out):  # pragma: no cover - numba
    ny, nx = out.shape
    for j in numba.prange(ny):
        for i in range(nx):
            every_nan = True
            total = np.float32(0.0)
            for k in range(len(variances)):
                v = variances[k][j, i]
                if math.isnan(v):
                    v = np.float32(0.0)
                else:
                    every_nan = False
                # summed in order from the first array, as numpy's nansum over axis 0
                total = v if k == 0 else total + v
            out[j, i] = math.nan if every_nan else math.sqrt(total)


def error_from_variances(variances):
    """ERR of a mosaic from its variance arrays: ``sqrt(nansum(variances))``, NaN where all are NaN.

    Parameters
    ----------
    variances : sequence of float32 ndarray (ny, nx)
        The combined variances (e.g. VAR_RNOISE, VAR_POISSON, VAR_FLAT).

    Returns
    -------
    float32 ndarray (ny, nx)
        Bit-identical to ``np.sqrt(np.nansum(np.stack(variances), axis=0))``
        with NaN where every variance is NaN.
    """
    arrays = tuple(np.ascontiguousarray(v, dtype=np.float32) for v in variances)
    if not arrays:
        raise ValueError("error_from_variances: no variance arrays")
    shape = arrays[0].shape
    for k, a in enumerate(arrays):
        if a.ndim != 2 or a.shape != shape:
            raise ValueError(f"variance array {k} has shape {a.shape}; expected a 2-D {shape} like the first")
    out = np.empty(shape, dtype=np.float32)
    _error_from_variances(arrays, out)
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _drizzle_input(data, weight, subtract, level, out):  # pragma: no cover - numba
    ny, nx = data.shape
    zero = np.float32(0.0)
    for j in numba.prange(ny):
        for i in range(nx):
            v = data[j, i]
            if not math.isfinite(v):
                weight[j, i] = zero
                v = zero
            out[j, i] = v - level if subtract else v


def drizzle_input(data, weight, level=None, out=None):
    """The values an image contributes to a drizzle, and its weights, in one pass.

    A pixel whose value is not finite contributes 0 with weight 0 (``weight``
    is changed in place there); ``level`` (a background not subtracted from
    the data) is subtracted, in float32. Bit-identical to
    ``np.where(np.isfinite(data), data, 0) - np.float32(level)``.

    Parameters
    ----------
    data : ndarray (ny, nx)
        Science values (converted to float32).
    weight : float32 ndarray (ny, nx)
        Drizzle weights, zeroed in place where ``data`` is not finite.
    level : float, optional
        Background level to subtract.
    out : float32 ndarray (ny, nx), optional
        Where to write the result (e.g. a plane of a stack); a new array
        otherwise.

    Returns
    -------
    float32 ndarray (ny, nx)
    """
    data = np.ascontiguousarray(data, dtype=np.float32)
    if not (isinstance(weight, np.ndarray) and weight.dtype == np.float32 and weight.flags.c_contiguous
            and weight.shape == data.shape):
        raise TypeError(f"'weight' must be a C-contiguous float32 array of shape {data.shape}")
    if out is None:
        out = np.empty(data.shape, dtype=np.float32)
    elif not (out.dtype == np.float32 and out.flags.c_contiguous and out.shape == data.shape):
        raise TypeError(f"'out' must be a C-contiguous float32 array of shape {data.shape}")
    _drizzle_input(data, weight, level is not None, np.float32(0.0 if level is None else level), out)
    return out
