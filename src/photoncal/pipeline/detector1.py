"""calwebb_detector1: raw ramps to count rates (seed 002, "Stage 1 Pipeline Step Flow")."""

from __future__ import annotations

from photoncal.steps.dark_current import DarkCurrentStep
from photoncal.steps.dq_init import DQInitStep
from photoncal.steps.firstframe import FirstFrameStep
from photoncal.steps.gain_scale import GainScaleStep
from photoncal.steps.group_scale import GroupScaleStep
from photoncal.steps.ipc import IPCStep
from photoncal.steps.jump import JumpStep
from photoncal.steps.lastframe import LastFrameStep
from photoncal.steps.linearity import LinearityStep
from photoncal.steps.persistence import PersistenceStep
from photoncal.steps.ramp_fit import RampFitStep
from photoncal.steps.refpix import RefPixStep
from photoncal.steps.reset import ResetStep
from photoncal.steps.rscd import RscdStep
from photoncal.steps.saturation import SaturationStep
from photoncal.steps.superbias import SuperBiasStep
from photoncal.stpipe import Pipeline

from ._stage1 import fully_saturated_products, open_stage1_ramp, run_until_saturated

__all__ = ["Detector1Pipeline", "NIR_STEPS", "MIRI_STEPS"]

#: The near-IR corrections before ramp fitting, in the order of the spec.
NIR_STEPS = ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
             "persistence", "dark_current", "jump")

#: The MIRI corrections before ramp fitting: the spec's order, with firstframe
#: and reset placed as the established pipeline does (reset corrects raw DN,
#: so before linearity; first/lastframe only flag groups).
MIRI_STEPS = ("group_scale", "dq_init", "saturation", "ipc", "firstframe", "lastframe", "reset",
              "linearity", "rscd", "dark_current", "refpix", "persistence", "jump")


class Detector1Pipeline(Pipeline):
    """Stage 1: detector-level corrections and ramp fitting (calwebb_detector1).

    Near-IR: group_scale, dq_init, saturation, ipc, superbias, refpix,
    linearity, persistence, dark_current, jump, ramp_fit, gain_scale.  MIRI:
    group_scale, dq_init, saturation, ipc, firstframe, lastframe, reset,
    linearity, rscd, dark_current, refpix, persistence, jump, ramp_fit,
    gain_scale.  The result is the ``_rate`` image (averaged over the
    integrations); the per-integration ``_rateints`` cube is saved beside
    it.  ``save_calibrated_ramp`` saves the ramp after jump (``_ramp``).
    The ``calwebb_tso1`` configuration skips ipc, lastframe and persistence.
    An exposure saturated in its first group everywhere gives all-zero
    products and the later steps are SKIPPED.
    """

    class_alias = "calwebb_detector1"
    spec = """
        save_calibrated_ramp = boolean(default=False)  # save the ramp after jump, before ramp fitting (_ramp)
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
        "dark_current": DarkCurrentStep,
        "jump": JumpStep,
        "ramp_fit": RampFitStep,
        "gain_scale": GainScaleStep,
    }

    _product_suffix = "rate"
    #: The ``_rateints`` CubeModel of the last run (None when ramp fitting was skipped).
    rateints = None

    def default_suffix(self) -> str:
        # _rate when ramp fitting ran, else the ramp it stopped at (as established)
        return self._product_suffix

    def process(self, step_input):
        self.log.info("Starting calwebb_detector1 ...")
        self.rateints = None
        ramp, order = open_stage1_ramp(self, step_input, NIR_STEPS, MIRI_STEPS)
        ramp, remaining = run_until_saturated(self, ramp, order)
        if remaining is not None:
            rate, rateints = fully_saturated_products(self, ramp, remaining + ("ramp_fit", "gain_scale"))
        else:
            if self.save_calibrated_ramp:
                self.save_model(ramp, suffix="ramp", force=True)
            self.ramp_fit.rateints = None
            rate = self.ramp_fit.run(ramp)
            rateints = self.ramp_fit.rateints
            if rateints is None:
                # ramp fitting was skipped: the result is the corrected ramp
                self._product_suffix = "ramp"
                self.log.info("... ending calwebb_detector1 without ramp fitting")
                return rate
            rate = self.gain_scale.run(rate)
            rateints = self.gain_scale.run(rateints)
        self._product_suffix = "rate"
        self.rateints = rateints
        self.save_model(rateints, suffix="rateints")
        self.log.info("... ending calwebb_detector1")
        return rate
