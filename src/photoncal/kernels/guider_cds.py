"""guider_cds: count rates of FGS guider data by correlated double sampling.

Per the guider mode (seed 002, guider_cds; EXP_TYPE FGS_ID-IMAGE/FGS_ID-STACK,
FGS_ACQ1, FGS_ACQ2, FGS_TRACK, FGS_FINEGUIDE):

* ID: ``min(g2 - g1 of integration 1, g2 - g1 of integration 2) / tgroup``,
  one output plane;
* ACQ1, ACQ2, TRACK: ``(g2 - g1) / tgroup`` per integration;
* FineGuide: ``(mean of last 4 groups - mean of first 4) / tgroup`` per
  integration.

The uncertainty is the established pipeline's:
``var_rnoise = 2 (readnoise/tgroup)^2``,
``var_poisson = max(0, difference / (gain * tgroup))``,
``err = sqrt(var_rnoise + var_poisson)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GuiderRates", "guider_mode", "guider_cds"]


@dataclass
class GuiderRates:
    """Output of :func:`guider_cds`: float32 cubes (nout, ny, nx)."""

    data: np.ndarray
    err: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray


def guider_mode(exp_type: str) -> str:
    """Map EXP_TYPE to ``"ID"``, ``"FINEGUIDE"`` or ``"CDS"`` (ACQ1, ACQ2, TRACK)."""
    t = str(exp_type).upper()
    if t.startswith("FGS_ID"):
        return "ID"
    if t == "FGS_FINEGUIDE":
        return "FINEGUIDE"
    if t in ("FGS_ACQ1", "FGS_ACQ2", "FGS_TRACK"):
        return "CDS"
    raise ValueError(
        f"EXP_TYPE {exp_type!r} is not an FGS guiding mode; expected FGS_ID-IMAGE, FGS_ID-STACK, "
        "FGS_ACQ1, FGS_ACQ2, FGS_TRACK or FGS_FINEGUIDE"
    )


def guider_cds(data: np.ndarray, *, mode: str, group_time: float, gain: np.ndarray | float,
               readnoise: np.ndarray | float) -> GuiderRates:
    """Compute guider count rates.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        Raw guider ramp in DN.
    mode : str
        ``"ID"``, ``"CDS"`` or ``"FINEGUIDE"`` (see :func:`guider_mode`).
    group_time : float
        TGROUP in seconds.
    gain, readnoise : ndarray (ny, nx) or float
        GAIN (e-/DN) and READNOISE (DN) for the uncertainties.

    Returns
    -------
    GuiderRates
    """
    if data.ndim != 4:
        raise ValueError(f"guider_cds expects a 4-D ramp (nints, ngroups, ny, nx), got shape {data.shape}")
    if not group_time or group_time <= 0:
        raise ValueError(f"TGROUP must be positive, got {group_time}")
    nints, ngroups = data.shape[:2]
    tg = np.float32(group_time)
    gain = np.asarray(gain, dtype=np.float32)
    rn = np.asarray(readnoise, dtype=np.float32)
    var_rn_plane = (2 * (rn / tg) ** 2).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "ID":
            if nints < 2 or ngroups < 2:
                raise ValueError(f"FGS ID data need 2 integrations of 2 groups, got {nints} x {ngroups}")
            diff = np.minimum(data[1, 1] - data[1, 0], data[0, 1] - data[0, 0]).astype(np.float32)[None]
        elif mode == "CDS":
            if ngroups < 2:
                raise ValueError(f"FGS ACQ/TRACK data need 2 groups, got {ngroups}")
            diff = (data[:, 1] - data[:, 0]).astype(np.float32)
        elif mode == "FINEGUIDE":
            if ngroups < 4:
                raise ValueError(f"FGS FineGuide data need at least 4 groups, got {ngroups}")
            diff = (data[:, -4:].mean(axis=1) - data[:, :4].mean(axis=1)).astype(np.float32)
        else:
            raise ValueError(f"unknown guider mode {mode!r}; expected 'ID', 'CDS' or 'FINEGUIDE'")
        rate = (diff / tg).astype(np.float32)
        var_pn = (diff / (gain * tg)).astype(np.float32)
    var_pn[var_pn < 0] = 0.0
    var_rn = np.broadcast_to(var_rn_plane, rate.shape).astype(np.float32)
    err = np.sqrt(var_rn + var_pn).astype(np.float32)
    return GuiderRates(rate, err, var_pn, var_rn)
