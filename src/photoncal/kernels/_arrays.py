"""Argument checks shared by the detector kernels.

numba kernels need native byte order, and in-place kernels need arrays they
can write.  FITS data arrive big-endian unless converted, so reference inputs
are converted here (a copy only when needed) and in-place arguments are
checked with a message that says what to pass instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["native", "require_inplace"]


def native(array) -> np.ndarray:
    """``array`` as a native-byte-order ndarray (no copy when it already is)."""
    a = np.asarray(array)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def require_inplace(array: np.ndarray, name: str) -> np.ndarray:
    """Check that ``array`` can be corrected in place by a numba kernel."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array to be corrected in place, got {type(array).__name__}")
    if not array.dtype.isnative:
        raise ValueError(
            f"{name} has non-native byte order ({array.dtype.str}); convert it with "
            f"array.astype(array.dtype.newbyteorder('=')) before correcting it in place"
        )
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writeable copy")
    return array
