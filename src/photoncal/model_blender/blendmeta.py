"""``blendmodels``: blend the metadata of the inputs of a combined product (the spec's interface)."""

from __future__ import annotations

import os

from .blender import ModelBlender

__all__ = ["blendmodels", "get_blended_metadata", "extract_filenames_from_product", "blend_resampled_product",
           "RESAMPLED_PRODUCT_KEEPS"]

#: Attributes a resampled product keeps from the resampling (grid, pixel area,
#: resample keywords, exposure times counted per exposure) rather than blends.
RESAMPLED_PRODUCT_KEEPS = (
    "meta.filename", "meta.model_type", "meta.date", "meta.wcsinfo", "meta.resample", "meta.background",
    "meta.cal_step", "meta.asn", "meta.bunit_data", "meta.bunit_err",
    "meta.photometry.pixelarea_steradians", "meta.photometry.pixelarea_arcsecsq",
    "meta.exposure.exposure_time", "meta.exposure.effective_exposure_time",
    "meta.exposure.measurement_time", "meta.exposure.duration", "meta.exposure.elapsed_exposure_time",
    "meta.exposure.start_time", "meta.exposure.end_time",
)


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


def blend_resampled_product(product, inputs):
    """Blend the inputs' metadata into a resampled product (``_i2d``), keeping what resampling set.

    The attributes in :data:`RESAMPLED_PRODUCT_KEEPS` stay as the resampling
    computed them; every other attribute follows its blend rule, and the
    HDRTAB table lists every input.  Inputs that are paths (or members of an
    on-disk container) are opened one at a time.
    """
    blender = ModelBlender(list(RESAMPLED_PRODUCT_KEEPS))
    _accumulate(blender, inputs)
    return blender.finalize_model(product)
