"""calwebb_detector1 on simulated exposures with a known truth.

Count rates are compared with ``truth.rate`` (sky and sources after the
flat, without dark current and IPC: what a perfect stage 1 returns), jump
flags with the simulator's cosmic-ray list, saturation flags with the first
saturated group.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from photoncal import dqflags

DNU = dqflags.group["DO_NOT_USE"]
SAT = dqflags.group["SATURATED"]
JUMP = dqflags.group["JUMP_DET"]


def status(model, step):
    return model[f"meta.cal_step.{step}"]


def robust_sigma(values):
    values = np.asarray(values, dtype=np.float64)
    return 1.4826 * np.median(np.abs(values - np.median(values)))


def cosmic_ray_free(truth, shape):
    """Pixels the simulator put no cosmic-ray charge in (any integration)."""
    hit = np.zeros(shape, dtype=bool)
    hit[truth.cosmic_rays["y"], truth.cosmic_rays["x"]] = True
    return ~hit


def clean_pixels(rate, truth):
    """Unflagged, unsaturated, cosmic-ray-free science pixels with signal."""
    unsaturated = np.all(truth.saturated_group < 0, axis=0)
    return (rate.dq == 0) & unsaturated & cosmic_ray_free(truth, rate.data.shape) & (truth.rate > 0)


def run_until_jump(path, refdir, **steps):
    """The ramp after jump detection (calwebb_detector1 without ramp fitting)."""
    from photoncal.pipeline.detector1 import Detector1Pipeline

    steps = {"ramp_fit": {"skip": True}, "persistence": {"skip": True}, **steps}
    return Detector1Pipeline(reference_dir=str(refdir), steps=steps).run(path)


# ---------------------------------------------------------------- NIRCam


def test_nircam_rates_are_unbiased_with_honest_errors(nircam_exposure, nircam_rate):
    _, truth = nircam_exposure
    _, rate = nircam_rate
    good = clean_pixels(rate, truth)
    assert good.sum() > 20000
    relative = (rate.data[good] - truth.rate[good]) / truth.rate[good]
    assert abs(np.median(relative)) < 1e-3
    z = (rate.data - truth.rate) / rate.err
    assert 0.95 < robust_sigma(z[good]) < 1.05


def test_nircam_products_and_statuses(nircam_rate):
    pipeline, rate = nircam_rate
    assert type(rate).__name__ == "ImageModel" and rate.data.shape == (160, 160)
    assert rate.data.dtype == np.float32 and rate.dq.dtype == np.uint32
    assert rate.meta.bunit_data == "DN/s"
    cube = pipeline.rateints
    assert type(cube).__name__ == "CubeModel" and cube.data.shape == (1, 160, 160)
    np.testing.assert_allclose(cube.data[0], rate.data, rtol=1e-6, equal_nan=True)
    for step in ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "persistence", "dark_sub",
                 "jump", "ramp_fit", "gain_scale"):
        assert status(rate, step) == "COMPLETE", step
    assert status(rate, "group_scale") == "SKIPPED"  # MEDIUM8: NFRAMES = FRMDIVSR = 8
    assert rate.meta.ref_file.linearity.name.endswith("linearity_sub160.fits")
    # NaN contract of the final product
    nan = np.isnan(rate.data)
    assert np.all(rate.dq[nan] & DNU) and np.all(np.isnan(rate.err[nan]))
    assert np.all(np.isnan(rate.data[(rate.dq & DNU) != 0]))
    assert rate.meta.exposure.primary_cosmic_rays > 0


def test_saturation_flags_the_first_saturated_group(nircam_exposure, stage1_refdir):
    from photoncal.steps.dq_init import DQInitStep
    from photoncal.steps.saturation import SaturationStep

    path, truth = nircam_exposure
    refdir = str(stage1_refdir)
    ramp = DQInitStep.call(path, reference_dir=refdir)
    exact = SaturationStep.call(ramp, reference_dir=refdir, n_pix_grow_sat=0, use_readpatt=False)
    flagged = (exact.groupdq & SAT) != 0
    first = np.where(flagged.any(axis=1), flagged.argmax(axis=1), -1)
    assert np.count_nonzero(truth.saturated_group >= 0) >= 30
    np.testing.assert_array_equal(first, truth.saturated_group)
    # once saturated, every later group is flagged
    assert np.all(flagged[:, 1:] >= flagged[:, :-1])
    # with the defaults (neighbour growth, frame averaging) flags come no later
    default = SaturationStep.call(ramp, reference_dir=refdir)
    flagged = (default.groupdq & SAT) != 0
    first_default = np.where(flagged.any(axis=1), flagged.argmax(axis=1), -1)
    saturated = truth.saturated_group >= 0
    assert np.all(first_default[saturated] <= truth.saturated_group[saturated])
    assert np.all(first_default[saturated] >= 0)


@pytest.fixture(scope="module")
def cosmic_ray_exposure(simulate):
    return simulate("crs", instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                    readpatt="MEDIUM8", ngroups=10, nints=1, seed=21, sky_offset=40.0,
                    effects={"cosmic_ray_rate": 200.0})


def test_cosmic_rays_above_10_sigma_are_found(cosmic_ray_exposure, stage1_refdir):
    from photoncal import datamodels

    path, truth = cosmic_ray_exposure
    ramp = run_until_jump(path, stage1_refdir)
    gain = datamodels.open(ramp.meta.ref_file.gain.name).data
    readnoise = datamodels.open(ramp.meta.ref_file.readnoise.name).data
    ngroups, nframes, group_time = 10, ramp.meta.exposure.nframes, ramp.meta.exposure.group_time
    significance, found = [], []
    for hit in truth.cosmic_rays:
        i, g, y, x = (int(hit[k]) for k in ("integration", "group", "y", "x"))
        if g < 1 or ramp.pixeldq[y, x] & DNU or ramp.groupdq[i, g, y, x] & SAT:
            continue
        # the charge is split between the differences (g-1, g) and (g, g+1)
        reads = truth.read_pattern[g]
        after = sum(1 for r in reads if r >= hit["frame"]) / len(reads)
        split = max(after, 1.0 - after if g + 1 < ngroups else 0.0)
        sigma_e = np.sqrt(truth.rate[y, x] * gain[y, x] * group_time + (readnoise[y, x] * gain[y, x]) ** 2 / nframes)
        significance.append(split * hit["electrons"] / sigma_e)
        flagged = ramp.groupdq[i, g, y, x] & JUMP or (g + 1 < ngroups and ramp.groupdq[i, g + 1, y, x] & JUMP)
        found.append(bool(flagged))
    significance, found = np.array(significance), np.array(found)
    strong = significance >= 10
    assert strong.sum() > 300
    assert found[strong].mean() >= 0.995


def test_false_jumps_are_rare_at_the_default_threshold(simulate, stage1_refdir):
    path, _ = simulate("no_crs", instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                       readpatt="MEDIUM8", ngroups=10, nints=1, seed=41, sky_offset=40.0,
                       effects={"cosmic_rays": False})
    ramp = run_until_jump(path, stage1_refdir)
    gdq = ramp.groupdq
    usable = ((gdq[:, 1:] & (DNU | SAT)) == 0) & ((gdq[:, :-1] & (DNU | SAT)) == 0)
    false_jumps = np.count_nonzero((gdq[:, 1:] & JUMP) != 0)
    assert usable.sum() > 200000
    assert false_jumps / usable.sum() < 1e-4


# ---------------------------------------------------------------- MIRI


def test_miri_rates_are_unbiased(simulate, stage1_refdir):
    from photoncal.pipeline.detector1 import Detector1Pipeline

    path, truth = simulate("miri_bright", instrument="MIRI", detector="MIRIMAGE",
                           subarray="SUB128", readpatt="FAST", ngroups=40, nints=2, seed=51, sky_offset=60.0)
    pipeline = Detector1Pipeline(reference_dir=str(stage1_refdir))
    rate = pipeline.run(path)
    good = clean_pixels(rate, truth)
    assert good.sum() > 15000
    assert abs(np.median((rate.data[good] - truth.rate[good]) / truth.rate[good])) < 1e-3
    assert status(rate, "lastframe") == status(rate, "reset") == status(rate, "rscd") == "COMPLETE"
    assert status(rate, "firstframe") == "SKIPPED" and status(rate, "persistence") == "SKIPPED"
    assert status(rate, "refpix") == "SKIPPED"  # MIRI subarrays are not corrected
    assert pipeline.rateints.data.shape == (2, 128, 136)


def test_miri_errors_are_honest(simulate, stage1_refdir):
    """Read-noise dominated MIRI ramps.  The simulator's IPC is switched off
    (and the ipc step with it): deconvolving IPC amplifies the read noise,
    which the established error model - followed here - does not propagate."""
    from photoncal.pipeline.detector1 import Detector1Pipeline

    path, truth = simulate("miri_faint", instrument="MIRI", detector="MIRIMAGE",
                           subarray="SUB128", readpatt="FAST", ngroups=40, nints=2, seed=52,
                           effects={"ipc": False})
    rate = Detector1Pipeline(reference_dir=str(stage1_refdir), steps={"ipc": {"skip": True}}).run(path)
    good = clean_pixels(rate, truth)
    z = (rate.data - truth.rate) / rate.err
    assert 0.95 < robust_sigma(z[good]) < 1.05
    assert abs(np.median(z[good])) < 0.05


# ---------------------------------------------------------------- special cases


def test_fully_saturated_exposure_gives_zero_rates(simulate, stage1_refdir, caplog):
    from photoncal.pipeline.detector1 import Detector1Pipeline

    path, _ = simulate("saturated", instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                       readpatt="MEDIUM8", ngroups=3, nints=2, seed=61, sky_offset=1.0e6)
    pipeline = Detector1Pipeline(reference_dir=str(stage1_refdir))
    with caplog.at_level("INFO"):
        rate = pipeline.run(path)
    science = (rate.dq & dqflags.pixel["REFERENCE_PIXEL"]) == 0
    for product in (rate, pipeline.rateints):
        for name in ("data", "err", "var_poisson", "var_rnoise"):
            assert np.all(getattr(product, name) == 0), name
    assert np.all(rate.dq[science] & dqflags.pixel["SATURATED"])
    assert np.all(pipeline.rateints.dq[:, science] & dqflags.pixel["SATURATED"])
    assert status(rate, "dq_init") == status(rate, "saturation") == "COMPLETE"
    for step in ("ipc", "superbias", "refpix", "linearity", "persistence", "dark_sub", "jump", "ramp_fit",
                 "gain_scale"):
        assert status(rate, step) == "SKIPPED", step
    assert status(pipeline.rateints, "ramp_fit") == "SKIPPED"
    assert "All science pixels are saturated" in caplog.text
    assert "Step jump skipped: all science pixels are saturated" in caplog.text


def test_strun_writes_rate_rateints_ramp_and_trapsfilled(nircam_exposure, stage1_refdir, tmp_path, monkeypatch):
    from photoncal.cli import strun

    monkeypatch.chdir(tmp_path)
    path = nircam_exposure[0]
    base = os.path.basename(path).replace("_uncal.fits", "")
    assert strun.main(["calwebb_detector1", path, f"--reference_dir={stage1_refdir}", "--save_calibrated_ramp",
                       "--output_dir=out"]) == 0
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == sorted(f"{base}_{s}.fits" for s in ("rate", "rateints", "ramp", "trapsfilled"))
    with fits.open(tmp_path / "out" / f"{base}_ramp.fits") as ramp:
        assert ramp["SCI"].data.shape == (1, 10, 160, 160)
        assert ramp[0].header["S_JUMP"] == "COMPLETE" and "S_RAMP" not in ramp[0].header
    with fits.open(tmp_path / "out" / f"{base}_trapsfilled.fits") as traps:
        assert traps["SCI"].data.shape == (3, 2048, 2048)  # one full-frame plane per trap family


def test_tso1_configuration_skips_ipc_lastframe_and_persistence(nircam_exposure, stage1_refdir, tmp_path,
                                                                monkeypatch):
    from photoncal.cli import strun

    monkeypatch.chdir(tmp_path)
    path = nircam_exposure[0]
    assert strun.main(["calwebb_tso1.cfg", path, f"--reference_dir={stage1_refdir}"]) == 0
    rate_path = tmp_path / os.path.basename(path).replace("_uncal.fits", "_rate.fits")
    header = fits.getheader(rate_path)
    assert header["S_IPC"] == header["S_PERSIS"] == "SKIPPED"
    assert header["S_JUMP"] == header["S_RAMP"] == "COMPLETE"
    assert not list(tmp_path.glob("*_trapsfilled.fits"))


def test_ramp_fit_skipped_gives_the_ramp(nircam_exposure, stage1_refdir):
    from photoncal.pipeline.detector1 import Detector1Pipeline

    pipeline = Detector1Pipeline(reference_dir=str(stage1_refdir),
                                 steps={"ramp_fit": {"skip": True}, "persistence": {"skip": True}})
    ramp = pipeline.run(nircam_exposure[0])
    assert type(ramp).__name__ == "RampModel"
    assert ramp.meta.cal_step.ramp_fit == "SKIPPED"
    assert pipeline.make_output_path().endswith("_ramp.fits")


def test_jump_step_has_every_established_parameter():
    from photoncal.kernels.jump import JUMP_STEP_DEFAULTS
    from photoncal.steps.jump import JumpStep

    spec = JumpStep.merged_spec()
    for name, default in JUMP_STEP_DEFAULTS.items():
        assert spec[name].default == default, name
    from photoncal.steps.ramp_fit import RampFitStep

    spec = RampFitStep.merged_spec()
    assert spec["algorithm"].default == "OLS_C" and spec["suppress_one_group"].default is True
    assert spec["maximum_cores"].default == "1" and spec["save_opt"].default is False
