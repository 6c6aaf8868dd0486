"""Square-box neighbourhood filters shared by the detector kernels.

A ``(2n+1) x (2n+1)`` box is separable, so a box maximum (binary dilation) or
box minimum is a running filter along the rows followed by one along the
columns.  The box is clipped at the array edges, which is what a dilation
that only considers pixels inside the array does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["box_dilate", "box_min"]


@njit(cache=True, nogil=True, parallel=True)
def box_dilate(mask, half_width):
    """Return a uint8 plane that is 1 wherever ``mask`` is non-zero within the box.

    Parameters
    ----------
    mask : ndarray of uint8, shape (ny, nx)
        Non-zero where the condition holds.
    half_width : int
        ``n`` of the ``(2n+1)`` square box; 0 returns a 0/1 copy.
    """
    ny, nx = mask.shape
    along_rows = np.zeros((ny, nx), dtype=np.uint8)
    for y in prange(ny):
        for x in range(nx):
            if mask[y, x] != 0:
                lo = max(0, x - half_width)
                hi = min(nx, x + half_width + 1)
                for xx in range(lo, hi):
                    along_rows[y, xx] = 1
    out = np.zeros((ny, nx), dtype=np.uint8)
    for y in prange(ny):
        lo = max(0, y - half_width)
        hi = min(ny, y + half_width + 1)
        for yy in range(lo, hi):
            for x in range(nx):
                if along_rows[yy, x] != 0:
                    out[y, x] = 1
    return out


@njit(cache=True, nogil=True, parallel=True)
def box_min(values, half_width):
    """Return the minimum of ``values`` over the clipped ``(2n+1)`` box around each pixel.

    Parameters
    ----------
    values : ndarray of int32, shape (ny, nx)
    half_width : int
    """
    ny, nx = values.shape
    along_rows = np.empty((ny, nx), dtype=values.dtype)
    for y in prange(ny):
        for x in range(nx):
            lo = max(0, x - half_width)
            hi = min(nx, x + half_width + 1)
            m = values[y, lo]
            for xx in range(lo + 1, hi):
                if values[y, xx] < m:
                    m = values[y, xx]
            along_rows[y, x] = m
    out = np.empty((ny, nx), dtype=values.dtype)
    for y in prange(ny):
        lo = max(0, y - half_width)
        hi = min(ny, y + half_width + 1)
        for x in range(nx):
            out[y, x] = along_rows[lo, x]
        for yy in range(lo + 1, hi):
            for x in range(nx):
                if along_rows[yy, x] < out[y, x]:
                    out[y, x] = along_rows[yy, x]
    return out
