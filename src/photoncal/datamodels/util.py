"""``datamodels.open()`` and the choice of model class for a file.

Class selection, in order:

1. the ``DATAMODL`` keyword (or ``meta.model_type`` of an ASDF file) when it
   names a known class.  ``Level1bModel`` and ``RampModel`` open as
   :class:`RampModel` (:class:`MIRIRampModel` when ``INSTRUME = 'MIRI'``):
   a raw exposure is read as a float32 ramp ready for calibration.  Names of
   the established pipeline's classes map to ours (``NrcImgPhotomModel`` ->
   ``NircamPhotomModel``, ...).  An unknown name warns (raises with
   ``strict_validation``) and the class is guessed;
2. ``REFTYPE``: the reference model of that type (by instrument for PHOTOM
   and DARK), else a generic reference model by the SCI dimensionality;
3. the SCI extension: 4-D without a DQ extension -> RampModel (MIRI:
   MIRIRampModel), 4-D with DQ -> QuadModel, 3-D -> CubeModel,
   2-D -> ImageModel; no SCI -> DataModel.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .errors import DataModelError, NoTypeWarning
from .model_base import DataModel, env_flag, sniff_format

__all__ = ["open", "class_for_name", "guess_class", "is_association", "registry"]

_ALIASES = {
    "JwstDataModel": "DataModel",
    "NrcImgPhotomModel": "NircamPhotomModel",
    "NisImgPhotomModel": "NirissPhotomModel",
    "FgsImgPhotomModel": "FgsPhotomModel",
    "MirImgPhotomModel": "MiriImgPhotomModel",
}

_REFTYPES = {
    "MASK": "MaskModel",
    "SATURATION": "SaturationModel",
    "SUPERBIAS": "SuperBiasModel",
    "LINEARITY": "LinearityModel",
    "DARK": "DarkModel",
    "GAIN": "GainModel",
    "READNOISE": "ReadnoiseModel",
    "IPC": "IPCModel",
    "RESET": "ResetModel",
    "RSCD": "RSCDModel",
    "LASTFRAME": "LastFrameModel",
    "FLAT": "FlatModel",
    "AREA": "PixelAreaModel",
    "PHOTOM": "PhotomModel",
    "DRIZPARS": "DrizParsModel",
    "TRAPDENSITY": "TrapDensityModel",
    "TRAPPARS": "TrapParsModel",
    "PERSAT": "PersistenceSatModel",
    "DISTORTION": "DistortionModel",
    "FILTEROFFSET": "FilteroffsetModel",
    "APCORR": "ApcorrModel",
    "ABVEGAOFFSET": "ABVegaOffsetModel",
}

_APCORR_BY_INSTRUMENT = {
    "NIRCAM": "NrcImgApcorrModel",
    "NIRISS": "NisImgApcorrModel",
    "FGS": "FgsImgApcorrModel",
    "MIRI": "MirImgApcorrModel",
}

_PHOTOM_BY_INSTRUMENT = {
    "NIRCAM": "NircamPhotomModel",
    "NIRISS": "NirissPhotomModel",
    "FGS": "FgsPhotomModel",
    "MIRI": "MiriImgPhotomModel",
}


def registry() -> dict:
    """Name -> class of every model photoncal defines."""
    from . import models, reference
    from .container import ModelContainer

    out = {"DataModel": DataModel, "ModelContainer": ModelContainer}
    for module in (models, reference):
        for name in module.__all__:
            out[name] = getattr(module, name)
    return out


def class_for_name(name):
    """The model class called ``name`` (or its established-pipeline alias); ``None`` if unknown."""
    if not name:
        return None
    name = str(name).strip()
    reg = registry()
    return reg.get(name) or reg.get(_ALIASES.get(name, ""))


def _ramp_class(instrument):
    from .models import MIRIRampModel, RampModel

    return MIRIRampModel if str(instrument or "").upper() == "MIRI" else RampModel


def guess_class(header, sci_shape, has_dq, has_sci2=False, model_type=None, name="input", strict=False):
    """Choose a model class from the primary header and the SCI extension (see module docs)."""
    from . import models, reference

    instrument = header.get("INSTRUME")
    model_type = header.get("DATAMODL", model_type)
    if model_type:
        cls = class_for_name(model_type)
        if cls is not None:
            if cls in (models.Level1bModel, models.RampModel):
                return _ramp_class(instrument)
            return cls
        message = f"{name}: DATAMODL = {model_type!r} is not a photoncal model class"
        if strict:
            raise DataModelError(message + " (strict_validation)")
    reftype = str(header.get("REFTYPE") or "").strip().upper()
    ndim = len(sci_shape) if sci_shape is not None else 0
    cls = None
    if reftype:
        cname = _REFTYPES.get(reftype)
        if reftype == "PHOTOM":
            cname = _PHOTOM_BY_INSTRUMENT.get(str(instrument or "").upper(), cname)
        if reftype == "APCORR":
            cname = _APCORR_BY_INSTRUMENT.get(str(instrument or "").upper(), cname)
        if reftype == "DARK" and str(instrument or "").upper() == "MIRI" and ndim == 4:
            cname = "DarkMIRIModel"
        if cname:
            cls = registry()[cname]
        else:
            cls = {0: reference.ReferenceFileModel, 2: reference.ReferenceImageModel,
                   3: reference.ReferenceCubeModel, 4: reference.ReferenceQuadModel}.get(ndim, reference.ReferenceFileModel)
    elif ndim == 4:
        cls = models.QuadModel if has_dq else _ramp_class(instrument)
    elif ndim == 3:
        cls = models.CubeModel
    elif ndim == 2:
        cls = models.ImageModel
    else:
        cls = DataModel
    if model_type:
        warnings.warn(f"{name}: DATAMODL = {model_type!r} is not a photoncal model class; "
                      f"opening as {cls.__name__}", NoTypeWarning, stacklevel=3)
    else:
        warnings.warn(f"{name}: no DATAMODL keyword; opening as {cls.__name__}", NoTypeWarning, stacklevel=3)
    return cls


def is_association(data) -> bool:
    """True for a dict shaped like a JWST association (``asn_rule``/``products``)."""
    return isinstance(data, dict) and "products" in data and ("asn_id" in data or "asn_rule" in data or "asn_type" in data)


def _class_for_fits(path_or_file, name, strict, hdulist=None):
    from .fits_io import ASDF_EXTNAME, open_hdulist

    keep_open = hdulist is not None
    if hdulist is None:
        hdulist = open_hdulist(path_or_file, memmap=True)
    try:
        header = hdulist[0].header
        names = [(h.name.upper(), int(h.header.get("EXTVER", 1))) for h in hdulist[1:]]
        sci_shape = None
        if ("SCI", 1) in names:
            sci = hdulist[("SCI", 1)]
            naxis = int(sci.header.get("NAXIS", 0))
            sci_shape = tuple(int(sci.header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))
        has_dq = any(n == "DQ" for n, _v in names)
        model_type = None
        if "DATAMODL" not in header and any(n == ASDF_EXTNAME for n, _v in names):
            from .asdf_io import model_type_from_asdf_bytes

            try:
                raw = np.asarray(hdulist[ASDF_EXTNAME].data["ASDF_METADATA"][0]).tobytes()
            except Exception:
                raw = b""
            model_type = model_type_from_asdf_bytes(raw)
        return guess_class(header, sci_shape, has_dq, ("SCI", 2) in names, model_type, name, strict)
    finally:
        if not keep_open:
            hdulist.close()
            if hasattr(path_or_file, "seek"):
                path_or_file.seek(0)


def _class_for_asdf(init, name, strict):
    import asdf

    try:
        with asdf.open(init, lazy_load=True) as af:
            meta = af.tree.get("meta", {}) or {}
            model_type = meta.get("model_type")
            header = {"DATAMODL": model_type, "REFTYPE": meta.get("reftype"),
                      "INSTRUME": (meta.get("instrument") or {}).get("name")}
            data = af.tree.get("data")
            shape = tuple(getattr(data, "shape", ())) if data is not None else None
    except Exception as exc:
        raise DataModelError(f"{name}: cannot read as ASDF: {exc}") from exc
    finally:
        if hasattr(init, "seek"):
            init.seek(0)
    if not model_type:
        header.pop("DATAMODL")
    return guess_class(header, shape, False, False, None, name, strict)


def open(init=None, memmap=False, **kwargs):  # noqa: A001 - the established name
    """Open a data model of the right class.

    Parameters
    ----------
    init : path, file object, HDUList, AsdfFile, model, association, list, dict, shape or array
        - a FITS or ASDF path or file object: the class is chosen from the
          file (see the module documentation);
        - an association JSON path, an association dict or a list of
          models/paths: a :class:`ModelContainer`;
        - a model: a new model of its class sharing its content;
        - a shape tuple or array: ImageModel (2-D), CubeModel (3-D),
          QuadModel (4-D);
        - ``None``: an empty :class:`DataModel`.
    memmap : bool
        Memory-map FITS arrays (see :class:`DataModel`).
    **kwargs
        Passed to the model constructor (``strict_validation``, ...).

    Returns
    -------
    DataModel or ModelContainer
    """
    from . import models
    from .container import ModelContainer

    strict = env_flag(kwargs.get("strict_validation"), "STRICT_VALIDATION")
    if init is None:
        return DataModel(None, **kwargs)
    if isinstance(init, (DataModel, ModelContainer)):
        return init.__class__(init, **kwargs) if isinstance(init, DataModel) else init
    if isinstance(init, (tuple, np.ndarray)):
        ndim = len(init) if isinstance(init, tuple) else init.ndim
        cls = {2: models.ImageModel, 3: models.CubeModel, 4: models.QuadModel}.get(ndim, DataModel)
        return cls(init, **kwargs)
    if isinstance(init, list):
        return ModelContainer(init, **kwargs)
    if isinstance(init, dict):
        if is_association(init):
            return ModelContainer(init, **kwargs)
        return DataModel(init, **kwargs)
    if isinstance(init, (str, os.PathLike)):
        path = os.fspath(init)
        if not os.path.exists(path):
            raise DataModelError(f"{path}: no such file")
        fmt = sniff_format(path)
        if fmt == "json":
            return ModelContainer(path, **kwargs)
        if fmt == "fits":
            from .fits_io import OpenedFits, open_hdulist

            hdulist = open_hdulist(path, memmap=memmap)
            try:
                cls = _class_for_fits(path, path, strict, hdulist=hdulist)
                return cls(OpenedFits(path, hdulist), memmap=memmap, **kwargs)
            except BaseException:
                hdulist.close()
                raise
        if fmt == "asdf":
            cls = _class_for_asdf(path, path, strict)
        else:
            raise DataModelError(f"{path}: not a FITS, ASDF or association file")
        return cls(path, memmap=memmap, **kwargs)
    if type(init).__name__ == "HDUList":
        name = "<HDUList>"
        header = init[0].header
        names = [h.name.upper() for h in init[1:]]
        sci_shape = init["SCI"].shape if "SCI" in names else None
        cls = guess_class(header, sci_shape, "DQ" in names, False, None, name, strict)
        return cls(init, memmap=memmap, **kwargs)
    if hasattr(init, "tree") and type(init).__module__.startswith("asdf"):
        meta = init.tree.get("meta", {}) or {}
        cls = class_for_name(meta.get("model_type")) or DataModel
        return cls(init, **kwargs)
    if hasattr(init, "read") and hasattr(init, "seek"):
        fmt = sniff_format(init)
        name = getattr(init, "name", "<file object>")
        if fmt == "fits":
            from .fits_io import OpenedFits, open_hdulist

            hdulist = open_hdulist(init, memmap=memmap)
            cls = _class_for_fits(init, name, strict, hdulist=hdulist)
            return cls(OpenedFits(None, hdulist, name), memmap=memmap, **kwargs)
        elif fmt == "asdf":
            cls = _class_for_asdf(init, name, strict)
        elif fmt == "json":
            return ModelContainer(json.load(init), **kwargs)
        else:
            raise DataModelError(f"{name}: not a FITS or ASDF stream")
        return cls(init, memmap=memmap, **kwargs)
    raise TypeError(f"datamodels.open() cannot open a {type(init).__name__}")
