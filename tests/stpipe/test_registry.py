"""The registry of steps and pipelines, and the light import of the framework."""

import subprocess
import sys

import pytest

from photoncal.stpipe import Step, registry
from photoncal.stpipe.exceptions import StepNotImplementedError, UnknownStepError

STEPS = {
    "group_scale": "GroupScaleStep", "dq_init": "DQInitStep", "saturation": "SaturationStep", "ipc": "IPCStep",
    "superbias": "SuperBiasStep", "refpix": "RefPixStep", "linearity": "LinearityStep",
    "persistence": "PersistenceStep", "dark_current": "DarkCurrentStep", "jump": "JumpStep",
    "ramp_fit": "RampFitStep", "gain_scale": "GainScaleStep", "rscd": "RscdStep", "firstframe": "FirstFrameStep",
    "lastframe": "LastFrameStep", "reset": "ResetStep", "guider_cds": "GuiderCdsStep",
    "assign_wcs": "AssignWcsStep", "background": "BackgroundStep", "flat_field": "FlatFieldStep",
    "photom": "PhotomStep", "resample": "ResampleStep", "tweakreg": "TweakRegStep", "skymatch": "SkyMatchStep",
    "outlier_detection": "OutlierDetectionStep", "source_catalog": "SourceCatalogStep",
}
PIPELINES = {
    "calwebb_detector1": "photoncal.pipeline.detector1:Detector1Pipeline",
    "calwebb_tso1": "photoncal.pipeline.detector1:Detector1Pipeline",
    "calwebb_dark": "photoncal.pipeline.dark:DarkPipeline",
    "calwebb_guider": "photoncal.pipeline.guider:GuiderPipeline",
    "calwebb_image2": "photoncal.pipeline.image2:Image2Pipeline",
    "calwebb_image3": "photoncal.pipeline.image3:Image3Pipeline",
    "exposure_pipeline": "photoncal.roman.pipeline:ExposurePipeline",
}


@pytest.mark.parametrize("alias, class_name", STEPS.items())
def test_every_planned_step_and_its_names(alias, class_name):
    entry = registry.lookup(alias)
    assert entry.target == f"photoncal.steps.{alias}:{class_name}" and not entry.is_pipeline
    for name in (f"photoncal.steps.{alias}.{class_name}", f"jwst.step.{class_name}", class_name, f"{alias}.cfg"):
        assert registry.lookup(name) is entry, name
    jwst_names = [n for n in entry.names if n.startswith("jwst.") and not n.startswith("jwst.step.")]
    assert len(jwst_names) == 2


@pytest.mark.parametrize("alias, target", PIPELINES.items())
def test_every_planned_pipeline(alias, target):
    entry = registry.lookup(alias)
    assert entry.target == target and entry.is_pipeline


def test_established_dotted_names():
    assert registry.lookup("jwst.jump.JumpStep").alias == "jump"
    assert registry.lookup("jwst.jump.jump_step.JumpStep").alias == "jump"
    assert registry.lookup("jwst.ramp_fitting.RampFitStep").alias == "ramp_fit"
    assert registry.lookup("jwst.flatfield.flat_field_step.FlatFieldStep").alias == "flat_field"
    assert registry.lookup("jwst.dq_init.DQInitStep").alias == "dq_init"
    assert registry.lookup("jwst.pipeline.Detector1Pipeline").alias == "calwebb_detector1"
    assert registry.lookup("jwst.pipeline.calwebb_detector1.Detector1Pipeline").alias == "calwebb_detector1"
    assert registry.lookup("Detector1Pipeline").alias == "calwebb_detector1"
    assert registry.lookup("calwebb_detector1.cfg").alias == "calwebb_detector1"
    assert registry.lookup("CALWEBB_TSO1.CFG").alias == "calwebb_tso1"
    assert dict(registry.lookup("calwebb_tso1").cfg_values)["steps"]["persistence"] == {"skip": True}
    assert registry.lookup("romancal.pipeline.ExposurePipeline").alias == "exposure_pipeline"
    assert registry.lookup("roman_elp").alias == "exposure_pipeline"
    assert registry.lookup("bkg_subtract").alias == "background"


def test_missing_modules_are_not_implemented_yet(monkeypatch):
    # Registered names whose module is absent answer "not implemented yet", not a traceback.
    entry = registry._step("imaginary_t", "ImaginaryStep", "imaginary")
    index = dict(registry._INDEX)
    for name in entry.all_names():
        index[name] = index[name.lower()] = entry
    monkeypatch.setattr(registry, "_INDEX", index)
    with pytest.raises(StepNotImplementedError,
                       match=r"'jwst.imaginary.ImaginaryStep' \(photoncal.steps.imaginary_t.ImaginaryStep\)"):
        registry.resolve("jwst.imaginary.ImaginaryStep")


def test_every_registered_step_is_implemented():
    import importlib.util

    missing = [e.dotted_name for e in registry.entries() if importlib.util.find_spec(e.module) is None]
    assert not missing


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownStepError, match="did you mean.*dq_init"):
        registry.resolve("dq_inti")
    with pytest.raises(UnknownStepError, match="may only name registered"):
        registry.resolve("subprocess.call")


class RegisteredStep(Step):
    class_alias = "registered_t"

    def process(self, model):
        return model


def test_step_subclasses_register_themselves():
    assert registry.resolve("registered_t") is RegisteredStep
    assert registry.resolve(f"{__name__}.RegisteredStep") is RegisteredStep

    class Impostor(Step):
        class_alias = "jump"  # belongs to the static table: not taken over

    from photoncal.steps.jump import JumpStep

    assert registry.resolve("jump") is JumpStep


def test_framework_import_is_light():
    code = (
        "import sys, photoncal.stpipe, photoncal.cli.strun, photoncal.cli.collect_cfgs\n"
        "from photoncal.cli.strun import main\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['-h']); main(['--list'])\n"
        "heavy = [m for m in ('numpy', 'astropy', 'asdf', 'gwcs', 'numba', 'tqdm', 'crds') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    import os

    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""
