"""Matching reference files to the science subarray.

Subarray corners are 1-based (``meta.subarray.xstart``/``ystart``, FITS
SUBSTRT1/SUBSTRT2); sizes are SUBSIZE1 (columns) and SUBSIZE2 (rows).  A
model without subarray keywords is taken to start at (1, 1) with the size
of its arrays.
"""

from __future__ import annotations

import numpy as np

from .errors import SubarrayError

__all__ = ["is_full_frame", "full_frame_shape", "subarray_box", "subarray_slices", "ref_to_science_subarray"]

#: (rows, columns) of a full frame.  MIRI: 1024 rows x 1032 columns.
_FULL = {"MIRI": (1024, 1032)}
_DEFAULT_FULL = (2048, 2048)


def full_frame_shape(meta) -> tuple[int, int]:
    """(ny, nx) of the full frame of the instrument in ``meta``."""
    name = str(_get(meta, "instrument", "name") or "").upper()
    return _FULL.get(name, _DEFAULT_FULL)


def _get(meta, *path):
    node = meta
    for part in path:
        if node is None:
            return None
        if isinstance(node, dict):
            node = node.get(part)
        else:
            node = getattr(node, part, None)
    return node


def is_full_frame(meta) -> bool:
    """True if the exposure (or reference) described by ``meta`` covers the whole detector.

    ``SUBARRAY = 'FULL'`` counts as full frame; otherwise the corner must be
    (1, 1) and the size that of the instrument's full frame.
    """
    name = _get(meta, "subarray", "name")
    if name is not None and str(name).strip().upper() == "FULL":
        return True
    xstart, ystart = _get(meta, "subarray", "xstart"), _get(meta, "subarray", "ystart")
    xsize, ysize = _get(meta, "subarray", "xsize"), _get(meta, "subarray", "ysize")
    if None in (xstart, ystart, xsize, ysize):
        return False
    ny, nx = full_frame_shape(meta)
    return xstart == 1 and ystart == 1 and xsize == nx and ysize == ny


def _primary_shape(model):
    shape = model._primary_shape()
    if shape is None:
        for key, value in model._instance.items():
            if hasattr(value, "shape") and len(getattr(value, "shape", ())) >= 2 and getattr(value, "dtype", None) is not None:
                if getattr(value.dtype, "names", None) is None:
                    shape = tuple(value.shape)
                    break
    return shape


def subarray_box(model) -> tuple[int, int, int, int]:
    """(xstart, ystart, xsize, ysize) of a model, 1-based, from its metadata or its array shape."""
    meta = model._instance.get("meta", {})
    sub = meta.get("subarray", {}) if isinstance(meta, dict) else {}
    shape = _primary_shape(model)
    xstart = sub.get("xstart") or 1
    ystart = sub.get("ystart") or 1
    xsize = sub.get("xsize") or (shape[-1] if shape else None)
    ysize = sub.get("ysize") or (shape[-2] if shape else None)
    if xsize is None or ysize is None:
        raise SubarrayError(f"{_name(model)}: no subarray size in the metadata and no array to take it from")
    if shape is not None and len(shape) >= 2 and (shape[-1], shape[-2]) != (xsize, ysize):
        # The arrays are the truth when the keywords disagree with them.
        xsize, ysize = shape[-1], shape[-2]
    return int(xstart), int(ystart), int(xsize), int(ysize)


def _name(model):
    meta = model._instance.get("meta", {})
    return (meta.get("filename") if isinstance(meta, dict) else None) or model._source or type(model).__name__


def subarray_slices(ref_model, sci_model) -> tuple[slice, slice]:
    """(row slice, column slice) of the reference arrays that cover the science subarray.

    Raises
    ------
    SubarrayError
        If the reference does not contain the whole science subarray.
    """
    rx, ry, rnx, rny = subarray_box(ref_model)
    sx, sy, snx, sny = subarray_box(sci_model)
    x0, y0 = sx - rx, sy - ry
    if x0 < 0 or y0 < 0 or x0 + snx > rnx or y0 + sny > rny:
        raise SubarrayError(
            f"reference {_name(ref_model)} covers columns {rx}-{rx + rnx - 1}, rows {ry}-{ry + rny - 1} "
            f"(1-based); science {_name(sci_model)} needs columns {sx}-{sx + snx - 1}, rows {sy}-{sy + sny - 1}"
        )
    return slice(y0, y0 + sny), slice(x0, x0 + snx)


def ref_to_science_subarray(ref_model, sci_model):
    """The reference model cut to the science subarray.

    Returns ``ref_model`` itself when it already matches; otherwise a new
    model of the same class whose arrays are views of the reference's,
    sliced on their last two axes (arrays whose image plane differs from the
    reference's, such as an IPC kernel, are kept whole) and whose
    ``meta.subarray`` describes the science subarray.

    Raises
    ------
    SubarrayError
        If the reference does not cover the science subarray.
    """
    rbox = subarray_box(ref_model)
    sbox = subarray_box(sci_model)
    if rbox == sbox:
        return ref_model
    rows, cols = subarray_slices(ref_model, sci_model)
    plane = (rbox[3], rbox[2])
    new = type(ref_model)()
    object.__setattr__(new, "_source", ref_model._source)
    for key, value in ref_model._instance.items():
        if key == "meta" or key == "history" or key == "extra_fits":
            continue
        if hasattr(value, "shape") and getattr(value, "dtype", None) is not None and getattr(value.dtype, "names", None) is None:
            arr = getattr(ref_model, key)
            if isinstance(arr, np.ndarray) and arr.ndim >= 2 and arr.shape[-2:] == plane:
                new._instance[key] = arr[..., rows, cols]
            else:
                new._instance[key] = arr
        else:
            new._instance[key] = getattr(ref_model, key) if hasattr(value, "shape") else value
    import copy

    meta = copy.deepcopy(ref_model._instance.get("meta", {}))
    sub = meta.setdefault("subarray", {})
    sci_sub = sci_model._instance.get("meta", {}).get("subarray", {})
    sub.update({"xstart": sbox[0], "ystart": sbox[1], "xsize": sbox[2], "ysize": sbox[3]})
    if sci_sub.get("name"):
        sub["name"] = sci_sub["name"]
    new._instance["meta"] = meta
    return new
