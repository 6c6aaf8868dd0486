"""lastframe: flag the last group of MIRI ramps (seed 002, lastframe)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, open_ramp

__all__ = ["LastFrameStep"]


class LastFrameStep(Step):
    """Flag the last group of every MIRI integration DO_NOT_USE (with more than 2 groups)."""

    class_alias = "lastframe"
    spec = """
    """

    def process(self, step_input):
        from photoncal.kernels.lastframe import flag_last_group

        model = open_ramp(self, step_input)
        if not is_miri(model):
            return self.skip_step(model, "the last-frame correction is only for MIRI data")
        if not flag_last_group(model.groupdq):
            return self.skip_step(model, f"NGROUPS = {model.data.shape[1]}: needs more than 2 groups")
        return model
