"""The Roman WFI exposure pipeline (``strun exposure_pipeline r..._uncal.asdf``)."""

from __future__ import annotations

from photoncal.roman.stpipe import RomanPipeline
from photoncal.roman.steps.assign_wcs import AssignWcsStep
from photoncal.roman.steps.dark_current import DarkCurrentStep
from photoncal.roman.steps.dq_init import DQInitStep
from photoncal.roman.steps.flat_field import FlatFieldStep
from photoncal.roman.steps.linearity import LinearityStep
from photoncal.roman.steps.photom import PhotomStep
from photoncal.roman.steps.ramp_fit import RampFitStep
from photoncal.roman.steps.refpix import RefPixStep
from photoncal.roman.steps.saturation import SaturationStep
from photoncal.roman.steps.source_catalog import SourceCatalogStep
from photoncal.roman.steps.tweakreg import TweakRegStep

__all__ = ["ExposurePipeline", "is_fully_saturated"]

#: Exposure types that are flat-fielded and flux calibrated.
IMAGING_TYPES = ("WFI_IMAGE", "WFI_LOLO", "WFI_WFSC")
#: Exposure types that get a source catalog and tweakreg.
CATALOG_TYPES = ("WFI_IMAGE", "WFI_LOLO")
#: Steps after saturation, marked SKIPPED for a fully saturated exposure.
_AFTER_SATURATION = ("refpix", "linearity", "ramp_fit", "dark", "assign_wcs", "flat_field", "photom",
                     "source_catalog")


def is_fully_saturated(ramp) -> bool:
    """Whether every resultant (or every pixel) of a ramp is flagged SATURATED."""
    import numpy as np

    from photoncal.roman import dqflags

    sat = dqflags.SATURATED
    if np.all((ramp.groupdq & sat) == sat):
        return True
    return bool(np.all((ramp.pixeldq & sat) == sat))


def zeroed_image(ramp):
    """The output of a fully saturated exposure: zero rates and variances, SATURATED everywhere."""
    import numpy as np

    from photoncal.roman import dqflags
    from photoncal.roman.steps.ramp_fit import image_from_ramp

    shape = ramp.pixeldq.shape
    zeros = np.zeros(shape, np.float32)
    dq = ramp.pixeldq | ramp.groupdq[0] | np.uint32(dqflags.SATURATED)
    image = image_from_ramp(ramp, zeros, dq, zeros, zeros, zeros)
    for name in _AFTER_SATURATION:
        image.meta.cal_step[name] = "SKIPPED"
    object.__setattr__(image, "_fully_saturated", True)
    return image


