"""dq_init: merge the static bad-pixel mask into the science DQ arrays.

The MASK reference DQ (already translated to master-table bits and cut to the
science subarray by the step) is OR-ed into PIXELDQ.  As the established
pipeline does, its DO_NOT_USE bit is also OR-ed into every group of GROUPDQ so
that no ramp is fitted to a bad pixel.  FGS guider exposures have a single DQ
array, which receives the mask instead.
"""

from __future__ import annotations

import numpy as np

from photoncal.dqflags import pixel as _flags

__all__ = ["merge_mask_dq", "merge_guider_mask_dq"]

DO_NOT_USE = _flags["DO_NOT_USE"]


def _combined_mask(mask_dq, user_dq, shape_expected):
    mask = np.asarray(mask_dq)
    if mask.shape != tuple(shape_expected):
        raise ValueError(
            f"MASK reference DQ has shape {mask.shape}, expected {tuple(shape_expected)} "
            "(the science image shape; cut the reference to the subarray first)"
        )
    mask = mask.astype(np.uint32, copy=user_dq is not None)
    if user_dq is not None:
        user = np.asarray(user_dq)
        if user.shape != mask.shape:
            raise ValueError(f"user-supplied DQ has shape {user.shape}, expected {mask.shape}")
        mask |= user.astype(np.uint32)
    return mask


def merge_mask_dq(
    pixeldq: np.ndarray,
    groupdq: np.ndarray,
    mask_dq: np.ndarray,
    *,
    user_dq: np.ndarray | None = None,
    do_not_use: int = DO_NOT_USE,
) -> None:
    """OR the mask into PIXELDQ and its DO_NOT_USE bit into GROUPDQ, in place.

    Parameters
    ----------
    pixeldq : ndarray of uint32, shape (ny, nx)
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx)
    mask_dq : ndarray of int, shape (ny, nx)
        The MASK reference DQ in master-table bits, cut to the science array.
    user_dq : ndarray of int, optional
        The ``user_supplied_dq`` array, OR-ed into the mask first.
    do_not_use : int
        Value of DO_NOT_USE.
    """
    mask = _combined_mask(mask_dq, user_dq, pixeldq.shape)
    np.bitwise_or(pixeldq, mask.astype(pixeldq.dtype, copy=False), out=pixeldq)
    dnu = (mask & np.uint32(do_not_use)).astype(groupdq.dtype)
    if dnu.any():
        np.bitwise_or(groupdq, dnu, out=groupdq)


def merge_guider_mask_dq(
    dq: np.ndarray, mask_dq: np.ndarray, *, user_dq: np.ndarray | None = None
) -> None:
    """OR the mask into the single DQ array of an FGS guider exposure, in place.

    Parameters
    ----------
    dq : ndarray of uint32, shape (ny, nx)
    mask_dq : ndarray of int, shape (ny, nx)
    user_dq : ndarray of int, optional
    """
    mask = _combined_mask(mask_dq, user_dq, dq.shape)
    np.bitwise_or(dq, mask.astype(dq.dtype, copy=False), out=dq)
