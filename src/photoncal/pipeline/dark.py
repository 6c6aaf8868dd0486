"""calwebb_dark: the stage-1 corrections of dark exposures (seed 002, "Dark Pipeline Step Flow")."""

from __future__ import annotations

from photoncal.stpipe import Pipeline

from .detector1 import MIRI_STEPS, NIR_STEPS, Detector1Pipeline
from ._stage1 import open_stage1_ramp

__all__ = ["DarkPipeline"]


def _before_dark(order):
    return tuple(order[: order.index("dark_current")])


class DarkPipeline(Pipeline):
    """Stage 1 for dark exposures (calwebb_dark): the calwebb_detector1
    corrections up to, not including, dark_current.

    Near-IR: group_scale, dq_init, saturation, ipc, superbias, refpix,
    linearity, persistence.  MIRI: group_scale, dq_init, saturation, ipc,
    firstframe, lastframe, reset, linearity, rscd.  The result is the
    corrected 4-D ramp, the ``_dark`` product.
    """

    class_alias = "calwebb_dark"
    spec = """
        suffix = string(default='dark')  # output file suffix
    """
    # calwebb_detector1's steps before dark_current, in either step order
    step_defs = {name: cls for name, cls in Detector1Pipeline.step_defs.items()
                 if name in _before_dark(NIR_STEPS) + _before_dark(MIRI_STEPS)}

    def process(self, step_input):
        self.log.info("Starting calwebb_dark ...")
        ramp, order = open_stage1_ramp(self, step_input, _before_dark(NIR_STEPS), _before_dark(MIRI_STEPS))
        for name in order:
            ramp = getattr(self, name).run(ramp)
        self.log.info("... ending calwebb_dark")
        return ramp
