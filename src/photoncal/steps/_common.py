"""Plumbing shared by the stage-1 steps.

A stage-1 step opens a ramp, fetches reference files, cuts them to the
exposure's subarray, hands plain arrays to a kernel and records what it did.
The pieces every step needs live here so that each ``process()`` reads like
its paragraph in the spec.  Heavy modules (numpy, the data models) are
imported inside the functions: ``strun <pipeline> -h`` imports every step
module and must stay fast.
"""

from __future__ import annotations

import os

__all__ = [
    "open_ramp",
    "open_model_as",
    "reference_model",
    "science_reference",
    "native",
    "is_miri",
    "read_pattern_of",
    "is_fully_saturated",
    "saving_products",
    "describe",
]


def describe(model) -> str:
    """A short name of a model for messages: its file name, else its class."""
    name = getattr(getattr(model, "meta", None), "filename", None)
    return str(name) if name else type(model).__name__


def open_model_as(step, step_input, model_class, what: str):
    """Open ``step_input`` (a path or a model) as ``model_class``.

    A model of another class is converted when the two share their primary
    array layout (``RampModel(level1b_model)``); anything else raises a
    ``TypeError`` that names the input and what was expected.
    """
    model = step.open_model(step_input)
    if isinstance(model, model_class):
        return model
    try:
        converted = model_class(model)
    except Exception as err:  # noqa: BLE001 - any failure means a wrong input type
        raise TypeError(
            f"step {step.name!r}: input {describe(model)} is a {type(model).__name__}; expected {what}"
        ) from err
    return converted


def open_ramp(step, step_input):
    """The input as a :class:`~photoncal.datamodels.RampModel` with float32 SCI.

    Paths are opened with ``photoncal.datamodels.open`` (an ``_uncal`` file
    becomes a RampModel, MIRIRampModel for MIRI); a model is used as it is
    (the framework already copied it for a top-level run).
    """
    import numpy as np

    from photoncal.datamodels import RampModel

    model = open_model_as(step, step_input, RampModel, "a ramp (RampModel: 4-D SCI, PIXELDQ, GROUPDQ)")
    data = model.data
    if data is None or np.ndim(data) != 4:
        raise TypeError(
            f"step {step.name!r}: {describe(model)} SCI has shape {np.shape(data)}; expected 4-D "
            "(nints, ngroups, ny, nx)"
        )
    if data.dtype != np.float32 or not data.dtype.isnative:
        model.data = np.asarray(data, dtype=np.float32)
    return model


def reference_model(step, model, reftype: str):
    """The ``reftype`` reference file of ``model`` opened as a model, or None for N/A.

    The framework records the file used in ``meta.ref_file.<reftype>.name``.
    """
    return step.get_reference_file_model(model, reftype)


def science_reference(step, model, reftype: str):
    """The ``reftype`` reference model cut to ``model``'s subarray (None for N/A).

    A full-frame reference serving a subarray exposure is cut with
    :func:`photoncal.datamodels.subarray.ref_to_science_subarray` (views, no
    copies); a reference that cannot cover the subarray raises
    :class:`~photoncal.datamodels.errors.SubarrayError` naming both boxes.
    """
    ref = reference_model(step, model, reftype)
    if ref is None:
        return None
    from photoncal.datamodels.subarray import ref_to_science_subarray

    cut = ref_to_science_subarray(ref, model)
    if cut is not ref:
        step.log.info("Extracting the %s reference subarray to match the science data", reftype.upper())
    return cut


def native(array, dtype=None):
    """``array`` in native byte order (and ``dtype``), without a copy when it already is."""
    import numpy as np

    arr = np.asarray(array)
    target = np.dtype(dtype) if dtype is not None else arr.dtype.newbyteorder("=")
    if arr.dtype == target and arr.dtype.isnative:
        return arr
    return arr.astype(target.newbyteorder("="))


def is_miri(model) -> bool:
    """Whether the exposure is a MIRI one (instrument name or detector)."""
    name = str(model.meta.instrument.name or "").upper()
    detector = str(model.meta.instrument.detector or "").upper()
    return name == "MIRI" or detector.startswith("MIR")


def read_pattern_of(model):
    """The frames averaged into each group as the established steps build it:
    group ``g`` holds frames ``g*nframes+1 .. (g+1)*nframes``."""
    from photoncal.kernels.saturation import frame_read_pattern

    nframes = int(model.meta.exposure.nframes or 1)
    ngroups = int(model.data.shape[1])
    return frame_read_pattern(nframes, ngroups)


def is_fully_saturated(model, *, saturated: int, reference_pixel: int) -> bool:
    """True when every science pixel is SATURATED in the first group of every
    integration (nothing is left to fit; reference pixels never saturate)."""
    import numpy as np

    first = np.asarray(model.groupdq[:, 0])
    sat_everywhere = np.bitwise_and.reduce(first & saturated, axis=0) != 0
    science = (np.asarray(model.pixeldq) & reference_pixel) == 0
    if not science.any():
        return False
    return bool(np.all(sat_everywhere[science]))


def saving_products(step) -> bool:
    """Whether this run saves its products (the step's or a parent's
    ``save_results`` or ``output_file``); side products such as
    ``_trapsfilled`` are written exactly then."""
    node = step
    while node is not None:
        if getattr(node, "save_results", False) or getattr(node, "output_file", None):
            return True
        node = node.parent
    return False


def output_path_from(step, name: str | None, suffix: str) -> str:
    """A side product's path: ``name`` (a base name, its known suffix
    replaced) when given, else the step's own base name; the suffix is
    ``suffix``."""
    if name:
        return step.make_output_path(basepath=os.fspath(name), suffix=suffix)
    return step.make_output_path(suffix=suffix)
