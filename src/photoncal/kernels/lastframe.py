"""lastframe: flag the last group of every MIRI integration DO_NOT_USE.

Done when an integration has more than 2 groups, as the established pipeline
does (the seed's step text says more than 1; its ramp_fit text says more
than 2).  The flag is OR-ed in, other flags are kept.
"""

from __future__ import annotations

import numpy as np

from photoncal.dqflags import pixel as _flags

__all__ = ["MIN_GROUPS", "flag_last_group"]

#: The last group is flagged only when ngroups > MIN_GROUPS.
MIN_GROUPS = 2

DO_NOT_USE = _flags["DO_NOT_USE"]


def flag_last_group(groupdq: np.ndarray, *, do_not_use: int = DO_NOT_USE) -> bool:
    """OR DO_NOT_USE into the last group of every integration, in place.

    Parameters
    ----------
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx)
    do_not_use : int

    Returns
    -------
    bool
        False when there are too few groups (nothing done; the step is SKIPPED).
    """
    if groupdq.ndim != 4:
        raise ValueError(f"lastframe expects a 4-D GROUPDQ (nints, ngroups, ny, nx), got shape {groupdq.shape}")
    if groupdq.shape[1] <= MIN_GROUPS:
        return False
    groupdq[:, -1] |= groupdq.dtype.type(do_not_use)
    return True
