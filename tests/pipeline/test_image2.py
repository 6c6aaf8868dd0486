"""calwebb_image2 end to end on simulated rate exposures: products, names, truth, associations."""

import json

import numpy as np
import pytest

from photoncal import datamodels

import stage2_data as data  # tests/steps, on pytest's pythonpath


def _separation_mas(ra1, dec1, ra2, dec2):
    dra = (np.asarray(ra1) - np.asarray(ra2) + 180.0) % 360.0 - 180.0
    return np.hypot(dra * np.cos(np.deg2rad(dec2)), np.asarray(dec1) - np.asarray(dec2)) * 3.6e6


def _write_rate(tmp_path, name="jw01234001001_01101_00001_nrca1_rate.fits", **kwargs):
    model, truth = data.rate_exposure(**kwargs)
    path = tmp_path / name
    model.save(str(path))
    return path, model, truth


def test_strun_single_rate_file(tmp_path, monkeypatch):
    from photoncal.cli.strun import main

    path, model, truth = _write_rate(tmp_path, scene="stars")
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    status = main(["calwebb_image2", str(path), f"--output_dir={out}", f"--reference_dir={data.reference_dir()}"])
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["jw01234001001_01101_00001_nrca1_cal.fits", "jw01234001001_01101_00001_nrca1_i2d.fits"]
    with datamodels.open(out / names[0]) as cal:
        steps = cal.meta.cal_step
        assert (steps.assign_wcs, steps.flat_field, steps.photom) == ("COMPLETE",) * 3
        assert steps.bkg_subtract is None and steps.resample is None
        for reftype in ("distortion", "flat", "photom", "area"):
            assert getattr(cal.meta.ref_file, reftype).name.startswith(data.reference_dir())
        assert cal.meta.bunit_data == "MJy/sr"
        good = np.isfinite(cal.data)
        assert np.allclose(cal.data[good], truth.surface_brightness[good], rtol=1e-5)
        src = truth.sources[truth.sources["on_image"]]
        ra, dec = cal.meta.wcs(src["x"], src["y"])
        assert np.all(_separation_mas(ra, dec, src["ra"], src["dec"]) < 1.0)
        assert cal.meta.asn.pool_name == "singleton"
    with datamodels.open(out / names[1]) as i2d:
        assert i2d.meta.cal_step.resample == "COMPLETE"
        assert i2d.meta.ref_file.drizpars.name.endswith("drizpars.fits")
        for row in truth.sources:
            x, y = i2d.meta.wcs.invert(row["ra"], row["dec"])
            yy, xx = np.mgrid[0 : i2d.data.shape[0], 0 : i2d.data.shape[1]]
            near = np.hypot(xx - x, yy - y) < 27
            flux = np.sum(i2d.data[near] - truth.sky_background) * i2d.meta.photometry.pixelarea_steradians * 1e6
            assert flux == pytest.approx(row["flux"], rel=5e-3)


def test_association_with_background_and_save_bsub(tmp_path):
    from photoncal.pipeline.image2 import Image2Pipeline

    path, model, truth = _write_rate(tmp_path)
    sky_rate = 0.5
    for i in range(2):
        bkg = model.copy()
        bkg.data = np.full(model.data.shape, sky_rate + 0.01 * i, np.float32)
        bkg.meta.filename = f"jw01234001001_01101_0000{i + 2}_nrca1_rate.fits"
        bkg.save(str(tmp_path / bkg.meta.filename))
    asn = {
        "asn_type": "image2", "asn_rule": "DMSLevel2bBase", "asn_id": "o001", "asn_pool": "mypool",
        "program": "01234", "version_id": None, "code_version": "x", "target": "1", "constraints": "none",
        "degraded_status": "No known degraded exposures in association.",
        "products": [{"name": "jw01234001001_01101_00001_nrca1", "members": [
            {"expname": path.name, "exptype": "science"},
            {"expname": "jw01234001001_01101_00002_nrca1_rate.fits", "exptype": "background"},
            {"expname": "jw01234001001_01101_00003_nrca1_rate.fits", "exptype": "background"}]}],
    }
    (tmp_path / "l2_asn.json").write_text(json.dumps(asn))
    out = tmp_path / "out"
    result = Image2Pipeline.call(str(tmp_path / "l2_asn.json"), reference_dir=data.reference_dir(), save_results=True,
                                 save_bsub=True, output_dir=str(out), steps={"resample": {"skip": True}})
    assert result.meta.cal_step.bkg_subtract == "COMPLETE"
    assert result.meta.asn.pool_name == "mypool" and result.meta.asn.table_name == "l2_asn.json"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["jw01234001001_01101_00001_nrca1_bsub.fits", "jw01234001001_01101_00001_nrca1_cal.fits"]
    good = np.isfinite(result.data)
    expected = (truth.rate - (sky_rate + 0.005)) / truth.flat * truth.photmjsr
    assert np.allclose(result.data[good], expected[good], rtol=1e-4, atol=1e-5)
    with datamodels.open(out / names[0]) as bsub:
        assert bsub.meta.cal_step.bkg_subtract == "COMPLETE" and bsub.meta.cal_step.flat_field is None


