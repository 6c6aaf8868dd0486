"""Fully saturated exposures, associations, strun and the registry."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from photoncal.roman import datamodels as rdm
from photoncal.roman import dqflags


def _saturated_copy(uncal, path):
    raw = rdm.open(uncal, convert_raw=False)
    raw.data = np.full(raw.data.shape, 65535, np.uint16)
    raw.meta.observation.exposure = 2
    return raw.save(path)


@pytest.fixture(scope="module")
def association(calibrated, tmp_path_factory):
    """The calibrated fixture's raw exposure and a fully saturated one, in one association."""
    from photoncal.roman.pipeline import ExposurePipeline

    out = tmp_path_factory.mktemp("association")
    normal = out / "r0000101001001001001_0001_wfi01_uncal.asdf"
    shutil.copy(calibrated["path"], normal)
    saturated = _saturated_copy(calibrated["path"], out / "r0000101001001001001_0002_wfi01_uncal.asdf")
    asn = {"asn_type": "image", "asn_id": "a3001", "products": [{"name": "roman_pair", "members": [
        {"expname": normal.name, "exptype": "science"},
        {"expname": os.path.basename(saturated), "exptype": "science"}]}]}
    asn_path = out / "pair_asn.json"
    asn_path.write_text(json.dumps(asn))
    results = ExposurePipeline.call(str(asn_path), output_dir=str(out), save_results=True)
    return out, results


def test_fully_saturated_exposure_is_zeroed(association):
    out, results = association
    assert len(results) == 2
    saturated = rdm.open(out / "r0000101001001001001_0002_wfi01_cal.asdf")
    assert saturated.data.shape == (248, 248)
    assert not saturated.data.any() and not saturated.err.any() and not saturated.var_poisson.any()
    assert np.all(saturated.dq & dqflags.SATURATED)
    steps = saturated.meta.cal_step
    assert steps.dq_init == "COMPLETE" and steps.saturation == "COMPLETE"
    for name in ("refpix", "linearity", "ramp_fit", "dark", "assign_wcs", "flat_field", "photom", "source_catalog",
                 "tweakreg"):
        assert steps[name] == "SKIPPED", name
    assert not os.path.exists(out / "r0000101001001001001_0002_wfi01_cat.ecsv")


def test_one_saturated_input_skips_tweakreg_for_all(association):
    out, _results = association
    normal = rdm.open(out / "r0000101001001001001_0001_wfi01_cal.asdf")
    assert normal.meta.cal_step.tweakreg == "SKIPPED"
    assert normal.meta.cal_step.source_catalog == "COMPLETE"
    assert normal.meta.cal_step.flat_field == "COMPLETE"
    assert np.isfinite(normal.data).mean() > 0.99
    for suffix in ("_cat.ecsv", "_segm.asdf", "_wcs.asdf"):
        assert os.path.exists(out / f"r0000101001001001001_0001_wfi01{suffix}"), suffix


def test_association_aligns_exposures_together(calibrated, tmp_path):
    """Two dithered exposures in an association are aligned together to the catalog (one fit for both)."""
    from astropy.table import Table

    from photoncal.roman.pipeline import ExposurePipeline
    from photoncal.sim.roman import simulate_roman_exposure

    scene = calibrated["scene"]
    paths = []
    for k, offset in enumerate(((0.3, -0.2, 0.004), (-0.5, 0.4, -0.003))):
        path, _truth = simulate_roman_exposure(size=248, seed=20 + k, output_dir=tmp_path, scene=scene, ra=80.0,
                                               dec=-69.5, roll=20.0, pointing_error=offset, sky_rate=12.0,
                                               exposure=k + 1, effects={"cosmic_rays": False})
        paths.append(os.path.basename(path))
    asn = {"products": [{"name": "dither", "members": [{"expname": p, "exptype": "science"} for p in paths]}]}
    (tmp_path / "d_asn.json").write_text(json.dumps(asn))
    results = ExposurePipeline.call(str(tmp_path / "d_asn.json"), save_results=False,
                                    steps={"tweakreg": {"abs_refcat": str(calibrated["refcat"]),
                                                        "abs_fitgeometry": "rshift"}})
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    true = SkyCoord(scene.sources["ra"] * u.deg, scene.sources["dec"] * u.deg)
    for image in results:
        assert image.meta.cal_step.tweakreg == "COMPLETE"
        assert image.meta.wcs_fit_results["rmse"] < 0.01
        catalog = Table(getattr(image, "_tweakreg_catalog"))
        measured = SkyCoord(catalog["ra_centroid"], catalog["dec_centroid"])
        _i, sep, _d = measured.match_to_catalog_sky(true)
        good = sep < 0.3 * u.arcsec
        assert good.sum() > 15
        assert np.sqrt(np.mean(sep[good].to_value(u.mas) ** 2)) < 5.0


def test_strun_exposure_pipeline(calibrated, tmp_path):
    from photoncal.cli.strun import main

    path = tmp_path / os.path.basename(calibrated["path"])
    shutil.copy(calibrated["path"], path)
    status = main(["exposure_pipeline", str(path), "--output_dir", str(tmp_path),
                   "--steps.source_catalog.skip=True", "--steps.rampfit.use_ramp_jump_detection=False"])
    assert status == 0
    cal = rdm.open(str(path).replace("_uncal", "_cal"))
    assert cal.meta.cal_step.source_catalog == "SKIPPED"
    assert cal.meta.cal_step.tweakreg == "SKIPPED"
    assert not np.any(cal.dq & dqflags.JUMP_DET)
    assert os.path.exists(str(path).replace("_uncal", "_wcs"))


def test_strun_single_roman_step(calibrated, tmp_path):
    from photoncal.cli.strun import main

    path = tmp_path / os.path.basename(calibrated["path"])
    shutil.copy(calibrated["path"], path)
    assert main(["romancal.dq_init.DQInitStep", str(path), "--output_dir", str(tmp_path)]) == 0
    out = rdm.open(str(path).replace("_uncal", "_dq_init"))
    assert type(out).__name__ == "RampModel" and out.meta.cal_step.dq_init == "COMPLETE"
    assert main(["roman_saturation", str(path).replace("_uncal", "_dq_init"), "--output_dir", str(tmp_path)]) == 0
    assert os.path.exists(str(path).replace("_uncal", "_saturation"))


def test_registry_keeps_roman_and_jwst_apart():
    from photoncal.roman.pipeline import ExposurePipeline
    from photoncal.roman.steps.dq_init import DQInitStep
    from photoncal.stpipe import registry

    assert registry.lookup("dq_init").target == "photoncal.steps.dq_init:DQInitStep"
    assert registry.lookup("DQInitStep").target == "photoncal.steps.dq_init:DQInitStep"
    for name in ("roman_dq_init", "romancal.dq_init.DQInitStep", "romancal.dq_init.dq_init_step.DQInitStep",
                 "romancal.step.DQInitStep", "photoncal.roman.steps.dq_init.DQInitStep"):
        assert registry.resolve(name) is DQInitStep, name
    for name in ("exposure_pipeline", "roman_elp", "romancal.pipeline.ExposurePipeline",
                 "photoncal.roman.pipeline.ExposurePipeline"):
        assert registry.resolve(name) is ExposurePipeline, name
    assert registry.resolve("romancal.ramp_fitting.RampFitStep").cal_step == "ramp_fit"
    assert registry.resolve("romancal.flatfield.FlatFieldStep").cal_step == "flat_field"
    assert registry.resolve("romancal.dark_current.DarkCurrentStep").cal_step == "dark"
    assert DQInitStep().default_suffix() == "dq_init"
