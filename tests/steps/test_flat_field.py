"""flat_field: truth recovery on simulated data, analytic propagation, DQ rules, provenance."""


import numpy as np
import pytest

from photoncal import datamodels
from photoncal.dqflags import pixel

import stage2_data as data  # tests/steps, on pytest's pythonpath


DNU = pixel["DO_NOT_USE"]
NFF = pixel["NO_FLAT_FIELD"]


def _run(model, **kwargs):
    from photoncal.steps.flat_field import FlatFieldStep

    return FlatFieldStep.call(model, reference_dir=data.reference_dir(), **kwargs)


def test_simulated_rate_becomes_truth_flatfielded(tmp_path):
    model, truth = data.rate_exposure()
    result = _run(model, save_results=True, output_dir=str(tmp_path))
    assert result.meta.cal_step.flat_field == "COMPLETE"
    assert "flat_f200w" in result.meta.ref_file.flat.name
    expected = truth.rate_flatfielded
    good = np.isfinite(result.data)
    assert good.sum() > 0.9 * good.size
    assert np.allclose(result.data[good], expected[good], rtol=2e-6, atol=0)
    # dead pixels (flat 0) and reference pixels are NaN and DO_NOT_USE
    dead = (truth.flat == 0) & ((model.dq & DNU) == 0)
    assert np.all(np.isnan(result.data[~good]))
    assert np.all(result.dq[~good] & DNU)
    if dead.any():
        assert np.all(result.dq[dead] & NFF)
    out = tmp_path / model.meta.filename.replace("_rate", "_flat_field")
    with datamodels.open(out) as saved:
        assert saved.meta.cal_step.flat_field == "COMPLETE"
        assert saved.meta.ref_file.flat.name.endswith(".fits")
        assert np.allclose(saved.var_flat[good], result.var_flat[good])


def _analytic_case(shape=(3, 4)):
    rng = np.random.default_rng(3)
    sci = datamodels.ImageModel(shape)
    sci.data = rng.uniform(5, 10, shape).astype(np.float32)
    sci.var_poisson = rng.uniform(0.1, 0.2, shape).astype(np.float32)
    sci.var_rnoise = rng.uniform(0.01, 0.02, shape).astype(np.float32)
    sci.err = np.sqrt(sci.var_poisson + sci.var_rnoise)
    sci.dq = np.zeros(shape, np.uint32)
    sci.meta.instrument.name = "NIRCAM"
    sci.meta.exposure.type = "NRC_IMAGE"
    sci.meta.subarray.name = "FULL"
    sci.meta.subarray.xstart, sci.meta.subarray.ystart = 1, 1
    sci.meta.subarray.xsize, sci.meta.subarray.ysize = shape[1], shape[0]
    flat = datamodels.FlatModel(shape)
    flat.data = rng.uniform(0.8, 1.2, shape).astype(np.float32)
    flat.err = rng.uniform(0.001, 0.01, shape).astype(np.float32)
    flat.dq = np.zeros(shape, np.uint32)
    flat.data[0, 0] = np.nan
    flat.data[0, 1] = 0.0
    flat.dq[1, 1] = NFF
    flat.dq[2, 2] = pixel["LOW_QE"]
    flat.meta.filename = "my_flat.fits"
    return sci, flat


def test_analytic_propagation_and_dq_rules():
    sci, flat = _analytic_case()
    d0, vp0, vr0 = sci.data.copy(), sci.var_poisson.copy(), sci.var_rnoise.copy()
    f, ferr = flat.data.astype(np.float64), flat.err.astype(np.float64)
    f[~np.isfinite(f) | (f == 0)] = 1.0  # those pixels are only checked for NaN
    result = _run(sci, override_flat=flat)
    assert result.meta.ref_file.flat.name == "my_flat.fits"
    bad = np.zeros(d0.shape, bool)
    bad[0, 0] = bad[0, 1] = bad[1, 1] = True
    ok = ~bad
    out = d0 / f
    assert np.allclose(result.data[ok], out[ok], rtol=1e-6)
    assert np.allclose(result.var_poisson[ok], (vp0 / f**2)[ok], rtol=1e-6)
    assert np.allclose(result.var_rnoise[ok], (vr0 / f**2)[ok], rtol=1e-6)
    var_flat = out**2 * (ferr / f) ** 2
    assert np.allclose(result.var_flat[ok], var_flat[ok], rtol=1e-5)
    assert np.allclose(result.err[ok], np.sqrt(vp0 / f**2 + vr0 / f**2 + var_flat)[ok], rtol=1e-6)
    assert result.dq[0, 0] == DNU | NFF and result.dq[0, 1] == DNU | NFF and result.dq[1, 1] == DNU | NFF
    assert result.dq[2, 2] == pixel["LOW_QE"]  # flat flags are OR-ed in, only DO_NOT_USE ones void a pixel
    for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
        assert np.all(np.isnan(getattr(result, name)[bad]))
        assert np.all(np.isfinite(getattr(result, name)[ok]))


def test_inverse_round_trip():
    sci, flat = _analytic_case()
    d0, vp0 = sci.data.copy(), sci.var_poisson.copy()
    once = _run(sci, override_flat=flat)
    back = _run(once, override_flat=flat, inverse=True)
    ok = np.isfinite(back.data)
    assert ok.sum() == d0.size - 3
    assert np.allclose(back.data[ok], d0[ok], rtol=1e-6)
    assert np.allclose(back.var_poisson[ok], vp0[ok], rtol=1e-6)
    assert np.all(back.var_flat[ok] == 0)


def test_cube_is_divided_plane_by_plane():
    model, truth = data.rate_exposure(nints=3)
    model.data[1] *= 2.0
    result = _run(model)
    good = np.isfinite(result.data[0])
    assert np.allclose(result.data[0][good], truth.rate_flatfielded[good], rtol=2e-6)
    assert np.allclose(result.data[1][good], 2 * truth.rate_flatfielded[good], rtol=2e-6)
    assert result.var_flat.shape == model.data.shape


def test_user_supplied_flat_and_subarray_cut(tmp_path):
    model, truth = data.rate_exposure()
    ny, nx = model.data.shape
    flat = datamodels.FlatModel((2048, 2048))
    flat.data = np.full((2048, 2048), 2.0, np.float32)
    flat.meta.subarray.name = "FULL"
    flat.meta.instrument.name = "NIRCAM"
    path = flat.save(str(tmp_path / "user_flat.fits"))
    result = _run(model, user_supplied_flat=str(path))
    assert result.meta.ref_file.flat.name == str(tmp_path / "user_flat.fits")
    good = np.isfinite(result.data)
    assert np.allclose(result.data[good], truth.rate[good] / 2.0, rtol=1e-6)


def test_flat_too_small_skips():
    sci, flat = _analytic_case((3, 4))
    small = datamodels.FlatModel((2, 2))
    small.meta.subarray.name = "GENERIC"
    result = _run(sci, override_flat=small)
    assert result.meta.cal_step.flat_field == "SKIPPED"


def test_nirspec_spectroscopy_skipped():
    sci, flat = _analytic_case()
    sci.meta.instrument.name = "NIRSPEC"
    sci.meta.exposure.type = "NRS_FIXEDSLIT"
    result = _run(sci, override_flat=flat)
    assert result.meta.cal_step.flat_field == "SKIPPED"


def test_flat_na_skips():
    sci, _ = _analytic_case()
    result = _run(sci, override_flat="N/A")
    assert result.meta.cal_step.flat_field == "SKIPPED"
