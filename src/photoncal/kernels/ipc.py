"""ipc: correct inter-pixel capacitance by convolving with the IPC kernel.

Each group is convolved with the IPC reference (seed 002, ipc): a small odd
2-D deconvolution kernel (centre > 1, sum 1), or a 4-D kernel
(ky, kx, ny, nx) with one small kernel per pixel.  Reference pixels are left
unchanged and contribute zero where the kernel overlaps them.

With kernel ``K`` of shape (ky, kx), centre ``(by, bx) = (ky//2, kx//2)`` and
``(ty, tx) = (ky-by-1, kx-bx-1)``, the corrected science pixel is

    out[y, x] = K[by, bx] in[y, x] + sum_{(j,i) != (by,bx)} K[j, i] in[y + ty - j, x + tx - i]

(``in`` is 0 outside the science region): for the usual odd kernels a true
convolution centred on ``K[by, bx]``.  For a 4-D kernel ``K[j, i]`` is taken
at the output pixel.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from photoncal.kernels._arrays import require_inplace

__all__ = ["NumRefPixels", "reference_pixel_counts", "ipc_correct"]

NumRefPixels = namedtuple("NumRefPixels", ["bottom_rows", "top_rows", "left_columns", "right_columns"])
NumRefPixels.__doc__ = "Reference rows/columns on each edge of the science array."

#: Full-frame reference-pixel geometry: NIR detectors have a 4-pixel border
#: on every edge of 2048x2048; MIRI has 4 columns on the left and right of
#: its 1032 columns.
_NIR_SIZE = 2048
_MIRI_RIGHT_START = 1028


def reference_pixel_counts(xstart: int, ystart: int, xsize: int, ysize: int, *, miri: bool = False) -> NumRefPixels:
    """Count the reference rows and columns a (sub)array contains.

    Parameters
    ----------
    xstart, ystart : int
        1-based SUBSTRT1/SUBSTRT2.
    xsize, ysize : int
        SUBSIZE1/SUBSIZE2.
    miri : bool
        MIRI geometry (reference columns only).
    """
    x0 = xstart - 1
    y0 = ystart - 1
    if miri:
        return NumRefPixels(0, 0, max(0, 4 - x0), max(0, x0 + xsize - _MIRI_RIGHT_START))
    return NumRefPixels(
        max(0, 4 - y0),
        max(0, y0 + ysize - (_NIR_SIZE - 4)),
        max(0, 4 - x0),
        max(0, x0 + xsize - (_NIR_SIZE - 4)),
    )


@njit(cache=True, nogil=True, parallel=True)
def _convolve_2d(plane, source, kernel, y0, y1, x0, x1):
    ky, kx = kernel.shape
    by = ky // 2
    bx = kx // 2
    ty = ky - by - 1
    tx = kx - bx - 1
    # Columns far enough from the science edges need no bounds checks.
    xa = min(max(x0 + tx, x0), x1)
    xb = max(min(x1 - bx, x1), xa)
    for y in prange(y0, y1):
        acc = np.zeros(x1 - x0, dtype=np.float32)
        for j in range(ky):
            yy = y + ty - j
            if yy < y0 or yy >= y1:
                continue
            src = source[yy]
            for i in range(kx):
                if j == by and i == bx:
                    continue
                k = kernel[j, i]
                off = tx - i
                for x in range(x0, xa):
                    xx = x + off
                    if xx >= x0 and xx < x1:
                        acc[x - x0] += k * src[xx]
                # zero-based views so the bulk loop vectorizes
                dst = acc[xa - x0: xb - x0]
                shifted = src[xa + off: xb + off]
                for m in range(xb - xa):
                    dst[m] += k * shifted[m]
                for x in range(xb, x1):
                    xx = x + off
                    if xx >= x0 and xx < x1:
                        acc[x - x0] += k * src[xx]
        # The large centre term last, as the established implementation sums.
        kc = kernel[by, bx]
        row = source[y, x0:x1]
        out = plane[y, x0:x1]
        for m in range(x1 - x0):
            out[m] = acc[m] + kc * row[m]


@njit(cache=True, nogil=True, parallel=True)
def _convolve_4d(plane, source, kernel, y0, y1, x0, x1):
    ky = kernel.shape[0]
    kx = kernel.shape[1]
    by = ky // 2
    bx = kx // 2
    ty = ky - by - 1
    tx = kx - bx - 1
    for y in prange(y0, y1):
        for x in range(x0, x1):
            acc = np.float32(0.0)
            for j in range(ky):
                yy = y + ty - j
                if yy < y0 or yy >= y1:
                    continue
                for i in range(kx):
                    if j == by and i == bx:
                        continue
                    xx = x + tx - i
                    if xx < x0 or xx >= x1:
                        continue
                    acc += kernel[j, i, y, x] * source[yy, xx]
            acc += kernel[by, bx, y, x] * source[y, x]
            plane[y, x] = acc


def ipc_correct(data: np.ndarray, kernel: np.ndarray, nref: NumRefPixels | tuple[int, int, int, int]) -> None:
    """Convolve every group of ``data`` with the IPC kernel, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
    kernel : ndarray
        IPC reference SCI: (ky, kx), or (ky, kx, ny, nx) already cut to the
        science subarray.
    nref : NumRefPixels
        Reference rows/columns (bottom, top, left, right), e.g. from
        :func:`reference_pixel_counts`; those pixels are not changed.
    """
    require_inplace(data, "SCI")
    if data.ndim != 4:
        raise ValueError(f"ipc expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    kernel = np.asarray(kernel)
    ny, nx = data.shape[-2:]
    if kernel.ndim == 4:
        if kernel.shape[2:] != (ny, nx):
            raise ValueError(
                f"4-D IPC kernel covers {kernel.shape[2:]}, the science planes are {(ny, nx)}; "
                "cut it to the science subarray first"
            )
    elif kernel.ndim != 2:
        raise ValueError(f"IPC kernel must be 2-D or 4-D, got shape {kernel.shape}")
    bottom, top, left, right = (int(v) for v in nref)
    y0, y1, x0, x1 = bottom, ny - top, left, nx - right
    if y1 <= y0 or x1 <= x0:
        return
    kern = np.ascontiguousarray(kernel, dtype=data.dtype)
    source = np.empty((ny, nx), dtype=data.dtype)
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            plane = data[i, g]
            source[...] = plane
            if kern.ndim == 2:
                _convolve_2d(plane, source, kern, y0, y1, x0, x1)
            else:
                _convolve_4d(plane, source, kern, y0, y1, x0, x1)
