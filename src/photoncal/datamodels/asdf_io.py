"""ASDF reading and writing: ``.asdf`` files and the ASDF extension of FITS files.

``asdf`` (and through its extensions ``gwcs``/``asdf-astropy``) is imported
only here, on first use, so that importing the data models stays cheap.
"""

from __future__ import annotations

import io
import os
import re

import numpy as np

from .errors import DataModelError
from .node import LazyArray

__all__ = ["tree_from_fits", "tree_for_fits", "asdf_hdu", "read_asdf", "to_asdf_file"]

_FITS_SOURCE = re.compile(r"^fits:(?:(?P<name>[ -~]+?),)?(?P<ver>\d+)$")
_DROP_KEYS = ("asdf_library", "history", "_fits_hash", "extra_fits")


def _asdf():
    import asdf

    return asdf


def _plain_array(arr):
    """An ndarray asdf can serialise: no recarray, unicode table columns as ASCII."""
    arr = np.asarray(arr)
    if arr.dtype.names is None:
        if arr.dtype.kind == "U":
            return np.char.encode(arr, "ascii", errors="replace")
        return arr
    from .fits_io import _table_for_fits

    table = _table_for_fits(arr.view(np.ndarray))
    if table.dtype.type is np.record:
        table = table.view(np.dtype([(n, table.dtype.fields[n][0]) for n in table.dtype.names]))
    return table


def _is_tagged(node):
    return type(node).__name__ in ("TaggedDict", "TaggedList", "TaggedString")


# ---------------------------------------------------------------- in FITS


def tree_from_fits(hdu, handle, model):
    """Read the ASDF extension of a FITS file.

    Returns the instance tree (arrays that live in FITS extensions become
    lazy arrays of ``handle``) and the set of ``(EXTNAME, EXTVER)`` it
    references.
    """
    asdf = _asdf()
    from asdf.tags.core import NDArrayType

    try:
        raw = np.asarray(hdu.data["ASDF_METADATA"][0]).tobytes()
    except Exception as exc:
        raise DataModelError(f"{handle.name}: unreadable ASDF extension: {exc}") from exc
    referenced = set()
    hdulist = handle.get()

    def convert(node):
        if isinstance(node, NDArrayType):
            source = node._source
            if isinstance(source, str):
                m = _FITS_SOURCE.match(source)
                if m is None:
                    raise DataModelError(f"{handle.name}: ASDF extension names an unknown array source {source!r}")
                name, ver = m.group("name"), int(m.group("ver"))
                key = (name, ver) if name else ver
                try:
                    target = hdulist[key]
                except (KeyError, IndexError) as exc:
                    raise DataModelError(
                        f"{handle.name}: ASDF extension refers to extension {source[5:]}, which the file lacks"
                    ) from exc
                referenced.add(((name or target.name).upper(), ver if name else 1))
                from .fits_io import _lazy_for_hdu

                lazy, _t = _lazy_for_hdu(handle, target, key, f"{handle.name}[{source[5:]}]")
                return lazy
            return np.array(node)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    try:
        with asdf.open(io.BytesIO(raw), lazy_load=True, memmap=False,
                       ignore_missing_extensions=True) as af:
            tree = convert(dict(af.tree))
    except DataModelError:
        raise
    except Exception as exc:
        raise DataModelError(f"{handle.name}: cannot read the ASDF extension: {exc}") from exc
    history = tree.get("history")
    for key in _DROP_KEYS:
        tree.pop(key, None)
    if isinstance(history, dict) and history.get("entries"):
        tree["history"] = [str(e.get("description", "")) for e in history["entries"]]
    elif isinstance(history, list):
        tree["history"] = [str(e.get("description", e)) if isinstance(e, dict) else str(e) for e in history]
    return tree, referenced