class ExposurePipeline(RomanPipeline):
    """Calibrate Roman WFI exposures from raw ramps to aligned rate images.

    Steps: dq_init, saturation, refpix, linearity, rampfit (ramp fitting
    with jump detection), dark_current, assign_wcs for every exposure type;
    then flatfield and photom for imaging, source_catalog and tweakreg for
    WFI_IMAGE/WFI_LOLO.  An association (or list) is calibrated exposure by
    exposure and aligned with the sources of all its exposures.  A fully
    saturated exposure becomes an all-zero image (steps after saturation
    SKIPPED) and skips tweakreg for every input.

    Products: ``_cal`` (ImageModel), ``_cat`` (ECSV catalog), ``_segm``
    (segmentation map), ``_wcs`` (the final level-2 WCS and the level-1 WCS
    of the array with its reference border).  Returns the calibrated image,
    or a list for several inputs; ``catalogs`` and ``segmentation_maps``
    hold the others.
    """

    class_alias = "exposure_pipeline"
    spec = """
        on_disk = boolean(default=False)   # accepted for compatibility (models are kept in memory)
        suffix = string(default='cal')     # suffix of the calibrated images
    """
    step_defs = {
        "dq_init": DQInitStep,
        "saturation": SaturationStep,
        "refpix": RefPixStep,
        "linearity": LinearityStep,
        "rampfit": RampFitStep,
        "dark_current": DarkCurrentStep,
        "assign_wcs": AssignWcsStep,
        "flatfield": FlatFieldStep,
        "photom": PhotomStep,
        "source_catalog": SourceCatalogStep,
        "tweakreg": TweakRegStep,
    }

    def process(self, step_input):
        from photoncal.roman import datamodels as rdm

        self.output_use_model = True
        inputs = self.open_model(step_input)
        single = not isinstance(inputs, (list, tuple))
        exposures = [inputs] if single else list(inputs)
        del inputs  # each ramp is released once calibrated (only ``exposures`` refers to it)
        if not exposures:
            raise ValueError("exposure_pipeline: no exposures to calibrate")
        self.log.info("Roman exposure pipeline: %d exposure(s)", len(exposures))

        results, self.catalogs, self.segmentation_maps = [], [], []
        for index in range(len(exposures)):
            model = exposures[index]
            exposures[index] = None  # let the ramp go once it is calibrated
            result, catalog_wanted = self._process_exposure(model)
            del model
            catalog = segmentation = None
            if catalog_wanted and not self.source_catalog.skip:
                result = self.source_catalog.run(result)
                catalog, segmentation = self.source_catalog.catalog, self.source_catalog.segmentation
            else:
                result.meta.cal_step.source_catalog = "SKIPPED"
            results.append(result)
            self.catalogs.append(catalog)
            self.segmentation_maps.append(segmentation)

        saturated = [getattr(r, "_fully_saturated", False) for r in results]
        to_align = [r for r, c in zip(results, self.catalogs) if c is not None]
        if any(saturated):
            self.log.info("A fully saturated input: tweakreg skipped for every input")
            for r in results:
                r.meta.cal_step.tweakreg = "SKIPPED"
        elif to_align and not self.tweakreg.skip:
            self.tweakreg.run(to_align if len(to_align) > 1 else to_align[0])
        else:
            for r in results:
                r.meta.cal_step.tweakreg = "SKIPPED"

        if self.save_results:
            for result, catalog, segmentation in zip(results, self.catalogs, self.segmentation_maps):
                if catalog is not None:
                    path = self.source_catalog.save_catalog(catalog, force=True, model=result)
                    result.meta.source_catalog.tweakreg_catalog_name = path
                if segmentation is not None:
                    self.save_model(segmentation, suffix="segm", force=True, output_file=None)
        self.log.info("Roman exposure pipeline done")
        return results[0] if single else rdm.RomanModelList(results)

    def _process_exposure(self, model):
        """Run the per-exposure steps; returns (image, whether a catalog is wanted)."""
        result = self.dq_init.run(model)
        result = self.saturation.run(result)
        if is_fully_saturated(result):
            self.log.info("%s: every pixel is saturated; returning an all-zero image", result.meta.filename)
            return zeroed_image(result), False
        result = self.refpix.run(result)
        result = self.linearity.run(result)
        result = self.rampfit.run(result)
        result = self.dark_current.run(result)
        result = self.assign_wcs.run(result)
        exp_type = result.meta.exposure.type
        if exp_type not in IMAGING_TYPES:
            self.log.info("%s: exposure type %s stops after assign_wcs", result.meta.filename, exp_type)
            for name in ("flat_field", "photom", "source_catalog", "tweakreg"):
                result.meta.cal_step[name] = "SKIPPED"
            return result, False
        result = self.flatfield.run(result)
        result = self.photom.run(result)
        return result, exp_type in CATALOG_TYPES

    def save_model(self, model, suffix=None, idx=None, output_file=None, force=False, ext=None, **kwargs):
        """Save a model; a calibrated image is saved with its ``_wcs`` product."""
        path = super().save_model(model, suffix=suffix, idx=idx, output_file=output_file, force=force, ext=ext,
                                  **kwargs)
        if path and type(model).__name__ == "ImageModel" and model.meta.wcs is not None:
            from photoncal.roman import datamodels as rdm

            wcs_model = rdm.WfiWcsModel.from_model_with_wcs(model)
            super().save_model(wcs_model, suffix="wcs", force=True, ext=ext, _use_model=True)
        return path
