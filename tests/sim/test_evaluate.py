"""photoncal.sim.evaluate on inputs whose answers are known."""

from types import SimpleNamespace

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from photoncal import dqflags
from photoncal.sim import evaluate


def truth_of(rate, saturated=None, crs=None):
    crs = np.zeros(0, dtype=[("y", "i4"), ("x", "i4")]) if crs is None else crs
    return SimpleNamespace(rate=rate, saturated_group=saturated, clipped_group=None, cosmic_rays=crs)


def test_robust_std_of_a_gaussian():
    values = np.random.default_rng(1).normal(3.0, 2.0, 200_000)
    values[:100] = 1e6  # outliers do not move it
    assert evaluate.robust_std(values) == pytest.approx(2.0, rel=0.01)


def test_rate_accuracy_finds_honest_errors_and_a_bias():
    rng = np.random.default_rng(2)
    true = np.full((300, 300), 10.0)
    err = np.full_like(true, 0.5)
    dq = np.zeros(true.shape, np.uint32)
    measured = true + rng.normal(0, 0.5, true.shape)
    honest = evaluate.rate_accuracy(measured, err, dq, truth_of(true))
    assert honest.n_pixels == true.size
    assert honest.normalized_scatter == pytest.approx(1.0, abs=0.01)
    assert abs(honest.mean_difference) < 4 * honest.mean_difference_error
    assert honest.mean_difference_error == pytest.approx(0.5 / 300, rel=0.02)

    biased = evaluate.rate_accuracy(measured * 1.01, err * 2, dq, truth_of(true))
    assert biased.median_relative_error == pytest.approx(0.01, abs=0.001)
    assert biased.normalized_scatter == pytest.approx(0.5, abs=0.01)


def test_clean_pixels_exclude_flags_saturation_and_cosmic_rays():
    true = np.ones((4, 5))
    dq = np.zeros((4, 5), np.uint32)
    dq[0, 0] = dqflags.pixel["JUMP_DET"]
    dq[0, 1] = dqflags.pixel["HOT"]  # not a reason to drop a pixel
    saturated = -np.ones((1, 4, 5), int)
    saturated[0, 1, 1] = 3
    crs = np.array([(2, 2)], dtype=[("y", "i4"), ("x", "i4")])
    mask = evaluate.clean_pixel_mask(truth_of(true, saturated, crs), dq)
    assert not mask[0, 0] and mask[0, 1] and not mask[1, 1] and not mask[2, 2]
    assert mask.sum() == 17
    # a Roman truth gives the first saturated resultant per pixel (2-D)
    assert evaluate.clean_pixel_mask(truth_of(true, saturated[0]), dq).sum() == 18


def test_catalog_accuracy_against_a_shifted_catalog():
    rng = np.random.default_rng(3)
    n = 50
    ra = 53.0 + rng.uniform(-0.01, 0.01, n)
    dec = -27.0 + rng.uniform(-0.01, 0.01, n)
    flux = 10 ** rng.uniform(-7, -5, n)
    truth = Table({"ra": ra, "dec": dec, "flux": flux, "type": ["point"] * n, "r_eff": np.zeros(n)})
    found = np.arange(n) != 0  # the first source is missed
    shift = 2.0 / 3.6e6  # 2 mas north
    catalog = Table({"sky_centroid": SkyCoord(ra[found] * u.deg, (dec[found] + shift) * u.deg),
                     "aper_total_flux": flux[found] * 1.02, "aper_total_flux_err": np.full(found.sum(), 1e-9)})
    result = evaluate.catalog_accuracy(catalog, truth)
    assert result.flux_limit_jy == pytest.approx(1e-8)
    assert result.n_truth == n
    assert result.completeness == pytest.approx((n - 1) / n)
    assert result.astrometric_rms_mas == pytest.approx(2.0, rel=1e-3)
    assert result.flux_ratio_median == pytest.approx(1.02)
    assert result.flux_ratio_scatter == pytest.approx(0.0, abs=1e-9)
    # found sources with no other truth source within 1"
    offsets = np.hypot((ra[:, None] - ra[None]) * np.cos(np.radians(27.0)), dec[:, None] - dec[None]) * 3600
    np.fill_diagonal(offsets, np.inf)
    assert 0 < result.n_isolated == np.count_nonzero(found & (offsets.min(axis=1) >= 1.0)) < n - 1


def test_catalog_accuracy_leaves_blends_out_of_astrometry():
    # two stars 0.5" apart are measured as one blended centroid between them
    ra = np.array([53.0, 53.0, 53.0 + 5.0 / 3600])
    dec = np.array([-27.0, -27.0 + 0.5 / 3600, -27.0])
    truth = Table({"ra": ra, "dec": dec, "flux": [1e-6, 1e-6, 1e-6], "type": ["point"] * 3})
    measured_dec = np.array([-27.0 + 0.08 / 3600, -27.0 + 0.001 / 3600])
    catalog = Table({"sky_centroid": SkyCoord(ra[[0, 2]] * u.deg, measured_dec * u.deg),
                     "aper_total_flux": [2e-6, 1e-6], "aper_total_flux_err": [1e-9, 1e-9]})
    result = evaluate.catalog_accuracy(catalog, truth)
    assert result.n_isolated == 1
    assert result.astrometric_rms_mas == pytest.approx(1.0, rel=1e-3)
    assert result.flux_ratio_median == pytest.approx(1.0)
    blended = evaluate.catalog_accuracy(catalog, truth, isolation=0.1)
    assert blended.n_isolated == 2 and blended.astrometric_rms_mas > 50
