"""calwebb_image3: combine calibrated imaging exposures into a mosaic and a catalog.

Seed 002, "calwebb_image3": for the ``science`` members of a level-3
association (or a list of ``_cal`` files or models, or a ModelContainer)

    tweakreg -> skymatch -> outlier_detection -> resample -> source_catalog

with the products

* ``<exposure>_<candidate>_crf.fits`` per exposure (outlier_detection; the
  association candidate id in the name, e.g. ``jw..._nrca1_o001_crf.fits``),
* ``<product>_i2d.fits``: the resampled mosaic with the inputs' metadata
  blended (:mod:`photoncal.model_blender`: rules per keyword, the HDRTAB
  table of every input's keywords) and the combined exposure times,
* ``<product>_cat.ecsv`` and ``<product>_segm.fits`` (source_catalog),

``<product>`` being the association's product name (or ``output_file``).
A single ``_cal`` exposure goes through resample and source_catalog only.
With ``in_memory=False`` the exposures stay on disk and are opened one at a
time by every step, so the peak memory is about the output mosaic plus one
exposure whatever their number.
"""

from __future__ import annotations

import os

from photoncal.steps.outlier_detection import OutlierDetectionStep
from photoncal.steps.resample import ResampleStep
from photoncal.steps.skymatch import SkyMatchStep
from photoncal.steps.source_catalog import SourceCatalogStep
from photoncal.steps.tweakreg import TweakRegStep
from photoncal.stpipe import Pipeline

__all__ = ["Image3Pipeline"]


class Image3Pipeline(Pipeline):
    """Align, sky-match, clean and combine imaging exposures; catalog the mosaic (calwebb_image3)."""

    class_alias = "calwebb_image3"

    spec = """
        in_memory = boolean(default=True)  # False: keep the exposures on disk and open one at a time
    """

    step_defs = {
        "tweakreg": TweakRegStep,
        "skymatch": SkyMatchStep,
        "outlier_detection": OutlierDetectionStep,
        "resample": ResampleStep,
        "source_catalog": SourceCatalogStep,
    }

    def process(self, input_data):
        from photoncal.model_blender import blend_resampled_product
        from photoncal.steps._stage3 import shared_pixmaps

        self.log.info("Starting calwebb_image3 ...")
        container = self._load(input_data)
        product = self._product_name(container)
        if self.output_file is None and product:
            self.output_file = product
        for step in (self.tweakreg, self.skymatch, self.outlier_detection, self.resample):
            step.in_memory = self.in_memory
        self.outlier_detection.suffix = "crf"
        self.outlier_detection.mode = "imaging"
        self.outlier_detection.save_results = self.save_results
        self.resample.suffix = "i2d"
        # the mosaic is saved below, once its metadata are blended
        self.resample.save_results = False
        self.source_catalog.save_results = self.save_results

        if len(container) > 1:
            container = self.tweakreg.run(container)
            container = self.skymatch.run(container)
        # outlier detection and the mosaic map each exposure onto the same grid: once
        with shared_pixmaps(container):
            if len(container) > 1:
                container = self.outlier_detection.run(container)
            else:
                self.log.info("A single exposure: only resample and source_catalog run")
            mosaic = self.resample.run(container)
        if type(mosaic).__name__ != "ImageModel" or mosaic.meta.cal_step.resample != "COMPLETE":
            self.log.warning("resample did not produce a mosaic; source_catalog is not run")
            return mosaic
        blend_resampled_product(mosaic, _members(container))
        if self.save_results:
            self.resample.save_model(mosaic, suffix="i2d", force=True)
        else:
            mosaic.meta.filename = os.path.basename(self.resample.make_output_path(suffix="i2d"))
        self.source_catalog.run(mosaic)
        self.log.info("... ending calwebb_image3")
        return mosaic

    def _save_results(self, result):
        # every product was saved by its step (or above): nothing left to save
        return None

    # ------------------------------------------------------------------
    def _load(self, input_data):
        from photoncal.steps._stage3 import open_container
        from photoncal.stpipe.step import is_container, is_model

        if isinstance(input_data, (str, os.PathLike)):
            ext = os.path.splitext(os.fspath(input_data))[1].lower()
            if ext not in (".json", ".yaml", ".yml", ".fits", ".asdf"):
                raise ValueError(f"calwebb_image3: input {os.fspath(input_data)!r} is neither an association "
                                 "(.json) nor a calibrated exposure (.fits, .asdf)")
        elif not (isinstance(input_data, dict) or is_model(input_data) or is_container(input_data)):
            raise TypeError(f"calwebb_image3: unsupported input of type {type(input_data).__name__}")
        container = open_container(self, input_data, in_memory=self.in_memory)
        if len(container) == 0:
            raise ValueError("calwebb_image3: the input holds no science exposure")
        return container

    def _product_name(self, container):
        try:
            return str(container.asn_table["products"][0]["name"])
        except (KeyError, IndexError, TypeError):
            return None


def _members(container):
    """The container's members, each closed after use when it lives on disk."""
    for index in range(len(container)):
        model = container[index]
        yield model
        if container.on_disk and isinstance(container._members[index], str):
            model.close()
