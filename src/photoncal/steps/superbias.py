"""superbias: subtract the bias level (seed 002, superbias)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import native, open_ramp, science_reference

__all__ = ["SuperBiasStep"]


class SuperBiasStep(Step):
    """Subtract the SUPERBIAS reference image from every group.

    The reference DQ is OR-ed into PIXELDQ; NaN bias values count as 0.
    The zero frame, when downlinked, is corrected too.
    """

    class_alias = "superbias"
    spec = """
    """
    reference_file_types = ["superbias"]

    def process(self, step_input):
        from photoncal.kernels.superbias import subtract_superbias

        model = open_ramp(self, step_input)
        bias = science_reference(self, model, "superbias")
        if bias is None:
            return self.skip_step(model, "no SUPERBIAS reference file (N/A)")
        zeroframe = model.zeroframe if model.meta.exposure.zero_frame else None
        subtract_superbias(model.data, model.pixeldq, native(bias.data), native(bias.dq), zeroframe=zeroframe)
        return model
