"""Pipeline: sub-step parameters, cfg [steps] sections, in-memory passing,
output_dir/output_file propagation, pipeline-level options, progress, timing."""

import io
import logging
import os

import pytest

from photoncal.stpipe import Pipeline, Step
from photoncal.stpipe.exceptions import ParameterError

SEEN = []


class DoubleStep(Step):
    class_alias = "double_t"

    def process(self, step_input):
        model = self.open_model(step_input)
        SEEN.append(("double", id(model)))
        model.data = [2 * v for v in model.data]
        return model


class OffsetStep(Step):
    class_alias = "offset_t"
    spec = """
        offset = float(default=1.0)  # added to the data
    """

    def process(self, step_input):
        SEEN.append(("offset", id(step_input)))
        step_input.data = [v + self.offset for v in step_input.data]
        return step_input


class SquareStep(Step):
    class_alias = "square_t"

    def process(self, step_input):
        SEEN.append(("square", id(step_input)))
        step_input.data = [v * v for v in step_input.data]
        return step_input


class RampPipeline(Pipeline):
    """A test pipeline: double, offset, square."""

    class_alias = "ramp_pipe_t"
    spec = """
        save_calibrated_ramp = boolean(default=False)  # save the result of offset as _ramp
        suffix = string(default='rate')
    """
    step_defs = {"double": DoubleStep, "offset": OffsetStep, "square": SquareStep}

    def process(self, step_input):
        result = self.double.run(step_input)
        result = self.offset.run(result)
        if self.save_calibrated_ramp:
            self.save_model(result, suffix="ramp", force=True)
        return self.square.run(result)


@pytest.fixture(autouse=True)
def _clear_seen():
    SEEN.clear()


def test_defaults_and_python_dict_form(fake_model):
    model = fake_model("x_uncal.fits", data=[1.0, 2.0])
    assert RampPipeline.call(model).data == [9.0, 25.0]  # ((2x)+1)^2
    result = RampPipeline.call(model, steps={"offset": {"offset": 0.5}})
    assert result.data == [6.25, 20.25]
    assert model.data == [1.0, 2.0]
    assert result.meta.cal_step.double_t == "COMPLETE"
    assert result.meta.cal_step.offset_t == "COMPLETE"
    assert result.meta.cal_step.square_t == "COMPLETE"
    # a pipeline records no status of its own
    assert "ramp_pipe_t" not in vars(result.meta.cal_step)
    pipe = RampPipeline(steps={"offset": {"offset": 4}})
    assert isinstance(pipe.offset, OffsetStep) and pipe.offset.offset == 4.0
    assert pipe.offset.parent is pipe and pipe.offset.name == "offset"


def test_models_pass_between_steps_without_copies(fake_model):
    RampPipeline.call(fake_model("x.fits", data=[1.0]))
    ids = {id_ for _, id_ in SEEN}
    assert [name for name, _ in SEEN] == ["double", "offset", "square"]
    assert len(ids) == 1


def test_skip_a_step(fake_model):
    result = RampPipeline.call(fake_model("x.fits", data=[3.0]), steps={"square": {"skip": True}})
    assert result.data == [7.0]
    assert result.meta.cal_step.square_t == "SKIPPED"
    assert result.meta.cal_step.offset_t == "COMPLETE"


def test_cfg_steps_sections_delegation_and_precedence(tmp_path, fake_model):
    (tmp_path / "my_offset.cfg").write_text('name = "offset"\nclass = "offset_t"\noffset = 10\n')
    cfg = tmp_path / "pipe.cfg"
    cfg.write_text(
        'name = "RampPipeline"\n'
        f'class = "{__name__}.RampPipeline"\n'
        "save_calibrated_ramp = False\n"
        "[steps]\n"
        "  [[offset]]\n"
        "    config_file = my_offset.cfg\n"
        "  [[square]]\n"
        "    skip = True\n"
    )
    model = fake_model("x.fits", data=[1.0])
    assert RampPipeline.call(model, config_file=str(cfg)).data == [12.0]
    # keyword arguments win over the cfg, for sub-steps too
    result = RampPipeline.call(model, config_file=str(cfg), steps={"offset": {"offset": 0}, "square": {"skip": False}})
    assert result.data == [4.0]
    pipe = RampPipeline.from_config_file(cfg)
    sources = pipe.get_par_sources()
    assert sources["steps"]["offset"]["offset"] == str(tmp_path / "my_offset.cfg")
    assert sources["steps"]["square"]["skip"] == str(cfg)
    assert sources["steps"]["double"]["skip"] == "default"


