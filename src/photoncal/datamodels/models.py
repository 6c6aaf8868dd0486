"""The science-data model classes."""

from __future__ import annotations

import numpy as np

from .model_base import DataModel
from .node import LazyArray
from .schema import datatype_to_dtype

__all__ = [
    "ImageModel",
    "CubeModel",
    "QuadModel",
    "RampModel",
    "MIRIRampModel",
    "Level1bModel",
    "RampFitOutputModel",
    "DrizProductModel",
    "MultiExposureModel",
    "GuiderRawModel",
    "GuiderCalModel",
    "TrapsFilledModel",
    "SegmentationMapModel",
]


class ImageModel(DataModel):
    """A 2-D image (rate, cal, i2d): ``data``, ``dq``, ``err``, variances, ``area``, ``wht``, ``con``."""

    schema_url = "image.schema.yaml"


class CubeModel(DataModel):
    """A 3-D cube (rateints, calints): ``data``, ``dq``, ``err`` of shape (nints, ny, nx)."""

    schema_url = "cube.schema.yaml"


class QuadModel(DataModel):
    """A 4-D array with ``data``, ``dq``, ``err``."""

    schema_url = "quad.schema.yaml"


class _RampBase(DataModel):
    #: Arrays a ramp always carries (created, zero-filled, on first access).
    _ramp_arrays = ("pixeldq", "groupdq", "err")

    def on_init(self, init):
        super().on_init(init)
        if self._primary_shape() is None:
            return
        for name in self._ramp_arrays:
            if self._instance.get(name) is None:
                node = self._index.node((name,))
                shape = self._default_shape(name, node)
                dtype = datatype_to_dtype(node["datatype"])
                fill = node.get("default", 0)
                self._instance[name] = LazyArray(
                    shape, dtype, (lambda _target=None, s=shape, d=dtype, f=fill: np.full(s, f, dtype=d)),
                    f"new {name}", from_file=False,
                )


class RampModel(_RampBase):
    """A 4-D ramp (nints, ngroups, ny, nx) in float32 with PIXELDQ, GROUPDQ and ERR.

    Opening a raw ``_uncal`` file (uint16 SCI) converts the data to float32
    on first access; PIXELDQ, GROUPDQ and ERR exist from the start (zeros,
    allocated on first access).  GROUP, INT_TIMES and ZEROFRAME are kept.
    """

    schema_url = "ramp.schema.yaml"


class MIRIRampModel(RampModel):
    """A MIRI ramp: a :class:`RampModel` that also carries the reference output (REFOUT)."""

    schema_url = "miriramp.schema.yaml"


class Level1bModel(DataModel):
    """A raw level-1b exposure (``_uncal``): uint16 SCI, optional ZEROFRAME, REFOUT, GROUP, INT_TIMES.

    Saving writes the genuine archive layout (header-only primary, SCI as
    int16 with BZERO=32768, the optional extensions, the ASDF extension).
    """

    schema_url = "level1b.schema.yaml"


class RampFitOutputModel(DataModel):
    """Optional per-segment output of ramp fitting; arrays are (n_int, max_seg, ny, nx)."""

    schema_url = "rampfitoutput.schema.yaml"

    def get_primary_array_name(self):
        return "slope"


class DrizProductModel(DataModel):
    """A drizzled product: ``data``, ``con`` (context), ``wht`` (weight), ``hdrtab``."""

    schema_url = "drizproduct.schema.yaml"


class MultiExposureModel(DataModel):
    """Slits of one source taken from several exposures.

    ``model.exposures`` behaves like a list; each entry has ``data``, ``dq``,
    ``err``, ``area`` and the ``meta`` of its exposure.  Appending a model
    stores (and shares) its content.  In FITS, entry *i* is stored in
    extensions ``SCI``, ``DQ``, ... with EXTVER *i* + 1.
    """

    schema_url = "multiexposure.schema.yaml"

    def get_primary_array_name(self):
        return "exposures"


class GuiderRawModel(DataModel):
    """FGS guider input: ``data`` and ``err`` 4-D, ``dq`` 2-D and the guider tables."""

    schema_url = "guider_raw.schema.yaml"


class GuiderCalModel(DataModel):
    """FGS guider output: ``data`` and ``err`` 3-D, ``dq`` 2-D and the guider tables."""

    schema_url = "guider_cal.schema.yaml"


class TrapsFilledModel(DataModel):
    """Number of traps filled (persistence), one plane per trap family."""

    schema_url = "trapsfilled.schema.yaml"


class SegmentationMapModel(DataModel):
    """The segmentation map of a source catalog (``_segm``): ``data``, uint32 source labels."""

    schema_url = "segmap.schema.yaml"
