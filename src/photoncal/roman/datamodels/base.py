"""The base class of the Roman data models: photoncal models stored as Roman ASDF files.

A Roman model is a :class:`photoncal.datamodels.DataModel` (the same
attribute tree, schema checks, lazy arrays) whose file is an ASDF document
with the whole content under a ``roman`` key carrying the model's tag
(``asdf://stsci.edu/datamodels/roman/tags/ramp-2.1.0``), the layout of the
Roman data models.  Saving fills every required metadata field the model
lacks with its schema default, so the files validate against roman_datamodels.

Arrays whose schema has ``file_datatype`` (the float16 errors and variances
of calibrated images) are float32 in memory and converted when written.

Simulated exposures keep ``meta.origin == "PHOTONCAL-SIM"`` in memory.  The
Roman schema only allows a few organisations as ``meta.origin``, so in the
file the marker is kept beside the ``roman`` tree (``photoncal: {origin:
PHOTONCAL-SIM}``) and ``meta.origin`` says ``STSCI/SOC``; reading restores it.
"""

from __future__ import annotations

import copy as _copy
import os

import numpy as np

from photoncal.datamodels.errors import DataModelError
from photoncal.datamodels.model_base import DataModel, _atomic_write, sniff_format
from photoncal.datamodels.node import LazyArray, LazyAsdfValue
from photoncal.datamodels.schema import datatype_to_dtype, is_array_schema

from .asdf_file import (
    ROMAN_TAG_PREFIX,
    BlockArray,
    CompressedBlockArray,
    DeferredAsdfValue,
    read_roman_asdf,
    write_roman_asdf,
)

__all__ = ["RomanDataModel", "fill_required"]

#: Values the Roman schema accepts for ``meta.origin`` of exposures.
_ROMAN_ORIGINS = ("STSCI", "STSCI/SOC", "IPAC/SSC")
#: photoncal's own metadata of Roman files, stored beside the ``roman`` tree:
#: ``subarray`` names the size of a small simulated detector (reference selection).
_PHOTONCAL_META = ("subarray",)


def _default_of(node):
    """The value a required field gets when missing (None: leave it out)."""
    if not isinstance(node, dict):
        return None
    if "default" in node:
        return _copy.deepcopy(node["default"])
    if node.get("type") == "object" or "properties" in node:
        return {}
    return None


def _allows_null(node):
    if not isinstance(node, dict):
        return False
    if node.get("type") == "null":
        return True
    return any(_allows_null(sub) for sub in node.get("anyOf", []) + node.get("oneOf", []))


def fill_required(schema: dict, tree: dict, shape_hint=None) -> dict:
    """Add every missing required field of ``schema`` to ``tree`` (in place).

    Objects are created and filled recursively; scalars get their schema
    ``default``; required arrays get an empty array of the right dtype and
    number of dimensions (``shape_hint`` gives 2-D image arrays the image
    shape instead).  Returns ``tree``.
    """
    if not isinstance(schema, dict) or not isinstance(tree, dict):
        return tree
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        sub = props.get(name)
        if tree.get(name) is None:
            if name in tree and _allows_null(sub):
                continue
            if is_array_schema(sub or {}):
                dtype = datatype_to_dtype(sub["datatype"])
                ndim = sub.get("ndim", 2)
                if shape_hint is not None and ndim == len(shape_hint) and sub.get("shape_check", True):
                    tree[name] = np.zeros(shape_hint, dtype=dtype)
                else:
                    tree[name] = np.zeros((0,) * ndim, dtype=dtype)
                continue
            value = _default_of(sub)
            if value is None:
                if _allows_null(sub):
                    tree[name] = None
                continue
            tree[name] = value
    for name, sub in props.items():
        value = tree.get(name)
        if isinstance(value, dict) and isinstance(sub, dict) and ("properties" in sub or "required" in sub):
            fill_required(sub, value)
    return tree


