"""persistence: the trap capture/decay model, and persistence-window flagging.

Two algorithms live here.

**Trap model** (seed 002, persistence): charge trapped by earlier exposures
is released during this one.  Each trap family ``k`` (a row of the TRAPPARS
table: capture0, capture1, capture2, decay_param) has a traps-filled image.

* A traps-filled state from an earlier exposure first decays over the gap to
  this exposure's start: ``n_decays = filled * (1 - exp(-dt / tau))`` with
  ``tau = 1/|decay_param|``.
* In every group each family decays over one group time (and, from the
  second integration on, over the reset frames first); the persistence
  subtracted from a group is the decay accumulated since the start of the
  integration, summed over families (in DN).  Pixels whose persistence
  reaches ``flag_pers_cutoff`` DN get PERSISTENCE in PIXELDQ.
* At the end of each integration the traps captured are added:
  - the ramp part, with ``slope`` in units of the PERSAT limit per second and
    ``dt = nresets*tframe + ngroups*tgroup - tgroup*(groups above PERSAT)``:
    ``2 * density * slope**2 * (dt**2 (c0+c2)/2 + c0 (dt tau + tau**2) exp(-dt/tau) - c0 tau**2)``
    with ``tau = 1/|capture1|``;
  - for ramps that exceed PERSAT: instantaneous traps ``density*c2`` if every
    group is above it, and the exponential traps still empty,
    ``(density*c0 - (filled - density*c2)) * (1 - exp(-sattime/tau))``;
  - for each JUMP_DET group ``g >= 1``:
    ``2 * density * jump * (c0 (1 - exp(-(ngroups-g-0.5) tgroup / tau)) + c2)``,
    ``jump = max(0, data[g]-data[g-1] - slope_per_group)``.
  The factor 2 is the established implementation's gain ratio of released
  to photo-generated charge.  The slope estimate sorts the group differences
  (saturated ones set huge), drops as many of the largest as there are
  SATURATED and JUMP_DET groups, and averages the rest.

**Persistence windows** (the established pipeline's current step, off by
default there): a pixel's first SATURATED group in an integration - or a
group above ``dn_threshold`` - opens a window of ``persistence_time`` seconds
during which every group gets PERSISTENCE (and DO_NOT_USE with
``persistence_dnu``).  The per-pixel window end times (Unix seconds) carry
over to later exposures through ``persistence_array``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from photoncal.dqflags import pixel as _flags
from photoncal.kernels._arrays import require_inplace

__all__ = [
    "SCALEFACTOR",
    "TrapParameters",
    "decay_traps",
    "estimate_slopes",
    "trap_persistence",
    "mjd_to_epoch",
    "flag_persistence_windows",
]

#: Released-charge gain relative to photo-generated charge (factor 2 of the
#: established implementation, also the "2 *" of the seed's capture formula).
SCALEFACTOR = 2.0

DO_NOT_USE = _flags["DO_NOT_USE"]
SATURATED = _flags["SATURATED"]
JUMP_DET = _flags["JUMP_DET"]
PERSISTENCE = _flags["PERSISTENCE"]


@dataclass
class TrapParameters:
    """The TRAPPARS table, one entry per trap family.

    Attributes
    ----------
    capture0, capture1, capture2, decay_param : ndarray of float64, shape (nfamilies,)
        Columns of the table (capture1 and decay_param are minus the
        reciprocal e-folding times).
    """

    capture0: np.ndarray
    capture1: np.ndarray
    capture2: np.ndarray
    decay_param: np.ndarray

    @classmethod
    def from_table(cls, table) -> "TrapParameters":
        """Build from a record array / table with the four named columns (any case)."""
        names = {n.lower(): n for n in table.dtype.names}
        try:
            cols = [np.asarray(table[names[c]], dtype=np.float64) for c in ("capture0", "capture1", "capture2", "decay_param")]
        except KeyError as exc:
            raise ValueError(
                f"TRAPPARS table lacks column {exc.args[0]!r}; expected capture0, capture1, capture2, decay_param"
            ) from None
        return cls(*cols)

    @property
    def nfamilies(self) -> int:
        return len(self.capture0)


def decay_traps(traps_filled: np.ndarray, decay_param: np.ndarray, delta_t: float) -> None:
    """Decay every family of ``traps_filled`` over ``delta_t`` seconds, in place.

    Parameters
    ----------
    traps_filled : ndarray, shape (nfamilies, ny, nx)
    decay_param : ndarray, shape (nfamilies,)
        TRAPPARS decay_param (0 means no decay).
    delta_t : float
        Seconds.
    """
    for k in range(traps_filled.shape[0]):
        if decay_param[k] != 0.0:
            tau = 1.0 / abs(decay_param[k])
            traps_filled[k] -= traps_filled[k] * (1.0 - np.exp(-delta_t / tau))


@njit(cache=True, nogil=True, parallel=True)
def _max_group_difference(data_int):
    ngroups, ny, nx = data_int.shape
    row_max = np.full(ny, -np.inf)
    for y in prange(ny):
        m = -np.inf
        for g in range(1, ngroups):
            for x in range(nx):
                d = np.float64(data_int[g, y, x] - data_int[g - 1, y, x])
                if d > m:
                    m = d
        row_max[y] = m
    return row_max.max()


@njit(cache=True, nogil=True)
def _pixel_slope(data_int, gdq_int, y, x, sat, jump, huge, diffs):
    """Mean group difference without the saturated and jump ones (DN/group)."""
    ngroups = data_int.shape[0]
    if ngroups == 1:
        return np.float64(data_int[0, y, x])
    n_bad = 0
    for g in range(ngroups):
        if gdq_int[g, y, x] & jump:
            n_bad += 1
    s = 0.0
    for g in range(1, ngroups):
        if gdq_int[g, y, x] & sat:
            diffs[g - 1] = huge
            n_bad += 1
        else:
            diffs[g - 1] = np.float64(np.float32(data_int[g, y, x] - data_int[g - 1, y, x]))
            s += diffs[g - 1]
    upper = (ngroups - 1) - n_bad
    if upper <= 0:
        return 0.0
    if n_bad == 0:
        # nothing to drop: the mean of every difference, no sorting needed
        return s / upper
    # insertion sort in place: a handful of values, no allocation per pixel
    n = ngroups - 1
    for a in range(1, n):
        v = diffs[a]
        b = a - 1
        while b >= 0 and diffs[b] > v:
            diffs[b + 1] = diffs[b]
            b -= 1
        diffs[b + 1] = v
    s = 0.0
    for m in range(upper):
        s += diffs[m]
    return s / upper


@njit(cache=True, nogil=True)
def _slopes(data_int, gdq_int, sat, jump, huge):
    ngroups, ny, nx = data_int.shape
    out = np.zeros((ny, nx), dtype=np.float64)
    for y in range(ny):
        diffs = np.empty(max(ngroups - 1, 1), dtype=np.float64)
        for x in range(nx):
            out[y, x] = _pixel_slope(data_int, gdq_int, y, x, sat, jump, huge, diffs)
    return out


def _huge_difference(data_int):
    if data_int.shape[0] < 2:
        return 1.0e5
    m = _max_group_difference(data_int)
    return max(2.0 * m, 1.0e5) if np.isfinite(m) else 1.0e5


def estimate_slopes(data_int: np.ndarray, gdq_int: np.ndarray, *, saturated: int = SATURATED,
                    jump_det: int = JUMP_DET) -> np.ndarray:
    """Slope of one integration in DN/group, ignoring saturated and jump groups.

    The group differences are sorted with saturated ones set to a huge value
    (``max(2 * largest difference, 1e5)``); as many of the largest as there
    are SATURATED (from group 2 on) and JUMP_DET groups are dropped, and the
    rest averaged.  0 where nothing is left.

    Parameters
    ----------
    data_int : ndarray of float32, shape (ngroups, ny, nx)
    gdq_int : ndarray of uint8, shape (ngroups, ny, nx)

    Returns
    -------
    ndarray of float64, shape (ny, nx)
        For a single group, the group value itself.
    """
    return _slopes(data_int, gdq_int, np.uint8(saturated), np.uint8(jump_det), _huge_difference(data_int))


@njit(cache=True, nogil=True, parallel=True)
def _integration(data_int, gdq_int, pixeldq, traps, density, limit, limit_bad, saved, save,
                 c0, c1, c2, decay, y0, x0, tframe, tgroup, nresets, reset_decay,
                 cutoff, use_cutoff, pers_flag, sat, jump, huge):
    """Decay, subtract and capture for one integration; every pixel is independent.

    ``traps`` is the full-frame state; the science array sits at (y0, x0).
    """
    ngroups, ny, nx = data_int.shape
    nfam, dy, dx = traps.shape
    # fraction of each family's filled traps released per group and per reset
    release_group = np.zeros(nfam)
    release_reset = np.zeros(nfam)
    for k in range(nfam):
        if decay[k] != 0.0:
            tau = 1.0 / abs(decay[k])
            release_group[k] = 1.0 - np.exp(-tgroup / tau)
            release_reset[k] = 1.0 - np.exp(-reset_decay / tau)
    # capture terms depend on the pixel only through the number of groups above PERSAT
    ramp_exp = np.empty((nfam, ngroups + 1))
    sat_fill = np.empty((nfam, ngroups + 1))
    for k in range(nfam):
        tau = 1.0e10 if c1[k] == 0.0 else 1.0 / abs(c1[k])
        for n_above in range(ngroups + 1):
            dt = ngroups * tgroup + nresets * tframe - n_above * tgroup
            ramp_exp[k, n_above] = np.exp(-dt / tau)
            sat_fill[k, n_above] = 1.0 - np.exp(-abs(c1[k]) * n_above * tgroup)
    for yy in prange(dy):
        decayed = np.zeros(nfam, dtype=np.float64)
        diffs = np.empty(max(ngroups - 1, 1), dtype=np.float64)
        jumps = np.empty(max(ngroups, 1), dtype=np.int64)
        # The row's plain slopes (pixels without jump or saturated groups),
        # counts of such groups and of groups above PERSAT, plane by plane
        # along the row (contiguous, vectorisable); the rare others are
        # done pixel by pixel in _pixel_slope.
        diff_sum = np.zeros(nx, dtype=np.float64)
        n_bad = np.zeros(nx, dtype=np.int64)
        n_above = np.zeros(nx, dtype=np.int64)
        y = yy - y0
        if y >= 0 and y < ny:
            for g in range(ngroups):
                for x in range(nx):
                    flags = gdq_int[g, y, x]
                    n_bad[x] += (flags & jump) != 0
                    if g > 0:
                        if flags & sat:
                            n_bad[x] += 1
                        else:
                            diff_sum[x] += np.float64(np.float32(data_int[g, y, x] - data_int[g - 1, y, x]))
                for x in range(nx):
                    pixel_limit = np.float64(limit[y, x])
                    if pixel_limit != pixel_limit:
                        pixel_limit = 1.0e7
                    n_above[x] += data_int[g, y, x] > pixel_limit
        for xx in range(dx):
            y = yy - y0
            x = xx - x0
            inside = y >= 0 and y < ny and x >= 0 and x < nx
            # No trapped charge: nothing decays, the ramp is unchanged (the
            # usual case of the first exposure, without input_trapsfilled).
            empty = True
            for k in range(nfam):
                if traps[k, yy, xx] != traps[k, yy, xx]:
                    traps[k, yy, xx] = 0.0  # NaN counts as no trapped charge
                if traps[k, yy, xx] != 0.0 and decay[k] != 0.0:
                    empty = False
            if not inside:
                if not empty:
                    for k in range(nfam):
                        if decay[k] == 0.0:
                            continue
                        if reset_decay > 0.0:
                            traps[k, yy, xx] -= traps[k, yy, xx] * release_reset[k]
                        for g in range(ngroups):
                            traps[k, yy, xx] -= traps[k, yy, xx] * release_group[k]
                continue
            if ngroups > 1 and n_bad[x] == 0:
                grp_slope = diff_sum[x] / (ngroups - 1)
            else:
                grp_slope = _pixel_slope(data_int, gdq_int, y, x, sat, jump, huge, diffs)
            pixel_limit = np.float64(limit[y, x])
            if pixel_limit != pixel_limit:
                pixel_limit = 1.0e7  # NaN PERSAT: never reached
            if limit_bad[y, x]:
                slope = 0.0
            else:
                slope = grp_slope / (pixel_limit * tgroup)
            if not empty:
                for k in range(nfam):
                    decayed[k] = 0.0
                flagged = False
                for g in range(ngroups):
                    pers = 0.0
                    for k in range(nfam):
                        if decay[k] == 0.0:
                            continue
                        if g == 0 and reset_decay > 0.0:
                            traps[k, yy, xx] -= traps[k, yy, xx] * release_reset[k]
                        in_group = traps[k, yy, xx] * release_group[k]
                        decayed[k] += in_group
                        traps[k, yy, xx] -= in_group
                        pers += decayed[k]
                    data_int[g, y, x] = np.float64(data_int[g, y, x]) - pers
                    if save:
                        saved[g, y, x] = pers
                    if use_cutoff and pers >= cutoff:
                        flagged = True
                if flagged:
                    pixeldq[y, x] |= pers_flag
            # Captures at the end of the integration, from the corrected ramp.
            sat_count = 0
            if not limit_bad[y, x]:
                if empty:
                    sat_count = n_above[x]  # the ramp was not changed
                else:
                    for g in range(ngroups):
                        if data_int[g, y, x] > pixel_limit:
                            sat_count += 1
            dt = ngroups * tgroup + nresets * tframe - sat_count * tgroup
            dens = np.float64(density[y, x])
            if dens != dens:
                dens = 0.0  # NaN TRAPDENSITY: no traps
            njumps = 0
            if n_bad[x] > 0 or ngroups == 1:
                for g in range(1, ngroups):
                    if gdq_int[g, y, x] & jump:
                        jumps[njumps] = g
                        njumps += 1
            for k in range(nfam):
                tau = 1.0e10 if c1[k] == 0.0 else 1.0 / abs(c1[k])
                filled = SCALEFACTOR * (
                    dens * slope * slope
                    * (dt * dt * (c0[k] + c2[k]) / 2.0 + c0[k] * (dt * tau + tau * tau) * ramp_exp[k, sat_count]
                       - c0[k] * tau * tau)
                )
                if sat_count > 0:
                    if sat_count == ngroups:
                        filled = dens * c2[k]
                    still_empty = dens * c0[k] - (filled - dens * c2[k])
                    filled = filled + still_empty * sat_fill[k, sat_count]
                cr = 0.0
                for j in range(njumps):
                    g = jumps[j]
                    delta_t = (ngroups - g - 0.5) * tgroup
                    amp = np.float64(data_int[g, y, x] - data_int[g - 1, y, x]) - grp_slope
                    if amp < 0.0:
                        amp = 0.0
                    cr += dens * amp * (c0[k] * (1.0 - np.exp(c1[k] * delta_t)) + c2[k])
                traps[k, yy, xx] += filled + SCALEFACTOR * cr


def trap_persistence(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    traps_filled: np.ndarray,
    trap_density: np.ndarray,
    persat: np.ndarray,
    trap_params: TrapParameters,
    *,
    frame_time: float,
    group_time: float,
    nresets_at_start: int = 1,
    nresets_between_ints: int = 1,
    time_since_traps_filled: float | None = None,
    subarray_origin: tuple[int, int] = (0, 0),
    trap_density_dq: np.ndarray | None = None,
    persat_dq: np.ndarray | None = None,
    flag_pers_cutoff: float | None = 40.0,
    return_persistence: bool = False,
    do_not_use: int = DO_NOT_USE,
    saturated: int = SATURATED,
    jump_det: int = JUMP_DET,
    persistence: int = PERSISTENCE,
) -> np.ndarray | None:
    """Subtract trap-release persistence from ``data`` and update the trap state, in place.

    Parameters
    ----------
    data : ndarray of float32, shape (nints, ngroups, ny, nx)
    groupdq : ndarray of uint8, same shape (SATURATED and JUMP_DET are read)
    pixeldq : ndarray of uint32, shape (ny, nx)
        Receives PERSISTENCE where the correction reaches ``flag_pers_cutoff``.
    traps_filled : ndarray of float64, shape (nfamilies, det_ny, det_nx)
        The full-frame trap state: zeros, or the ``input_trapsfilled`` file
        (NaN counts as 0).  Updated in place to the state at the end of the
        exposure (what the ``_trapsfilled`` product holds).
    trap_density : ndarray, shape (ny, nx)
        TRAPDENSITY cut to the science subarray; NaN counts as 0.
    persat : ndarray, shape (ny, nx)
        PERSAT (persistence saturation limit, DN) cut to the subarray; NaN
        counts as 1e7.
    trap_params : TrapParameters
        The TRAPPARS table.
    frame_time, group_time : float
        TFRAME and TGROUP in seconds.
    nresets_at_start, nresets_between_ints : int
        NRSTSTRT and NRESETS; the resets soak like a frame each.
    time_since_traps_filled : float, optional
        Seconds from the end of the exposure that wrote ``traps_filled`` to
        the start of this one; the state decays over it first.  None when
        there was no input traps-filled file.
    subarray_origin : (int, int)
        0-based (row, column) of the science array in ``traps_filled``.
    trap_density_dq, persat_dq : ndarray, optional
        Reference DQ; DO_NOT_USE density pixels capture nothing, DO_NOT_USE
        PERSAT pixels have slope 0 and never count as above the limit.
    flag_pers_cutoff : float or None
        DN threshold of the PERSISTENCE flag (default 40); None disables it.
    return_persistence : bool
        Return the persistence subtracted from each group (``save_persistence``).

    Returns
    -------
    ndarray of float32 (nints, ngroups, ny, nx) or None
    """
    for name, arr in (("SCI", data), ("GROUPDQ", groupdq), ("PIXELDQ", pixeldq), ("traps-filled state", traps_filled)):
        require_inplace(arr, name)
    if data.ndim != 4:
        raise ValueError(f"persistence expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    nints, ngroups, ny, nx = data.shape
    nfam = trap_params.nfamilies
    if nfam <= 0:
        raise ValueError("the TRAPPARS table is empty")
    if traps_filled.ndim != 3 or traps_filled.shape[0] != nfam:
        raise ValueError(
            f"traps-filled state has shape {traps_filled.shape}, expected ({nfam}, det_ny, det_nx) - one plane per TRAPPARS row"
        )
    if traps_filled.dtype != np.float64:
        raise ValueError(f"the traps-filled state must be float64 to be updated in place, got {traps_filled.dtype}")
    for name, arr in (("TRAPDENSITY", trap_density), ("PERSAT", persat)):
        if np.shape(arr) != (ny, nx):
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected ({ny}, {nx})")
    y0, x0 = (int(v) for v in subarray_origin)
    if y0 < 0 or x0 < 0 or y0 + ny > traps_filled.shape[1] or x0 + nx > traps_filled.shape[2]:
        raise ValueError(
            f"science array ({ny}x{nx} at row {y0}, column {x0}) does not fit in the traps-filled state {traps_filled.shape[1:]}"
        )

    # NaN traps, density and PERSAT are handled pixel by pixel in the kernel
    density = np.asarray(trap_density)
    density = density.astype(np.float64) if not density.dtype.isnative or density.dtype.kind != "f" else density
    if trap_density_dq is not None:
        bad_density = (np.asarray(trap_density_dq) & do_not_use) != 0
        if bad_density.any():
            density = np.where(bad_density, 0.0, density)
    limit = np.asarray(persat)
    limit = limit.astype(np.float64) if not limit.dtype.isnative or limit.dtype.kind != "f" else limit
    if persat_dq is not None:
        limit_bad = (np.asarray(persat_dq) & do_not_use) != 0
    else:
        limit_bad = np.zeros((ny, nx), dtype=bool)

    if time_since_traps_filled is not None:
        decay_traps(traps_filled, trap_params.decay_param, float(time_since_traps_filled))

    saved = np.zeros(data.shape, dtype=np.float32) if return_persistence else np.zeros((1, 1, 1, 1), np.float32)
    p = trap_params
    for i in range(nints):
        nresets = nresets_at_start if i == 0 else nresets_between_ints
        reset_decay = frame_time * nresets if (i > 0 and nresets > 0) else 0.0
        _integration(
            data[i], groupdq[i], pixeldq, traps_filled, density, limit, limit_bad,
            saved[i if return_persistence else 0], bool(return_persistence),
            p.capture0, p.capture1, p.capture2, p.decay_param, y0, x0,
            float(frame_time), float(group_time), float(nresets), float(reset_decay),
            float(flag_pers_cutoff) if flag_pers_cutoff is not None else 0.0, flag_pers_cutoff is not None,
            np.uint32(persistence), np.uint8(saturated), np.uint8(jump_det), _huge_difference(data[i]),
        )
    return saved if return_persistence else None


# ------------------------------------------------------------ flagging windows


def mjd_to_epoch(mjd: float) -> float:
    """Modified Julian Date to Unix seconds."""
    return (mjd - 40587.0) * 86400.0


@njit(cache=True, nogil=True)
def _flag_windows_group(gdq_plane, sci_plane, window_end_array, sat_count, current_time,
                        persistence_time, use_threshold, dn_threshold, sat, flag):
    ny, nx = gdq_plane.shape
    new_end = current_time + persistence_time
    for y in range(ny):
        for x in range(nx):
            end = window_end_array[y, x]
            if end < current_time:
                end = 0.0
            if gdq_plane[y, x] & sat:
                sat_count[y, x] += 1
            if sat_count[y, x] == 1:
                end = new_end
            if use_threshold and end <= 0.0 and sci_plane[y, x] > dn_threshold:
                end = new_end
            if end != 0.0 and end - new_end > 0.0:
                # A window that starts after this group: invalid, drop it.
                end = 0.0
            window_end_array[y, x] = end
            if end > 0.0:
                gdq_plane[y, x] |= flag


def flag_persistence_windows(
    groupdq: np.ndarray,
    data: np.ndarray,
    persistence_array: np.ndarray,
    *,
    integration_start_times: np.ndarray,
    group_time: float,
    persistence_time: float,
    dn_threshold: float | None = None,
    persistence_dnu: bool = False,
    saturated: int = SATURATED,
    persistence: int = PERSISTENCE,
    do_not_use: int = DO_NOT_USE,
) -> None:
    """Flag the groups inside persistence windows, in place.

    Parameters
    ----------
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx)
    data : ndarray of float32, same shape (read for ``dn_threshold``)
    persistence_array : ndarray of float64, shape (ny, nx)
        End time (Unix seconds) of each pixel's open window, 0 for none;
        updated in place (what ``save_persistence`` writes).
    integration_start_times : ndarray of float, shape (nints,)
        Unix start time of each integration (from INT_TIMES, else
        ``start + i * integration_time``).
    group_time : float
        Seconds per group; group ``g`` is at ``start + (g+1)*group_time``.
    persistence_time : float
        Window length in seconds (must be > 0).
    dn_threshold : float, optional
        Also open a window where a group exceeds this many DN.
    persistence_dnu : bool
        Add DO_NOT_USE to PERSISTENCE.
    """
    if persistence_time is None or persistence_time <= 0:
        raise ValueError(f"persistence_time must be a positive number of seconds, got {persistence_time}")
    require_inplace(groupdq, "GROUPDQ")
    require_inplace(persistence_array, "persistence_array")
    data = np.asarray(data)
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    nints, ngroups, ny, nx = groupdq.shape
    if persistence_array.shape != (ny, nx):
        raise ValueError(f"persistence_array has shape {persistence_array.shape}, expected ({ny}, {nx})")
    if len(integration_start_times) < nints:
        raise ValueError(f"{len(integration_start_times)} integration start times for {nints} integrations")
    flag = np.uint8(persistence | (do_not_use if persistence_dnu else 0))
    sat_count = np.zeros((ny, nx), dtype=np.int64)
    use_threshold = dn_threshold is not None
    thr = float(dn_threshold) if use_threshold else 0.0
    for i in range(nints):
        current = float(integration_start_times[i])
        for g in range(ngroups):
            current += group_time
            _flag_windows_group(groupdq[i, g], data[i, g], persistence_array, sat_count, current,
                                float(persistence_time), use_threshold, thr, np.uint8(saturated), flag)
        sat_count[...] = 0
