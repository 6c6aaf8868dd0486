"""ASDF reading and writing: ``.asdf`` files and the ASDF extension of FITS files.

The ASDF extension of a FITS file usually holds plain YAML (the metadata
tree, plus references such as ``!core/ndarray-1.1.0 {source: 'fits:SCI,1'}``
to the extensions that hold the arrays).  Such documents are read and
written here directly with the YAML library: loading the ``asdf`` library
with all its extensions takes seconds, which every command would otherwise
pay.  Documents with anything else (a gwcs object, arrays in ASDF blocks)
go through ``asdf``; on reading, only the tagged values are deferred
(:class:`~.node.LazyAsdfValue`) and ``asdf`` runs when one of them is first
used.  ``asdf``, ``gwcs`` and ``asdf-astropy`` are imported only then.
"""

from __future__ import annotations

import io
import os
import re

import numpy as np

from .errors import DataModelError
from .node import LazyArray, LazyAsdfValue

__all__ = ["tree_from_fits", "tree_for_fits", "asdf_hdu", "read_asdf", "to_asdf_file", "FitsArrayRef"]

_FITS_SOURCE = re.compile(r"^fits:(?:(?P<name>[ -~]+?),)?(?P<ver>\d+)$")
_DROP_KEYS = ("asdf_library", "history", "_fits_hash", "extra_fits")
_CORE = "tag:stsci.edu:asdf/core/"
_NDARRAY_TAG = _CORE + "ndarray-1.1.0"
_PLAIN_CORE_TAGS = ("asdf-", "software-", "extension_metadata-", "history_entry-")


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


def _empty(value):
    """A mapping with nothing but empty mappings below it (left by attribute reads)."""
    return isinstance(value, dict) and not _is_tagged(value) and all(_empty(v) for v in value.values())


def _is_tagged(node):
    return type(node).__name__ in ("TaggedDict", "TaggedList", "TaggedString")


class _Unsupported(Exception):
    """The document needs the asdf library."""


class FitsArrayRef:
    """Reference from the ASDF tree to the FITS extension holding an array."""

    __slots__ = ("name", "ver", "shape", "dtype")

    def __init__(self, name, ver, shape, dtype):
        self.name, self.ver, self.shape, self.dtype = name, ver, tuple(shape), dtype

    @property
    def source(self):
        return f"fits:{self.name},{self.ver}"


def _asdf_datatype(dtype):
    """(datatype, byteorder) of a dtype as stored big-endian in FITS, in ASDF notation."""
    if dtype.names is not None:
        columns = []
        for name in dtype.names:
            sub = dtype.fields[name][0]
            column = {"name": name}
            datatype, byteorder = _asdf_datatype(sub.base)
            column["datatype"] = datatype
            column["byteorder"] = byteorder
            if sub.shape:
                column["shape"] = list(sub.shape)
            columns.append(column)
        return columns, "big"
    if dtype.kind in "SU":
        return ["ascii" if dtype.kind == "S" else "ucs4", dtype.itemsize // (1 if dtype.kind == "S" else 4)], "big"
    if dtype.kind == "b":
        return "bool8", "big"
    return {"i": "int", "u": "uint", "f": "float", "c": "complex"}[dtype.kind] + str(dtype.itemsize * 8), "big"


# ------------------------------------------------------------- YAML fast path


class _Deferred:
    __slots__ = ("tag",)

    def __init__(self, tag):
        self.tag = tag


_loader_class = None
_dumper_class = None


def _yaml_loader():
    global _loader_class
    if _loader_class is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):
            pass

        def construct_tagged(loader, tag, node):
            if tag.startswith(_CORE + "ndarray-"):
                if not isinstance(node, yaml.MappingNode):
                    raise _Unsupported(tag)
                mapping = loader.construct_mapping(node, deep=True)
                m = _FITS_SOURCE.match(str(mapping.get("source", "")))
                if m is None:
                    raise _Unsupported("array outside FITS extensions")
                return FitsArrayRef(m.group("name"), int(m.group("ver")), mapping.get("shape", ()), None)
            if tag.startswith(_CORE) and tag[len(_CORE):].startswith(_PLAIN_CORE_TAGS):
                if isinstance(node, yaml.MappingNode):
                    return loader.construct_mapping(node, deep=True)
                if isinstance(node, yaml.SequenceNode):
                    return loader.construct_sequence(node, deep=True)
                return loader.construct_scalar(node)
            return _Deferred(tag)

        Loader.add_multi_constructor("", construct_tagged)
        _loader_class = Loader
    return _loader_class


