"""Helpers shared by the stage-3 steps (tweakreg, skymatch, outlier_detection, resample).

Stage-3 steps work on a :class:`~photoncal.datamodels.ModelContainer`.
With ``in_memory=False`` the container holds paths and opens one member at a
time; a step that changes a member writes it to a private working directory
(a temporary directory removed when the container is garbage collected, or
``$TMPDIR``) and stores the new path back, so memory does not grow with the
number of exposures.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref

__all__ = ["STARFINDER_SPEC", "starfinder_options", "open_container", "store_member", "working_directory", "asn_id_of", "model_name",
           "is_on_disk", "group_ids", "shared_pixmaps"]


def open_container(step, step_input, in_memory=True):
    """``step_input`` (association path or dict, list, container, model, path) as a ModelContainer.

    Only ``science`` members of an association are kept.  With
    ``in_memory=False`` members given as paths stay on disk.
    """
    from photoncal.datamodels import ModelContainer
    from photoncal.stpipe.step import is_container, is_model

    if isinstance(step_input, ModelContainer):
        return step_input
    on_disk = not in_memory
    if isinstance(step_input, (str, os.PathLike)):
        path = step.make_input_path(os.fspath(step_input))
        if path.lower().endswith((".json", ".yaml", ".yml")):
            return ModelContainer(path, on_disk=on_disk, asn_exptypes=["science"])
        return ModelContainer([path], on_disk=on_disk)
    if isinstance(step_input, dict):
        return ModelContainer(step_input, on_disk=on_disk, asn_exptypes=["science"])
    if is_model(step_input):
        return ModelContainer([step_input])
    if is_container(step_input):
        items = [step.make_input_path(os.fspath(i)) if isinstance(i, (str, os.PathLike)) else i
                 for i in step_input]
        return ModelContainer(items, on_disk=on_disk)
    raise TypeError(
        f"step {step.name!r}: expected an association, a ModelContainer, a list of models or "
        f"paths, or a model; got {type(step_input).__name__}"
    )


def working_directory(container) -> str:
    """The container's private directory for changed on-disk members (created on first use)."""
    holder = getattr(container, "_photoncal_workdir", None)
    if holder is None:
        holder = tempfile.TemporaryDirectory(prefix="photoncal_stage3_")
        container._photoncal_workdir = holder
        # remove the files when the container goes away
        weakref.finalize(container, holder.cleanup)
    return holder.name


def store_member(container, index, model):
    """Keep a changed member: on disk, save it in the working directory; in memory, nothing to do."""
    if not container.on_disk or not isinstance(container._members[index], str):
        container._members[index] = model
        return
    name = os.path.basename(container._members[index])
    path = os.path.join(working_directory(container), name)
    container._members[index] = os.fspath(model.save(path))
    model.close()


def asn_id_of(container, default=None):
    """The association's candidate id (``asn_id``), e.g. ``o001``, or ``default``."""
    table = getattr(container, "asn_table", None) or {}
    value = table.get("asn_id") if isinstance(table, dict) else None
    return str(value) if value else default


def model_name(model, index=None):
    """A name for messages: the file name, else ``member <index>``."""
    name = getattr(model.meta, "filename", None)
    return str(name) if name else f"member {index}"


def is_on_disk(container, index) -> bool:
    """Whether member ``index`` is kept as a path (opened on each access)."""
    return bool(container.on_disk) and isinstance(container._members[index], str)


_GROUP_KEYWORDS = ("PROGRAM", "OBSERVTN", "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE")


def group_ids(container):
    """The exposure group of each member, in order (``meta.group_id`` or the exposure id).

    On-disk members are not opened as models when their association entry
    or their primary header gives the id (opening parses the whole ASDF
    tree); the result is kept on the container for the next step.
    """
    members = list(container._members)
    cached = getattr(container, "_photoncal_group_ids", None)
    if cached is not None and cached[0] == len(members):
        return list(cached[1])
    if not container.on_disk:
        ids = list(container._group_ids())
    else:
        ids = [_group_id_of_path(container, m, i) if isinstance(m, str) else None for i, m in enumerate(members)]
        if any(i is None for i in ids):
            opened = container._group_ids()
            ids = [i if i is not None else o for i, o in zip(ids, opened)]
    container._photoncal_group_ids = (len(members), list(ids))
    return ids


def _group_id_of_path(container, path, index):
    entry = container._exptype_of_path(path) if container.asn_table else None
    if entry and entry.get("group_id"):
        return str(entry["group_id"])
    if not path.lower().endswith((".fits", ".fit", ".fits.gz")):
        return None
    from astropy.io import fits

    try:
        header = fits.getheader(path)
    except OSError:
        return None
    values = [header.get(k) for k in _GROUP_KEYWORDS]
    if any(v is None for v in values):
        return None
    return "jw{}{}{}_{}{}{}_{}".format(*values)


@contextlib.contextmanager
def shared_pixmaps(container):
    """Reuse pixel maps within the block (see :func:`photoncal.wcs.pixmap.pixmap_cache`).

    The maps live in the container's working directory and are removed when
    the outermost block ends.
    """
    from photoncal.wcs.pixmap import current_pixmap_cache, pixmap_cache

    outermost = current_pixmap_cache() is None
    with pixmap_cache(os.path.join(working_directory(container), "pixmaps")) as used:
        try:
            yield used
        finally:
            if outermost:
                shutil.rmtree(used, ignore_errors=True)


#: Source-finder options tweakreg and source_catalog both take (spec lines);
#: the general options and ``npixels``, whose defaults differ, stay in each step.
STARFINDER_SPEC = """
        connectivity = option(4, 8, default=8)  # pixel connectivity
        nlevels = integer(default=32)  # multi-thresholding levels for deblending
        contrast = float(default=0.001)  # flux fraction a deblended source must have
        multithresh_mode = option('exponential', 'linear', 'sinh', default='exponential')  # multi-thresholding mode
        localbkg_width = integer(default=0)  # width of the local background annulus
        apermask_method = option('correct', 'mask', 'none', default='correct')  # neighbouring-source handling
        kron_params = float_list(min=2, max=3, default=None)  # Kron aperture parameters
        deblend = boolean(default=True)  # deblend sources

        # DAOStarFinder and IRAFStarFinder options (starfinder 'dao' or 'iraf')
        minsep_fwhm = float(default=0.0)  # minimum separation between sources, in FWHM
        sigma_radius = float(default=1.5)  # truncation radius of the Gaussian kernel, in sigma
        sharplo = float(default=0.5)  # lower bound on sharpness
        sharphi = float(default=2.0)  # upper bound on sharpness
        roundlo = float(default=0.0)  # lower bound on roundness
        roundhi = float(default=0.2)  # upper bound on roundness
        brightest = integer(default=200)  # keep the brightest sources
        peakmax = float(default=None)  # reject sources with pixel values >= peakmax
"""

#: The parameters :func:`starfinder_options` passes on to the source finder.
STARFINDER_PARAMETERS = (
    "starfinder", "snr_threshold", "kernel_fwhm", "bkg_boxsize", "npixels", "connectivity", "nlevels", "contrast",
    "multithresh_mode", "localbkg_width", "apermask_method", "kron_params", "deblend", "minsep_fwhm",
    "sigma_radius", "sharplo", "sharphi", "roundlo", "roundhi", "brightest", "peakmax",
)


def starfinder_options(step) -> dict:
    """The step's source-finder parameters as keyword arguments of the kernels."""
    options = {name: getattr(step, name) for name in STARFINDER_PARAMETERS}
    options["connectivity"] = int(options["connectivity"])
    return options
