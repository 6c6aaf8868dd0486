"""strun: parameters from cfg files and the command line, help, exit codes;
collect_pipeline_cfgs round trip."""

import os

import pytest

from photoncal.cli import collect_cfgs, strun
from photoncal.stpipe import NoDataOnDetectorError, Pipeline, Step, registry
from photoncal.stpipe.config_file import load_config_file


class CliScaleStep(Step):
    """Scale the data (strun test step)."""

    class_alias = "cli_scale_t"
    spec = """
        factor = float(default=2.0)  # multiply the data by this
        verbose_note = boolean(default=False)  # log a note
    """
    reference_file_types = ["flat"]

    def process(self, step_input):
        model = self.open_model(step_input)
        model.data = [v * self.factor for v in model.data]
        return model


class CliOffsetStep(Step):
    class_alias = "cli_offset_t"
    spec = """
        offset = float(default=1.0)  # add this
    """

    def process(self, step_input):
        model = self.open_model(step_input)
        model.data = [v + self.offset for v in model.data]
        return model


class CliPipeline(Pipeline):
    """Scale then offset (strun test pipeline)."""

    class_alias = "cli_pipe_t"
    spec = """
        suffix = string(default='cal')
    """
    step_defs = {"scale": CliScaleStep, "offset": CliOffsetStep}

    def process(self, step_input):
        return self.offset.run(self.scale.run(step_input))


class NoDataStep(Step):
    class_alias = "cli_nodata_t"

    def process(self, step_input):
        raise NoDataOnDetectorError("the WCS shows no dispersed light on NRS2")


class CrashStep(Step):
    class_alias = "cli_crash_t"

    def process(self, step_input):
        raise RuntimeError("kaboom in the kernel")


@pytest.fixture
def workdir(tmp_path, monkeypatch, fake_datamodels):
    monkeypatch.chdir(tmp_path)
    fake_datamodels("jw01_nrca1_uncal.fits", data=[1.0, 2.0]).save(str(tmp_path / "jw01_nrca1_uncal.fits"))
    return tmp_path


def load(fake, path):
    return fake.read(str(path))