def _yaml_part(raw: bytes):
    """The YAML document of an ASDF file; raises _Unsupported if binary blocks follow."""
    if not raw.startswith(b"#ASDF"):
        raise DataModelError("not an ASDF document (no #ASDF header)")
    end = raw.find(b"\n...")
    if end < 0:
        raise _Unsupported("no YAML end marker")
    rest = raw[end + 4:].lstrip(b"\r\n")
    if rest and not rest.startswith(b"#ASDF BLOCK INDEX"):
        raise _Unsupported("binary blocks")
    return raw[: end + 4]


def _fast_tree(raw: bytes):
    import yaml

    text = _yaml_part(raw)
    try:
        tree = yaml.load(text, Loader=_yaml_loader())
    except _Unsupported:
        raise
    except yaml.YAMLError as exc:
        raise DataModelError(f"invalid YAML in the ASDF document: {exc}") from exc
    if not isinstance(tree, dict):
        raise DataModelError("the ASDF document's tree is not a mapping")
    return tree


class _DeferredDocument:
    """The full asdf reading of a document, done once, when a deferred value is needed."""

    def __init__(self, raw: bytes, name: str):
        self.raw = raw
        self.name = name
        self._tree = None

    def value_at(self, path):
        if self._tree is None:
            asdf = _asdf()
            from asdf.tags.core import NDArrayType

            def convert(node):
                if isinstance(node, NDArrayType):
                    return None  # arrays come from the FITS extensions, not from here
                if _is_tagged(node):
                    return node
                if isinstance(node, dict):
                    return {k: convert(v) for k, v in node.items()}
                if isinstance(node, list):
                    return [convert(v) for v in node]
                return node

            try:
                with asdf.open(io.BytesIO(self.raw), lazy_load=True, memmap=False,
                               ignore_missing_extensions=True) as af:
                    self._tree = convert(dict(af.tree))
            except Exception as exc:
                raise DataModelError(f"{self.name}: cannot read the ASDF extension: {exc}") from exc
        node = self._tree
        for key in path:
            node = node[key]
        return node


