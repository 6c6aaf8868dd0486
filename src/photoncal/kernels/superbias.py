"""superbias: subtract the superbias image from every group.

NaN in the superbias counts as 0 (no correction for that pixel); the
reference DQ is OR-ed into PIXELDQ; ERR is untouched (seed 002, superbias).
ZEROFRAME values of 0 mark unusable data and stay 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from photoncal.kernels._arrays import require_inplace

__all__ = ["subtract_superbias"]


@njit(cache=True, nogil=True, parallel=True)
def _subtract_plane_rows(data3, bias):
    """data3[k] -= bias for every plane k; NaN bias counts as zero."""
    nplanes, ny, nx = data3.shape
    for r in prange(nplanes * ny):
        k = r // ny
        y = r % ny
        for x in range(nx):
            b = bias[y, x]
            if b == b:
                data3[k, y, x] -= b


@njit(cache=True, nogil=True)
def _subtract_zeroframe(zf, bias):
    nints, ny, nx = zf.shape
    for r in range(nints * ny):
        i = r // ny
        y = r % ny
        for x in range(nx):
            b = bias[y, x]
            if zf[i, y, x] != 0.0 and b == b:
                zf[i, y, x] -= b


def _as_planes(data):
    planes = data.reshape((-1,) + data.shape[-2:])
    if not np.shares_memory(planes, data):
        raise ValueError("the SCI array must be C-contiguous to be corrected in place")
    return planes


def subtract_superbias(
    data: np.ndarray,
    pixeldq: np.ndarray,
    bias: np.ndarray,
    bias_dq: np.ndarray,
    *,
    zeroframe: np.ndarray | None = None,
) -> None:
    """Subtract ``bias`` from every group of ``data`` and merge its DQ, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
    pixeldq : ndarray of uint32, shape (ny, nx)
    bias : ndarray of float32, shape (ny, nx)
        SUPERBIAS reference SCI cut to the science subarray (not modified).
    bias_dq : ndarray of int, shape (ny, nx)
        SUPERBIAS reference DQ in master-table bits.
    zeroframe : ndarray of float32, shape (nints, ny, nx), optional
        ZEROFRAME; non-zero values get the bias subtracted.
    """
    require_inplace(data, "SCI")
    require_inplace(pixeldq, "PIXELDQ")
    if data.ndim != 4:
        raise ValueError(f"superbias expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    shape2 = data.shape[-2:]
    if np.shape(bias) != shape2:
        raise ValueError(f"SUPERBIAS SCI has shape {np.shape(bias)}, expected {shape2}")
    if np.shape(bias_dq) != shape2:
        raise ValueError(f"SUPERBIAS DQ has shape {np.shape(bias_dq)}, expected {shape2}")
    bias32 = np.ascontiguousarray(bias, dtype=data.dtype)
    _subtract_plane_rows(_as_planes(data), bias32)
    if zeroframe is not None:
        _subtract_zeroframe(zeroframe, bias32)
    np.bitwise_or(pixeldq, np.asarray(bias_dq).astype(pixeldq.dtype, copy=False), out=pixeldq)
