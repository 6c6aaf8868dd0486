"""bkg_subtract: sigma-clipped mean of background exposures, subarrays, associations."""

import json

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.dqflags import pixel


def _image(value, shape=(6, 8), *, xstart=1, ystart=1, err=0.5, seed=0, name="x_rate.fits", nints=None):
    rng = np.random.default_rng(seed)
    full = (nints,) + shape if nints else shape
    model = datamodels.CubeModel(full) if nints else datamodels.ImageModel(full)
    model.data = (value + rng.normal(0, 0.01, full)).astype(np.float32)
    model.err = np.full(full, err, np.float32)
    model.dq = np.zeros(full, np.uint32)
    model.meta.filename = name
    model.meta.instrument.name = "NIRCAM"
    model.meta.exposure.type = "NRC_IMAGE"
    model.meta.subarray.name = "SUBX"
    model.meta.subarray.xstart, model.meta.subarray.ystart = xstart, ystart
    model.meta.subarray.xsize, model.meta.subarray.ysize = shape[1], shape[0]
    return model


def _run(*args, **kwargs):
    from photoncal.steps.background import BackgroundStep

    return BackgroundStep.call(*args, **kwargs)


def test_sigma_clipped_mean_err_and_dq():
    target = _image(10.0, name="target_rate.fits")
    t0 = target.data.copy()
    # 12 exposures (3-sigma clipping can only reject a single outlier among >= 11 values)
    values = 0.9 + 0.02 * np.arange(12)
    errs = 0.3 + 0.01 * np.arange(12)
    bkgs = []
    for i, (v, e) in enumerate(zip(values, errs)):
        b = _image(0.0, seed=i, err=e)
        b.data[:] = v
        bkgs.append(b)
    bkgs[0].data[2, 3] = 500.0  # a source in one background exposure: clipped
    bkgs[1].dq[4, 4] = pixel["JUMP_DET"]
    result = _run(target, bkgs)
    assert result.meta.cal_step.bkg_subtract == "COMPLETE"
    expected = t0 - values.mean()
    expected[2, 3] = t0[2, 3] - values[1:].mean()
    assert np.allclose(result.data, expected, atol=1e-5)
    assert result.dq[4, 4] == pixel["JUMP_DET"] and result.dq.sum() == pixel["JUMP_DET"]
    assert np.all(result.err == target.err)  # ERR is not propagated (established behaviour)
    from photoncal.steps.background import average_background

    _, err, _ = average_background(target, bkgs, sigma=3.0)
    assert err[0, 0] == pytest.approx(np.sqrt(np.sum(errs**2)) / 12, rel=1e-5)
    assert err[2, 3] == pytest.approx(np.sqrt(np.sum(errs[1:] ** 2)) / 11, rel=1e-5)


def test_subarray_background_is_cut_and_padded():
    target = _image(10.0, shape=(6, 8), xstart=11, ystart=21)
    big = _image(2.0, shape=(30, 30), xstart=1, ystart=1)
    big.data[:] = np.arange(900, dtype=np.float32).reshape(30, 30)
    partial = _image(3.0, shape=(4, 8), xstart=11, ystart=23)  # covers target rows 2-5 only
    t0 = target.data.copy()
    result = _run(target, [big])
    assert np.allclose(result.data, t0 - big.data[20:26, 10:18], atol=1e-5)
    t1 = result.data.copy()
    second = _run(result, [partial])
    # rows the partial background does not cover have no background: NaN
    assert np.all(np.isnan(second.data[:2]))
    assert np.allclose(second.data[2:], t1[2:] - partial.data, atol=1e-5)


def test_cube_target_and_cube_background():
    target = _image(10.0, nints=3)
    t0 = target.data.copy()
    bkg = _image(1.0, nints=12, seed=5)
    bkg.data[2, 1, 1] = 100.0  # one integration hit: clipped along integrations
    result = _run(target, [bkg])
    plane = bkg.data.mean(axis=0)
    plane[1, 1] = np.delete(bkg.data[:, 1, 1], 2).mean()
    assert np.allclose(result.data, t0 - plane[None], atol=1e-5)


def test_association_members_and_outputs(tmp_path):
    target = _image(10.0, name="jw01_nrca1_rate.fits")
    target.save(str(tmp_path / "jw01_nrca1_rate.fits"))
    for i in range(2):
        _image(1.0 + i, name=f"jw02_{i}_rate.fits", seed=i).save(str(tmp_path / f"jw02_{i}_rate.fits"))
    asn = {
        "asn_type": "image2", "asn_rule": "DMSLevel2bBase", "asn_id": "o001", "asn_pool": "pool",
        "program": "00001", "version_id": None, "code_version": "x", "degraded_status": "No known degraded exposures in association.",
        "target": "1", "constraints": "none",
        "products": [{"name": "jw01_nrca1", "members": [
            {"expname": "jw01_nrca1_rate.fits", "exptype": "science"},
            {"expname": "jw02_0_rate.fits", "exptype": "background"},
            {"expname": "jw02_1_rate.fits", "exptype": "background"}]}],
    }
    (tmp_path / "asn.json").write_text(json.dumps(asn))
    result = _run(str(tmp_path / "asn.json"), save_results=True, save_combined_background=True,
                  output_dir=str(tmp_path / "out"))
    assert result.meta.cal_step.bkg_subtract == "COMPLETE"
    assert np.allclose(np.nanmean(result.data), 10.0 - 1.5, atol=0.02)
    assert (tmp_path / "out" / "jw01_nrca1_bkg_subtract.fits").is_file()
    combined = tmp_path / "out" / "jw01_nrca1_combinedbackground.fits"
    with datamodels.open(combined) as comb:
        assert np.allclose(comb.data, 1.5, atol=0.05)


def test_no_background_skips_and_missing_file_errors(tmp_path):
    target = _image(10.0)
    assert _run(target).meta.cal_step.bkg_subtract == "SKIPPED"
    with pytest.raises(FileNotFoundError, match="nothere_rate.fits"):
        _run(target, bkg_list=[str(tmp_path / "nothere_rate.fits")])


def test_wfss_is_skipped():
    target = _image(10.0)
    target.meta.exposure.type = "NRC_WFSS"
    assert _run(target, [_image(1.0)]).meta.cal_step.bkg_subtract == "SKIPPED"
