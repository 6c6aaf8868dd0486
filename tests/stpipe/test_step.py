"""Step: parameters and their precedence, universal parameters, skipping,
status and reference-file keywords, hooks, copies, saving, logging."""

import logging
import os
import sys

import pytest

from photoncal.stpipe import Step
from photoncal.stpipe.exceptions import (
    ParameterError,
    ReferenceFileNotFoundError,
    UnknownStepError,
)


class ScaleStep(Step):
    """Multiply the data by a factor (a test step)."""

    class_alias = "scale_test"
    spec = """
        factor = float(default=2.0)   # multiply the data by this
        label = string(default='none')
        mode = option('fast', 'slow', default='fast')
    """

    def process(self, step_input):
        model = self.open_model(step_input)
        model.data = [value * self.factor for value in model.data]
        model.meta.label = self.label
        return model


class GainStep(Step):
    """Uses a gain and, optionally, a readnoise reference file."""

    class_alias = "gain_test"
    spec = """
        decide_na = boolean(default=False)
    """
    reference_file_types = ["gain", "readnoise"]
    optional_reference_file_types = ["readnoise"]

    def process(self, step_input):
        model = self.open_model(step_input)
        gain = self.get_reference_file(model, "gain")
        model.meta.gain_used = gain if isinstance(gain, str) else gain.meta.filename
        readnoise = self.get_reference_file(model, "readnoise")
        if readnoise == "N/A" and self.decide_na:
            return self.skip_step(model, "no readnoise reference applies")
        return model


def test_precedence_spec_cfg_kwargs(tmp_path, fake_model):
    cfg = tmp_path / "scale.cfg"
    cfg.write_text(f'name = "scaler"\nclass = "{__name__}.ScaleStep"\nfactor = 3.0\nlabel = from_cfg\n')
    model = fake_model("a_uncal.fits", data=[1.0, 2.0])

    assert ScaleStep.call(model).data == [2.0, 4.0]  # spec default
    result = ScaleStep.call(model, config_file=str(cfg))
    assert result.data == [3.0, 6.0] and result.meta.label == "from_cfg"
    result = ScaleStep.call(model, config_file=str(cfg), factor=10)
    assert result.data == [10.0, 20.0] and result.meta.label == "from_cfg"

    step = ScaleStep.from_config_file(cfg)
    assert step.name == "scaler" and step.factor == 3.0
    sources = step.get_par_sources()
    assert sources["factor"] == str(cfg) and sources["mode"] == "default"


def test_cfg_may_name_the_class_by_alias_or_established_name(tmp_path):
    cfg = tmp_path / "a.cfg"
    cfg.write_text('class = "scale_test"\nfactor = 5\n')
    step = Step.from_config_file(cfg)
    assert type(step) is ScaleStep and step.factor == 5.0 and step.name == "scale_test"


def test_cfg_class_allow_list(tmp_path):
    cfg = tmp_path / "evil.cfg"
    cfg.write_text('name = "x"\nclass = "os.system"\n')
    with pytest.raises(UnknownStepError, match="os.system.*registered"):
        Step.from_config_file(cfg)
    cfg.write_text('class = "antigravity.fly"\n')
    with pytest.raises(UnknownStepError):
        Step.call("x.fits", config_file=str(cfg))
    assert "antigravity" not in sys.modules  # never imported
    cfg.write_text('class = "gain_test"\n')
    with pytest.raises(ParameterError, match="not a ScaleStep"):
        ScaleStep.from_config_file(cfg)


def test_bad_parameters_are_clear_errors(fake_model):
    with pytest.raises(ParameterError, match=r"unknown parameter 'factr'.*known parameters"):
        ScaleStep(factr=2)
    with pytest.raises(ParameterError, match=r"'factor'.*expected a number"):
        ScaleStep(factor="lots")
    with pytest.raises(ParameterError, match=r"'mode'.*not one of 'fast', 'slow'"):
        ScaleStep.call(fake_model(), mode="medium")


