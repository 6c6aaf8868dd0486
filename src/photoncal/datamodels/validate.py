"""Checking and converting values against schema nodes.

:func:`convert_value` is the one place that decides whether a value fits a
schema node; it returns the value in its stored form (Python scalars,
arrays of the schema dtype) or raises :class:`~.errors.ValidationError`
with a message that says what was expected.
"""

from __future__ import annotations

import numpy as np

from .errors import ValidationError
from .schema import datatype_to_dtype, is_array_schema, is_table_schema

__all__ = ["convert_value", "convert_array", "convert_table", "describe"]

_JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")


def describe(node: dict) -> str:
    """Short human description of what a schema node expects."""
    if is_table_schema(node):
        names = [c.get("name") for c in node["datatype"] if isinstance(c, dict)]
        return f"a table with columns {names}" if names else "a table"
    if is_array_schema(node):
        text = f"an array of {node['datatype']}"
        if "ndim" in node:
            text += f" with {node['ndim']} dimensions"
        return text
    if "enum" in node:
        return f"one of {node['enum']}"
    t = node.get("type")
    if isinstance(t, list):
        return " or ".join(t)
    return str(t) if t else "any value"


def _convert_scalar(value, jtype):
    """Return the converted value or raise ``TypeError``."""
    if jtype == "string":
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bytes):
            return value.decode("ascii", errors="replace")
        cls = type(value).__name__
        if cls in ("Time", "datetime", "date"):
            return value.isoformat() if hasattr(value, "isoformat") and cls != "Time" else value.isot
        raise TypeError
    if jtype == "number":
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        if isinstance(value, (int, float, np.integer, np.floating)):
            return value.item() if isinstance(value, np.generic) else value
        raise TypeError
    if jtype == "integer":
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        raise TypeError
    if jtype == "boolean":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise TypeError
    if jtype == "null":
        if value is None:
            return None
        raise TypeError
    if jtype == "object":
        if isinstance(value, dict) or hasattr(value, "_instance"):
            return value
        raise TypeError
    if jtype == "array":
        if isinstance(value, (list, tuple)):
            return list(value)
        raise TypeError
    return value


def convert_value(value, node: dict, name: str = "value"):
    """Check ``value`` against a schema node and return it in stored form.

    Parameters
    ----------
    value : object
        The candidate value.  ``None`` always passes (it means "unset").
    node : dict
        The resolved schema node.
    name : str
        Dotted path used in error messages.

    Raises
    ------
    ValidationError
        With a message naming ``name``, the value and what was expected.
    """
    if value is None or node is None:
        return value
    if is_array_schema(node):
        if is_table_schema(node):
            return convert_table(value, node, name)
        return convert_array(value, node, name)
    if "anyOf" in node or "oneOf" in node:
        errors = []
        for sub in node.get("anyOf", []) + node.get("oneOf", []):
            try:
                return convert_value(value, sub, name)
            except ValidationError as exc:
                errors.append(str(exc))
        if errors:
            raise ValidationError(f"{name}: {value!r} matches none of the allowed forms")
    jtype = node.get("type")
    if jtype is not None:
        types = jtype if isinstance(jtype, list) else [jtype]
        for t in types:
            try:
                value = _convert_scalar(value, t)
                break
            except TypeError:
                continue
        else:
            raise ValidationError(f"{name}: {value!r} is not of type {' or '.join(map(repr, types))}")
    if "enum" in node and value not in node["enum"]:
        raise ValidationError(f"{name}: {value!r} is not one of {node['enum']}")
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _check_ndim(shape, node, name):
    nd = len(shape)
    if "ndim" in node and nd != node["ndim"]:
        raise ValidationError(
            f"{name}: array has {nd} dimensions {tuple(shape)}, expected {node['ndim']}"
        )
    if "max_ndim" in node and nd > node["max_ndim"]:
        raise ValidationError(
            f"{name}: array has {nd} dimensions {tuple(shape)}, expected at most {node['max_ndim']}"
        )


