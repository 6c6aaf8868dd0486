"""calwebb_dark: the stage-1 corrections of dark exposures (seed 002, "Dark Pipeline Step Flow")."""

from __future__ import annotations

from photoncal.steps.dq_init import DQInitStep
from photoncal.steps.firstframe import FirstFrameStep
from photoncal.steps.group_scale import GroupScaleStep
from photoncal.steps.ipc import IPCStep
from photoncal.steps.lastframe import LastFrameStep
from photoncal.steps.linearity import LinearityStep
from photoncal.steps.persistence import PersistenceStep
from photoncal.steps.refpix import RefPixStep
from photoncal.steps.reset import ResetStep
from photoncal.steps.rscd import RscdStep
from photoncal.steps.saturation import SaturationStep
from photoncal.steps.superbias import SuperBiasStep
from photoncal.stpipe import Pipeline

from .detector1 import MIRI_STEPS, NIR_STEPS
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
    step_defs = {
        "group_scale": GroupScaleStep,
        "dq_init": DQInitStep,
        "saturation": SaturationStep,
        "ipc": IPCStep,
        "superbias": SuperBiasStep,
        "refpix": RefPixStep,
        "firstframe": FirstFrameStep,
        "lastframe": LastFrameStep,
        "reset": ResetStep,
        "linearity": LinearityStep,
        "rscd": RscdStep,
        "persistence": PersistenceStep,
    }

    def process(self, step_input):
        self.log.info("Starting calwebb_dark ...")
        ramp, order = open_stage1_ramp(self, step_input, _before_dark(NIR_STEPS), _before_dark(MIRI_STEPS))
        for name in order:
            ramp = getattr(self, name).run(ramp)
        self.log.info("... ending calwebb_dark")
        return ramp
