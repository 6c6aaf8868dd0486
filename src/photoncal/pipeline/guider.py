"""calwebb_guider: FGS guide-mode data to calibrated count rates
(seed 002, "Guider Pipeline Step Flow")."""

from __future__ import annotations

from photoncal.steps.dq_init import DQInitStep
from photoncal.steps.flat_field import FlatFieldStep
from photoncal.steps.guider_cds import GuiderCdsStep
from photoncal.stpipe import Pipeline

__all__ = ["GuiderPipeline"]


class GuiderPipeline(Pipeline):
    """FGS guide-mode exposures to flat-fielded count rates (calwebb_guider):
    dq_init, guider_cds, flat_field.  The result is the 3-D ``_cal`` product
    (one plane per integration)."""

    class_alias = "calwebb_guider"
    spec = """
        suffix = string(default='cal')  # output file suffix
    """
    step_defs = {
        "dq_init": DQInitStep,
        "guider_cds": GuiderCdsStep,
        "flat_field": FlatFieldStep,
    }

    def process(self, step_input):
        from photoncal.datamodels import GuiderCalModel, GuiderRawModel
        from photoncal.steps._common import open_model_as

        self.log.info("Starting calwebb_guider ...")
        if self.dq_init.skip and self.guider_cds.skip:
            # both ran before: the input is already a count-rate product
            model = open_model_as(self, step_input, GuiderCalModel, "a calibrated guider product (GuiderCalModel)")
        else:
            model = open_model_as(self, step_input, GuiderRawModel, "an FGS guide-mode exposure (GuiderRawModel)")
        model = self.dq_init.run(model)
        model = self.guider_cds.run(model)
        model = self.flat_field.run(model)
        self.log.info("... ending calwebb_guider")
        return model