def test_run_by_alias_saves_with_the_step_suffix(workdir, fake_model, capsys):
    assert strun.main(["cli_scale_t", "jw01_nrca1_uncal.fits", "--factor=3"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_cli_scale_t.fits").data == [3.0, 6.0]
    out = capsys.readouterr().out
    assert "Step cli_scale_t running" in out and "factor = 3.0  (command line)" in out


def test_dotted_name_space_separated_values_and_flags(workdir, fake_model):
    args = [f"{__name__}.CliScaleStep", "jw01_nrca1_uncal.fits", "--factor", "4", "--verbose_note",
            "--output_dir=out"]
    assert strun.main(args) == 0
    assert load(fake_model, workdir / "out" / "jw01_nrca1_cli_scale_t.fits").data == [4.0, 8.0]


def test_precedence_cfg_then_command_line(workdir, fake_model):
    (workdir / "scale.cfg").write_text('name = "cli_scale_t"\nclass = "cli_scale_t"\nfactor = 5.0\n')
    assert strun.main(["scale.cfg", "jw01_nrca1_uncal.fits"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_cli_scale_t.fits").data == [5.0, 10.0]
    assert strun.main(["scale.cfg", "jw01_nrca1_uncal.fits", "--factor=0.5", "--suffix=half"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_half.fits").data == [0.5, 1.0]


def test_pipeline_steps_overrides_and_cfg_delegation(workdir, fake_model):
    (workdir / "offset.cfg").write_text('class = "cli_offset_t"\noffset = 100\n')
    (workdir / "pipe.cfg").write_text(
        'class = "cli_pipe_t"\n[steps]\n  [[offset]]\n    config_file = offset.cfg\n  [[scale]]\n    factor = 10\n'
    )
    assert strun.main(["pipe.cfg", "jw01_nrca1_uncal.fits"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_cal.fits").data == [110.0, 120.0]
    assert strun.main(["pipe.cfg", "jw01_nrca1_uncal.fits", "--steps.scale.factor=1", "--steps.offset.skip"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_cal.fits").data == [1.0, 2.0]
    args = ["cli_pipe_t", "jw01_nrca1_uncal.fits", "--steps.offset.output_file=mid.fits", "--steps.scale.factor=3"]
    assert strun.main(args) == 0
    assert load(fake_model, workdir / "mid_offset.fits").data == [4.0, 7.0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["no_such_step", "x.fits"], "unknown step or pipeline 'no_such_step'"),
        (["os.system", "x.fits"], "may only name registered steps"),
        (["cli_scale_t", "missing.fits"], "input file 'missing.fits' not found"),
        (["cli_scale_t", "jw01_nrca1_uncal.fits", "--factor=lots"], "'factor' (from command line): expected a number"),
        (["cli_scale_t", "jw01_nrca1_uncal.fits", "--factr=2"], "unknown parameter --factr"),
        (["cli_pipe_t", "jw01_nrca1_uncal.fits", "--steps.nope.x=1"], "has no step 'nope'"),
        (["cli_pipe_t", "jw01_nrca1_uncal.fits", "--steps.scale.nope=1"], "step 'scale' has no parameter 'nope'"),
        (["cli_scale_t"], "no input file given"),
        (["missing.cfg", "jw01_nrca1_uncal.fits"], "config file 'missing.cfg' not found"),
        (["cli_crash_t", "jw01_nrca1_uncal.fits"], "RuntimeError: kaboom in the kernel"),
        ([], "no step, pipeline or config file given"),
    ],
)
def test_errors_exit_1_with_one_line(workdir, capsys, args, fragment):
    assert strun.main(args) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("strun: error: "), err
    assert fragment in lines[0]


def test_unimplemented_step_exits_1_with_one_line(workdir, capsys, monkeypatch):
    entry = registry._step("imaginary_t", "ImaginaryStep", "imaginary")
    index = dict(registry._INDEX)
    for name in entry.all_names():
        index[name] = index[name.lower()] = entry
    monkeypatch.setattr(registry, "_INDEX", index)
    assert strun.main([entry.alias, "jw01_nrca1_uncal.fits"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("strun: error: ")
    assert "is not implemented yet" in lines[0]


def test_evil_cfg_class_is_refused(workdir, capsys):
    (workdir / "evil.cfg").write_text('name = "x"\nclass = "os.system"\n')
    assert strun.main(["evil.cfg", "jw01_nrca1_uncal.fits"]) == 1
    assert "evil.cfg: class = 'os.system'" in capsys.readouterr().err


def test_debug_shows_the_traceback(workdir, capsys):
    assert strun.main(["cli_crash_t", "jw01_nrca1_uncal.fits", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "kaboom" in err


def test_no_science_data_exits_64(workdir, capsys):
    assert strun.main(["cli_nodata_t", "jw01_nrca1_uncal.fits"]) == 64
    assert "no dispersed light" in capsys.readouterr().err


def test_help_lists_every_parameter(capsys):
    assert strun.main(["cli_scale_t", "-h"]) == 0
    out = capsys.readouterr().out
    assert "--factor\n        multiply the data by this (float, default 2.0)" in out
    assert "--override_flat" in out and "N/A to skip" in out
    for universal in ("--output_dir", "--output_file", "--save_results", "--skip", "--suffix", "--pre_hooks",
                      "--post_hooks", "--input_dir", "--search_output_file", "--output_use_model", "--output_ext"):
        assert universal in out
    assert strun.main(["-h", "cli_pipe_t"]) == 0
    out = capsys.readouterr().out
    assert "--steps.scale.factor" in out and "--steps.offset.offset" in out and "--steps.scale.override_flat" in out
    assert strun.main(["-h"]) == 0
    assert "calwebb_detector1" in capsys.readouterr().out


def test_print_config_shows_values_and_sources(workdir, capsys):
    (workdir / "pipe.cfg").write_text('class = "cli_pipe_t"\n[steps]\n  [[scale]]\n    factor = 10\n')
    assert strun.main(["pipe.cfg", "--print-config", "--steps.offset.offset=7"]) == 0
    out = capsys.readouterr().out
    assert 'class = "' in out and "CliPipeline" in out
    assert "factor = 10.0  # pipe.cfg" in out
    assert "offset = 7.0  # command line" in out
    assert "save_results = True  # strun (saves the result)" in out
    assert "skip = False  # default" in out


def test_save_parameters_round_trip(workdir, fake_model):
    assert strun.main(["cli_pipe_t", "--steps.scale.factor=9", "--save-parameters", "saved.asdf"]) == 0
    assert strun.main(["saved.asdf", "jw01_nrca1_uncal.fits"]) == 0
    assert load(fake_model, workdir / "jw01_nrca1_cal.fits").data == [10.0, 19.0]


def test_logcfg_option(workdir):
    (workdir / "quiet.cfg").write_text("[*]\nhandler = file:run.log\nlevel = INFO\n")
    assert strun.main(["cli_scale_t", "jw01_nrca1_uncal.fits", "--logcfg", "quiet.cfg"]) == 0
    text = (workdir / "run.log").read_text()
    assert "Step cli_scale_t running" in text and "Step cli_scale_t done" in text


def test_collect_pipeline_cfgs_round_trip(tmp_path, capsys):
    assert collect_cfgs.main([str(tmp_path / "cfgs")]) == 0
    files = sorted(os.listdir(tmp_path / "cfgs"))
    for expected in ("calwebb_detector1.cfg", "calwebb_tso1.cfg", "calwebb_image2.cfg", "calwebb_image3.cfg",
                     "calwebb_dark.cfg", "calwebb_guider.cfg", "dq_init.cfg", "jump.cfg", "ramp_fit.cfg",
                     "bkg_subtract.cfg", "exposure_pipeline.cfg"):
        assert expected in files
    assert len(files) == len(registry.entries())
    for name in files:
        values, _ = load_config_file(tmp_path / "cfgs" / name)
        entry = registry.lookup(values["class"])
        assert entry is not None and entry.cfg_name in (name, "calwebb_detector1.cfg")
        assert values["name"] == name[:-4]
    tso, _ = load_config_file(tmp_path / "cfgs" / "calwebb_tso1.cfg")
    assert tso["steps"] == {"ipc": {"skip": "True"}, "lastframe": {"skip": "True"}, "persistence": {"skip": "True"}}
    assert registry.lookup(tso["class"]).alias == "calwebb_detector1"


def test_registered_cfg_names_resolve_without_a_file(workdir, capsys):
    # calwebb_tso1.cfg is known even when no such file is in the directory
    # (the pipeline resolves and runs; the stand-in file is no ramp)
    assert strun.main(["calwebb_tso1.cfg", "jw01_nrca1_uncal.fits"]) == 1
    assert "input jw01_nrca1_uncal.fits is a FakeModel; expected a ramp" in capsys.readouterr().err
