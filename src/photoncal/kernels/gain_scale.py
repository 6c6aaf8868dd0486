"""gain_scale: rescale count rates taken with a non-standard gain setting.

SCI and ERR are multiplied by GAINFACT, the variances by GAINFACT squared, as
the established pipeline does (the seed does not say multiply or divide).
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply_gain_factor"]


def apply_gain_factor(
    data: np.ndarray,
    err: np.ndarray | None = None,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
    *,
    gain_factor: float,
) -> None:
    """Scale the rate arrays by ``gain_factor`` in place.

    Parameters
    ----------
    data, err : ndarray
        SCI and ERR of a rate or rateints product (``err`` may be None).
    var_poisson, var_rnoise, var_flat : ndarray or None
        Variance arrays; scaled by ``gain_factor**2`` when present and non-empty.
    gain_factor : float
        GAINFACT.
    """
    factor = float(gain_factor)
    if not np.isfinite(factor):
        raise ValueError(f"GAINFACT must be a finite number, got {gain_factor}")
    data *= data.dtype.type(factor)
    if err is not None:
        err *= err.dtype.type(factor)
    for var in (var_poisson, var_rnoise, var_flat):
        if var is not None and np.size(var) > 0:
            var *= var.dtype.type(factor**2)
