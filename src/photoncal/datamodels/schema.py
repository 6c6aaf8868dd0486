"""Loading, resolving and indexing the YAML schemas of the data models.

The schema language is JSON Schema (draft 4) written in YAML, with the
extensions of the seed's data-model chapter:

``fits_keyword``
    the FITS keyword (at most 8 characters) a scalar is stored in;
``fits_hdu``
    the HDU of that keyword, or the extension (EXTNAME) an array or table is
    stored in; default ``PRIMARY``;
``datatype``
    a string (``float32``, ``uint16``, ``[ascii, 12]``, ...) for an array, a
    list of column definitions (``name``, ``datatype``, optional ``shape``)
    for a table; an empty list accepts any table;
``ndim`` / ``max_ndim``
    the exact / largest number of dimensions of an array;
``default``
    the fill value of an array created on first access;
``tag``
    an ASDF tag pattern for objects only the ASDF extension can carry (the
    gwcs object in ``meta.wcs``).

Two photoncal extensions describe how an array follows the primary array:
``default_axes`` (the axes of the primary array whose lengths give the shape
of an array created on first access, e.g. ``[0, 2, 3]`` for a ZEROFRAME cube
of a ramp) and ``shape_check: false`` (the array need not share the primary
array's image plane).

``$ref`` is resolved relative to the referring schema file; the special host
``http://jwst.stsci.edu/schemas/`` resolves to the ``schemas`` directory of
this package (or of the named package: ``.../schemas/<package>/<name>``).
``allOf`` lists are merged into one tree when a schema is loaded, so lookups
at run time are plain dictionary accesses.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DataModelError

__all__ = [
    "SCHEMA_DIR",
    "load_schema",
    "resolve_schema",
    "merge_schemas",
    "datatype_to_dtype",
    "is_array_schema",
    "is_table_schema",
    "SchemaIndex",
    "schema_index",
    "walk_schema",
]

SCHEMA_DIR = Path(__file__).with_name("schemas")
_SPECIAL_HOST = "http://jwst.stsci.edu/schemas/"

_SCALAR_DATATYPES = {
    "bool8": np.bool_,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
    "float128": np.longdouble,
    "complex64": np.complex64,
    "complex128": np.complex128,
    "complex256": np.clongdouble,
}


def _yaml_load(text: str):
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


def _locate(ref: str, base_dir: Path) -> tuple[Path, str]:
    """Turn a ``$ref`` into (schema file, JSON-pointer fragment)."""
    url, _, fragment = ref.partition("#")
    if not url:
        return None, fragment
    if url.startswith(_SPECIAL_HOST):
        rest = url[len(_SPECIAL_HOST):]
        parts = rest.split("/")
        if len(parts) == 1:
            path = SCHEMA_DIR / parts[0]
        else:
            package = parts[0]
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise DataModelError(f"schema reference {ref!r}: package {package!r} is not installed")
            path = Path(spec.origin).parent / "schemas" / "/".join(parts[1:])
    elif "://" in url:
        raise DataModelError(
            f"schema reference {ref!r}: only relative references and "
            f"{_SPECIAL_HOST}... are resolved (no network access)"
        )
    else:
        path = base_dir / url
    if not path.suffix == ".yaml" and not path.exists():
        path = path.with_name(path.name + ".yaml")
    return path, fragment


def _pointer(doc, fragment: str, where: str):
    node = doc
    for part in [p for p in fragment.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as exc:
            raise DataModelError(f"schema reference {where}#{fragment}: no such element") from exc
    return node


@lru_cache(maxsize=None)
def _raw_schema(path: str):
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise DataModelError(f"cannot read schema file {path}: {exc}") from exc
    return _yaml_load(text)


def merge_schemas(base: dict, extra: dict) -> dict:
    """Merge ``extra`` into a copy of ``base`` (the ``allOf`` of two object schemas).

    ``properties`` merge recursively, ``required`` lists are joined, any
    other key of ``extra`` wins.
    """
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(out.get(key), dict):
            props = dict(out[key])
            for name, sub in value.items():
                if name in props and isinstance(props[name], dict) and isinstance(sub, dict):
                    props[name] = merge_schemas(props[name], sub)
                else:
                    props[name] = sub
            out[key] = props
        elif key == "required" and isinstance(out.get(key), list):
            out[key] = list(dict.fromkeys(out[key] + list(value)))
        else:
            out[key] = value
    return out


def resolve_schema(node, base_dir: Path | str = SCHEMA_DIR, _doc=None, _stack=()):
    """Return ``node`` with every ``$ref`` inlined and every ``allOf`` merged."""
    base_dir = Path(base_dir)
    if isinstance(node, list):
        return [resolve_schema(n, base_dir, _doc, _stack) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        path, fragment = _locate(ref, base_dir)
        if path is None:
            target_doc = _doc if _doc is not None else node
            target = _pointer(target_doc, fragment, "<this schema>")
            target_dir = base_dir
        else:
            key = (str(path.resolve()), fragment)
            if key in _stack:
                raise DataModelError(f"schema reference cycle through {path}")
            target_doc = _raw_schema(str(path.resolve()))
            target = _pointer(target_doc, fragment, str(path)) if fragment else target_doc
            target_dir = path.parent
            _stack = _stack + (key,)
        resolved = resolve_schema(target, target_dir, target_doc, _stack)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if siblings:
            resolved = merge_schemas(resolved, resolve_schema(siblings, base_dir, _doc, _stack))
        return resolved
    out = {}
    for key, value in node.items():
        if key in ("properties",):
            out[key] = {name: resolve_schema(sub, base_dir, _doc, _stack) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "not", "additionalProperties"):
            out[key] = resolve_schema(value, base_dir, _doc, _stack)
        elif key == "allOf":
            continue
        else:
            out[key] = value
    if "allOf" in node:
        merged = {}
        for sub in node["allOf"]:
            merged = merge_schemas(merged, resolve_schema(sub, base_dir, _doc, _stack))
        out = merge_schemas(merged, out)
    return out


_cache: dict[str, dict] = {}


def load_schema(url: str | os.PathLike, base_dir: Path | str | None = None) -> dict:
    """Load and resolve a schema by name, relative path or special URL.

    The result is cached and shared: treat it as read-only (copy it with
    :func:`copy.deepcopy` before changing it).
    """
    base = Path(base_dir) if base_dir is not None else SCHEMA_DIR
    path, fragment = _locate(str(url), base)
    if path is None:
        raise DataModelError(f"schema {url!r} names no file")
    key = f"{path.resolve()}#{fragment}"
    schema = _cache.get(key)
    if schema is None:
        if not path.exists():
            raise DataModelError(f"schema file {path} does not exist")
        doc = _raw_schema(str(path.resolve()))
        node = _pointer(doc, fragment, str(path)) if fragment else doc
        schema = resolve_schema(node, path.parent, doc)
        _cache[key] = schema
    return schema


def datatype_to_dtype(datatype) -> np.dtype:
    """Translate a schema ``datatype`` into a numpy dtype.

    ``[ascii, N]`` strings become fixed-width unicode (``U``) in memory so
    comparisons with Python strings work; they are written as ASCII.
    An empty list (any table) returns ``None``.
    """
    if isinstance(datatype, str):
        try:
            return np.dtype(_SCALAR_DATATYPES[datatype])
        except KeyError:
            raise DataModelError(
                f"unknown schema datatype {datatype!r}; expected one of {', '.join(_SCALAR_DATATYPES)}"
            ) from None
    if isinstance(datatype, (list, tuple)):
        if len(datatype) == 2 and datatype[0] in ("ascii", "ucs4") and isinstance(datatype[1], int):
            return np.dtype(f"U{datatype[1]}")
        if not datatype:
            return None
        fields = []
        for i, column in enumerate(datatype):
            if not isinstance(column, dict):
                raise DataModelError(f"table column {i} of schema datatype is not a mapping")
            sub = datatype_to_dtype(column["datatype"])
            shape = column.get("shape")
            name = column.get("name", f"f{i}")
            if shape:
                shape = (shape,) if isinstance(shape, int) else tuple(shape)
                fields.append((name, sub, shape))
            else:
                fields.append((name, sub))
        return np.dtype(fields)
    raise DataModelError(f"invalid schema datatype {datatype!r}")


def is_array_schema(schema: dict) -> bool:
    """True if the schema node describes an n-dimensional array or a table."""
    return isinstance(schema, dict) and "datatype" in schema


def is_table_schema(schema: dict) -> bool:
    """True if the schema node describes a table (datatype is a column list)."""
    if not is_array_schema(schema):
        return False
    dt = schema["datatype"]
    return isinstance(dt, list) and not (len(dt) == 2 and dt[0] in ("ascii", "ucs4") and isinstance(dt[1], int))


def walk_schema(schema: dict, path: tuple = ()):
    """Yield ``(path, node)`` for every property node of the schema tree, depth first."""
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        here = path + (name,)
        yield here, sub
        if sub.get("type") == "object" or "properties" in sub:
            yield from walk_schema(sub, here)


def _hdu_key(value) -> str:
    if value in (None, 0, "PRIMARY", "primary"):
        return "PRIMARY"
    return str(value).upper()


class SchemaIndex:
    """Lookup tables derived once from a resolved schema.

    Attributes
    ----------
    keywords : dict
        ``(HDU name, KEYWORD) -> (path, node)`` for every scalar with a
        ``fits_keyword``.
    keywords_by_hdu : dict
        ``HDU name -> [(KEYWORD, path, node), ...]`` in schema order.
    arrays : dict
        ``path -> node`` for every array or table, in schema order.
    array_hdus : dict
        ``HDU name -> path`` of the array or table stored there.
    """

    def __init__(self, schema: dict):
        self.schema = schema
        self.keywords: dict[tuple[str, str], tuple[tuple, dict]] = {}
        self.keywords_by_hdu: dict[str, list] = {}
        self.arrays: dict[tuple, dict] = {}
        self.array_hdus: dict[str, tuple] = {}
        self.paths_by_keyword: dict[str, list[str]] = {}
        for path, node in walk_schema(schema):
            if "fits_keyword" in node and not is_array_schema(node):
                hdu = _hdu_key(node.get("fits_hdu"))
                key = str(node["fits_keyword"]).upper()
                if (hdu, key) not in self.keywords:
                    self.keywords[(hdu, key)] = (path, node)
                    self.keywords_by_hdu.setdefault(hdu, []).append((key, path, node))
                self.paths_by_keyword.setdefault(key, []).append(".".join(path))
            elif is_array_schema(node):
                self.arrays[path] = node
                if "fits_hdu" in node:
                    self.array_hdus.setdefault(_hdu_key(node["fits_hdu"]), path)
        # Lists whose items map to numbered extensions (SCI,1 SCI,2 ...).
        self.item_arrays: dict[str, tuple] = {}
        self.item_keywords: dict[tuple[str, str], tuple] = {}
        self.item_lists: dict[str, list] = {}
        for name, node in (schema.get("properties") or {}).items():
            items = node.get("items") if isinstance(node, dict) and node.get("type") == "array" else None
            if not isinstance(items, dict):
                continue
            for sub, subnode in walk_schema(items):
                hdu = subnode.get("fits_hdu")
                if hdu is None or _hdu_key(hdu) == "PRIMARY":
                    continue
                if is_array_schema(subnode):
                    self.item_arrays.setdefault(_hdu_key(hdu), ((name,), sub, subnode))
                    self.item_lists.setdefault(name, []).append((sub, subnode))
                elif "fits_keyword" in subnode:
                    key = str(subnode["fits_keyword"]).upper()
                    self.item_keywords.setdefault((_hdu_key(hdu), key), ((name,), sub, subnode))
        self.hdu_order = list(dict.fromkeys(
            [_hdu_key(n["fits_hdu"]) for n in self.arrays.values() if "fits_hdu" in n]
            + [h for h in self.keywords_by_hdu if h != "PRIMARY"]
        ))

    def node(self, path) -> dict | None:
        """Return the schema node at a dotted path or path tuple (``None`` if absent)."""
        if isinstance(path, str):
            path = tuple(p for p in path.split(".") if p)
        node = self.schema
        for part in path:
            props = node.get("properties") if isinstance(node, dict) else None
            if not props or part not in props:
                items = node.get("items") if isinstance(node, dict) else None
                if isinstance(items, dict) and part.isdigit():
                    node = items
                    continue
                return None
            node = props[part]
        return node


_index_cache: dict[int, SchemaIndex] = {}


def schema_index(schema: dict) -> SchemaIndex:
    """Return the (cached) :class:`SchemaIndex` of a resolved schema object."""
    idx = _index_cache.get(id(schema))
    if idx is None or idx.schema is not schema:
        idx = SchemaIndex(schema)
        _index_cache[id(schema)] = idx
    return idx