def test_universal_parameters_exist_with_their_defaults():
    step = ScaleStep()
    expected = {
        "pre_hooks": [], "post_hooks": [], "output_file": None, "output_dir": None, "output_ext": None,
        "output_use_model": False, "output_use_index": True, "save_results": False, "skip": False,
        "suffix": None, "search_output_file": True, "input_dir": None, "reference_dir": None,
    }
    for name, value in expected.items():
        assert getattr(step, name) == value, name
    assert set(GainStep.merged_spec()) >= {"override_gain", "override_readnoise"}


def test_top_level_run_leaves_the_callers_model_alone(fake_model):
    model = fake_model("a_uncal.fits", data=[1.0])
    result = ScaleStep.call(model)
    assert result is not model and model.data == [1.0] and result.data == [2.0]
    assert not hasattr(vars(model.meta).get("cal_step"), "scale_test")
    assert result.meta.cal_step.scale_test == "COMPLETE"


def test_skip_sets_skipped_and_does_not_run_or_save(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fake_model("a_uncal.fits", data=[1.0])
    result = ScaleStep.call(model, skip=True, save_results=True)
    assert result.data == [1.0]
    assert result.meta.cal_step.scale_test == "SKIPPED"
    assert list(tmp_path.iterdir()) == []


def test_na_override_skips_the_step(fake_model):
    model = fake_model("a_uncal.fits")
    result = GainStep.call(model, override_gain="N/A")
    assert result.meta.cal_step.gain_test == "SKIPPED"
    assert not hasattr(vars(result.meta), "gain_used") and "gain_used" not in vars(result.meta)


def test_optional_na_override_is_handed_to_the_step(tmp_path, fake_model):
    gain = tmp_path / "my_gain.fits"
    gain.write_text("x")
    result = GainStep.call(fake_model("a.fits"), override_gain=str(gain), override_readnoise="N/A")
    assert result.meta.cal_step.gain_test == "COMPLETE"
    assert result.meta.ref_file.gain.name == str(gain)
    assert result.meta.ref_file.readnoise.name == "N/A"
    result = GainStep.call(fake_model("a.fits"), override_gain=str(gain), override_readnoise="N/A", decide_na=True)
    assert result.meta.cal_step.gain_test == "SKIPPED"


def test_override_paths_and_models_are_recorded(tmp_path, fake_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.fits").write_text("x")
    noise = tmp_path / "n.fits"
    noise.write_text("x")
    result = GainStep.call(fake_model("a.fits"), override_gain="g.fits", override_readnoise=str(noise))
    assert result.meta.ref_file.gain.name == str(tmp_path / "g.fits")  # absolute
    assert result.meta.gain_used == str(tmp_path / "g.fits")

    gain_model = fake_model("jwst_nircam_gain_9999.fits")
    result = GainStep.call(fake_model("a.fits"), override_gain=gain_model, override_readnoise=str(noise))
    assert result.meta.ref_file.gain.name == "jwst_nircam_gain_9999.fits"
    assert result.meta.gain_used == "jwst_nircam_gain_9999.fits"

    with pytest.raises(ReferenceFileNotFoundError, match="override_gain = 'missing.fits': file not found"):
        GainStep.call(fake_model("a.fits"), override_gain="missing.fits")


def test_override_in_a_cfg_is_relative_to_the_cfg(tmp_path, fake_model, monkeypatch):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "gain.fits").write_text("x")
    (tmp_path / "refs" / "g.cfg").write_text("class = gain_test\noverride_gain = gain.fits\noverride_readnoise = N/A\n")
    monkeypatch.chdir("/")
    result = GainStep.call(fake_model("a.fits"), config_file=str(tmp_path / "refs" / "g.cfg"))
    assert result.meta.ref_file.gain.name == str(tmp_path / "refs" / "gain.fits")


def test_saving_names_and_directories(tmp_path, fake_model, fake_datamodels, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake_model("jw001_nrca1_uncal.fits", data=[1.0]).save(str(tmp_path / "jw001_nrca1_uncal.fits"))

    ScaleStep.call("jw001_nrca1_uncal.fits", save_results=True)
    assert (tmp_path / "jw001_nrca1_scale_test.fits").exists()

    ScaleStep.call("jw001_nrca1_uncal.fits", output_file="dark_sub.fits")  # implies save_results
    assert (tmp_path / "dark_sub_scale_test.fits").exists()

    ScaleStep.call("jw001_nrca1_uncal.fits", save_results=True, suffix="rate", output_dir="out")
    saved = fake_model.read(str(tmp_path / "out" / "jw001_nrca1_rate.fits"))
    assert saved.data == [2.0] and saved.meta.filename == "jw001_nrca1_rate.fits"

    ScaleStep.call("jw001_nrca1_uncal.fits", save_results=True, output_ext="asdf")
    assert (tmp_path / "jw001_nrca1_scale_test.asdf").exists()

    model = fake_model("other_name_cal.fits", data=[1.0])
    ScaleStep.call(model, save_results=True, output_use_model=True)
    assert (tmp_path / "other_name_scale_test.fits").exists()

    # nothing saved without save_results or output_file
    before = set(os.listdir(tmp_path))
    ScaleStep.call("jw001_nrca1_uncal.fits")
    assert set(os.listdir(tmp_path)) == before


def test_input_dir_resolves_bare_names(tmp_path, fake_model, fake_datamodels, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    fake_model("x_uncal.fits", data=[4.0]).save(str(data / "x_uncal.fits"))
    monkeypatch.chdir(tmp_path)
    step = ScaleStep(input_dir=str(data))
    assert step.make_input_path("x_uncal.fits") == str(data / "x_uncal.fits")
    assert step.run("x_uncal.fits").data == [8.0]
    # without input_dir, the directory of the primary input is the input directory
    step = ScaleStep()
    step.set_primary_input(str(data / "x_uncal.fits"))
    assert step.make_input_path("other.fits") == str(data / "other.fits")


def _add_one(model):
    model.data = [v + 1 for v in model.data]
    return model


def test_hooks_callables_step_classes_and_registered_names(fake_model):
    model = fake_model("a.fits", data=[1.0])
    # pre-hook (+1) then x2 then post-hook registered step (x2 again) then callable (+1)
    result = ScaleStep.call(model, pre_hooks=[_add_one], post_hooks=["scale_test", _add_one])
    assert result.data == [9.0]
    result = ScaleStep.call(model, post_hooks=[ScaleStep])
    assert result.data == [4.0]


def test_hook_strings_that_are_not_registered_are_refused(fake_model):
    with pytest.raises(UnknownStepError, match="shell commands"):
        ScaleStep.call(fake_model("a.fits"), post_hooks=["ds9 {0}"])


def test_logging_start_parameters_time(fake_model, caplog):
    with caplog.at_level(logging.INFO, logger="stpipe"):
        ScaleStep.call(fake_model("a_uncal.fits"), factor=3.0)
    text = caplog.text
    assert "Step scale_test running with args ('<FakeModel a_uncal.fits>',)" in text
    assert "factor = 3.0  (keyword argument)" in text
    assert "label" not in text.split("differing from the defaults")[1].split("Step scale_test done")[0]
    assert "Step scale_test done in" in text


def test_reference_files_are_logged(tmp_path, fake_model, caplog):
    (tmp_path / "g.fits").write_text("x")
    with caplog.at_level(logging.INFO, logger="stpipe"):
        GainStep.call(fake_model("a.fits"), override_gain=str(tmp_path / "g.fits"), override_readnoise="N/A")
    assert f"Using GAIN reference file {tmp_path / 'g.fits'} (override_gain)" in caplog.text
    assert "used reference files: gain=" in caplog.text


def test_export_config_round_trip(tmp_path):
    step = ScaleStep(factor=7.5, label="x")
    for name in ("s.cfg", "s.asdf"):
        path = step.export_config(tmp_path / name)
        again = Step.from_config_file(path)
        assert type(again) is ScaleStep
        assert again.get_pars() == step.get_pars()
