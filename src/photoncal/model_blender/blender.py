"""``ModelBlender``: the metadata of a combined product from its inputs, one input at a time.

The rules come from the inputs' schema: an attribute's ``blend_rule``
(default ``first``) says how its values combine (see
:mod:`photoncal.model_blender.rules`).  Every scalar attribute with a FITS
keyword in the primary or SCI header is also recorded per input in the
``HDRTAB`` table (one row per input, one column per keyword), unless its
schema entry says ``blend_table: false``.

Inputs are read one at a time (:meth:`ModelBlender.accumulate`), so blending
never holds more than one input model: only their metadata values are kept.
"""

from __future__ import annotations

import numpy as np

from .rules import AttributeBlender

__all__ = ["ModelBlender", "parse_schema", "HDRTAB_SCHEMA"]

#: Schema entry of the HDRTAB table added to a combined product.
HDRTAB_SCHEMA = {"title": "Metadata of the combined inputs", "fits_hdu": "HDRTAB", "datatype": []}

#: Attributes never blended: the WCS object is the combining step's own.
ALWAYS_IGNORED = ("meta.wcs",)

_TABLE_HDUS = ("PRIMARY", "SCI")


def parse_schema(model):
    """Blending instructions of a model's schema.

    Returns
    -------
    columns : dict
        Dotted attribute -> HDRTAB column (its FITS keyword), one to one.
    rules : dict
        Dotted attribute -> blend rule, for attributes with a ``blend_rule``
        other than ``first``.
    types : dict
        Dotted attribute -> schema ``type`` (for the table's column types).
    """
    from photoncal.datamodels.schema import schema_index, walk_schema

    index = schema_index(model._schema)
    columns, types, used = {}, {}, set()
    for hdu in _TABLE_HDUS:
        for keyword, path, node in index.keywords_by_hdu.get(hdu, []):
            if not path or path[0] != "meta" or node.get("blend_table", True) is False:
                continue
            attr = ".".join(path)
            if keyword in used or attr in columns:
                continue
            used.add(keyword)
            columns[attr] = keyword
            types[attr] = node.get("type")
    rules = {}
    for path, node in walk_schema(model._schema):
        rule = node.get("blend_rule") if isinstance(node, dict) else None
        if rule and rule != "first" and path[0] == "meta":
            rules[".".join(path)] = rule
    return columns, rules, types


def _is_scalar(value):
    return isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


class ModelBlender:
    """Blend the metadata of several models of one class into a combined product.

    Parameters
    ----------
    blend_ignore_attrs : list of str, optional
        Dotted attributes (or prefixes: ``"meta.photometry"``) that the
        product keeps as they are; ``meta.wcs`` is always ignored.

    Examples
    --------
    >>> blender = ModelBlender(blend_ignore_attrs=["meta.filename"])  # doctest: +SKIP
    >>> for model in inputs:                                          # doctest: +SKIP
    ...     blender.accumulate(model)
    >>> blender.finalize_model(product)                               # doctest: +SKIP
    """

    def __init__(self, blend_ignore_attrs=None):
        self.ignore = list(ALWAYS_IGNORED) + list(blend_ignore_attrs or [])
        self._model_class = None
        self._first = None
        self._blenders = {}
        self._columns = {}
        self._types = {}
        self._rows = []
        self.count = 0

    def _ignored(self, attr):
        return any(attr == p or attr.startswith(p + ".") for p in self.ignore)

    def accumulate(self, model):
        """Add one input model's metadata.

        Raises
        ------
        TypeError
            The model is not of the class of the first input.
        """
        flat = model.to_flat_dict(include_arrays=False)
        if self._first is None:
            self._model_class = type(model)
            columns, rules, types = parse_schema(model)
            # the table records every input's values, ignored attributes included
            self._columns = {a: c for a, c in columns.items() if not any(
                a == p or a.startswith(p + ".") for p in ALWAYS_IGNORED)}
            self._types = types
            self._blenders = {a: AttributeBlender(r) for a, r in rules.items() if not self._ignored(a)}
            self._first = {a: _plain(v) for a, v in flat.items()
                           if a.startswith("meta.") and _is_scalar(v) and not self._ignored(a)}
        elif type(model) is not self._model_class:
            name = getattr(model.meta, "filename", None) or "an input"
            raise TypeError(
                f"model_blender: {name} is a {type(model).__name__}, but the first input was a "
                f"{self._model_class.__name__}; only models of one class can be blended"
            )
        self._rows.append({a: _plain(flat[a]) for a in self._columns if a in flat and _is_scalar(flat[a])})
        for attr, blender in self._blenders.items():
            value = flat.get(attr)
            if _is_scalar(value):
                blender.accumulate(_plain(value))
        self.count += 1

    def blended_metadata(self) -> dict:
        """Dotted attribute -> value: the first input's metadata with the rules applied."""
        if self._first is None:
            return {}
        meta = dict(self._first)
        for attr, blender in self._blenders.items():
            value = blender.finalize()
            if value is not None:
                meta[attr] = value
        return meta

    def table(self) -> np.ndarray:
        """The HDRTAB table: a record array with one row per input, one column per keyword."""
        arrays, dtype = [], []
        for attr, column in self._columns.items():
            values = [row.get(attr) for row in self._rows]
            if all(v is None for v in values):
                continue
            kind = self._types.get(attr)
            missing = any(v is None for v in values)
            if kind == "string" or any(isinstance(v, str) for v in values):
                text = ["" if v is None else str(v) for v in values]
                arr = np.array(text, dtype=f"U{max(1, max(len(t) for t in text))}")
            elif kind == "boolean" and not missing:
                # FITS logical columns do not survive every reader; store 0/1
                arr = np.array([int(bool(v)) for v in values], dtype=np.int8)
            elif kind == "integer" and not missing:
                arr = np.array(values, dtype=np.int64)
            else:
                arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            arrays.append(arr)
            dtype.append((column, arr.dtype))
        if not arrays:
            return np.zeros(len(self._rows), dtype=[("FILENAME", "U1")])
        return np.rec.fromarrays(arrays, dtype=dtype)

    def finalize_model(self, product):
        """Write the blended metadata and the HDRTAB table into ``product`` (in place).

        Values the product's schema refuses are left as they were; returns
        ``product``.
        """
        from photoncal.datamodels.errors import ValidationError

        if self._first is None:
            raise ValueError("model_blender: no input model was accumulated")
        for attr, value in self.blended_metadata().items():
            try:
                product[attr] = value
            except (KeyError, ValidationError, TypeError, ValueError):
                continue
        product.add_schema_entry("hdrtab", dict(HDRTAB_SCHEMA))
        product.hdrtab = self.table()
        return product
