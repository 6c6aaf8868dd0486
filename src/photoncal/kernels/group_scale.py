"""group_scale: undo on-board frame averaging with a non-power-of-two NFRAMES.

On board, the sum of NFRAMES frames is divided by FRMDIVSR, the next power of
two, so every group is too low by NFRAMES/FRMDIVSR.  The step multiplies all
groups of all integrations by FRMDIVSR/NFRAMES (seed 002, group_scale).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from photoncal.kernels._arrays import require_inplace

__all__ = ["group_scale_factor", "rescale_groups"]


def group_scale_factor(nframes: int | None, frame_divisor: int | None) -> float | None:
    """Return FRMDIVSR/NFRAMES, or ``None`` when the step has nothing to do.

    ``None`` (the step is SKIPPED) when NFRAMES is unknown, when the two are
    equal, or when FRMDIVSR is unknown - the established pipeline then skips,
    whether or not NFRAMES is a power of two.

    Parameters
    ----------
    nframes : int or None
        NFRAMES, frames averaged into each group.
    frame_divisor : int or None
        FRMDIVSR, the divisor used on board.
    """
    if nframes is None or frame_divisor is None:
        return None
    if int(nframes) <= 0:
        raise ValueError(f"NFRAMES must be a positive integer, got {nframes}")
    if int(nframes) == int(frame_divisor):
        return None
    return float(frame_divisor) / float(nframes)


@njit(cache=True, nogil=True, parallel=True)
def _scale_rows(data3, factor):
    for r in prange(data3.shape[0]):
        for y in range(data3.shape[1]):
            for x in range(data3.shape[2]):
                data3[r, y, x] *= factor


def rescale_groups(data: np.ndarray, factor: float) -> None:
    """Multiply every group of ``data`` by ``factor``, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
        The SCI ramp; only SCI is scaled (ERR is not yet populated).
    factor : float
        FRMDIVSR/NFRAMES from :func:`group_scale_factor`.
    """
    require_inplace(data, "SCI")
    if data.ndim != 4:
        raise ValueError(f"group_scale expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    view = data.reshape((-1,) + data.shape[2:])
    if not np.shares_memory(view, data):
        raise ValueError("group_scale needs a C-contiguous SCI array to work in place")
    _scale_rows(view, data.dtype.type(factor))
