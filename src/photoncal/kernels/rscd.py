"""rscd: the established pipeline's baseline RSCD treatment of MIRI ramps.

Instead of modelling the reset-switch charge decay (the seed's exponential
correction), the established pipeline flags the first groups of each
integration DO_NOT_USE: ``skip_int1`` groups in the first integration and
``skip_int2p`` in later ones, both from the RSCD reference table (the row
matching READPATT and SUBARRAY; columns ``group_skip1`` and ``group_skip``).

The counts are limited so that a fit remains possible:

* fewer than 3 groups: nothing is done (the step is SKIPPED);
* 5 groups or fewer: one group is skipped in every integration;
* otherwise at least 3 groups must remain (``skip <= ngroups - 3``).

A pixel that saturates early is given fewer skipped groups: while the group
just after the two that would remain first (1-based group ``skip+2``) is
SATURATED - and group 1 is not - its skip count drops by one, down to 0.
Pixels whose count was lowered in some integration get FLUX_ESTIMATED in
PIXELDQ (bit 28; UNRELIABLE_RESET in the seed's table).

The exponential correction with the 17-column RSCD table of the seed is not
implemented (the established pipeline dropped it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoncal.dqflags import pixel as _flags

__all__ = ["RscdResult", "rscd_skip_counts", "flag_rscd_groups"]

DO_NOT_USE = _flags["DO_NOT_USE"]
SATURATED = _flags["SATURATED"]
FLUX_ESTIMATED = 1 << 28


@dataclass
class RscdResult:
    """What the rscd step records (``meta.rscd.*`` in the established models).

    Attributes
    ----------
    applied : bool
        False when there were fewer than 3 groups.
    ngroups_skip_int1, ngroups_skip_int2p : int or None
        Group counts used (None when that integration range was not flagged).
    keep_groups_saturation_int1, keep_groups_saturation_int2p : int or None
        Pixels whose count was lowered because of saturation.
    keep_bright_firstgroup_int1, keep_bright_firstgroup_int2p : int or None
        Pixels left with no skipped group in some integration.
    """

    applied: bool
    ngroups_skip_int1: int | None = None
    ngroups_skip_int2p: int | None = None
    keep_groups_saturation_int1: int | None = None
    keep_groups_saturation_int2p: int | None = None
    keep_bright_firstgroup_int1: int | None = None
    keep_bright_firstgroup_int2p: int | None = None


def rscd_skip_counts(ngroups: int, nints: int, skip_int1: int, skip_int2p: int) -> tuple[int, int]:
    """Apply the minimum-group rules to the table's skip counts.

    A negative ``skip_int1`` (reference files of the older model) means 1.
    """
    if skip_int1 < 0:
        skip_int1 = 1
    if ngroups <= 5:
        skip_int1 = skip_int2p = 1
    if ngroups < skip_int1 + 3:
        skip_int1 = max(0, ngroups - 3)
    if nints > 1 and ngroups < skip_int2p + 3:
        skip_int2p = max(0, ngroups - 3)
    return skip_int1, skip_int2p


def _per_pixel_skips(gdq, skip, sat):
    """Skip counts (nints, ny, nx) after backing off for saturation, and the summary counts."""
    nints, ngroups, ny, nx = gdq.shape
    skips = np.full((nints, ny, nx), skip, dtype=np.int64)
    level = skip + 2  # 1-based group that must not be saturated
    first_sat = (gdq[:, 0] & sat) != 0
    if level - 1 >= ngroups:
        return skips, 0, 0
    problem = ((gdq[:, level - 1] & sat) != 0) & ~first_sat
    if not problem.any():
        return skips, 0, 0
    while problem.any() and level > 1:
        skips[problem] = np.maximum(skips[problem] - 1, 0)
        level -= 1
        problem = ((gdq[:, level - 1] & sat) != 0) & ~first_sat
    lowered = np.any(skips < skip, axis=0)
    only_one = np.any(skips == 0, axis=0)
    return skips, lowered, only_one


def _flag(gdq, skips, dnu):
    ngroups = gdq.shape[1]
    for g in range(ngroups):
        sel = skips > g
        if not sel.any():
            break
        plane = gdq[:, g]
        plane[sel] |= dnu


def flag_rscd_groups(
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    skip_int1: int,
    skip_int2p: int,
    exposure_nints: int | None = None,
    integration_start: int | None = 1,
    do_not_use: int = DO_NOT_USE,
    saturated: int = SATURATED,
    flux_estimated: int = FLUX_ESTIMATED,
) -> RscdResult:
    """Flag the RSCD-affected first groups DO_NOT_USE, in place.

    Parameters
    ----------
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx)
        The integrations in this file.
    pixeldq : ndarray of uint32, shape (ny, nx)
        Receives ``flux_estimated`` where a skip count was lowered.
    skip_int1, skip_int2p : int
        ``group_skip1`` and ``group_skip`` of the matching RSCD table row.
    exposure_nints : int, optional
        NINTS of the whole exposure (defaults to this file's count).
    integration_start : int or None
        INTSTART (1-based) of a segmented exposure; the first integration
        rules apply only to integration 1.
    do_not_use, saturated, flux_estimated : int
        Flag values.

    Returns
    -------
    RscdResult
    """
    if groupdq.ndim != 4:
        raise ValueError(f"rscd expects a 4-D GROUPDQ (nints, ngroups, ny, nx), got shape {groupdq.shape}")
    nints_file, ngroups = groupdq.shape[:2]
    nints = nints_file if exposure_nints is None else int(exposure_nints)
    int_start = 1 if integration_start is None else int(integration_start)
    if ngroups < 3:
        return RscdResult(False)
    s1, s2 = rscd_skip_counts(ngroups, nints, int(skip_int1), int(skip_int2p))
    sat = groupdq.dtype.type(saturated)
    dnu = groupdq.dtype.type(do_not_use)
    result = RscdResult(True)
    ranges = []
    if int_start == 1:
        ranges.append(("int1", slice(0, 1), s1))
    if nints > 1:
        ranges.append(("int2p", slice(1 if int_start == 1 else 0, nints_file), s2))
    for label, sl, skip in ranges:
        gdq = groupdq[sl]
        skips, lowered, only_one = _per_pixel_skips(gdq, skip, sat)
        n_lowered = n_one = 0
        if np.ndim(lowered):
            pixeldq[lowered] |= pixeldq.dtype.type(flux_estimated)
            n_lowered = int(np.count_nonzero(lowered))
            n_one = int(np.count_nonzero(only_one))
        _flag(gdq, skips, dnu)
        setattr(result, f"ngroups_skip_{label}", skip)
        setattr(result, f"keep_groups_saturation_{label}", n_lowered)
        setattr(result, f"keep_bright_firstgroup_{label}", n_one)
    return result