def _to_time(value):
    from astropy.time import Time

    if value is None or type(value).__name__ == "Time":
        return value
    try:
        return Time(str(value), scale="utc")
    except ValueError:
        return value


def _times(schema, tree):
    """Turn string values of time fields into astropy Time (for writing)."""
    if not isinstance(schema, dict) or not isinstance(tree, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if name not in tree or not isinstance(sub, dict):
            continue
        if str(sub.get("tag", "")).startswith("tag:stsci.edu:asdf/time/"):
            tree[name] = _to_time(tree[name])
        elif isinstance(tree[name], dict):
            _times(sub, tree[name])


class RomanDataModel(DataModel):
    """Base class of the Roman WFI models (ASDF files with a ``roman`` tree).

    Parameters are those of :class:`photoncal.datamodels.DataModel`; a path
    must be an ASDF file written by photoncal, roman_datamodels or romanisim.
    """

    schema_url = "image.schema.yaml"
    #: The Roman tag of the model's tree.
    tag: str = ""
    crds_observatory = "roman"

    # ------------------------------------------------------------ reading
    def _init_from_path(self, path):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise DataModelError(f"{path}: no such file")
        fmt = sniff_format(path)
        if fmt != "asdf":
            raise DataModelError(f"{path}: Roman data models are ASDF files; this is {fmt or 'not FITS or ASDF'}")
        object.__setattr__(self, "_source", path)
        self._read_parsed(read_roman_asdf(path))
        self._instance.setdefault("meta", {})["filename"] = os.path.basename(path)

    def _init_from_object(self, init):
        if hasattr(init, "read") and hasattr(init, "seek"):
            name = getattr(init, "name", None)
            object.__setattr__(self, "_source", name if isinstance(name, str) else "<file object>")
            self._read_parsed(read_roman_asdf(init, name=self._source))
            return
        if type(init).__module__.startswith("asdf") and hasattr(init, "tree"):
            tree = init.tree.get("roman")
            if tree is None:
                raise DataModelError("the AsdfFile has no 'roman' tree")
            from .asdf_file import _plain

            object.__setattr__(self, "_source", getattr(init, "uri", None) or "<AsdfFile>")
            instance = _plain(dict(tree) if not isinstance(tree, dict) else tree)
            object.__setattr__(self, "_instance", instance)
            return
        super()._init_from_object(init)

    def _read_parsed(self, parsed):
        memmap = self._memmap

        def lazy(node):
            if isinstance(node, (BlockArray, CompressedBlockArray)):
                def load(target=None, node=node):
                    return node.load(target, memmap=memmap)

                return LazyArray(node.shape, node.dtype, load, node.name, from_file=True, inplace=not memmap)
            if isinstance(node, DeferredAsdfValue):
                return LazyAsdfValue(node.document, node.path)
            if isinstance(node, dict):
                return {k: lazy(v) for k, v in node.items()}
            if isinstance(node, list):
                return [lazy(v) for v in node]
            return node

        instance = lazy(parsed.tree)
        marker = parsed.extra.get("photoncal")
        if isinstance(marker, dict):
            meta = instance.setdefault("meta", {})
            if marker.get("origin"):
                meta["origin"] = str(marker["origin"])
            for key in _PHOTONCAL_META:
                if isinstance(marker.get(key), dict):
                    meta[key] = dict(marker[key])
        if parsed.tag and self.tag and not parsed.tag.startswith(self.tag.rsplit("-", 1)[0] + "-"):
            kind = parsed.tag[len(ROMAN_TAG_PREFIX):] if parsed.tag.startswith(ROMAN_TAG_PREFIX) else parsed.tag
            raise DataModelError(
                f"{self._source}: holds a {kind} tree, not {self.tag[len(ROMAN_TAG_PREFIX):]} "
                f"({type(self).__name__}); open it with photoncal.roman.datamodels.open()"
            )
        object.__setattr__(self, "_instance", instance)
        object.__setattr__(self, "_file_tag", parsed.tag)

    # ------------------------------------------------------------ writing
    def on_save(self, path=None):
        from astropy.time import Time

        meta = self._instance.setdefault("meta", {})
        if isinstance(path, (str, os.PathLike)):
            meta["filename"] = os.path.basename(os.fspath(path))
        if "reftype" not in meta:
            meta["model_type"] = type(self).__name__
            meta["file_date"] = Time.now()

    def save(self, path, dir_path=None, *args, **kwargs):
        """Write the model to an ASDF file (atomically); returns the path."""
        fmt = kwargs.pop("format", None)
        if fmt not in (None, "asdf"):
            raise DataModelError(f"{type(self).__name__}: Roman data models are written as ASDF, not {fmt}")
        if isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith((".fits", ".fits.gz")):
            raise DataModelError(f"{path}: Roman data models are written as ASDF; use a .asdf name")
        return super().save(path, dir_path, *args, format="asdf", **kwargs)

    def to_fits(self, init, *args, **kwargs):
        raise DataModelError(f"{type(self).__name__}: Roman data models are written as ASDF files, not FITS")

    def tree_for_file(self) -> tuple[dict, dict]:
        """The ``roman`` tree to write (required fields filled) and the top-level extras."""
        self._load_all()
        tree = _copy.copy(self._instance)
        tree.pop("history", None)
        tree.pop("extra_fits", None)
        meta = _copy.deepcopy({k: v for k, v in tree.get("meta", {}).items() if k != "wcs"})
        if "wcs" in tree.get("meta", {}):
            meta["wcs"] = tree["meta"]["wcs"]
        tree["meta"] = meta
        shape = self._primary_shape()
        fill_required(self._schema, tree, shape_hint=shape if shape is not None and len(shape) == 2 else None)
        _times(self._schema.get("properties", {}).get("meta", {}), meta)
        # Arrays kept in float32 in memory and stored as the Roman layout has them (float16 errors).
        for name, node in self._schema.get("properties", {}).items():
            target = node.get("file_datatype") if isinstance(node, dict) else None
            if target and isinstance(tree.get(name), np.ndarray):
                tree[name] = tree[name].astype(datatype_to_dtype(target))
        extra = {}
        for key in _PHOTONCAL_META:
            if isinstance(meta.get(key), dict):
                extra.setdefault("photoncal", {})[key] = meta.pop(key)
        origin = meta.get("origin")
        meta_schema = self._schema.get("properties", {}).get("meta", {})
        if "reftype" not in meta_schema.get("properties", {}) and origin not in _ROMAN_ORIGINS:
            extra.setdefault("photoncal", {})["origin"] = str(origin)
            meta["origin"] = "STSCI/SOC"
        return tree, extra

    def to_asdf(self, init, *args, **kwargs):
        """Write the Roman ASDF file (atomically when ``init`` is a path)."""
        if not self.tag:
            raise DataModelError(f"{type(self).__name__} has no Roman tag and cannot be written")
        tree, extra = self.tree_for_file()
        if hasattr(init, "write"):
            write_roman_asdf(init, self.tag, tree, extra)
            return
        _atomic_write(os.fspath(init), lambda tmp: write_roman_asdf(tmp, self.tag, tree, extra))

    def get_crds_parameters(self):
        """Scalar metadata as CRDS wants it for Roman (``roman.meta.instrument.name`` ...)."""
        flat = {}
        for key, value in self.to_flat_dict(include_arrays=False).items():
            if isinstance(value, (str, int, float, bool)) and key.startswith("meta."):
                flat["roman." + key] = value
            elif type(value).__name__ == "Time" and key.startswith("meta."):
                flat["roman." + key] = value.isot
        return flat

    @property
    def shape(self):
        """Shape of the primary array."""
        return self._primary_shape()
