"""photoncal.resample: the drizzle-based resampling driver (seed 003, ``ResampleData``).

``ResampleData`` builds the output grid from its inputs' footprints, drizzles
each input with photoncal's own kernels (:mod:`photoncal.kernels.drizzle`)
and fills an ``ImageModel`` (SCI, ERR, WHT, CON, VAR_*) with the output
metadata.  Used by ``ResampleStep`` (calwebb_image2/image3) and by outlier
detection (``resample_many_to_many``).  See ``docs/stage2.md``.
"""

from __future__ import annotations

__all__ = ["ResampleData"]


def __getattr__(name):
    if name == "ResampleData":
        from .resample import ResampleData

        return ResampleData
    raise AttributeError(f"module 'photoncal.resample' has no attribute {name!r}")
