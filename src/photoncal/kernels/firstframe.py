"""firstframe: flag the first group of every MIRI integration DO_NOT_USE.

The established pipeline (which keeps the step but skips it by default; the
rscd step now does this flagging) flags only when an integration has more
than 3 groups, and with ``bright_use_group1`` (default True) keeps the first
group of pixels whose third group is SATURATED - for them the first-frame
effect is small next to the signal - marking those pixels in PIXELDQ
(FLUX_ESTIMATED in the established flag table).  The seed's older text flags
whenever there is more than one group.
"""

from __future__ import annotations

import numpy as np

from photoncal.dqflags import pixel as _flags

__all__ = ["MIN_GROUPS", "flag_first_group"]

#: The first group is flagged only when ngroups > MIN_GROUPS.
MIN_GROUPS = 3

DO_NOT_USE = _flags["DO_NOT_USE"]
SATURATED = _flags["SATURATED"]
# Bit 28: FLUX_ESTIMATED in the established pipeline's table (UNRELIABLE_RESET in the seed's).
FLUX_ESTIMATED = 1 << 28


def flag_first_group(
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    bright_use_group1: bool = True,
    do_not_use: int = DO_NOT_USE,
    saturated: int = SATURATED,
    flux_estimated: int = FLUX_ESTIMATED,
) -> int | None:
    """OR DO_NOT_USE into the first group of every integration, in place.

    Parameters
    ----------
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx)
    pixeldq : ndarray of uint32, shape (ny, nx)
        Receives ``flux_estimated`` for pixels whose first group was kept.
    bright_use_group1 : bool
        Keep the first group where the third group is SATURATED.
    do_not_use, saturated, flux_estimated : int
        Flag values.

    Returns
    -------
    int or None
        None when there are too few groups (the step is SKIPPED); otherwise
        the number of pixels, not DO_NOT_USE in PIXELDQ, whose first group
        was kept in some integration.
    """
    if groupdq.ndim != 4:
        raise ValueError(f"firstframe expects a 4-D GROUPDQ (nints, ngroups, ny, nx), got shape {groupdq.shape}")
    if groupdq.shape[1] <= MIN_GROUPS:
        return None
    dnu = groupdq.dtype.type(do_not_use)
    if not bright_use_group1:
        groupdq[:, 0] |= dnu
        return 0
    keep = (groupdq[:, 2] & groupdq.dtype.type(saturated)) != 0
    first = groupdq[:, 0]
    first[~keep] |= dnu
    kept_any = np.any(keep, axis=0)
    pixeldq[kept_any] |= pixeldq.dtype.type(flux_estimated)
    return int(np.count_nonzero((pixeldq[kept_any] & pixeldq.dtype.type(do_not_use)) == 0))