def convert_array(value, node: dict, name: str = "array", keep_byteorder: bool = True):
    """Return ``value`` as an array of the node's dtype, checking dimensions.

    An array whose dtype already matches (byte order aside when
    ``keep_byteorder``) is returned as is, so in-place edits reach the model.
    """
    dtype = datatype_to_dtype(node["datatype"])
    arr = value
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "__array__") or isinstance(arr, (list, tuple, int, float)):
            arr = np.asarray(arr)
        else:
            raise ValidationError(f"{name}: {type(value).__name__} is not an array ({describe(node)} expected)")
    if arr.dtype.names is not None:
        raise ValidationError(f"{name}: got a table, expected {describe(node)}")
    _check_ndim(arr.shape, node, name)
    if arr.dtype == dtype:
        return arr
    if keep_byteorder and arr.dtype.newbyteorder("=") == dtype.newbyteorder("=") and arr.dtype.kind == dtype.kind:
        return arr
    if arr.dtype.kind in "OUS" and dtype.kind not in "OUS":
        raise ValidationError(f"{name}: array of {arr.dtype} cannot be {describe(node)}")
    try:
        return arr.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}: cannot convert array of {arr.dtype} to {dtype}: {exc}") from exc


def _column_dtype(base, src_sub):
    """Schema column dtype, keeping the data's per-cell shape."""
    return (base, src_sub.shape) if src_sub.shape else base


def convert_table(value, node: dict, name: str = "table"):
    """Return ``value`` as a record array with the schema's columns first.

    Columns are matched by name, case-insensitively.  Columns the schema does
    not list are kept after the listed ones.  Vector columns keep the cell
    shape of the data (the schema's ``shape`` only sizes new, empty tables).
    String columns are unicode in memory.
    """
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], tuple):
        schema_dtype = datatype_to_dtype(node["datatype"])
        value = np.array([tuple(r) for r in value], dtype=schema_dtype)
    if not isinstance(value, np.ndarray) or value.dtype.names is None:
        if hasattr(value, "columns") and hasattr(value, "as_array"):  # astropy Table
            value = value.as_array()
        else:
            raise ValidationError(f"{name}: {type(value).__name__} is not a table ({describe(node)} expected)")
    schema_dtype = datatype_to_dtype(node["datatype"])
    src_names = {n.lower(): n for n in value.dtype.names}
    fields = []
    mapping = []
    used = set()
    if schema_dtype is not None:
        for col in schema_dtype.names:
            src = src_names.get(col.lower())
            if src is None:
                raise ValidationError(
                    f"{name}: table lacks column {col!r}; it has {list(value.dtype.names)}"
                )
            used.add(src)
            base, _shape = schema_dtype.fields[col][0].base, schema_dtype.fields[col][0].shape
            src_dt = value.dtype.fields[src][0]
            if base.kind == "U" and src_dt.base.kind in "SU":
                width = max(base.itemsize // 4, src_dt.base.itemsize // (4 if src_dt.base.kind == "U" else 1))
                base = np.dtype(f"U{width}")
            fields.append((col, _column_dtype(base, src_dt)))
            mapping.append((col, src))
    for src in value.dtype.names:
        if src in used:
            continue
        src_dt = value.dtype.fields[src][0]
        base = src_dt.base
        if base.kind == "S":
            base = np.dtype(f"U{base.itemsize}")
        elif base.kind in "iufcb" and not base.isnative:
            base = base.newbyteorder("=")
        fields.append((src, _column_dtype(base, src_dt)))
        mapping.append((src, src))
    out_dtype = np.dtype(fields)
    if value.dtype == out_dtype:
        return value.view(np.recarray) if not isinstance(value, np.recarray) else value
    out = np.empty(value.shape, dtype=out_dtype)
    for dst, src in mapping:
        column = value[src]
        if out_dtype.fields[dst][0].base.kind == "U" and column.dtype.kind == "S":
            column = np.char.decode(column, "ascii", errors="replace")
        try:
            out[dst] = column
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{name}: column {src!r} cannot be stored as {out_dtype.fields[dst][0]}: {exc}") from exc
    return out.view(np.recarray)
