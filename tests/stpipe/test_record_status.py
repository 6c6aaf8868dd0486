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


class _TableStep(Step):
    class_alias = "table_result_probe"

    def process(self, model):
        from astropy.table import Table

        return Table({"label": [1, 2], "flux": [3.0, 4.0]})


def test_a_table_result_is_saved_as_ecsv(tmp_path):
    from astropy.table import Table

    model = datamodels.ImageModel((2, 2))
    model.meta.filename = "jw01_nrca1_i2d.fits"
    _TableStep.call(model, save_results=True, suffix="cat", output_dir=str(tmp_path))
    table = Table.read(tmp_path / "jw01_nrca1_cat.ecsv")
    assert list(table["flux"]) == [3.0, 4.0]
