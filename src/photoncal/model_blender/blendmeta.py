"""``blendmodels``: blend the metadata of the inputs of a combined product (the spec's interface)."""

from __future__ import annotations

import os

from .blender import ModelBlender

__all__ = ["blendmodels", "get_blended_metadata", "extract_filenames_from_product"]


def _open(item):
    from photoncal import datamodels

    if isinstance(item, (str, os.PathLike)):
        return datamodels.open(os.fspath(item)), True
    return item, False


def _accumulate(blender, inputs):
    for item in inputs:
        model, opened = _open(item)
        try:
            blender.accumulate(model)
        finally:
            if opened:
                model.close()


def get_blended_metadata(input_models, verbose=False, blend_ignore_attrs=None):
    """The blended metadata and the HDRTAB table of ``input_models``.

    Parameters
    ----------
    input_models : iterable of models or paths
        Paths are opened one at a time.
    verbose : bool
        Accepted for compatibility.
    blend_ignore_attrs : list of str, optional
        See :class:`ModelBlender`.

    Returns
    -------
    (dict, numpy.recarray)
        Dotted attribute -> blended value, and the table.
    """
    blender = ModelBlender(blend_ignore_attrs)
    _accumulate(blender, input_models)
    return blender.blended_metadata(), blender.table()


def blendmodels(product, inputs=None, output=None, verbose=False, blend_ignore_attrs=None):
    """Blend the inputs' metadata into ``product`` (updated in place, not saved).

    Parameters
    ----------
    product : model or path
        The combined product.  A path is opened, updated and, with
        ``output``, saved.
    inputs : iterable of models or paths, optional
        The inputs; default the files named in the product's ``hdrtab``
        FILENAME column (looked for next to the product).
    output : str, optional
        Save the product there.
    verbose : bool
        Accepted for compatibility.
    blend_ignore_attrs : list of str, optional
        Attributes the product keeps (``meta.wcs`` always).

    Returns
    -------
    model
        The product.
    """
    model, _ = _open(product)
    if inputs is None:
        directory = os.path.dirname(os.fspath(product)) if isinstance(product, (str, os.PathLike)) else ""
        inputs = [os.path.join(directory, n) for n in extract_filenames_from_product(model)]
        if not inputs:
            raise ValueError("blendmodels: no inputs given and the product lists none in its HDRTAB")
    blender = ModelBlender(["meta.filename", *(blend_ignore_attrs or [])])
    _accumulate(blender, inputs)
    blender.finalize_model(model)
    if output is not None:
        model.save(os.fspath(output))
    return model


def extract_filenames_from_product(product):
    """The input file names recorded in a product's HDRTAB (FILENAME column)."""
    table = None
    try:
        table = product.hdrtab
    except (AttributeError, KeyError):
        pass
    if table is None:
        # a product whose class has no hdrtab keeps the extension as extra FITS data
        extra = product._instance.get("extra_fits", {}).get("HDRTAB", {})
        table = extra.get("data") if isinstance(extra, dict) else None
    try:
        return [str(n) for n in table["FILENAME"]]
    except (TypeError, KeyError, ValueError, IndexError):
        return []
