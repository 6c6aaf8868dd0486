"""Roman WFI data models: photoncal models stored as Roman ASDF files.

>>> from photoncal.roman import datamodels as rdm
>>> with rdm.open("r0008308002010007027_0019_wfi01_uncal.asdf") as ramp:   # doctest: +SKIP
...     type(ramp).__name__, ramp.data.dtype          # ('RampModel', dtype('float32'))

``open()`` picks the class from the file's Roman tag.  A raw exposure
(``ScienceRawModel``, uint16) is converted on opening to a ``RampModel``
(float32 resultants, ``pixeldq`` and ``groupdq`` created) unless
``convert_raw=False``.  The classes, their attribute names and dtypes are
those of roman_datamodels, so files go both ways.
"""

from __future__ import annotations

import json
import os

from photoncal.datamodels.errors import DataModelError

from .base import RomanDataModel, fill_required
from .models import (
    MODEL_FOR_TAG,
    REFERENCE_MODELS,
    DarkRefModel,
    DistortionRefModel,
    FlatRefModel,
    GainRefModel,
    ImageModel,
    InverselinearityRefModel,
    LinearityRefModel,
    MaskRefModel,
    PixelareaRefModel,
    RampModel,
    ReadnoiseRefModel,
    RefpixRefModel,
    SaturationRefModel,
    ScienceRawModel,
    SegmentationMapModel,
    WfiImgPhotomRefModel,
    WfiWcsModel,
)

__all__ = [
    "open", "raw_to_ramp", "RomanModelList", "association_members", "RomanDataModel", "fill_required",
    "ScienceRawModel", "RampModel", "ImageModel", "WfiWcsModel", "SegmentationMapModel", "MaskRefModel",
    "SaturationRefModel", "RefpixRefModel", "LinearityRefModel", "InverselinearityRefModel", "DarkRefModel",
    "GainRefModel", "ReadnoiseRefModel", "FlatRefModel", "WfiImgPhotomRefModel", "DistortionRefModel",
    "PixelareaRefModel", "MODEL_FOR_TAG", "REFERENCE_MODELS",
]

_TAG_PREFIX = "asdf://stsci.edu/datamodels/roman/tags/"


class RomanModelList(list):
    """The exposures of an association (or a list), in order; ``asn_table`` is the association."""

    def __init__(self, models=(), asn_table=None, asn_path=None):
        super().__init__(models)
        self.asn_table = asn_table
        self.asn_path = asn_path

    def close(self):
        for model in self:
            if hasattr(model, "close"):
                model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def association_members(path) -> list[str]:
    """The exposure paths of an association file (``products[*].members[*].expname``).

    Names are resolved in the association's directory; a member that does not
    exist is an error naming it.
    """
    path = os.fspath(path)
    try:
        with open_text(path) as handle:
            asn = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DataModelError(f"{path}: cannot read the association: {exc}") from exc
    base = os.path.dirname(os.path.abspath(path))
    members = []
    try:
        for product in asn["products"]:
            for member in product["members"]:
                if str(member.get("exptype", "science")).lower() != "science":
                    continue
                name = member["expname"]
                full = name if os.path.isabs(name) else os.path.join(base, name)
                if not os.path.exists(full):
                    raise DataModelError(f"{path}: member {name!r} does not exist ({full})")
                members.append(full)
    except (KeyError, TypeError) as exc:
        raise DataModelError(f"{path}: not an association (products[].members[].expname expected)") from exc
    if not members:
        raise DataModelError(f"{path}: the association lists no science members")
    return members


def open_text(path):
    import builtins

    return builtins.open(path, encoding="utf-8")