def _defer(tree, document, path=()):
    """Replace _Deferred placeholders by lazy values of ``document``."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, _Deferred):
                tree[key] = LazyAsdfValue(document, path + (key,))
            elif isinstance(value, (dict, list)):
                _defer(value, document, path + (key,))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            if isinstance(value, _Deferred):
                tree[i] = LazyAsdfValue(document, path + (i,))
            elif isinstance(value, (dict, list)):
                _defer(value, document, path + (i,))
    return tree


def _fast_dump(tree) -> bytes:
    """An ASDF document of a tree of plain values and FITS references, without asdf."""
    global _dumper_class
    import yaml

    if _dumper_class is None:
        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class Dumper(base):
            pass

        def represent_ref(dumper, ref):
            datatype, byteorder = _asdf_datatype(ref.dtype)
            return dumper.represent_mapping(_NDARRAY_TAG, {
                "source": ref.source, "datatype": datatype, "byteorder": byteorder, "shape": list(ref.shape)})

        def represent_root(dumper, root):
            return dumper.represent_mapping(_CORE + "asdf-1.1.0", root.tree)

        def represent_software(dumper, software):
            return dumper.represent_mapping(_CORE + "software-1.0.0", software.info)

        Dumper.add_representer(FitsArrayRef, represent_ref)
        Dumper.add_representer(_Root, represent_root)
        Dumper.add_representer(_Software, represent_software)
        _dumper_class = Dumper

    def check(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    raise _Unsupported("non-string key")
                check(v)
        elif isinstance(node, list):
            for v in node:
                check(v)
        elif not isinstance(node, (str, bool, int, float, FitsArrayRef)) or type(node) not in (
                str, bool, int, float, FitsArrayRef):
            raise _Unsupported(type(node).__name__)

    check(tree)
    from photoncal import __version__

    root = {"asdf_library": _Software({"name": "photoncal", "version": __version__})}
    root.update(tree)
    text = yaml.dump(_Root(root), Dumper=_dumper_class, explicit_start=True, explicit_end=True,
                     version=(1, 1), tags={"!": "tag:stsci.edu:asdf/"}, sort_keys=False,
                     default_flow_style=None, width=100, allow_unicode=False)
    return b"#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n" + text.encode("ascii")


class _Root:
    __slots__ = ("tree",)

    def __init__(self, tree):
        self.tree = tree


class _Software:
    __slots__ = ("info",)

    def __init__(self, info):
        self.info = info


# ---------------------------------------------------------------- in FITS


def _history_strings(history):
    if isinstance(history, dict):
        return [str(e.get("description", "")) for e in history.get("entries") or [] if isinstance(e, dict)]
    if isinstance(history, list):
        return [str(e.get("description", e)) if isinstance(e, dict) else str(e) for e in history]
    return None


def tree_from_fits(hdu, handle, model):
    """Read the ASDF extension of a FITS file.

    Returns the instance tree (arrays that live in FITS extensions become
    lazy arrays of ``handle``; tagged values such as a gwcs become lazy
    values) and the set of ``(EXTNAME, EXTVER)`` it references.
    """
    try:
        raw = np.asarray(hdu.data["ASDF_METADATA"][0]).tobytes()
    except Exception as exc:
        raise DataModelError(f"{handle.name}: unreadable ASDF extension: {exc}") from exc
    referenced = set()
    hdulist = handle.get()
    from .fits_io import _lazy_for_hdu

    def lazy_for(name, ver, source):
        key = (name, ver) if name else ver
        try:
            target = hdulist[key]
        except (KeyError, IndexError) as exc:
            raise DataModelError(
                f"{handle.name}: ASDF extension refers to extension {source}, which the file lacks"
            ) from exc
        referenced.add(((name or target.name).upper(), ver if name else 1))
        lazy, _t = _lazy_for_hdu(handle, target, key, f"{handle.name}[{source}]")
        return lazy

    try:
        tree = _fast_tree(raw)
    except _Unsupported:
        tree = None
    except DataModelError as exc:
        raise DataModelError(f"{handle.name}: ASDF extension: {exc}") from exc

    if tree is not None:
        def convert(node):
            if isinstance(node, FitsArrayRef):
                return lazy_for(node.name, node.ver, node.source[5:])
            if isinstance(node, dict):
                return {k: convert(v) for k, v in node.items()}
            if isinstance(node, list):
                return [convert(v) for v in node]
            return node

        tree = _defer(convert(tree), _DeferredDocument(raw, handle.name))
    else:
        tree = _slow_tree_from_fits(raw, handle, lazy_for)
    history = tree.get("history")
    for key in _DROP_KEYS:
        tree.pop(key, None)
    entries = _history_strings(history)
    if entries:
        tree["history"] = entries
    return tree, referenced


def _slow_tree_from_fits(raw, handle, lazy_for):
    asdf = _asdf()
    from asdf.tags.core import NDArrayType

    def convert(node):
        if isinstance(node, NDArrayType):
            source = node._source
            if isinstance(source, str):
                m = _FITS_SOURCE.match(source)
                if m is None:
                    raise DataModelError(f"{handle.name}: ASDF extension names an unknown array source {source!r}")
                return lazy_for(m.group("name"), int(m.group("ver")), source[5:])
            return np.array(node)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    try:
        with asdf.open(io.BytesIO(raw), lazy_load=True, memmap=False, ignore_missing_extensions=True) as af:
            return convert(dict(af.tree))
    except DataModelError:
        raise
    except Exception as exc:
        raise DataModelError(f"{handle.name}: cannot read the ASDF extension: {exc}") from exc


def model_type_from_asdf_bytes(raw: bytes):
    """``meta.model_type`` of an ASDF document (``None`` if absent or unreadable)."""
    try:
        tree = _fast_tree(raw)
    except Exception:
        try:
            asdf = _asdf()
            with asdf.open(io.BytesIO(raw), lazy_load=True) as af:
                tree = dict(af.tree)
        except Exception:
            return None
    meta = tree.get("meta")
    return meta.get("model_type") if isinstance(meta, dict) else None


def tree_for_fits(model, written):
    """The instance tree for the ASDF extension; arrays in extensions become references."""

    def convert(node):
        if isinstance(node, np.ndarray):
            hit = written.get(id(node))
            if hit is not None:
                hname, ver, hdu = hit
                data = hdu.data
                dtype = data.dtype
                if dtype.names is not None:
                    dtype = _plain_array(np.asarray(data)[:0]).dtype
                return FitsArrayRef(hname, ver, data.shape, dtype)
            return _plain_array(node)
        if isinstance(node, LazyAsdfValue):
            return convert(node.load())
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items() if v is not None and not _empty(v)}
        if isinstance(node, (list, tuple)):
            return [convert(v) for v in node]
        if isinstance(node, np.generic):
            return node.item()
        return node

    return {k: convert(v) for k, v in model._instance.items()
            if k not in _DROP_KEYS and v is not None and not _empty(v)}


def asdf_hdu(tree):
    """The ``ASDF`` BINTABLE extension holding ``tree``."""
    from astropy.io import fits

    try:
        data = _fast_dump(tree)
    except _Unsupported:
        data = _slow_dump(tree)
    data = np.frombuffer(data, dtype=np.uint8)[None, :]
    column = fits.Column(name="ASDF_METADATA", format=f"{data.shape[1]}B", array=data)
    return fits.BinTableHDU.from_columns([column], name="ASDF")


def _slow_dump(tree):
    asdf = _asdf()
    from asdf import tagged

    def convert(node):
        if isinstance(node, FitsArrayRef):
            datatype, byteorder = _asdf_datatype(node.dtype)
            return tagged.TaggedDict({"source": node.source, "shape": list(node.shape),
                                      "datatype": datatype, "byteorder": byteorder}, _NDARRAY_TAG)
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    buffer = io.BytesIO()
    asdf.AsdfFile(convert(tree)).write_to(buffer)
    return buffer.getvalue()


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

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

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
        def load(target=None):
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
    entries = _history_strings(history)
    if entries:
        instance["history"] = entries
    object.__setattr__(model, "_instance", instance)


def to_asdf_file(model):
    """An ``AsdfFile`` of the model's instance (arrays must already be read)."""
    asdf = _asdf()

    def convert(node):
        if isinstance(node, np.ndarray):
            return _plain_array(node)
        if isinstance(node, LazyAsdfValue):
            return convert(node.load())
        if _is_tagged(node):
            return node
        if isinstance(node, dict):
            return {k: convert(v) for k, v in node.items() if v is not None and not _empty(v)}
        if isinstance(node, (list, tuple)):
            return [convert(v) for v in node]
        if isinstance(node, np.generic):
            return node.item()
        return node

    tree = {k: convert(v) for k, v in model._instance.items() if k != "history" and v is not None and not _empty(v)}
    af = asdf.AsdfFile(tree)
    for entry in model.history:
        af.add_history_entry(str(entry))
    return af
