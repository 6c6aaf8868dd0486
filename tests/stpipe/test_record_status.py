"""Step.record_status: a per-model status survives the framework's final pass."""

from photoncal import datamodels
from photoncal.stpipe import Step


class _HalfStep(Step):
    class_alias = "record_status_probe"
    cal_step = "skymatch"

    def process(self, models):
        for i, model in enumerate(models):
            if i % 2:
                self.record_status(model, "SKIPPED")
        return models


def test_recorded_status_is_kept():
    models = [datamodels.ImageModel((2, 2)) for _ in range(4)]
    out = _HalfStep().run(models)
    assert [m.meta.cal_step.skymatch for m in out] == ["COMPLETE", "SKIPPED", "COMPLETE", "SKIPPED"]
