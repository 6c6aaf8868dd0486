"""The :class:`DataModel` base class.

A model holds one nested dictionary (the *instance*): ``meta`` (the metadata
tree), the arrays and tables (``data``, ``dq``, ``phot_table``, ...),
``history`` and ``extra_fits`` (FITS keywords and extensions the schema does
not know, kept so they are written back).  The schema says which FITS
keyword or extension each element lives in; :mod:`.fits_io` and
:mod:`.asdf_io` translate.  Arrays read from a file stay on disk until first
accessed.
"""

from __future__ import annotations

import copy as _copy
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from photoncal.fileio import atomic_write

from . import schema as _schema
from .errors import DataModelError, ValidationError, ValidationWarning
from .node import LazyArray, LazyAsdfValue, ListNode, ObjectNode, is_object_schema, unwrap
from .schema import is_array_schema, is_table_schema, schema_index
from .validate import convert_array, convert_table, convert_value

__all__ = ["DataModel", "env_flag"]


_TRUE = {"1", "true", "yes", "on", "t", "y"}


def env_flag(value, name: str) -> bool:
    """Resolve a tri-state switch: ``None`` reads environment variable ``name``."""
    if value is not None:
        return bool(value)
    return os.environ.get(name, "").strip().lower() in _TRUE


def _flatten(tree, prefix, include_arrays, ctx, out=None):
    if out is None:
        out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, LazyAsdfValue):
            value = value.load()
        if isinstance(value, dict):
            _flatten(value, name + ".", include_arrays, ctx, out)
        elif isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
            _flatten({str(i): v for i, v in enumerate(value)}, name + ".", include_arrays, ctx, out)
        elif isinstance(value, (np.ndarray, LazyArray)):
            if include_arrays:
                if isinstance(value, LazyArray) and ctx is not None:
                    value = ctx[name]
                out[name] = value
        elif value is not None:
            out[name] = value
    return out