def test_rateints_gives_calints_without_i2d(tmp_path):
    from photoncal.pipeline.image2 import Image2Pipeline

    model, truth = data.rate_exposure(nints=2)
    path = tmp_path / "jw01234001001_01101_00001_nrca1_rateints.fits"
    model.save(str(path))
    out = tmp_path / "out"
    result = Image2Pipeline.call(str(path), reference_dir=data.reference_dir(), save_results=True,
                                 output_dir=str(out))
    assert type(result).__name__ == "CubeModel"
    assert sorted(p.name for p in out.iterdir()) == ["jw01234001001_01101_00001_nrca1_calints.fits"]
    good = np.isfinite(result.data[1])
    assert np.allclose(result.data[1][good], truth.surface_brightness[good], rtol=1e-5)


def test_two_products_in_memory(tmp_path):
    from photoncal.pipeline.image2 import Image2Pipeline

    a, _ = data.rate_exposure(exposure=1)
    b, _ = data.rate_exposure(exposure=2, dither_offset=(0.6, 0.4))
    results = Image2Pipeline.call([a, b], reference_dir=data.reference_dir(), output_dir=str(tmp_path),
                                  steps={"resample": {"skip": True}})
    assert [r.meta.filename for r in results] == [a.meta.filename.replace("_rate", "_cal"),
                                                  b.meta.filename.replace("_rate", "_cal")]
    assert list(tmp_path.iterdir()) == []  # nothing saved without save_results
    assert a.meta.cal_step.photom is None  # the caller's models are untouched


def test_help_lists_steps():
    from photoncal.pipeline.image2 import Image2Pipeline

    text = Image2Pipeline.configspec_text()
    for name in ("save_bsub", "[steps]", "[[bkg_subtract]]", "[[assign_wcs]]", "[[flat_field]]", "[[photom]]",
                 "[[resample]]", "sip_approx", "user_supplied_flat", "pixel_scale_ratio"):
        assert name in text


def test_products_open_in_stdatamodels(tmp_path):
    sdm = pytest.importorskip("stdatamodels.jwst.datamodels")
    from photoncal.pipeline.image2 import Image2Pipeline

    path, model, truth = _write_rate(tmp_path)
    Image2Pipeline.call(str(path), reference_dir=data.reference_dir(), save_results=True, output_dir=str(tmp_path))
    stem = path.name.replace("_rate.fits", "")
    with sdm.open(tmp_path / f"{stem}_cal.fits", strict_validation=True) as cal:
        assert type(cal).__name__ == "ImageModel" and cal.meta.cal_step.photom == "COMPLETE"
        assert cal.area.shape == cal.data.shape
        ra, dec = cal.meta.wcs(10.0, 20.0)
        ours = datamodels.open(tmp_path / f"{stem}_cal.fits")
        assert np.allclose((ra, dec), ours.meta.wcs(10.0, 20.0), atol=1e-12)
    with sdm.open(tmp_path / f"{stem}_i2d.fits", strict_validation=True) as i2d:
        assert i2d.meta.cal_step.resample == "COMPLETE"
        assert i2d.con.ndim == 3 and i2d.wht.shape == i2d.data.shape
