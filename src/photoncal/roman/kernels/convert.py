"""Parallel dtype conversion of large arrays read from files."""

from __future__ import annotations

from numba import njit, prange

__all__ = ["convert_into"]


@njit(cache=True, nogil=True, parallel=True)
def _convert_3d(src, dst):
    nplanes, ny, nx = src.shape
    for k in range(nplanes):
        for y in prange(ny):
            for x in range(nx):
                dst[k, y, x] = src[k, y, x]


def convert_into(src, dst):
    """``dst[...] = src`` for 3-D arrays (e.g. a uint16 memory map into float32), rows on every core."""
    if src.shape != dst.shape or src.ndim != 3:
        raise ValueError(f"convert_into: shapes {src.shape} and {dst.shape} must be equal and 3-D")
    _convert_3d(src, dst)
    return dst