def _format_of(path: str) -> str | None:
    lower = str(path).lower()
    for ext in (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.bz2"):
        if lower.endswith(ext):
            return "fits"
    if lower.endswith(".asdf"):
        return "asdf"
    if lower.endswith(".json"):
        return "json"
    return None


def sniff_format(init) -> str | None:
    """Return ``'fits'``, ``'asdf'`` or ``'json'`` for a path or binary file object."""
    if isinstance(init, (str, os.PathLike)):
        fmt = _format_of(os.fspath(init))
        if fmt is not None:
            return fmt
        try:
            with open(init, "rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise DataModelError(f"cannot open {init}: {exc}") from exc
    else:
        pos = init.tell()
        head = init.read(8)
        init.seek(pos)
    if isinstance(head, str):
        head = head.encode("ascii", "replace")
    if head.startswith(b"SIMPLE"):
        return "fits"
    if head.startswith(b"#ASDF"):
        return "asdf"
    if head.lstrip().startswith(b"{"):
        return "json"
    if head.startswith(b"\x1f\x8b"):
        return "fits"
    return None


class HistoryList(list):
    """``model.history``: an ordered list of strings, stored as FITS HISTORY cards."""

    __slots__ = ()


class _ExtraFitsView:
    """``model._extra_fits.<HDU>.<KEY>``: keywords and extensions the schema does not know."""

    __slots__ = ("_store", "_hdu")

    def __init__(self, store, hdu=None):
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_hdu", hdu)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "_instance":
            if self._hdu is None:
                return {h: _ExtraFitsView(self._store, h)._instance for h in self._store}
            part = self._store.get(self._hdu, {})
            out = {k: v for k, v, _c in part.get("header", [])}
            if "data" in part:
                out["data"] = part["data"]
            return out
        if self._hdu is None:
            self._store.setdefault(name, {})
            return _ExtraFitsView(self._store, name)
        for key, value, _c in self._store.get(self._hdu, {}).get("header", []):
            if key == name:
                return value
        if name == "data" and "data" in self._store.get(self._hdu, {}):
            return self._store[self._hdu]["data"]
        raise AttributeError(f"_extra_fits.{self._hdu} has no keyword {name!r}")

    def __setattr__(self, name, value):
        if self._hdu is None:
            raise AttributeError("assign keywords as _extra_fits.<HDU>.<KEYWORD> = value")
        part = self._store.setdefault(self._hdu, {})
        if name == "data":
            part["data"] = value
            return
        cards = part.setdefault("header", [])
        for card in cards:
            if card[0] == name:
                card[1] = value
                return
        cards.append([name, value, ""])

    def __dir__(self):
        if self._hdu is None:
            return list(self._store)
        return [c[0] for c in self._store.get(self._hdu, {}).get("header", [])]


class DataModel:
    """Base class of all data models.

    Parameters
    ----------
    init : None, tuple, str or path, file object, HDUList, AsdfFile, ndarray, dict or DataModel
        - ``None``: an empty model;
        - a shape tuple: the primary array of that shape, allocated (filled
          with the schema default) on first access;
        - a FITS or ASDF path or a readable binary file object;
        - an ``astropy.io.fits.HDUList`` or an ``asdf.AsdfFile``;
        - an array: the primary array;
        - a dict: the instance tree;
        - another model: a new view of the same content (arrays and
          metadata are shared; closing this one does not close the other's
          files).
    schema : dict or str, optional
        A schema tree or the name of a schema file; default: the class's.
    extensions : object, optional
        Accepted for compatibility (ASDF extensions are found through the
        installed ``asdf`` entry points).
    pass_invalid_values : bool or None
        Keep values that fail validation (with a warning) instead of
        dropping them (reading) or raising (assignment).  ``None``: the
        ``PASS_INVALID_VALUES`` environment variable, default False.
    strict_validation : bool or None
        Raise on invalid values read from a file instead of warning.
        ``None``: the ``STRICT_VALIDATION`` environment variable, default False.
    memmap : bool
        Memory-map FITS arrays.  Arrays are always read only on first access;
        with ``memmap=True`` an array whose stored type is the schema type is
        returned as a copy-on-write memory map in the file's (big-endian)
        byte order, so untouched pages are never read.
    **kwargs
        Arrays or top-level schema properties to set (``data=...``, ``dq=...``).
    """

    schema_url = "core.schema.yaml"
    core_schema_url = "core.schema.yaml"
    #: Whether reading a DQ array translates it to master-table bits via DQ_DEF.
    _translate_dq = False

    def __init__(
        self,
        init=None,
        schema=None,
        extensions=None,
        pass_invalid_values=None,
        strict_validation=None,
        memmap=False,
        ignore_missing_extensions=True,
        **kwargs,
    ):
        set_ = object.__setattr__
        set_(self, "_pass_invalid_values", env_flag(pass_invalid_values, "PASS_INVALID_VALUES"))
        set_(self, "_strict_validation", env_flag(strict_validation, "STRICT_VALIDATION"))
        set_(self, "_memmap", bool(memmap))
        set_(self, "_files", [])
        set_(self, "_borrowed", [])
        set_(self, "_source", None)
        set_(self, "_ignore_missing_extensions", ignore_missing_extensions)
        set_(self, "_schema", self._load_class_schema(schema))
        set_(self, "_instance", {})

        if isinstance(init, DataModel):
            self._init_from_model(init)
        elif init is None:
            pass
        elif isinstance(init, tuple):
            self._init_shape(init)
        elif isinstance(init, np.ndarray):
            name = self.get_primary_array_name()
            setattr(self, name, init)
        elif isinstance(init, dict):
            set_(self, "_instance", init)
        elif isinstance(init, (str, os.PathLike)):
            self._init_from_path(init)
        else:
            self._init_from_object(init)

        if init is not None and not isinstance(init, (tuple, np.ndarray)):
            self._check_primary_dimensions()

        for key, value in kwargs.items():
            if self._index.node((key,)) is None:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {key!r}")
            setattr(self, key, value)
        self.on_init(init)

    # ------------------------------------------------------------------ setup

    @classmethod
    def _class_schema_dir(cls):
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, "__file__", None):
            here = Path(module.__file__).with_name("schemas")
            if here.is_dir():
                return here
        return _schema.SCHEMA_DIR

    def _load_class_schema(self, schema):
        if schema is None:
            return _schema.load_schema(self.schema_url, self._class_schema_dir())
        if isinstance(schema, (str, os.PathLike)):
            return _schema.load_schema(schema, self._class_schema_dir())
        if isinstance(schema, dict):
            return _schema.resolve_schema(schema, self._class_schema_dir())
        raise TypeError(f"schema must be a dict or a schema name, not {type(schema).__name__}")

    @property
    def _index(self):
        return schema_index(self._schema)

    def _init_shape(self, shape):
        name = self.get_primary_array_name()
        node = self._index.node((name,))
        if node is None or not is_array_schema(node):
            raise DataModelError(f"{type(self).__name__} has no primary array {name!r} to give shape {shape}")
        shape = tuple(int(s) for s in shape)
        if "ndim" in node and len(shape) != node["ndim"]:
            raise ValidationError(
                f"{type(self).__name__}: shape {shape} has {len(shape)} dimensions, "
                f"{name} expects {node['ndim']}"
            )
        dtype = _schema.datatype_to_dtype(node["datatype"])
        fill = node.get("default", 0)
        self._instance[name] = LazyArray(
            shape, dtype, lambda _target=None: np.full(shape, fill, dtype=dtype), f"new {name}", from_file=False
        )

    def _init_from_model(self, other):
        object.__setattr__(self, "_source", other._source)
        object.__setattr__(self, "_memmap", other._memmap)
        if type(other) is type(self) and other._schema is self._schema:
            object.__setattr__(self, "_instance", other._instance)
        else:
            # Another class: share metadata and arrays, but keep our own top
            # level so dtype conversions do not change the other model.
            object.__setattr__(self, "_instance", dict(other._instance))
            prim = self.get_primary_array_name()
            if prim in self._instance and isinstance(self._instance[prim], np.ndarray):
                node = self._index.node((prim,))
                if node is not None:
                    self._instance[prim] = convert_array(self._instance[prim], node, prim)
        # Keep the other model's files alive for lazily read arrays, without owning them.
        object.__setattr__(self, "_files", [])
        object.__setattr__(self, "_borrowed", list(other._files) + list(getattr(other, "_borrowed", [])))

    def _init_from_path(self, path):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise DataModelError(f"{path}: no such file")
        fmt = sniff_format(path)
        object.__setattr__(self, "_source", path)
        if fmt == "fits":
            from . import fits_io

            fits_io.read_fits(self, path)
        elif fmt == "asdf":
            from . import asdf_io

            asdf_io.read_asdf(self, path)
        elif fmt == "json":
            raise DataModelError(
                f"{path} is an association (JSON); open it with datamodels.open() or ModelContainer"
            )
        else:
            raise DataModelError(f"{path}: not a FITS or ASDF file (unrecognised content)")
        if self._instance.get("meta") is None:
            self._instance["meta"] = {}
        self._instance["meta"]["filename"] = os.path.basename(path)

    def _init_from_object(self, init):
        module = type(init).__module__
        if type(init).__name__ == "OpenedFits":
            from . import fits_io

            object.__setattr__(self, "_source", init.name)
            fits_io.read_fits(self, init)
            if init.path:
                self._instance.setdefault("meta", {})["filename"] = os.path.basename(init.path)
            return
        if module.startswith("astropy.io.fits") and type(init).__name__ == "HDUList":
            from . import fits_io

            name = None
            try:
                info = init.fileinfo(0)
                name = info.get("filename") if info else None
            except Exception:
                name = None
            object.__setattr__(self, "_source", name or "<HDUList>")
            fits_io.read_fits(self, init)
            if name:
                self._instance.setdefault("meta", {})["filename"] = os.path.basename(name)
            return
        if module.startswith("asdf") and hasattr(init, "tree"):
            from . import asdf_io

            object.__setattr__(self, "_source", getattr(init, "uri", None) or "<AsdfFile>")
            asdf_io.read_asdf(self, init)
            return
        if hasattr(init, "read") and hasattr(init, "seek"):
            fmt = sniff_format(init)
            name = getattr(init, "name", None)
            object.__setattr__(self, "_source", name if isinstance(name, str) else "<file object>")
            if fmt == "fits":
                from . import fits_io

                fits_io.read_fits(self, init)
            elif fmt == "asdf":
                from . import asdf_io

                asdf_io.read_asdf(self, init)
            else:
                raise DataModelError(f"{self._source}: not a FITS or ASDF stream")
            return
        raise TypeError(
            f"{type(self).__name__}() cannot be initialised from {type(init).__name__}; expected None, "
            "a shape tuple, a path, a file object, an HDUList, an AsdfFile, an array, a dict or a model"
        )

    def _check_primary_dimensions(self):
        name = self.get_primary_array_name()
        value = self._instance.get(name)
        node = self._index.node((name,))
        if value is None or node is None or not is_array_schema(node) or is_table_schema(node):
            return
        shape = value.shape
        nd = len(shape)
        bad = ("ndim" in node and nd != node["ndim"]) or ("max_ndim" in node and nd > node["max_ndim"])
        if bad:
            expected = node.get("ndim", node.get("max_ndim"))
            where = self._source or "input"
            ext = node.get("fits_hdu", name)
            raise ValidationError(
                f"{where}: extension {ext} holds a {nd}-D array {tuple(shape)}; "
                f"{type(self).__name__} expects {'at most ' if 'ndim' not in node else ''}{expected}-D {name}"
            )

    def on_init(self, init):
        """Hook run at the end of ``__init__`` (subclasses chain up)."""

    # ---------------------------------------------------------------- access

    def get_primary_array_name(self):
        """Name of the array that sets the shape of arrays created on first access."""
        return "data"

    def _primary_shape(self):
        value = self._instance.get(self.get_primary_array_name())
        if isinstance(value, (np.ndarray, LazyArray)):
            return tuple(value.shape)
        return None

    def _invalid(self, name, exc, value, reading):
        """Apply pass_invalid_values / strict_validation; return (store, value)."""
        message = str(exc)
        cause = exc if isinstance(exc, BaseException) else None
        if reading:
            if self._strict_validation:
                raise ValidationError(message) from cause
            warnings.warn(message, ValidationWarning, stacklevel=4)
            return self._pass_invalid_values, value
        if self._pass_invalid_values:
            warnings.warn(message, ValidationWarning, stacklevel=4)
            return True, value
        raise ValidationError(message) from cause

    def _convert_tree(self, path, value, node, reading=False):
        """Validate a dict/list/scalar value against ``node`` recursively."""
        name = ".".join(path)
        if isinstance(value, dict) and type(value).__name__ != "TaggedDict":
            props = node.get("properties", {}) if isinstance(node, dict) else {}
            out = {}
            for key, sub in value.items():
                sub = unwrap(sub)
                conv = self._convert_tree(path + (key,), sub, props.get(key), reading)
                if conv is not _DROP:
                    out[key] = conv
            return out
        if isinstance(value, list) and isinstance(node, dict) and node.get("type") == "array":
            items = node.get("items") if isinstance(node.get("items"), dict) else None
            return [self._convert_tree(path + (str(i),), unwrap(v), items, reading) for i, v in enumerate(value)]
        if node is None or value is None:
            return value
        if is_array_schema(node):
            if isinstance(value, LazyArray):
                return value
            return self._convert_array_value(path, value, node)
        try:
            return convert_value(value, node, name)
        except ValidationError as exc:
            store, value = self._invalid(name, exc, value, reading)
            return value if store else _DROP

    def _convert_array_value(self, path, value, node):
        name = ".".join(path)
        if is_table_schema(node):
            return convert_table(value, node, name)
        arr = convert_array(value, node, name)
        self._check_shape(path, arr, node)
        return arr

    def _check_shape(self, path, arr, node):
        if len(path) != 1 or path[0] == self.get_primary_array_name() or node.get("shape_check") is False:
            return
        primary = self._primary_shape()
        if primary is None or arr.ndim < 2 or len(primary) < 2:
            return
        ok = arr.shape[-2:] == primary[-2:]
        if ok and arr.ndim == len(primary):
            try:
                ok = np.broadcast_shapes(arr.shape, primary) == primary
            except ValueError:
                ok = False
        if not ok:
            raise ValidationError(
                f"{path[0]}: shape {arr.shape} is not compatible with the primary array "
                f"{self.get_primary_array_name()} of shape {primary}"
            )

    def _assign(self, path, container, key, value, node):
        value = unwrap(value)
        if value is None:
            if isinstance(container, dict):
                container.pop(key, None)
            else:
                container[key] = None
            return
        if isinstance(value, DataModel):
            # e.g. MultiExposureModel.exposures.append(image_model): store its content.
            value._load_all()
            value = value._instance
        conv = self._convert_tree(path, value, node, reading=False)
        if conv is _DROP:
            return
        container[key] = conv

    def _wrap(self, path, container, key, node):
        value = container[key]
        if isinstance(value, LazyArray):
            value = self._materialize(path, value, node)
            container[key] = value
        elif isinstance(value, LazyAsdfValue):
            value = value.load()
            container[key] = value
        elif not isinstance(value, np.ndarray) and hasattr(value, "__array__") and type(value).__module__.startswith("asdf"):
            value = np.asarray(value)
            container[key] = value
        if isinstance(value, dict):
            return ObjectNode(path, value, node if is_object_schema(node) else {}, self)
        if isinstance(value, list):
            return ListNode(path, value, node if isinstance(node, dict) else {}, self)
        return value

    def _materialize(self, path, lazy, node):
        target = None
        if node is not None and is_array_schema(node) and not is_table_schema(node):
            target = _schema.datatype_to_dtype(node["datatype"])
        try:
            arr = lazy.load(target)
        except DataModelError:
            raise
        except Exception as exc:
            raise DataModelError(f"{lazy.source}: cannot read array: {exc}") from exc
        if node is not None and is_array_schema(node):
            name = ".".join(path)
            if is_table_schema(node):
                arr = convert_table(arr, node, name)
            else:
                target = _schema.datatype_to_dtype(node["datatype"])
                arr = _to_dtype(arr, target, keep_byteorder=self._memmap and lazy.from_file, inplace=lazy.inplace)
                arr = convert_array(arr, node, name)
            if lazy.from_file and len(path) == 1:
                arr = self._on_array_loaded(path[0], arr)
        elif isinstance(arr, np.ndarray) and arr.dtype.names is None and lazy.from_file and not self._memmap:
            arr = _to_dtype(arr, arr.dtype.newbyteorder("="), keep_byteorder=False, inplace=lazy.inplace)
        return arr

    def _on_array_loaded(self, name, arr):
        """Hook: an array was just read from the file (reference models translate DQ here)."""
        return arr

    def _default_shape(self, name, node):
        primary = self._primary_shape()
        if primary is None or node.get("shape_check") is False:
            return None
        axes = node.get("default_axes")
        if axes is not None:
            try:
                return tuple(primary[a] for a in axes)
            except IndexError:
                return None
        ndim = node.get("ndim")
        if ndim is None:
            return primary
        if ndim <= len(primary):
            return primary[len(primary) - ndim:]
        return None

    def _default_array(self, path, container, key, node):
        if len(path) != 1 or is_table_schema(node):
            return None
        shape = self._default_shape(path[0], node)
        if shape is None:
            return None
        dtype = _schema.datatype_to_dtype(node["datatype"])
        arr = np.full(shape, node.get("default", 0), dtype=dtype)
        container[key] = arr
        return arr

    def get_default(self, attr):
        """The array (or value) ``attr`` would get on first access, without storing it."""
        node = self._index.node((attr,))
        if node is None:
            raise AttributeError(f"{type(self).__name__} has no schema property {attr!r}")
        if is_array_schema(node) and not is_table_schema(node):
            shape = self._default_shape(attr, node)
            if shape is None:
                return None
            return np.full(shape, node.get("default", 0), dtype=_schema.datatype_to_dtype(node["datatype"]))
        return node.get("default")

    @property
    def _root(self):
        return ObjectNode((), self._instance, self._schema, self)

    def __getattr__(self, attr):
        if attr.startswith("_"):
            if attr == "_extra_fits":
                return _ExtraFitsView(self._instance.setdefault("extra_fits", {}))
            raise AttributeError(f"{type(self).__name__!s} has no attribute {attr!r}")
        return getattr(self._root, attr)

    def __setattr__(self, attr, value):
        if attr.startswith("_") or isinstance(getattr(type(self), attr, None), property):
            object.__setattr__(self, attr, value)
            return
        if hasattr(type(self), attr) and self._index.node((attr,)) is None:
            object.__setattr__(self, attr, value)
            return
        setattr(self._root, attr, value)

    def __delattr__(self, attr):
        if attr.startswith("_"):
            object.__delattr__(self, attr)
        else:
            delattr(self._root, attr)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(dir(self._root)))

    def _resolve_key(self, key):
        if not isinstance(key, str):
            raise KeyError(key)
        return [p for p in key.split(".") if p]

    def __getitem__(self, key):
        parts = self._resolve_key(key)
        node = self
        for part in parts:
            try:
                if isinstance(node, ListNode):
                    node = node[int(part)]
                else:
                    node = getattr(node, part)
            except (AttributeError, ValueError, IndexError) as exc:
                raise KeyError(key) from exc
        return node

    def __setitem__(self, key, value):
        """``model['meta.ref_file.gain.name'] = value``; missing mappings on the way are created."""
        parts = self._resolve_key(key)
        if len(parts) == 1:
            setattr(self, parts[0], value)
            return
        parent = self._root
        for part in parts[:-1]:
            try:
                child = getattr(parent, part)
            except AttributeError:
                child = None
            if child is None:
                setattr(parent, part, {})
                child = getattr(parent, part)
            parent = child
        setattr(parent, parts[-1], value)

    def __contains__(self, key):
        try:
            value = self[key]
        except KeyError:
            return False
        return value is not None

    @property
    def history(self):
        """The history entries: an ordered list of strings (FITS HISTORY cards)."""
        entries = self._instance.get("history")
        if not isinstance(entries, HistoryList):
            entries = HistoryList(_history_strings(entries))
            self._instance["history"] = entries
        return entries

    @history.setter
    def history(self, value):
        self._instance["history"] = HistoryList(_history_strings(value))

    # ---------------------------------------------------------- life cycle

    def close(self):
        """Close the files this model opened (arrays not yet read stay readable: the file reopens)."""
        for handle in self._files:
            handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        shape = self._primary_shape()
        text = f"<{type(self).__name__}"
        if shape is not None:
            text += str(shape)
        filename = self._instance.get("meta", {}).get("filename") if isinstance(self._instance.get("meta"), dict) else None
        if filename:
            text += f" from {filename}"
        return text + ">"

    def copy(self, memo=None):
        """A deep copy: arrays are read and copied, nothing is shared with this model."""
        self._load_all()
        new = object.__new__(type(self))
        for key, value in self.__dict__.items():
            object.__setattr__(new, key, value)
        object.__setattr__(new, "_instance", _copy.deepcopy(self._instance, memo))
        object.__setattr__(new, "_files", [])
        object.__setattr__(new, "_borrowed", [])
        return new

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy(memo)

    def __getstate__(self):
        # Pickling (multiprocessing) carries the content, not open files.
        self._load_all()
        state = dict(self.__dict__)
        state["_files"] = []
        state["_borrowed"] = []
        return state

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def _load_all(self):
        """Read every array still on disk (before saving or copying)."""

        def visit(tree, path, node):
            if isinstance(tree, dict):
                props = node.get("properties", {}) if isinstance(node, dict) else {}
                for key in list(tree):
                    value = tree[key]
                    sub = props.get(key)
                    if isinstance(value, LazyArray):
                        tree[key] = self._materialize(path + (key,), value, sub)
                    elif isinstance(value, LazyAsdfValue):
                        tree[key] = value.load()
                    elif isinstance(value, (dict, list)):
                        visit(value, path + (key,), sub)
            elif isinstance(tree, list):
                items = node.get("items") if isinstance(node, dict) else None
                for i, value in enumerate(tree):
                    if isinstance(value, LazyArray):
                        tree[i] = self._materialize(path + (str(i),), value, items)
                    elif isinstance(value, LazyAsdfValue):
                        tree[i] = value.load()
                    elif isinstance(value, (dict, list)):
                        visit(value, path + (str(i),), items)

        visit(self._instance, (), self._schema)

    # ---------------------------------------------------------------- saving

    def on_save(self, path=None):
        """Hook run just before writing; subclasses chain up.

        Sets ``meta.filename`` (from ``path``), ``meta.model_type`` and
        ``meta.date``.
        """
        meta = self._instance.setdefault("meta", {})
        if isinstance(path, (str, os.PathLike)):
            meta["filename"] = os.path.basename(os.fspath(path))
        meta["model_type"] = type(self).__name__
        from datetime import datetime, timezone

        meta["date"] = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")

    def save(self, path, dir_path=None, *args, **kwargs):
        """Write the model to a FITS or ASDF file (chosen by the name or ``format=``).

        The file is written under a temporary name in the target directory
        and then renamed, so a failure leaves no partial output.  Existing
        files are replaced.

        Parameters
        ----------
        path : str, path, callable or binary file object
            Output path; a callable receives ``meta.filename`` and returns the
            path.  A file object needs ``format='fits'`` or ``'asdf'``.
        dir_path : str, optional
            Directory that replaces the directory part of ``path``.
        format : {'fits', 'asdf'}, optional
            Overrides the format deduced from the name.

        Returns
        -------
        str
            The path written (or the file object's name).
        """
        fmt = kwargs.pop("format", None)
        if callable(path):
            path = path(self._instance.get("meta", {}).get("filename"))
        if hasattr(path, "write"):
            if fmt not in ("fits", "asdf"):
                raise DataModelError("saving to a file object needs format='fits' or format='asdf'")
            self.on_save(None)
            if fmt == "fits":
                self.to_fits(path, *args, **kwargs)
            else:
                self.to_asdf(path, *args, **kwargs)
            return getattr(path, "name", None)
        path = os.fspath(path)
        if dir_path is not None:
            path = os.path.join(os.fspath(dir_path), os.path.basename(path))
        fmt = fmt or _format_of(path)
        if fmt not in ("fits", "asdf"):
            fmt = "fits"
        self.on_save(path)
        if fmt == "fits":
            self.to_fits(path, *args, **kwargs)
        else:
            self.to_asdf(path, *args, **kwargs)
        return path

    write = save

    def to_fits(self, init, *args, **kwargs):
        """Write to a FITS file (atomically when ``init`` is a path).

        Extra arguments go to ``astropy.io.fits.HDUList.writeto``.
        """
        from . import fits_io

        self._load_all()
        hdulist = fits_io.to_hdulist(self)
        kwargs.pop("overwrite", None)
        if hasattr(init, "write"):
            hdulist.writeto(init, *args, **kwargs)
            return
        _atomic_write(os.fspath(init), lambda tmp: hdulist.writeto(tmp, *args, **kwargs))

    def to_asdf(self, init, *args, **kwargs):
        """Write to an ASDF file (atomically when ``init`` is a path).

        Extra arguments go to ``asdf.AsdfFile.write_to``.
        """
        from . import asdf_io

        self._load_all()
        af = asdf_io.to_asdf_file(self)
        if hasattr(init, "write"):
            af.write_to(init, *args, **kwargs)
            return
        _atomic_write(os.fspath(init), lambda tmp: af.write_to(tmp, *args, **kwargs))

    @classmethod
    def from_fits(cls, init, schema=None, **kwargs):
        """Load a model from a FITS path, file object or HDUList."""
        fmt = "fits" if not isinstance(init, (str, os.PathLike)) else sniff_format(init)
        if fmt != "fits" and not (type(init).__name__ == "HDUList"):
            raise DataModelError(f"{init}: not a FITS file")
        return cls(init, schema=schema, **kwargs)

    @classmethod
    def from_asdf(cls, init, schema=None, **kwargs):
        """Load a model from an ASDF path, file object or AsdfFile."""
        if isinstance(init, (str, os.PathLike)) and sniff_format(init) != "asdf":
            raise DataModelError(f"{init}: not an ASDF file")
        return cls(init, schema=schema, **kwargs)

    def read(self, init=None, **kwargs):
        """Re-initialise this model from ``init`` (the constructor's arguments)."""
        self.__init__(init, **kwargs)
        return self

    # ----------------------------------------------------------- metadata

    def update(self, d, only=None, extra_fits=False):
        """Copy metadata from another model or a (nested) dict.

        From a model, every ``meta`` value that has a FITS keyword in both
        schemas is copied (``only`` limits this to keywords of the named
        HDU(s), e.g. ``'PRIMARY'``); ``meta.wcs``, arrays, ``model_type`` and
        ``filename`` are never copied; ``None`` never overwrites.  From a
        dict, every non-array leaf is copied.  With ``extra_fits=True`` (or
        ``only`` given) the other model's ``_extra_fits`` keywords of those
        HDUs are copied too.
        """
        if only is not None:
            hdus = {only.upper()} if isinstance(only, str) else {h.upper() for h in only}
        else:
            hdus = None
        skip = {("meta", "wcs"), ("meta", "model_type"), ("meta", "filename")}
        if isinstance(d, DataModel):
            other_index = d._index
            allowed = set()
            for (hdu, _key), (path, _node) in other_index.keywords.items():
                if hdus is not None and hdu not in hdus:
                    continue
                if self._index.node(path) is not None:
                    allowed.add(path)
            source = d._instance
        else:
            allowed = None
            source = unwrap(d)

        def walk(tree, path):
            for key, value in tree.items():
                here = path + (key,)
                if here in skip or key in ("extra_fits", "history"):
                    continue
                value = unwrap(value)
                if isinstance(value, dict):
                    walk(value, here)
                    continue
                if value is None or isinstance(value, (np.ndarray, LazyArray)):
                    continue
                if allowed is not None and here not in allowed:
                    continue
                if here[0] != "meta" and allowed is not None:
                    continue
                parent = self._instance
                node = self._schema
                for part in here[:-1]:
                    parent = parent.setdefault(part, {})
                    node = node.get("properties", {}).get(part, {}) if isinstance(node, dict) else {}
                sub = node.get("properties", {}).get(here[-1]) if isinstance(node, dict) else None
                try:
                    conv = convert_value(_copy.deepcopy(value), sub, ".".join(here)) if sub else _copy.deepcopy(value)
                except ValidationError as exc:
                    warnings.warn(f"update: {exc}; not copied", ValidationWarning, stacklevel=3)
                    continue
                parent[here[-1]] = conv

        walk(source, ())
        if isinstance(d, DataModel) and (extra_fits or only is not None):
            theirs = d._instance.get("extra_fits", {})
            mine = self._instance.setdefault("extra_fits", {})
            for hdu, parts in theirs.items():
                if hdus is not None and hdu not in hdus:
                    continue
                cards = mine.setdefault(hdu, {}).setdefault("header", [])
                have = {c[0] for c in cards}
                for card in parts.get("header", []):
                    if card[0] not in have:
                        cards.append(list(card))

    def to_flat_dict(self, include_arrays=True):
        """All values as a flat dictionary with dot-separated keys (``meta.observation.date``)."""
        return _flatten(self._instance, "", include_arrays, self)

    def items(self):
        """Flat (dotted key, value) pairs of everything in the model."""
        return list(self.to_flat_dict().items())

    iteritems = items

    def keys(self):
        """Flat dotted keys of everything in the model."""
        return list(self.to_flat_dict(include_arrays=False).keys()) + [
            k for k, v in self._instance.items() if isinstance(v, (np.ndarray, LazyArray))
        ]

    iterkeys = keys

    def values(self):
        """Values in the order of :meth:`items`."""
        return [v for _k, v in self.items()]

    itervalues = values

    def get_item_as_json_value(self, key):
        """Like ``model[key]`` but as JSON basic types (lists, dicts, numbers, strings)."""
        value = self[key]

        def plain(v):
            v = unwrap(v)
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, np.generic):
                return v.item()
            return v

        return plain(value)

    def get_crds_parameters(self):
        """Scalar metadata as a flat dict, the selection parameters a reference lookup uses."""
        return {
            k: v
            for k, v in self.to_flat_dict(include_arrays=False).items()
            if isinstance(v, (str, int, float, bool)) and not k.startswith("extra_fits")
        }

    crds_observatory = "jwst"

    def find_fits_keyword(self, keyword, return_result=True):
        """Schema locations (``meta.observation.date``) that use a FITS keyword."""
        result = list(self._index.paths_by_keyword.get(str(keyword).upper(), []))
        if not return_result:
            for r in result:
                print(r)
            return None
        return result

    def search_schema(self, substring):
        """Case-insensitive search of schema paths and titles.

        Returns
        -------
        list of (str, str)
            (dotted path, title) of every match.
        """
        needle = substring.lower()
        hits = []
        for path, node in _schema.walk_schema(self._schema):
            dotted = ".".join(path)
            title = str(node.get("title", "") or node.get("description", ""))
            if needle in dotted.lower() or needle in title.lower():
                hits.append((dotted, title))
        return hits

    def info(self, out=None):
        """Print (and return) the name, HDU, dtype and shape of each array and table."""
        rows = []
        for key, value in self._instance.items():
            if isinstance(value, (np.ndarray, LazyArray)):
                node = self._index.node((key,)) or {}
                dtype = value.dtype
                if isinstance(value, LazyArray) and is_array_schema(node) and not is_table_schema(node):
                    dtype = _schema.datatype_to_dtype(node["datatype"])
                kind = "table" if (is_table_schema(node) or (dtype is not None and getattr(dtype, "names", None))) else "array"
                rows.append((key, node.get("fits_hdu", ""), kind, str(dtype), tuple(value.shape)))
        lines = [f"{type(self).__name__}" + (f" ({self._source})" if self._source else "")]
        lines += [f"  {r[0]:<20s} {r[1]:<12s} {r[2]:<6s} {r[3]:<12s} {r[4]}" for r in rows]
        print("\n".join(lines), file=out or sys.stdout)
        return rows

    def my_attribute(self, attr):
        """True if ``attr`` is one of the NDData-like array attributes (data, dq, err, ...)."""
        return attr in ("data", "dq", "err", "mask", "uncertainty", "wcs", "meta", "unit")

    # --------------------------------------------------------------- schema

    def extend_schema(self, new_schema):
        """Combine the model's schema with ``new_schema`` (as an ``allOf``)."""
        resolved = _schema.resolve_schema(new_schema, self._class_schema_dir())
        object.__setattr__(self, "_schema", _schema.merge_schemas(_copy.deepcopy(self._schema), resolved))
        return self

    def add_schema_entry(self, position, new_schema):
        """Place ``new_schema`` at the dot-separated ``position`` of the schema tree."""
        parts = [p for p in position.split(".") if p]
        schema = _copy.deepcopy(self._schema)
        node = schema
        for part in parts[:-1]:
            props = node.setdefault("properties", {})
            node = props.setdefault(part, {"type": "object", "properties": {}})
        node.setdefault("properties", {})[parts[-1]] = _schema.resolve_schema(new_schema, self._class_schema_dir())
        object.__setattr__(self, "_schema", schema)
        return self

    # -------------------------------------------------------------- validate

    def validate(self):
        """Re-validate every stored value against the schema.

        Invalid values warn (``ValidationWarning``) and are removed, or kept
        with ``pass_invalid_values``; with ``strict_validation`` the first
        one raises :class:`ValidationError`.
        """
        keep = ("history", "extra_fits")
        checked = self._convert_tree((), {k: v for k, v in self._instance.items() if k not in keep},
                                     self._schema, reading=True)
        for key in [k for k in self._instance if k not in keep]:
            del self._instance[key]
        self._instance.update(checked)
        self.validate_required_fields()

    def validate_required_fields(self):
        """Check that every ``required`` field of the schema is present."""
        missing = []

        def walk(node, tree, path):
            if not isinstance(node, dict) or not isinstance(tree, dict):
                return
            for name in node.get("required", []):
                if tree.get(name) is None:
                    missing.append(".".join(path + (name,)))
            for name, sub in node.get("properties", {}).items():
                if isinstance(tree.get(name), dict):
                    walk(sub, tree[name], path + (name,))

        walk(self._schema, self._instance, ())
        if missing:
            message = f"{type(self).__name__}: required fields missing: {', '.join(missing)}"
            if self._strict_validation:
                raise ValidationError(message)
            warnings.warn(message, ValidationWarning, stacklevel=2)
        return missing

    # ------------------------------------------------------------------ WCS

    def _hdu_header(self, hdu_name):
        from astropy.io import fits

        hdu_name = "PRIMARY" if hdu_name in (0, "PRIMARY", "primary") else str(hdu_name).upper()
        header = fits.Header()
        for key, path, _node in self._index.keywords_by_hdu.get(hdu_name, []):
            value = self._instance
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    break
            if value is not None and not isinstance(value, (dict, list)):
                header[key] = value
        for key, value, comment in self._instance.get("extra_fits", {}).get(hdu_name, {}).get("header", []):
            if key not in header and key not in ("COMMENT", "HISTORY", ""):
                header[key] = (value, comment)
        return header

    def get_fits_wcs(self, hdu_name="SCI", hdu_ver=1, key=" "):
        """An ``astropy.wcs.WCS`` built from the FITS WCS keywords of an HDU (a copy)."""
        from astropy.wcs import WCS

        header = self._hdu_header(hdu_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return WCS(header, key=key)

    def set_fits_wcs(self, wcs, hdu_name="SCI"):
        """Store an ``astropy.wcs.WCS`` as the FITS WCS keywords of an HDU."""
        hdu_name = "PRIMARY" if hdu_name in (0, "PRIMARY", "primary") else str(hdu_name).upper()
        header = wcs.to_header()
        extra = self._instance.setdefault("extra_fits", {}).setdefault(hdu_name, {}).setdefault("header", [])
        for card in header.cards:
            entry = self._index.keywords.get((hdu_name, card.keyword))
            if entry is not None:
                path, _node = entry
                parent = self._root
                for part in path[:-1]:
                    parent = getattr(parent, part)
                setattr(parent, path[-1], card.value)
            else:
                for existing in extra:
                    if existing[0] == card.keyword:
                        existing[1], existing[2] = card.value, card.comment
                        break
                else:
                    extra.append([card.keyword, card.value, card.comment])


class _Drop:
    __slots__ = ()

    def __repr__(self):
        return "<dropped>"


_DROP = _Drop()


def _history_strings(entries):
    if entries is None:
        return []
    if isinstance(entries, dict):
        entries = entries.get("entries", [])
    out = []
    for e in entries:
        if isinstance(e, dict) or hasattr(e, "get"):
            out.append(str(e.get("description", "")))
        else:
            out.append(str(e))
    return out


def _to_dtype(arr, target, keep_byteorder, inplace):
    """Convert ``arr`` to ``target`` dtype, reusing its memory where possible."""
    if not isinstance(arr, np.ndarray) or arr.dtype.names is not None:
        return arr
    if arr.dtype == target:
        return arr
    same_type = arr.dtype.kind == target.kind and arr.dtype.itemsize == target.itemsize
    if same_type:
        if keep_byteorder:
            return arr
        if inplace and arr.flags.writeable and not _base_is_mmap(arr):
            # The array was read for us alone: swap its bytes where it lies
            # instead of holding a second ramp-sized copy.
            arr.byteswap(inplace=True)
            return arr.view(arr.dtype.newbyteorder("="))
        return arr.astype(target)
    return arr.astype(target)


def _base_is_mmap(arr):
    import mmap

    base = arr
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def _atomic_write(path, writer):
    """Run ``writer(tmp_path)`` then rename the temporary file onto ``path``."""
    atomic_write(path, writer, error=DataModelError)
