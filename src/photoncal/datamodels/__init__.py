"""photoncal.datamodels: schema-driven data models with FITS and ASDF I/O.

``from photoncal import datamodels`` is cheap: the model classes, ``open``
and the FITS/ASDF machinery (astropy, asdf, gwcs) are imported on first use.

>>> from photoncal import datamodels
>>> with datamodels.open("jw01234001001_01101_00001_nrca1_uncal.fits") as ramp:  # doctest: +SKIP
...     print(type(ramp).__name__, ramp.data.dtype, ramp.meta.exposure.ngroups)
RampModel float32 10
"""

from __future__ import annotations

import importlib

from .errors import (
    AssociationError,
    DataModelError,
    NoTypeWarning,
    SubarrayError,
    ValidationError,
    ValidationWarning,
)

_LAZY = {
    "DataModel": "model_base",
    "open": "util",
    "registry": "util",
    "class_for_name": "util",
    "is_association": "util",
    "ModelContainer": "container",
    "subarray": None,
    "schema": None,
    "fits_io": None,
    "asdf_io": None,
}

_MODEL_MODULES = {
    "models": [
        "ImageModel", "CubeModel", "QuadModel", "RampModel", "MIRIRampModel", "Level1bModel",
        "RampFitOutputModel", "DrizProductModel", "MultiExposureModel", "GuiderRawModel",
        "GuiderCalModel", "TrapsFilledModel", "SegmentationMapModel",
    ],
    "reference": [
        "ReferenceFileModel", "ReferenceImageModel", "ReferenceCubeModel", "ReferenceQuadModel",
        "MaskModel", "SaturationModel", "SuperBiasModel", "LinearityModel", "DarkModel",
        "DarkMIRIModel", "GainModel", "ReadnoiseModel", "IPCModel", "ResetModel", "RSCDModel",
        "LastFrameModel", "FlatModel", "PixelAreaModel", "PhotomModel", "NircamPhotomModel",
        "NirissPhotomModel", "FgsPhotomModel", "MiriImgPhotomModel", "DrizParsModel",
        "NircamDrizParsModel", "MiriImgDrizParsModel", "TrapDensityModel", "TrapParsModel",
        "PersistenceSatModel", "DistortionModel", "FilteroffsetModel", "ApcorrModel",
        "NrcImgApcorrModel", "NisImgApcorrModel", "MirImgApcorrModel", "FgsImgApcorrModel",
        "ABVegaOffsetModel",
    ],
}
for _module, _names in _MODEL_MODULES.items():
    for _name in _names:
        _LAZY[_name] = _module

__all__ = sorted(
    [k for k in _LAZY if k not in ("schema", "fits_io", "asdf_io")]
    + ["AssociationError", "DataModelError", "NoTypeWarning", "SubarrayError", "ValidationError",
       "ValidationWarning"]
)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'photoncal.datamodels' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
