"""dark_current: subtract the dark reference, frame-averaged to the science readout.

Seed 002, dark_current, with the established pipeline's choices where the
seed is vague:

* The dark is built from one frame per group without gaps.  When the science
  readout averages ``nframes`` frames per group and drops ``groupgap`` frames
  between groups, science group ``g`` is matched by the mean of dark frames
  ``g*(nframes+groupgap) .. g*(nframes+groupgap)+nframes-1``.  When the two
  readouts are equal the dark groups are subtracted directly.
* When the science exposure spans more frames than the dark, the dark is
  extended by linear extrapolation of its last two groups (the established
  pipeline's choice; the seed's older text returned the input unchanged).
* When the dark's own NFRAMES or GROUPGAP exceed the science values the step
  is skipped and the data are untouched.
* NaN dark values count as 0; the dark DQ is OR-ed into PIXELDQ (for a
  per-integration MIRI dark, the OR over its integrations).
* MIRI darks are 4-D (nints, ngroups, ny, nx): science integration ``i`` uses
  dark integration ``i`` while there is one, the last dark integration after
  that; for a segment that does not start at integration 1 every science
  integration uses the last dark integration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal.kernels._arrays import require_inplace

__all__ = ["DarkResult", "total_frames", "match_dark_frames", "average_dark_frames", "subtract_dark"]


@dataclass
class DarkResult:
    """Outcome of :func:`subtract_dark`.

    Attributes
    ----------
    applied : bool
        False when the dark could not be matched and nothing was subtracted.
    message : str
        Why it was skipped, or what was done (for the step's log).
    averaged_dark : ndarray or None
        The dark actually subtracted, (ngroups, ny, nx) or
        (dark nints, ngroups, ny, nx), when ``return_averaged`` was set
        (``dark_output``).
    averaged_dq : ndarray or None
        Its DQ (the reference DQ as given).
    """

    applied: bool
    message: str
    averaged_dark: np.ndarray | None = None
    averaged_dq: np.ndarray | None = None


def total_frames(ngroups: int, nframes: int, groupgap: int) -> int:
    """Frames spanned by ``ngroups`` groups of ``nframes`` frames with ``groupgap`` dropped between."""
    return ngroups * nframes + (ngroups - 1) * groupgap


def _extend_dark(dark4, n_new):
    """Append ``n_new`` groups extrapolated from the last two (float64 arithmetic, float32 result)."""
    last = dark4[:, -1].astype(np.float64)
    step = last - dark4[:, -2].astype(np.float64)
    k = np.arange(1, n_new + 1, dtype=np.float64)[None, :, None, None]
    extra = (last[:, None] + k * step[:, None]).astype(np.float32)
    return np.concatenate([dark4.astype(np.float32, copy=False), extra], axis=1)


def match_dark_frames(
    dark: np.ndarray,
    *,
    ngroups: int,
    nframes: int,
    groupgap: int,
    dark_nframes: int = 1,
    dark_groupgap: int = 0,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
    """Work out which dark frames make each science group.

    Returns
    -------
    dark4 : ndarray of float32, shape (dark nints, nframes available, ny, nx) or None
        The dark as 4-D, extended by extrapolation when it is too short.
    starts, counts : ndarray of int64, shape (ngroups,) or None
        First frame and number of frames averaged for each science group.
    message : str
        Explanation; ``dark4`` is None when the dark cannot be used.
    """
    dark = np.asarray(dark)
    if dark.ndim == 3:
        dark4 = dark[np.newaxis]
    elif dark.ndim == 4:
        dark4 = dark
    else:
        raise ValueError(f"DARK SCI must be 3-D (ngroups, ny, nx) or 4-D (nints, ngroups, ny, nx), got shape {dark.shape}")
    if dark4.shape[1] < 1:
        raise ValueError("DARK SCI has no groups")
    message = ""
    sci_total = total_frames(ngroups, nframes, groupgap)
    dark_total = total_frames(dark4.shape[1], dark_nframes, dark_groupgap)
    if sci_total > dark_total:
        if dark4.shape[1] < 2:
            raise ValueError("the DARK reference has a single group and cannot be extrapolated to the science length")
        n_new = math.ceil((sci_total - dark_total + dark_groupgap) / (dark_nframes + dark_groupgap))
        dark4 = _extend_dark(dark4, n_new)
        message = (
            f"dark spans {dark_total} frames, science {sci_total}: extrapolated {n_new} dark groups"
        )
    if dark_nframes > nframes or dark_groupgap > groupgap:
        return None, None, None, (
            f"dark NFRAMES={dark_nframes}/GROUPGAP={dark_groupgap} exceed the science "
            f"NFRAMES={nframes}/GROUPGAP={groupgap}; dark not subtracted"
        )
    navail = dark4.shape[1]
    if nframes == dark_nframes and groupgap == dark_groupgap:
        starts = np.arange(ngroups, dtype=np.int64)
        counts = np.ones(ngroups, dtype=np.int64)
        if ngroups > navail:
            raise ValueError(f"the DARK reference has {navail} groups, the science ramp {ngroups}")
    else:
        starts = np.arange(ngroups, dtype=np.int64) * (nframes + groupgap)
        counts = np.clip(navail - starts, 0, nframes).astype(np.int64)
    return np.ascontiguousarray(dark4, dtype=np.float32), starts, counts, message


@njit(cache=True, nogil=True)
def _average(dark4, starts, counts, out):
    """out[d, g] = mean of dark4[d, starts[g] : starts[g]+counts[g]] with NaN as 0."""
    nd, ngroups, ny, nx = out.shape
    for r in range(nd * ny):
        d = r // ny
        y = r % ny
        for g in range(ngroups):
            n = counts[g]
            s = starts[g]
            for x in range(nx):
                if n == 0:
                    out[d, g, y, x] = np.nan
                    continue
                acc = np.float32(0.0)
                for f in range(s, s + n):
                    v = dark4[d, f, y, x]
                    if v == v:
                        acc += v
                out[d, g, y, x] = acc / np.float32(n)


@njit(cache=True, nogil=True, parallel=True)
def _subtract_fused(data, dark4, starts, counts, dark_index):
    """data[i, g] -= mean of the matching dark frames (NaN as 0), one row at a time."""
    nints, ngroups, ny, nx = data.shape
    nd = dark4.shape[0]
    for y in prange(ny):
        row = np.empty(nx, dtype=np.float32)
        for d in range(nd):
            for g in range(ngroups):
                n = counts[g]
                s = starts[g]
                if n == 1:
                    src = dark4[d, s, y]
                    for x in range(nx):
                        v = src[x]
                        row[x] = v if v == v else np.float32(0.0)
                elif n == 0:
                    for x in range(nx):
                        row[x] = np.nan
                else:
                    for x in range(nx):
                        row[x] = np.float32(0.0)
                    for f in range(s, s + n):
                        src = dark4[d, f, y]
                        for x in range(nx):
                            v = src[x]
                            if v == v:
                                row[x] += v
                    for x in range(nx):
                        row[x] /= np.float32(n)
                for i in range(nints):
                    if dark_index[i] == d:
                        out = data[i, g, y]
                        for x in range(nx):
                            out[x] -= row[x]


def average_dark_frames(
    dark: np.ndarray,
    *,
    ngroups: int,
    nframes: int,
    groupgap: int,
    dark_nframes: int = 1,
    dark_groupgap: int = 0,
) -> np.ndarray | None:
    """Return the dark averaged to the science readout (NaN as 0), or None if it cannot be.

    Parameters
    ----------
    dark : ndarray, shape (dark ngroups, ny, nx) or (dark nints, dark ngroups, ny, nx)
        DARK reference SCI.
    ngroups, nframes, groupgap : int
        The science readout.
    dark_nframes, dark_groupgap : int
        The dark's own readout (NFRAMES, GROUPGAP of the reference; 1 and 0).

    Returns
    -------
    ndarray of float32
        Shape (ngroups, ny, nx) for a 3-D dark, (dark nints, ngroups, ny, nx)
        for a 4-D dark.
    """
    dark4, starts, counts, _ = match_dark_frames(
        dark, ngroups=ngroups, nframes=nframes, groupgap=groupgap,
        dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
    )
    if dark4 is None:
        return None
    out = np.empty((dark4.shape[0], ngroups) + dark4.shape[2:], dtype=np.float32)
    _average(dark4, starts, counts, out)
    return out[0] if np.ndim(dark) == 3 else out


def _merged_dark_dq(dark_dq, shape2):
    dq = np.asarray(dark_dq)
    if dq.ndim > 2:
        # MIRI: one DQ plane per dark integration (nints, 1, ny, nx).
        dq = np.bitwise_or.reduce(dq.reshape((-1,) + dq.shape[-2:]).astype(np.uint32), axis=0)
    if dq.shape != tuple(shape2):
        raise ValueError(f"DARK DQ has shape {np.shape(dark_dq)}, expected {tuple(shape2)} image planes")
    return dq.astype(np.uint32, copy=False)


def subtract_dark(
    data: np.ndarray,
    pixeldq: np.ndarray,
    dark: np.ndarray,
    dark_dq: np.ndarray,
    *,
    nframes: int,
    groupgap: int,
    dark_nframes: int = 1,
    dark_groupgap: int = 0,
    integration_start: int | None = 1,
    return_averaged: bool = False,
) -> DarkResult:
    """Subtract the frame-matched dark from ``data`` and merge its DQ, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
    pixeldq : ndarray of uint32, shape (ny, nx)
    dark : ndarray, shape (dark ngroups, ny, nx) or (dark nints, dark ngroups, ny, nx)
        DARK reference SCI (a matching subarray; not modified).
    dark_dq : ndarray of int, shape (ny, nx) or (dark nints, 1, ny, nx)
        DARK reference DQ in master-table bits.
    nframes, groupgap : int
        Science NFRAMES and GROUPGAP.
    dark_nframes, dark_groupgap : int
        The dark's NFRAMES and GROUPGAP.
    integration_start : int or None
        INTSTART of a segmented exposure (1-based); None means 1.
    return_averaged : bool
        Return the dark that was subtracted (for ``dark_output``).

    Returns
    -------
    DarkResult
    """
    require_inplace(data, "SCI")
    require_inplace(pixeldq, "PIXELDQ")
    if data.ndim != 4:
        raise ValueError(f"dark_current expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    nints, ngroups, ny, nx = data.shape
    if np.shape(dark)[-2:] != (ny, nx):
        raise ValueError(
            f"DARK SCI image planes are {np.shape(dark)[-2:]}, the science planes {(ny, nx)}; "
            "the dark must match the science subarray"
        )
    dq2 = _merged_dark_dq(dark_dq, (ny, nx))
    dark4, starts, counts, message = match_dark_frames(
        dark, ngroups=ngroups, nframes=nframes, groupgap=groupgap,
        dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
    )
    if dark4 is None:
        return DarkResult(False, message)

    nd = dark4.shape[0]
    int_start = 1 if integration_start is None else int(integration_start)
    dark_index = np.array(
        [i if (i < nd and int_start == 1) else nd - 1 for i in range(nints)], dtype=np.int64
    )
    np.bitwise_or(pixeldq, dq2.astype(pixeldq.dtype, copy=False), out=pixeldq)
    averaged = None
    if return_averaged:
        averaged = np.empty((nd, ngroups, ny, nx), dtype=np.float32)
        _average(dark4, starts, counts, averaged)
        for i in range(nints):
            data[i] -= averaged[dark_index[i]]
        if np.ndim(dark) == 3:
            averaged = averaged[0]
    else:
        _subtract_fused(data, dark4, starts, counts, dark_index)
    return DarkResult(True, message or "dark subtracted", averaged, np.asarray(dark_dq) if return_averaged else None)