def tree_for_fits(model, written):
    """The instance tree for the ASDF extension; arrays in extensions become references."""
    from asdf import tagged
    from asdf.tags.core import ndarray as nd

    tag = "tag:stsci.edu:asdf/core/ndarray-1.1.0"

    def ref(hname, ver, hdu):
        data = hdu.data
        dtype = data.dtype
        if dtype.names is not None:
            dtype = _plain_array(np.asarray(data)[:0]).dtype
        datatype, byteorder = nd.numpy_dtype_to_asdf_datatype(dtype, include_byteorder=True, override_byteorder="big")
        return tagged.TaggedDict(
            {"source": f"fits:{hname},{ver}", "shape": list(data.shape), "datatype": datatype, "byteorder": byteorder},
            tag,
        )

    def convert(node):
        if isinstance(node, np.ndarray):
            hit = written.get(id(node))
            if hit is not None:
                return ref(*hit)
            return _plain_array(node)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [convert(v) for v in node]
        if isinstance(node, np.generic):
            return node.item()
        return node

    return {k: convert(v) for k, v in model._instance.items() if k not in _DROP_KEYS and v is not None}


def asdf_hdu(tree):
    """The ``ASDF`` BINTABLE extension holding ``tree``."""
    from astropy.io import fits

    asdf = _asdf()
    buffer = io.BytesIO()
    asdf.AsdfFile(tree).write_to(buffer)
    data = np.frombuffer(buffer.getvalue(), dtype=np.uint8)[None, :]
    column = fits.Column(name="ASDF_METADATA", format=f"{data.shape[1]}B", array=data)
    return fits.BinTableHDU.from_columns([column], name="ASDF")


# ------------------------------------------------------------- .asdf files


class AsdfHandle:
    """An open ASDF file shared by the lazy arrays of a model (reopens after close)."""

    def __init__(self, name, af, path=None, memmap=False, owned=True):
        self.name = name
        self.path = path
        self.memmap = memmap
        self.owned = owned
        self._af = af

    def get(self):
        if self._af is None:
            if self.path is None:
                raise DataModelError(f"{self.name}: the file was closed before this array was read")
            self._af = _asdf().open(self.path, lazy_load=True, memmap=self.memmap)
        return self._af

    def node(self, keys):
        node = self.get().tree
        for k in keys:
            node = node[k]
        return node

    def close(self):
        if self.owned and self._af is not None:
            self._af.close()
            self._af = None


def read_asdf(model, init):
    """Fill ``model`` from an ASDF path, file object or AsdfFile (arrays lazily)."""
    asdf = _asdf()
    from asdf.tags.core import NDArrayType

    name = model._source or "<asdf>"
    path = os.fspath(init) if isinstance(init, (str, os.PathLike)) else None
    owned = not hasattr(init, "tree")
    try:
        af = asdf.open(init, lazy_load=True, memmap=model._memmap) if owned else init
        tree = af.tree
    except Exception as exc:
        raise DataModelError(f"{name}: cannot read as ASDF: {exc}") from exc
    handle = AsdfHandle(name, af, path=path, memmap=model._memmap, owned=owned)
    model._files.append(handle)

    def loader(keys, copy):
        def load():
            arr = handle.node(keys)
            return np.array(arr) if copy else np.asarray(arr)

        return load

    def convert(node, keys):
        if isinstance(node, NDArrayType):
            try:
                shape, dtype = tuple(node.shape), node.dtype
            except Exception:
                shape, dtype = (), None
            copy = path is None or not model._memmap
            return LazyArray(shape, dtype, loader(keys, copy), f"{name}[{'.'.join(map(str, keys))}]",
                             inplace=copy)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v, keys + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v, keys + (i,)) for i, v in enumerate(node)]
        return node

    instance = convert(dict(tree), ())
    history = instance.pop("history", None)
    instance.pop("asdf_library", None)
    instance.pop("_fits_hash", None)
    if isinstance(history, dict):
        entries = history.get("entries") or []
        instance["history"] = [str(e.get("description", "")) for e in entries]
    elif isinstance(history, list):
        instance["history"] = [str(e.get("description", e)) if isinstance(e, dict) else str(e) for e in history]
    object.__setattr__(model, "_instance", instance)


def to_asdf_file(model):
    """An ``AsdfFile`` of the model's instance (arrays must already be read)."""
    asdf = _asdf()

    def convert(node):
        if isinstance(node, np.ndarray):
            return _plain_array(node)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [convert(v) for v in node]
        if isinstance(node, np.generic):
            return node.item()
        return node

    tree = {k: convert(v) for k, v in model._instance.items() if k != "history" and v is not None}
    af = asdf.AsdfFile(tree)
    for entry in model.history:
        af.add_history_entry(str(entry))
    return af