def raw_to_ramp(raw: ScienceRawModel) -> RampModel:
    """A RampModel of a raw exposure: float32 resultants, zero ``pixeldq``/``groupdq``
    (the raw ``resultantdq`` when present), ``amp33`` and metadata kept.

    The float32 ramp is made plane by plane from the file (no uint16 copy of
    the whole cube in memory).
    """
    import numpy as np

    from photoncal.datamodels.node import LazyArray

    ramp = RampModel()
    instance = dict(raw._instance)
    data = instance.pop("data", None)
    resultantdq = instance.pop("resultantdq", None)
    meta = instance.get("meta", {})
    cal_step = meta.get("cal_step") or {}
    meta["cal_step"] = {k: cal_step.get(k, "INCOMPLETE") for k in
                        ramp._schema["properties"]["meta"]["properties"]["cal_step"]["properties"]}
    meta["model_type"] = "RampModel"
    object.__setattr__(ramp, "_instance", instance)
    object.__setattr__(ramp, "_source", raw._source)
    object.__setattr__(ramp, "_borrowed", list(raw._files))
    if data is not None:
        instance["data"] = data  # a LazyArray: converted to float32 when first used
        shape = tuple(data.shape)
        if resultantdq is not None:
            instance["groupdq"] = resultantdq
        else:
            instance["groupdq"] = LazyArray(shape, np.dtype(np.uint8),
                                            lambda _t=None, s=shape: np.zeros(s, np.uint8), "new groupdq",
                                            from_file=False)
        instance["pixeldq"] = LazyArray(shape[1:], np.dtype(np.uint32),
                                        lambda _t=None, s=shape[1:]: np.zeros(s, np.uint32), "new pixeldq",
                                        from_file=False)
    return ramp


def _model_class(tag, name):
    if not tag or not tag.startswith(_TAG_PREFIX):
        raise DataModelError(f"{name}: no Roman tag on the 'roman' tree ({tag!r})")
    kind = tag[len(_TAG_PREFIX):].rsplit("-", 1)[0]
    cls = MODEL_FOR_TAG.get(kind)
    if cls is None:
        raise DataModelError(
            f"{name}: Roman {kind!r} files are not supported by photoncal; known: {', '.join(sorted(MODEL_FOR_TAG))}"
        )
    return cls


def open(init, memmap=False, convert_raw=True, **kwargs):  # noqa: A001 - the established name
    """Open a Roman file, association or model.

    Parameters
    ----------
    init : str, path, file object, model, or list
        An ASDF file (its Roman tag picks the class), an association
        (``.json``: a :class:`RomanModelList` of its science members), a
        Roman model (returned as a new view of the same class) or a list of
        any of these.
    memmap : bool
        Memory-map arrays stored in their final dtype instead of reading them.
    convert_raw : bool
        Return a raw exposure as a :class:`RampModel` (default, as the
        Roman pipeline does on loading) rather than a :class:`ScienceRawModel`.
    """
    if isinstance(init, RomanDataModel):
        return type(init)(init)
    if isinstance(init, (list, tuple)):
        return RomanModelList([open(m, memmap=memmap, convert_raw=convert_raw, **kwargs) for m in init])
    if isinstance(init, (str, os.PathLike)):
        path = os.fspath(init)
        if path.lower().endswith(".json"):
            with open_text(path) as handle:
                table = json.load(handle)
            members = association_members(path)
            return RomanModelList([open(m, memmap=memmap, convert_raw=convert_raw, **kwargs) for m in members],
                                  asn_table=table, asn_path=path)
        if not os.path.exists(path):
            raise DataModelError(f"{path}: no such file")
    from .asdf_file import read_roman_asdf

    name = os.fspath(init) if isinstance(init, (str, os.PathLike)) else getattr(init, "name", "<file object>")
    parsed = read_roman_asdf(init, name=str(name))
    cls = _model_class(parsed.tag, name)
    model = cls(None, memmap=memmap, **kwargs)
    object.__setattr__(model, "_source", str(name))
    model._read_parsed(parsed)
    if isinstance(init, (str, os.PathLike)):
        model._instance.setdefault("meta", {})["filename"] = os.path.basename(os.fspath(init))
    if convert_raw and isinstance(model, ScienceRawModel):
        return raw_to_ramp(model)
    return model
