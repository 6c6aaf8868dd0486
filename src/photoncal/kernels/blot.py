"""Blot: interpolate a resampled image back onto another pixel grid.

Blotting is the inverse of drizzling. For each pixel of the target grid the
pixel map gives where its centre lies on the source image (x = column,
y = row); the source is interpolated there and multiplied by ``iscale``.
Target pixels whose position falls outside the source (or whose map is NaN)
get ``fillval``. Unlike drizzle, blotting does not conserve flux: it samples
a (well-sampled) surface brightness.

Interpolants (all in float32, as the established ``drizzle`` package's
``tblot`` evaluates them, so results agree with it bit for bit, except where
that code reads outside the source: ``nearest`` in the last half pixel and
``poly3`` in the last row, where it returns undefined values and this module
uses the edge pixel and the odd reflection respectively):

``nearest``
    The source pixel whose centre is nearest.
``linear``
    Bilinear; along the last row/column it interpolates in one direction.
``poly3``, ``poly5``
    Cubic / quintic interpolating polynomials in Everett's central-difference
    form on a 4x4 / 6x6 block of samples. Near the edges the block is
    completed by odd reflection about the edge sample (``2 f(0) - f(-k)``).
``lanczos3``, ``lanczos5``
    Separable Lanczos windows of 3 / 5 lobes, tabulated every 0.003 pixel
    and not normalised.

The JWST outlier detection step blots its median image with ``linear``
(older releases used ``poly5``, drizzle's default, kept here as the default).
"""

import math

import numpy as np
from numba import njit, prange

from photoncal.kernels.drizzle_kernels import (
    LANCZOS_LUT_STEP,
    SERIAL_PIPELINE,
    lanczos_lut,
    serial_pipeline_quiet,
)

__all__ = ["SUPPORTED_INTERPOLATIONS", "blot_image"]

