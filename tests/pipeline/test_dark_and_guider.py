"""calwebb_dark and calwebb_guider."""

from __future__ import annotations

import os

import numpy as np
import pytest

from photoncal import dqflags


def test_dark_pipeline_stops_before_dark_current(nircam_exposure, stage1_refdir, tmp_path, monkeypatch):
    from astropy.io import fits

    from photoncal.cli import strun

    monkeypatch.chdir(tmp_path)
    path = nircam_exposure[0]
    assert strun.main(["calwebb_dark", path, f"--reference_dir={stage1_refdir}",
                       "--steps.persistence.save_trapsfilled=False"]) == 0
    product = tmp_path / os.path.basename(path).replace("_uncal.fits", "_dark.fits")
    with fits.open(product) as hdul:
        assert hdul["SCI"].data.shape == (1, 10, 160, 160)
        header = hdul[0].header
        for keyword in ("S_DQINIT", "S_SATURA", "S_IPC", "S_SUPERB", "S_REFPIX", "S_LINEAR", "S_PERSIS"):
            assert header[keyword] == "COMPLETE", keyword
        assert "S_DARK" not in header and "S_JUMP" not in header and "S_RAMP" not in header


def test_dark_pipeline_result_matches_detector1_before_dark(nircam_exposure, stage1_refdir):
    from photoncal.pipeline.dark import DarkPipeline
    from photoncal.pipeline.detector1 import Detector1Pipeline

    refdir = str(stage1_refdir)
    dark = DarkPipeline(reference_dir=refdir).run(nircam_exposure[0])
    skip = {name: {"skip": True} for name in ("dark_current", "jump", "ramp_fit")}
    ramp = Detector1Pipeline(reference_dir=refdir, steps=skip).run(nircam_exposure[0])
    np.testing.assert_array_equal(dark.data, ramp.data)
    np.testing.assert_array_equal(dark.groupdq, ramp.groupdq)


def _guider_track(tmp_path, rate, group_time=0.1, nints=3):
    """A raw FGS TRACK exposure: 2 groups per integration of a known rate."""
    from photoncal import datamodels

    ny, nx = rate.shape
    bias = np.float32(1000.0)
    data = np.empty((nints, 2, ny, nx), dtype=np.float32)
    data[:, 0] = bias
    data[:, 1] = bias + rate * group_time
    raw = datamodels.GuiderRawModel(data=data)
    raw.meta.instrument.name = "FGS"
    raw.meta.instrument.detector = "GUIDER1"
    raw.meta.exposure.type = "FGS_TRACK"
    raw.meta.exposure.group_time = group_time
    raw.meta.subarray.name = "SUB32CNTR"
    raw.meta.subarray.xstart = raw.meta.subarray.ystart = 1009
    raw.meta.subarray.xsize = raw.meta.subarray.ysize = 32
    raw.meta.filename = "jw01234001001_gs-track_00001_guider1_uncal.fits"
    return raw


@pytest.fixture(scope="module")
def guider_refdir(tmp_path_factory):
    from photoncal import sim

    refdir = tmp_path_factory.mktemp("guider_refs")
    sim.ensure_reference_set("FGS", "GUIDER1", subarray="SUB32CNTR", readpatt="FGSRAPID", ngroups=2,
                             directory=refdir, cutout=True)
    return refdir


def test_guider_pipeline_rates(guider_refdir, tmp_path):
    from photoncal.pipeline.guider import GuiderPipeline

    rate = np.linspace(100.0, 5000.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    raw = _guider_track(tmp_path, rate)
    pipeline = GuiderPipeline(reference_dir=str(guider_refdir), steps={"flat_field": {"skip": True}})
    cal = pipeline.run(raw)
    assert type(cal).__name__ == "GuiderCalModel"
    assert cal.data.shape == (3, 32, 32)
    np.testing.assert_allclose(cal.data, np.broadcast_to(rate, (3, 32, 32)), rtol=1e-4)
    assert np.all(cal.err > 0)
    assert cal.meta.bunit_data == "DN/s"
    assert cal.meta.cal_step.dq_init == "COMPLETE" and cal.meta.cal_step.guider_cds == "COMPLETE"
    mask = datamodels_open(cal.meta.ref_file.mask.name).dq
    np.testing.assert_array_equal(cal.dq & mask, mask)  # the MASK went into DQ
    assert pipeline.make_output_path().endswith("_cal.fits")


def test_guider_pipeline_flat_fields_the_rates(guider_refdir, tmp_path):
    from photoncal.pipeline.guider import GuiderPipeline

    rate = np.linspace(100.0, 5000.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    cal = GuiderPipeline(reference_dir=str(guider_refdir)).run(_guider_track(tmp_path, rate))
    assert cal.meta.cal_step.flat_field == "COMPLETE"
    flat = datamodels_open(cal.meta.ref_file.flat.name).data
    good = np.isfinite(cal.data[0]) & (flat > 0)
    assert good.mean() > 0.9
    np.testing.assert_allclose(cal.data[:, good], np.broadcast_to(rate / flat, (3, 32, 32))[:, good], rtol=1e-4)


def datamodels_open(path):
    from photoncal import datamodels

    return datamodels.open(path)


def test_dq_init_of_guide_mode_data_fills_dq(guider_refdir, tmp_path):
    from photoncal.steps.dq_init import DQInitStep

    raw = _guider_track(tmp_path, np.ones((32, 32), dtype=np.float32))
    out = DQInitStep.call(raw, reference_dir=str(guider_refdir))
    mask = datamodels_open(out.meta.ref_file.mask.name).dq
    assert out.dq.shape == (32, 32)
    np.testing.assert_array_equal(out.dq, mask)
    assert out.meta.cal_step.dq_init == "COMPLETE"
    assert np.any(out.dq & dqflags.pixel["DO_NOT_USE"])  # the mask has bad pixels
