"""reset: subtract the MIRI reset anomaly (seed 002, reset)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, native, open_ramp, science_reference

__all__ = ["ResetStep"]


class ResetStep(Step):
    """Subtract the MIRI reset anomaly.

    The RESET reference holds a correction per integration and group; it is
    subtracted group by group (groups beyond the reference get none, later
    integrations use the reference's last one) and its DQ is OR-ed into
    PIXELDQ.  Only for MIRI.
    """

    class_alias = "reset"
    spec = """
    """
    reference_file_types = ["reset"]

    def process(self, step_input):
        from photoncal.kernels.reset import subtract_reset

        model = open_ramp(self, step_input)
        if not is_miri(model):
            return self.skip_step(model, "the reset correction is only for MIRI data")
        reset = science_reference(self, model, "reset")
        if reset is None:
            return self.skip_step(model, "no RESET reference file (N/A)")
        subtract_reset(model.data, model.pixeldq, native(reset.data, "float32"), native(reset.dq),
                       integration_start=model.meta.exposure.integration_start)
        return model
