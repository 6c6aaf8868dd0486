"""Process-wide locations and markers shared by every layer.

Imports nothing of photoncal, like :mod:`photoncal.dqflags`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Value of ``meta.origin`` (FITS ``ORIGIN``) on every file photoncal.sim writes.
#: The default simulated reference set is only ever used for such exposures.
SIMULATED_ORIGIN = "PHOTONCAL-SIM"


def cache_dir() -> Path:
    """Return photoncal's cache directory (``$PHOTONCAL_CACHE``, else ``~/.cache/photoncal``)."""
    env = os.environ.get("PHOTONCAL_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "photoncal"


def default_reference_dir() -> Path:
    """Return the directory of the default (simulated) reference files.

    ``photoncal.sim`` writes it; reference selection consults it last, and only
    for exposures whose ``meta.origin`` is :data:`SIMULATED_ORIGIN`.
    """
    return cache_dir() / "references"
