"""Helpers shared by the stage-2 imaging steps (flat_field, photom, resample, ...)."""

from __future__ import annotations

import numpy as np

__all__ = ["has_array", "match_nans_and_flags", "VARIANCE_ARRAYS"]

#: The variance arrays of a rate/cal product, in the established order.
VARIANCE_ARRAYS = ("var_poisson", "var_rnoise", "var_flat")


def has_array(model, name: str) -> bool:
    """Whether ``model`` holds array ``name`` (read or not), without creating it.

    Data models create a missing array (filled with its default) on first
    access; this checks first.
    """
    return name in model.keys()


def match_nans_and_flags(model, do_not_use=None):
    """Make NaN values and DO_NOT_USE flags agree, in place (the NaN contract).

    A pixel that is NaN in SCI, ERR or a variance array, or flagged
    DO_NOT_USE, becomes NaN in all of them and DO_NOT_USE in DQ.  Arrays the
    model does not hold are not created; arrays whose shape differs from
    SCI are left alone.

    Parameters
    ----------
    model : ImageModel or CubeModel
        Updated in place.
    do_not_use : int, optional
        The DO_NOT_USE flag value (default: the master table's).
    """
    if do_not_use is None:
        from photoncal.dqflags import pixel

        do_not_use = pixel["DO_NOT_USE"]
    names = [n for n in ("data", "err") + VARIANCE_ARRAYS if has_array(model, n)]
    if not names:
        return
    shape = model.data.shape
    arrays = [getattr(model, n) for n in names]
    arrays = [a for a in arrays if a is not None and a.shape == shape]
    invalid = np.zeros(shape, dtype=bool)
    for arr in arrays:
        invalid |= np.isnan(arr)
    if has_array(model, "dq") and model.dq.shape == shape:
        dq = model.dq
        invalid |= (dq & np.uint32(do_not_use)) != 0
        dq[invalid] |= np.uint32(do_not_use)
    if invalid.any():
        for arr in arrays:
            arr[invalid] = np.nan