def test_unknown_steps_and_wrong_classes_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="has no step 'ofset'; its steps are double, offset, square"):
        RampPipeline(steps={"ofset": {"offset": 1}})
    with pytest.raises(ParameterError, match="unknown parameter 'offst'"):
        RampPipeline(steps={"offset": {"offst": 1}})
    cfg = tmp_path / "p.cfg"
    cfg.write_text("[steps]\n[[offset]]\nclass = square_t\n")
    with pytest.raises(ParameterError, match="steps.offset names class 'square_t'"):
        RampPipeline.from_config_file(cfg)


def test_pipeline_option_save_calibrated_ramp(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fake_model("jw01_nrca1_uncal.fits", data=[1.0])
    RampPipeline.call(model)
    assert not (tmp_path / "jw01_nrca1_ramp.fits").exists()
    RampPipeline.call(model, save_calibrated_ramp=True)
    assert fake_model.read(str(tmp_path / "jw01_nrca1_ramp.fits")).data == [3.0]


def test_output_dir_propagates_unless_a_step_sets_its_own(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fake_model("jw01_nrca1_uncal.fits", data=[1.0])
    RampPipeline.call(
        model,
        output_dir="calibrated",
        save_results=True,
        steps={"double": {"save_results": True}, "offset": {"output_file": "dark_sub.fits", "output_dir": "dark_calibrated"}},
    )
    assert sorted(os.listdir(tmp_path / "calibrated")) == ["jw01_nrca1_double.fits", "jw01_nrca1_rate.fits"]
    assert os.listdir(tmp_path / "dark_calibrated") == ["dark_sub_offset.fits"]
    assert fake_model.read(str(tmp_path / "calibrated" / "jw01_nrca1_rate.fits")).data == [9.0]
    assert fake_model.read(str(tmp_path / "calibrated" / "jw01_nrca1_double.fits")).data == [2.0]


def test_pipeline_output_file_and_search_output_file(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fake_model("jw01_nrca1_uncal.fits", data=[1.0])
    RampPipeline.call(model, output_file="final.fits", steps={"double": {"save_results": True}})
    assert sorted(os.listdir(tmp_path)) == ["final_double.fits", "final_rate.fits"]
    for name in os.listdir(tmp_path):
        os.remove(name)
    RampPipeline.call(
        model, output_file="final.fits", steps={"double": {"save_results": True, "search_output_file": False}}
    )
    assert sorted(os.listdir(tmp_path)) == ["final_rate.fits", "jw01_nrca1_double.fits"]


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(fake_model, monkeypatch):
    stream = _TTY()
    monkeypatch.setattr("sys.stderr", stream)
    RampPipeline.call(fake_model("x.fits"))
    assert "ramp_pipe_t" in stream.getvalue() and "/3" in stream.getvalue()

    stream = _TTY()
    monkeypatch.setattr("sys.stderr", stream)
    RampPipeline.call(fake_model("x.fits"), progress=False)
    assert stream.getvalue() == ""

    stream = io.StringIO()  # not a terminal
    monkeypatch.setattr("sys.stderr", stream)
    RampPipeline.call(fake_model("x.fits"))
    assert stream.getvalue() == ""


def test_step_times_are_logged(fake_model, caplog):
    with caplog.at_level(logging.INFO, logger="stpipe"):
        RampPipeline.call(fake_model("x.fits"))
    summary = [r.getMessage() for r in caplog.records if "step times" in r.getMessage()]
    assert len(summary) == 1
    for name in ("double", "offset", "square", "total"):
        assert f"\n  {name}" in summary[0]
    loggers = {r.name for r in caplog.records}
    assert {"stpipe.ramp_pipe_t", "stpipe.ramp_pipe_t.offset"} <= loggers


def test_configspec_lists_the_steps():
    text = RampPipeline.configspec_text()
    assert "save_calibrated_ramp = boolean(default=False)" in text
    assert "[[offset]]" in text and "offset = float(default=1.0)  # added to the data" in text


def test_export_config_includes_steps(tmp_path):
    pipe = RampPipeline(save_calibrated_ramp=True, steps={"offset": {"offset": 2.5}})
    path = pipe.export_config(tmp_path / "p.cfg")
    again = Step.from_config_file(path)
    assert type(again) is RampPipeline
    assert again.save_calibrated_ramp is True and again.offset.offset == 2.5
    assert again.get_pars() == pipe.get_pars()


class CombineStep(Step):
    """Sums the members of an association (a stage-3-like test step)."""

    class_alias = "combine_t"
    spec = """
        suffix = string(default='i2d')
    """

    def process(self, asn_path):
        import json

        with open(self.make_input_path(asn_path)) as handle:
            asn = json.load(handle)
        members = [self.open_model(m["expname"]) for m in asn["products"][0]["members"]]
        combined = members[0]
        combined.data = [sum(values) for values in zip(*(m.data for m in members))]
        return combined


class FlagEachStep(Step):
    """Returns a list of models (one result per input member)."""

    class_alias = "flag_each_t"
    spec = """
        suffix = string(default='crf')
    """

    def process(self, models):
        return [self.open_model(m) for m in models]


def test_association_input_names_outputs_after_the_product(tmp_path, fake_datamodels, monkeypatch):
    import json

    data = tmp_path / "data"
    data.mkdir()
    for index in (1, 2):
        fake_datamodels(f"jw01_0000{index}_nrca1_cal.fits", data=[float(index)]).save(
            str(data / f"jw01_0000{index}_nrca1_cal.fits")
        )
    product = "jw01-o001_t001_nircam_clear-f200w"
    asn = {"asn_id": "a3001", "products": [{"name": product, "members": [
        {"expname": "jw01_00001_nrca1_cal.fits", "exptype": "science"},
        {"expname": "jw01_00002_nrca1_cal.fits", "exptype": "science"}]}]}
    (data / "asn.json").write_text(json.dumps(asn))
    monkeypatch.chdir(tmp_path)
    # members are found next to the association file (input_dir)
    result = CombineStep.call(str(data / "asn.json"), save_results=True)
    assert result.data == [3.0]
    assert (tmp_path / f"{product}_i2d.fits").exists()


def test_list_results_keep_their_own_names(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    models = [fake_model("jw01_00001_nrca1_cal.fits"), fake_model("jw01_00002_nrca1_cal.fits")]
    FlagEachStep.call(models, save_results=True)
    assert sorted(os.listdir(tmp_path)) == ["jw01_00001_nrca1_crf.fits", "jw01_00002_nrca1_crf.fits"]
    assert [m.meta.filename for m in models] == ["jw01_00001_nrca1_cal.fits", "jw01_00002_nrca1_cal.fits"]
    for name in os.listdir(tmp_path):
        os.remove(name)
    FlagEachStep.call(models, output_file="combined.fits")
    assert sorted(os.listdir(tmp_path)) == ["combined_0_crf.fits", "combined_1_crf.fits"]


def test_step_names_may_not_shadow_pipeline_attributes():
    with pytest.raises(TypeError, match="step_defs\\['run'\\]"):
        type("BadPipeline", (Pipeline,), {"step_defs": {"run": DoubleStep}})
    with pytest.raises(TypeError, match="not a Step subclass"):
        type("BadPipeline", (Pipeline,), {"step_defs": {"x": object}})
