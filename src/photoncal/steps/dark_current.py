"""dark_current: subtract the dark current (seed 002, dark_current)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import describe, is_miri, native, open_ramp, science_reference

__all__ = ["DarkCurrentStep"]


class DarkCurrentStep(Step):
    """Subtract the dark current using the DARK reference file.

    The dark is stored frame by frame (or already averaged for a readout
    pattern); it is averaged to the science readout (NFRAMES frames per
    group, GROUPGAP frames dropped between groups) and subtracted from every
    group; its DQ is OR-ed into PIXELDQ.  MIRI darks have one plane per
    integration: science integration ``i`` uses dark integration ``i``, the
    last one beyond.  A science exposure longer than the dark uses the dark
    extrapolated linearly; a dark read with more frames per group than the
    science is not applied (SKIPPED).  ``dark_output`` saves the averaged
    dark that was subtracted.  ``average_dark_current`` (or the reference's
    AVDRKCUR array) is kept for the Poisson variance of ramp fitting.
    """

    class_alias = "dark_current"
    cal_step = "dark_sub"
    spec = """
        dark_output = output_file(default=None)  # file name of the frame-averaged dark that was subtracted
        average_dark_current = float(default=None)  # average dark current of the detector (ramp-fit Poisson variance); default: the reference's
    """
    reference_file_types = ["dark"]

    def process(self, step_input):
        from photoncal.kernels.dark_current import subtract_dark

        model = open_ramp(self, step_input)
        dark = science_reference(self, model, "dark")
        if dark is None:
            return self.skip_step(model, "no DARK reference file (N/A)")
        self._set_average_dark_current(model, dark)
        exposure, dark_exposure = model.meta.exposure, dark.meta.exposure
        result = subtract_dark(
            model.data,
            model.pixeldq,
            native(dark.data, "float32"),
            native(dark.dq),
            nframes=int(exposure.nframes or 1),
            groupgap=int(exposure.groupgap or 0),
            dark_nframes=int(dark_exposure.nframes or 1),
            dark_groupgap=int(dark_exposure.groupgap or 0),
            integration_start=exposure.integration_start,
            return_averaged=self.dark_output is not None,
        )
        if not result.applied:
            return self.skip_step(model, result.message)
        self.log.info("%s", result.message)
        if self.dark_output is not None:
            self._save_averaged_dark(model, dark, result)
        return model

    def _set_average_dark_current(self, model, dark):
        """Keep the average dark current for ramp fitting: the parameter,
        else the reference's AVDRKCUR array, else nothing (zero)."""
        import numpy as np

        image_shape = model.data.shape[-2:]
        if self.average_dark_current is not None:
            self.log.info("Using Poisson noise from an average dark current of %s", self.average_dark_current)
            model.average_dark_current = np.full(image_shape, self.average_dark_current, dtype=np.float32)
            return
        if "average_dark_current" not in dark.keys():
            return
        avg = native(dark.average_dark_current, "float32")
        if avg.shape != image_shape:
            self.log.warning("The DARK AVDRKCUR array has shape %s, the science %s; not used", avg.shape, image_shape)
        elif np.any(avg != 0):
            model.average_dark_current = avg

    def _save_averaged_dark(self, model, dark, result):
        from photoncal.datamodels import DarkMIRIModel, DarkModel

        model_class = DarkMIRIModel if is_miri(model) else DarkModel
        averaged = model_class(data=result.averaged_dark, dq=native(result.averaged_dq))
        averaged.update(dark)
        averaged.meta.exposure.nframes = model.meta.exposure.nframes
        averaged.meta.exposure.ngroups = model.meta.exposure.ngroups
        averaged.meta.exposure.groupgap = model.meta.exposure.groupgap
        path = self.make_output_path(basepath=self.dark_output, suffix=False)
        averaged.save(path)
        self.log.info("Saved the frame-averaged dark of %s in %s", describe(model), path)
