"""gain_scale: rescale rates taken at a non-standard gain (seed 002, gain_scale)."""

from __future__ import annotations

from photoncal.stpipe import ReferenceFileNotFoundError, Step

from ._common import reference_model

__all__ = ["GainScaleStep"]


class GainScaleStep(Step):
    """Multiply the count rates (SCI, ERR, variances) by the gain factor.

    The factor is GAINFACT of the exposure (ramp_fit copies it from the GAIN
    reference), else GAINFACT of the GAIN reference; without one the step
    is skipped.  Works on ``_rate`` (ImageModel) and ``_rateints``
    (CubeModel) products.
    """

    class_alias = "gain_scale"
    spec = """
    """
    reference_file_types = ["gain"]

    def process(self, step_input):
        from photoncal.kernels.gain_scale import apply_gain_factor

        model = self.open_model(step_input)
        factor = model.meta.exposure.gain_factor
        if factor is None:
            try:
                gain = reference_model(self, model, "gain")
            except ReferenceFileNotFoundError as err:
                return self.skip_step(model, f"no GAINFACT in the exposure and no GAIN reference ({err})")
            factor = None if gain is None else gain.meta.exposure.gain_factor
            if factor is None:
                return self.skip_step(model, "no GAINFACT in the exposure or the GAIN reference")
        self.log.info("Rescaling the count rates by GAINFACT = %g", factor)
        arrays = {name: getattr(model, name) if name in model.keys() else None
                  for name in ("err", "var_poisson", "var_rnoise", "var_flat")}
        apply_gain_factor(model.data, **arrays, gain_factor=float(factor))
        model.meta.exposure.gain_factor = float(factor)
        return model
