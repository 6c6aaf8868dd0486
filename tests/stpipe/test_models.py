"""The framework with real photoncal data models: status (S_*) and reference
(R_*) keywords in the files written, reference models, strun on FITS files."""

import os

import pytest

from photoncal.cli import strun
from photoncal.stpipe import Pipeline, Step

np = pytest.importorskip("numpy")
fits = pytest.importorskip("astropy.io.fits")
datamodels = pytest.importorskip("photoncal.datamodels")


def science_model(detector="NRCA1", subarray="FULL"):
    model = datamodels.ImageModel(np.ones((4, 4), dtype=np.float32))
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = detector
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.readpatt = "RAPID"
    meta.subarray.name = subarray
    meta.observation.date = "2023-05-01"
    meta.observation.time = "12:00:00.000"
    meta.filename = "jw01_00001_nrca1_rate.fits"
    return model


def write_mask(path, detector="NRCA1", value=1, useafter="2014-01-01T00:00:00"):
    mask = datamodels.MaskModel(np.full((4, 4), value, dtype=np.uint32))
    mask.meta.reftype = "MASK"
    mask.meta.instrument.name = "NIRCAM"
    mask.meta.instrument.detector = detector
    mask.meta.subarray.name = "FULL"
    mask.meta.useafter = useafter
    mask.meta.telescope = "JWST"
    mask.save(str(path))
    return str(path)


class MaskTestStep(Step):
    """OR the mask into the DQ array, as dq_init does (test step)."""

    class_alias = "mask_test"
    cal_step = "dq_init"  # the schema's status keyword S_DQINIT
    reference_file_types = ["mask"]

    def process(self, step_input):
        with self.open_model(step_input) as model:
            with self.get_reference_file_model(model, "mask") as mask:
                model.dq = model.dq | mask.dq
        return model


class ScaleTestStep(Step):
    class_alias = "scale_model_test"
    cal_step = "flat_field"
    spec = """
        factor = float(default=2.0)
    """

    def process(self, step_input):
        model = self.open_model(step_input)
        model.data = model.data * np.float32(self.factor)
        return model


class ModelPipeline(Pipeline):
    class_alias = "model_pipe_test"
    spec = """
        suffix = string(default='cal')
    """
    step_defs = {"mask": MaskTestStep, "scale": ScaleTestStep}

    def process(self, step_input):
        return self.scale.run(self.mask.run(step_input))


@pytest.fixture
def refdir(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    write_mask(refs / "mask_a1_old.fits", value=1)
    write_mask(refs / "mask_a1_new.fits", value=4, useafter="2022-01-01T00:00:00")
    write_mask(refs / "mask_a2.fits", detector="NRCA2", value=8)
    return refs


def test_status_and_reference_keywords_in_the_saved_file(tmp_path, refdir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = science_model()
    result = MaskTestStep.call(model, reference_dir=str(refdir), save_results=True)
    assert int(result.dq[0, 0]) == 4
    assert result.meta.cal_step.dq_init == "COMPLETE"
    assert result.meta.ref_file.mask.name == str(refdir / "mask_a1_new.fits")
    assert model.meta.cal_step.dq_init is None and int(model.dq[0, 0]) == 0  # the caller's model is untouched
    header = fits.getheader(tmp_path / "jw01_00001_nrca1_mask_test.fits")
    assert header["S_DQINIT"] == "COMPLETE"
    assert header["R_MASK"] == str(refdir / "mask_a1_new.fits")
    reread = datamodels.open(str(tmp_path / "jw01_00001_nrca1_mask_test.fits"))
    assert reread.meta.cal_step.dq_init == "COMPLETE"


def test_override_model_and_na(tmp_path, refdir):
    override = datamodels.open(str(refdir / "mask_a2.fits"))
    result = MaskTestStep.call(science_model(), override_mask=override)
    assert int(result.dq[0, 0]) == 8
    assert result.meta.ref_file.mask.name == "mask_a2.fits"
    result = MaskTestStep.call(science_model(), override_mask="N/A")
    assert result.meta.cal_step.dq_init == "SKIPPED" and int(result.dq[0, 0]) == 0


def test_pipeline_with_models_and_files(tmp_path, refdir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    science_model().save(str(tmp_path / "jw01_00001_nrca1_rate.fits"))
    result = ModelPipeline.call(
        "jw01_00001_nrca1_rate.fits", reference_dir=str(refdir), save_results=True,
        steps={"scale": {"factor": 3.0}, "mask": {"save_results": True}},
    )
    assert float(result.data[0, 0]) == 3.0
    header = fits.getheader(tmp_path / "jw01_00001_nrca1_cal.fits")
    assert header["S_DQINIT"] == "COMPLETE" and header["S_FLAT"] == "COMPLETE"
    assert header["R_MASK"].endswith("mask_a1_new.fits")
    intermediate = datamodels.open(str(tmp_path / "jw01_00001_nrca1_mask.fits"))
    assert intermediate.meta.cal_step.flat_field is None
    assert intermediate.meta.cal_step.dq_init == "COMPLETE"
    result = ModelPipeline.call(
        "jw01_00001_nrca1_rate.fits", reference_dir=str(refdir), steps={"scale": {"skip": True}}
    )
    assert result.meta.cal_step.flat_field == "SKIPPED" and float(result.data[0, 0]) == 1.0


def test_strun_on_a_fits_file(tmp_path, refdir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    science_model().save(str(tmp_path / "jw01_00001_nrca1_rate.fits"))
    monkeypatch.setenv("PHOTONCAL_REFDIR", str(refdir))
    assert strun.main(["model_pipe_test", "jw01_00001_nrca1_rate.fits", "--steps.scale.factor=5"]) == 0
    with datamodels.open(str(tmp_path / "jw01_00001_nrca1_cal.fits")) as out:
        assert float(out.data[1, 1]) == 5.0
        assert out.meta.ref_file.mask.name == str(refdir / "mask_a1_new.fits")
        assert out.meta.filename == "jw01_00001_nrca1_cal.fits"


def test_reference_type_missing_from_the_schema_is_still_recorded(tmp_path):
    class NewRefStep(Step):
        class_alias = "new_ref_test"
        reference_file_types = ["futureref"]

        def process(self, model):
            self.get_reference_file(model, "futureref")
            return model

    (tmp_path / "f.fits").write_text("x")
    result = NewRefStep.call(science_model(), override_futureref=str(tmp_path / "f.fits"))
    assert result.meta.ref_file.futureref.name == str(tmp_path / "f.fits")


class DoubleEachStep(Step):
    class_alias = "double_each_test"
    cal_step = "outlier_detection"

    def process(self, container):
        for model in container:
            model.data = model.data * np.float32(2)
        return container


def test_container_results_are_saved_member_by_member(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    container = datamodels.ModelContainer([science_model(), science_model()])
    container[1].meta.filename = "jw01_00002_nrca1_rate.fits"
    result = DoubleEachStep.call(container, save_results=True, suffix="crf")
    assert [m.meta.cal_step.outlier_detection for m in result] == ["COMPLETE", "COMPLETE"]
    assert float(container[0].data[0, 0]) == 1.0
    assert sorted(os.listdir(tmp_path)) == ["jw01_00001_nrca1_crf.fits", "jw01_00002_nrca1_crf.fits"]
    assert float(datamodels.open(str(tmp_path / "jw01_00002_nrca1_crf.fits")).data[0, 0]) == 2.0