SUPPORTED_INTERPOLATIONS = ("nearest", "linear", "poly3", "poly5", "lanczos3", "lanczos5")
_INTERP_CODES = {name: code for code, name in enumerate(SUPPORTED_INTERPOLATIONS)}
_ALIASES = {"lan3": "lanczos3", "lan5": "lanczos5"}
_NEAREST, _LINEAR, _POLY3, _POLY5, _LANCZOS3, _LANCZOS5 = range(6)
_MIN_SIZE = {"poly3": 3, "poly5": 4}  # smallest source side the edge reflection can serve

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_F2 = np.float32(2.0)
_F4 = np.float32(4.0)
_F6 = np.float32(6.0)
_SIXTH = np.float32(1.0) / np.float32(6.0)
_ONE_120TH = np.float32(1.0) / np.float32(120.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sample(data, i, j):
    """data[j, i] with odd reflection about the first/last column for i outside."""
    nx = data.shape[1]
    if i < 0:
        return _F2 * data[j, 0] - data[j, -i]
    if i >= nx:
        return _F2 * data[j, nx - 1] - data[j, 2 * nx - 2 - i]
    return data[j, i]


@njit(cache=True, nogil=True, error_model="numpy")
def _poly_block(data, ix, iy, nterms, block):
    """Fill ``block`` (nterms x nterms) with samples around (ix, iy), edges reflected.

    Row r of the block is source row ``iy - half + r`` (half = 1 for cubic,
    2 for quintic); missing rows are reflected about the first/last row.
    A missing last row first takes source row ``ny - half - 2``; the cubic
    then reflects it like the others, the quintic keeps it (as the
    established code does).
    """
    ny = data.shape[0]
    half = 1 if nterms == 4 else 2
    for r in range(nterms):
        j = iy - half + r
        if 0 <= j < ny:
            src = j
        elif r == nterms - 1:
            src = ny - half - 2
        else:
            continue
        for c in range(nterms):
            block[r, c] = _sample(data, ix - half + c, src)

    first = max(0, half - iy)  # block row of source row 0
    if first > 0:
        # cubic reflects rows above row 0; quintic also rewrites row 0 itself (a no-op)
        stop = first if nterms == 4 else first + 1
        for r in range(stop):
            for c in range(nterms):
                block[r, c] = block[first, c] * _F2 + block[2 * first - r, c] * np.float32(-1.0)
    last = min(nterms - 1, ny - iy + half - 1)  # block row of the last source row
    if last < nterms - 1:
        stop = nterms - 1 if nterms == 4 else nterms - 2
        for r in range(last + 1, stop + 1):
            mirror = 2 * last - r
            if mirror >= 0:
                for c in range(nterms):
                    block[r, c] = block[last, c] * _F2 + block[mirror, c] * np.float32(-1.0)
            else:
                # the mirror row lies above the block (cubic, last source row);
                # the established code reads outside its block here, we take
                # the reflected source row itself
                src = 2 * (ny - 1) - (iy - half + r)
                for c in range(nterms):
                    block[r, c] = (block[last, c] * _F2
                                   + _sample(data, ix - half + c, src) * np.float32(-1.0))


@njit(cache=True, nogil=True, error_model="numpy")
def _everett3(block, sx, sy):
    """Cubic interpolation at (1 + sx, 1 + sy) of a 4x4 block (Everett's formula)."""
    tx = _F1 - sx
    ty = _F1 - sy
    sx2m1 = sx * sx - _F1
    tx2m1 = tx * tx - _F1
    z0 = z1 = z2 = z3 = _F0
    for r in range(4):
        c0 = block[r, 0]
        c1 = block[r, 1]
        c2 = block[r, 2]
        c3 = block[r, 3]
        cd20 = _SIXTH * (c2 - _F2 * c1 + c0)
        cd21 = _SIXTH * (c3 - _F2 * c2 + c1)
        z = sx * (c2 + sx2m1 * cd21) + tx * (c1 + tx2m1 * cd20)
        if r == 0:
            z0 = z
        elif r == 1:
            z1 = z
        elif r == 2:
            z2 = z
        else:
            z3 = z
    cd20y = _SIXTH * (z2 - _F2 * z1 + z0)
    cd21y = _SIXTH * (z3 - _F2 * z2 + z1)
    return sy * (z2 + (sy * sy - _F1) * cd21y) + ty * (z1 + (ty * ty - _F1) * cd20y)


@njit(cache=True, nogil=True, error_model="numpy")
def _everett5(block, sx, sy):
    """Quintic interpolation at (2 + sx, 2 + sy) of a 6x6 block (Everett's formula)."""
    sx2 = sx * sx
    tx = _F1 - sx
    tx2 = tx * tx
    sx2m1 = sx2 - _F1
    sx2m4 = sx2 - _F4
    tx2m1 = tx2 - _F1
    tx2m4 = tx2 - _F4
    z = np.empty(6, dtype=np.float32)
    for r in range(6):
        c0 = block[r, 0]
        c1 = block[r, 1]
        c2 = block[r, 2]
        c3 = block[r, 3]
        c4 = block[r, 4]
        c5 = block[r, 5]
        cd20 = _SIXTH * (c3 - _F2 * c2 + c1)
        cd21 = _SIXTH * (c4 - _F2 * c3 + c2)
        cd40 = _ONE_120TH * (c0 - _F4 * c1 + _F6 * c2 - _F4 * c3 + c4)
        cd41 = _ONE_120TH * (c1 - _F4 * c2 + _F6 * c3 - _F4 * c4 + c5)
        z[r] = sx * (c3 + sx2m1 * (cd21 + sx2m4 * cd41)) + tx * (c2 + tx2m1 * (cd20 + tx2m4 * cd40))
    sy2 = sy * sy
    ty = _F1 - sy
    ty2 = ty * ty
    cd20y = _SIXTH * (z[3] - _F2 * z[2] + z[1])
    cd21y = _SIXTH * (z[4] - _F2 * z[3] + z[2])
    cd40y = _ONE_120TH * (z[0] - _F4 * z[1] + _F6 * z[2] - _F4 * z[3] + z[4])
    cd41y = _ONE_120TH * (z[1] - _F4 * z[2] + _F6 * z[3] - _F4 * z[4] + z[5])
    return (sy * (z[3] + (sy2 - _F1) * (cd21y + (sy2 - _F4) * cd41y))
            + ty * (z[2] + (ty2 - _F1) * (cd20y + (ty2 - _F4) * cd40y)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _nearest(data, x, y):
    ny = data.shape[0]
    nx = data.shape[1]
    # the last half pixel would round past the edge: stay on the edge pixel
    i = min(int(x + 0.5), nx - 1)
    j = min(int(y + 0.5), ny - 1)
    return data[np.uint64(j), np.uint64(i)]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bilinear(data, x, y):
    ny = data.shape[0]
    nx = data.shape[1]
    ix = int(x)
    iy = int(y)
    i0 = np.uint64(ix)
    j0 = np.uint64(iy)
    f00 = data[j0, i0]
    if ix == nx - 1:
        if iy == ny - 1:
            return f00
        sy = y - np.float32(iy)
        return (_F1 - sy) * f00 + sy * data[j0 + np.uint64(1), i0]
    i1 = i0 + np.uint64(1)
    if iy == ny - 1:
        sx = x - np.float32(ix)
        return (_F1 - sx) * f00 + sx * data[j0, i1]
    j1 = j0 + np.uint64(1)
    sx = x - np.float32(ix)
    tx = _F1 - sx
    sy = y - np.float32(iy)
    ty = _F1 - sy
    return tx * ty * f00 + sx * ty * data[j0, i1] + sy * tx * data[j1, i0] + sx * sy * data[j1, i1]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _polynomial(data, x, y, nterms, block):
    ix = int(x)
    iy = int(y)
    _poly_block(data, ix, iy, nterms, block)
    # offsets from the block's centre sample, rounded through the block
    # coordinate as the established code does
    base = np.float32(nterms // 2)
    sx = (base + (x - np.float32(ix))) - base
    sy = (base + (y - np.float32(iy))) - base
    if nterms == 4:
        return _everett3(block, sx, sy)
    return _everett5(block, sx, sy)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _lanczos(data, x, y, lut, nbox):
    ny = data.shape[0]
    nx = data.shape[1]
    fbox = np.float32(nbox)
    i0 = max(np.int64(math.floor(x - fbox)) + 1, 0)
    i1 = min(np.int64(math.floor(x + fbox)), nx - 1)
    j0 = max(np.int64(math.floor(y - fbox)) + 1, 0)
    j1 = min(np.int64(math.floor(y + fbox)), ny - 1)
    nlut = lut.shape[0]
    total = 0.0
    for j in range(j0, j1 + 1):
        yoff = np.int64(abs((np.float64(y) - j) / LANCZOS_LUT_STEP))
        if yoff >= nlut:
            continue
        wy = lut[yoff]
        for i in range(i0, i1 + 1):
            xoff = np.int64(abs((np.float64(x) - i) / LANCZOS_LUT_STEP))
            if xoff >= nlut:
                continue
            total += np.float64(data[j, i]) * lut[xoff] * wy
    return np.float32(total)


@njit(cache=True, nogil=True, error_model="numpy", parallel=SERIAL_PIPELINE)
def _blot_row(method, data, pixmap, out, j, scale, fillval, lut, nbox):
    """Interpolate one target row of ``out``."""
    block = np.zeros((6, 6), dtype=np.float32)
    nx_out = out.shape[1]
    nx = np.float32(data.shape[1])
    ny = np.float32(data.shape[0])
    for i in range(nx_out):
        x = np.float32(pixmap[j, i, 0])
        y = np.float32(pixmap[j, i, 1])
        inside = x >= _F0 and x < nx and y >= _F0 and y < ny
        if not inside:
            out[j, i] = fillval  # also where the map is NaN
        elif method == _LINEAR:
            out[j, i] = _bilinear(data, x, y) * scale
        elif method == _POLY5:
            out[j, i] = _polynomial(data, x, y, 6, block) * scale
        elif method == _POLY3:
            out[j, i] = _polynomial(data, x, y, 4, block) * scale
        elif method == _NEAREST:
            out[j, i] = _nearest(data, x, y) * scale
        else:
            out[j, i] = _lanczos(data, x, y, lut, nbox) * scale


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _blot_rows(method, data, pixmap, out, scale, fillval, lut, nbox):
    """Interpolate ``data`` at every target position of ``pixmap`` into ``out``.

    Target pixels off the source (0 <= x < nx, 0 <= y < ny, in float32) or
    with a NaN map get ``fillval``; the others ``value * scale``.
    """
    for j in prange(out.shape[0]):
        _blot_row(method, data, pixmap, out, j, scale, fillval, lut, nbox)


def blot_image(data, pixmap, out_img=None, fillval=0.0, iscale=1.0, interp="poly5"):
    """Interpolate ``data`` onto the grid described by ``pixmap``.

    Parameters
    ----------
    data : ndarray (ny, nx)
        Source image (e.g. a drizzled median), converted to float32.
    pixmap : ndarray (ny_out, nx_out, 2)
        Position of each target pixel centre on ``data``: ``pixmap[..., 0]``
        is the column (x), ``pixmap[..., 1]`` the row (y). For blotting a
        drizzled image back to an input, this is the map from the input's
        pixels to the drizzled grid (the same map drizzle used).
    out_img : float32 ndarray (ny_out, nx_out), optional
        Array to write into; allocated when omitted.
    fillval : float
        Value of target pixels off the source or with a NaN map.
    iscale : float
        Multiplies the interpolated values (> 0), e.g. an exposure time or a
        pixel-area ratio.
    interp : str
        One of `SUPPORTED_INTERPOLATIONS` ('lan3'/'lan5' are accepted for the
        Lanczos windows).

    Returns
    -------
    ndarray (ny_out, nx_out), float32
    """
    method = _ALIASES.get(str(interp).lower(), str(interp).lower())
    if method not in _INTERP_CODES:
        hint = " ('sinc' was dropped by drizzle 3.0 as unreliable)" if method in ("sinc", "lsinc") else ""
        raise ValueError(f"interp={interp!r} is not supported{hint}; choose one of "
                         f"{', '.join(SUPPORTED_INTERPOLATIONS)}")
    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"'data' must be a 2-D image; got shape {data.shape}")
    if min(data.shape) < _MIN_SIZE.get(method, 1):
        raise ValueError(f"interp={method!r} needs a source of at least {_MIN_SIZE[method]} pixels "
                         f"on a side; got shape {data.shape}")
    pixmap = np.ascontiguousarray(pixmap, dtype=np.float64)
    if pixmap.ndim != 3 or pixmap.shape[2] != 2:
        raise ValueError(f"'pixmap' must have shape (ny_out, nx_out, 2); got {pixmap.shape}")
    if not (iscale > 0.0 and math.isfinite(iscale)):
        raise ValueError(f"'iscale' must be positive and finite; got {iscale}")
    out_shape = pixmap.shape[:2]
    if out_img is None:
        out_img = np.empty(out_shape, dtype=np.float32)
    elif not (isinstance(out_img, np.ndarray) and out_img.dtype == np.float32
              and out_img.flags.c_contiguous and out_img.flags.writeable):
        raise TypeError("'out_img' must be a writeable C-contiguous float32 array")
    elif out_img.shape != out_shape:
        raise ValueError(f"'out_img' has shape {out_img.shape}; expected {out_shape} from 'pixmap'")
    code = _INTERP_CODES[method]
    nbox = 5 if method == "lanczos5" else 3
    lut = lanczos_lut(nbox) if method.startswith("lanczos") else np.zeros(1)
    with serial_pipeline_quiet():
        _blot_rows(code, data, pixmap, out_img, np.float32(iscale), np.float32(fillval), lut, nbox)
    return out_img
