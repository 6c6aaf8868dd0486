"""firstframe: flag the first group of MIRI ramps (seed 002, firstframe)."""

from __future__ import annotations

from photoncal.stpipe import Step

from ._common import is_miri, open_ramp

__all__ = ["FirstFrameStep"]


class FirstFrameStep(Step):
    """Flag the first group of every MIRI integration DO_NOT_USE.

    Only with more than 3 groups; with ``bright_use_group1`` the first group
    is kept where the third is already saturated (and the pixel gets
    FLUX_ESTIMATED).  Skipped by default, as in the established pipeline,
    whose rscd step now flags the first groups.
    """

    class_alias = "firstframe"
    spec = """
        bright_use_group1 = boolean(default=True)  # keep group 1 where group 3 is saturated
        skip = boolean(default=True)  # skipped by default (the rscd step flags the first groups)
    """

    def process(self, step_input):
        from photoncal.kernels.firstframe import flag_first_group

        model = open_ramp(self, step_input)
        if not is_miri(model):
            return self.skip_step(model, "the first-frame correction is only for MIRI data")
        kept = flag_first_group(model.groupdq, model.pixeldq, bright_use_group1=self.bright_use_group1)
        if kept is None:
            return self.skip_step(model, f"NGROUPS = {model.data.shape[1]}: needs more than 3 groups")
        if kept:
            self.log.info("Group 1 kept in %d pixels whose group 3 is saturated", kept)
        return model
