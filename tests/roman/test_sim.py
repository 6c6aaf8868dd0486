"""The Roman part of the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from photoncal.sim import roman as sr


def test_ma_tables():
    table = sr.ma_table()
    assert len(table.read_pattern) == 9 and table.nreads == 44
    reads = [r for res in table.read_pattern for r in res]
    assert reads == list(range(1, 45))
    assert sr.ma_table(2).name == sr.ma_table("PHOTONCAL_SIM_6R16").name
    custom = sr.ma_table([[1], [2, 3]])
    assert custom.read_pattern == ((1,), (2, 3))
    with pytest.raises(ValueError, match="MA table"):
        sr.ma_table(99)


def test_sizes_and_geometry():
    with pytest.raises(ValueError, match="multiple of 128"):
        sr.wfi_detector_info("WFI01", 250)
    with pytest.raises(ValueError, match="WFI01"):
        sr.wfi_detector_info("WFI19")
    info = sr.wfi_detector_info("WFI03", 248)
    assert info.shape == (256, 256) and info.refpix == (4, 4, 4, 4)
    assert sr.roman_subarray_name(248) == "SIM248" and sr.roman_subarray_name(None) is None
    full = sr.wfi_detector_info("WFI03")
    assert full.shape == (4096, 4096)
    model = sr.roman_distortion("WFI03", 248)
    v2, v3 = model(123.5, 123.5)
    assert v2 == pytest.approx(full.v2_ref, abs=1e-6) and v3 == pytest.approx(full.v3_ref, abs=1e-6)
    x, y = model.inverse(*model(10.0, 200.0))
    assert x == pytest.approx(10.0, abs=1e-4) and y == pytest.approx(200.0, abs=1e-4)
    # about 0.11 arcsec per pixel
    v2b, v3b = model(124.5, 123.5)
    assert np.hypot(v2b - v2, v3b - v3) == pytest.approx(0.11, rel=0.02)


def test_linearity_references_undo_the_simulated_nonlinearity():
    props = sr.roman_properties("WFI01", 248)
    raw_coeffs = sr.linearity_raw(props)
    inverse = sr._inverse_linearity(props.linearity_signal[:, :8, :8], props.superbias[:8, :8],
                                    props.saturation_clip[:8, :8])
    linear = np.linspace(0.0, 40000.0, 9)
    for y, x in ((4, 4), (6, 7)):
        raw = sum(inverse[k, y, x] * linear**k for k in range(inverse.shape[0]))
        back = sum(float(raw_coeffs[k, y, x]) * raw.astype(np.float64) ** k for k in range(raw_coeffs.shape[0]))
        np.testing.assert_allclose(back, linear, atol=0.5)


def test_noiseless_bright_exposure_calibrates_exactly(photoncal_cache, tmp_path):
    """With no noise or cosmic rays, a bright sky comes back through every step to 1e-3."""
    from photoncal.roman.pipeline import ExposurePipeline

    path, truth = sr.simulate_roman_exposure(size=248, seed=9, output_dir=tmp_path, sky_rate=250.0,
                                             effects={"poisson": False, "read_noise": False, "cosmic_rays": False,
                                                      "sources": False})
    image = ExposurePipeline.call(path, steps={"source_catalog": {"skip": True}, "tweakreg": {"skip": True}})
    good = (image.dq == 0) & (truth.rate_cal > 0)
    rel = (image.data[good] - truth.rate_cal[good]) / truth.rate_cal[good]
    assert abs(np.median(rel)) < 2e-4
    assert np.percentile(np.abs(rel), 99) < 2e-3


def test_truth_file_round_trip(calibrated):
    truth = sr.load_roman_truth(str(calibrated["path"]).replace("_uncal.asdf", "_truth.asdf"))
    original = calibrated["truth"]
    np.testing.assert_array_equal(truth.rate_cal, original.rate_cal)
    assert truth.read_pattern == original.read_pattern
    assert len(truth.cosmic_rays) == len(original.cosmic_rays) > 100
    assert truth.true_pointing["ra_ref"] != truth.commanded["ra_ref"]


def test_demo_function(photoncal_cache, tmp_path):
    out = sr.simulate_and_calibrate_roman(size=248, output_dir=tmp_path, seed=4, sky_rate=12.0)
    for key in ("uncal", "cal", "cat", "segm", "wcs"):
        assert out[key] and __import__("os").path.exists(out[key]), key
    assert abs(out["median_relative_error"]) < 1e-3
    assert 0.9 < out["pull_scatter"] < 1.1
