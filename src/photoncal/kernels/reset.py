"""reset: subtract the MIRI reset-anomaly reference, per integration and group.

Science integration ``i`` (counted in the whole exposure) and group ``g``
lose ``reset[min(i, nints_ref-1), g]`` for ``g < ngroups_ref``; groups beyond
the reference get no correction.  NaN in the reference counts as 0; the
reference DQ is OR-ed into PIXELDQ; ERR is unchanged (seed 002, reset).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from photoncal.kernels._arrays import require_inplace

__all__ = ["subtract_reset"]


@njit(cache=True, nogil=True, parallel=True)
def _subtract(data, ref, ref_index, ngroups_corr):
    nints, ngroups, ny, nx = data.shape
    for r in prange(nints * ny):
        i = r // ny
        y = r % ny
        ir = ref_index[i]
        for g in range(ngroups_corr):
            for x in range(nx):
                v = ref[ir, g, y, x]
                if v == v:
                    data[i, g, y, x] -= v


def subtract_reset(
    data: np.ndarray,
    pixeldq: np.ndarray,
    reset: np.ndarray,
    reset_dq: np.ndarray,
    *,
    integration_start: int | None = 1,
) -> None:
    """Subtract the RESET reference from ``data`` and merge its DQ, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
        The integrations held by this file (a segment of the exposure).
    pixeldq : ndarray of uint32, shape (ny, nx)
    reset : ndarray, shape (nints_ref, ngroups_ref, ny, nx)
        RESET reference SCI (matching subarray; not modified).
    reset_dq : ndarray of int, shape (ny, nx)
        RESET reference DQ in master-table bits.
    integration_start : int or None
        INTSTART (1-based) of the first integration in ``data``.
    """
    require_inplace(data, "SCI")
    require_inplace(pixeldq, "PIXELDQ")
    if data.ndim != 4:
        raise ValueError(f"reset expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    reset = np.asarray(reset)
    if reset.ndim != 4:
        raise ValueError(f"RESET SCI must be 4-D (nints, ngroups, ny, nx), got shape {reset.shape}")
    ny, nx = data.shape[-2:]
    if reset.shape[-2:] != (ny, nx):
        raise ValueError(f"RESET SCI planes are {reset.shape[-2:]}, the science planes {(ny, nx)}")
    if np.shape(reset_dq) != (ny, nx):
        raise ValueError(f"RESET DQ has shape {np.shape(reset_dq)}, expected ({ny}, {nx})")
    first = 0 if integration_start is None else int(integration_start) - 1
    nref = reset.shape[0]
    ref_index = np.minimum(np.arange(first, first + data.shape[0]), nref - 1).astype(np.int64)
    ngroups_corr = min(data.shape[1], reset.shape[1])
    _subtract(data, np.ascontiguousarray(reset, dtype=data.dtype), ref_index, ngroups_corr)
    np.bitwise_or(pixeldq, np.asarray(reset_dq).astype(pixeldq.dtype, copy=False), out=pixeldq)
