"""Square-box binary dilation shared by the detector kernels.

A ``(2n+1) x (2n+1)`` box is separable, so the dilation is a running maximum
along the rows followed by one along the columns.  The box is clipped at the
array edges, which is what a dilation that only considers pixels inside the
array does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["box_dilate"]


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
