"""The exposure pipeline on a simulated exposure with a known truth."""

from __future__ import annotations

import os

import numpy as np

from photoncal.roman import dqflags
from photoncal.sim import evaluate


def _clean(cal, truth):
    return (cal.dq == 0) & np.isfinite(cal.data) & (truth.rate_cal > 0)


def test_rates_unbiased(calibrated):
    cal, truth = calibrated["cal"], calibrated["truth"]
    good = _clean(cal, truth)
    assert good.sum() > 50000
    rel = (cal.data[good] - truth.rate_cal[good]) / truth.rate_cal[good]
    assert abs(np.median(rel)) < 1e-3


def test_errors_honest(calibrated):
    cal, truth = calibrated["cal"], calibrated["truth"]
    good = _clean(cal, truth)
    pull = (cal.data[good] - truth.rate_cal[good]) / cal.err.astype(np.float64)[good]
    scatter = 1.4826 * np.median(np.abs(pull - np.median(pull)))
    assert 0.95 < scatter < 1.05


def test_cosmic_rays_found(calibrated):
    cal, truth = calibrated["cal"], calibrated["truth"]
    recovery = evaluate.roman_cosmic_ray_recovery(cal.dq, truth)
    assert recovery.n_cosmic_rays > 300
    assert recovery.found_fraction >= 0.995


def test_rates_with_cosmic_rays_unbiased(calibrated):
    cal, truth = calibrated["cal"], calibrated["truth"]
    jumped = ((cal.dq & dqflags.JUMP_DET) != 0) & ((cal.dq & dqflags.DO_NOT_USE) == 0) & np.isfinite(cal.data)
    assert jumped.sum() > 300
    pull = (cal.data[jumped] - truth.rate_cal[jumped]) / cal.err.astype(np.float64)[jumped]
    assert abs(np.median(pull)) < 0.15
    assert 1.4826 * np.median(np.abs(pull - np.median(pull))) < 1.3


def test_astrometry_after_tweakreg(calibrated):
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    cal, scene = calibrated["cal"], calibrated["scene"]
    assert cal.meta.cal_step.tweakreg == "COMPLETE"
    catalog = Table.read(calibrated["base"] + "_cat.ecsv", format="ascii.ecsv")
    measured = SkyCoord(catalog["ra_centroid"], catalog["dec_centroid"])
    true = SkyCoord(scene.sources["ra"] * u.deg, scene.sources["dec"] * u.deg)
    idx, sep, _ = measured.match_to_catalog_sky(true)
    matched = sep < 0.3 * u.arcsec
    assert matched.sum() >= 20
    rms = np.sqrt(np.mean(sep[matched].to_value(u.mas) ** 2))
    assert rms < 5.0
    # the WCS itself, at the true source positions
    src = calibrated["truth"].sources
    on = (src["x"] > 5) & (src["x"] < 242) & (src["y"] > 5) & (src["y"] < 242)
    ra, dec = cal.meta.wcs(src["x"][on], src["y"][on])
    offsets = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(src["ra"][on] * u.deg, src["dec"][on] * u.deg))
    assert np.sqrt(np.mean(offsets.to_value(u.mas) ** 2)) < 2.0


def test_pointing_error_was_large(calibrated):
    """Without tweakreg the commanded pointing is off by ~0.3 arcsec: the test above means something."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    truth = calibrated["truth"]
    c = truth.commanded
    t = truth.true_pointing
    sep = SkyCoord(c["ra_ref"] * u.deg, c["dec_ref"] * u.deg).separation(SkyCoord(t["ra_ref"] * u.deg,
                                                                                  t["dec_ref"] * u.deg))
    assert sep.to_value(u.arcsec) > 0.25
    cal = calibrated["cal"]
    new = SkyCoord(cal.meta.wcsinfo.ra_ref * u.deg, cal.meta.wcsinfo.dec_ref * u.deg)
    assert new.separation(SkyCoord(t["ra_ref"] * u.deg, t["dec_ref"] * u.deg)).to_value(u.mas) < 5.0


def test_products_and_provenance(calibrated):
    base = calibrated["base"]
    for suffix in ("_cal.asdf", "_cat.ecsv", "_segm.asdf", "_wcs.asdf"):
        assert os.path.exists(base + suffix), suffix
    cal = calibrated["cal"]
    steps = cal.meta.cal_step
    for name in ("dq_init", "saturation", "refpix", "linearity", "ramp_fit", "dark", "assign_wcs", "flat_field",
                 "photom", "source_catalog", "tweakreg"):
        assert steps[name] == "COMPLETE", name
    for reftype in ("mask", "saturation", "refpix", "linearity", "inverselinearity", "gain", "readnoise", "dark",
                    "distortion", "flat", "photom"):
        assert cal.meta.ref_file[reftype].endswith(".asdf"), reftype
    assert cal.data.shape == (248, 248)
    assert cal.err.dtype == np.float32  # float16 in the file, float32 in memory
    assert cal.amp33.shape == (9, 256, 128)
    assert cal.border_ref_pix_left.shape == (9, 256, 4)
    assert cal.border_ref_pix_top.shape == (9, 4, 256)
    assert cal.meta.photometry.conversion_megajanskys > 0
    assert cal.meta.wcsinfo.s_region.startswith("POLYGON ICRS")
    assert cal.meta.origin == "PHOTONCAL-SIM"


def test_wcs_product(calibrated):
    from photoncal.roman import datamodels as rdm

    wcs = rdm.open(calibrated["base"] + "_wcs.asdf")
    x = np.array([0.0, 100.0, 247.0])
    y = np.array([0.0, 50.0, 247.0])
    ra2, dec2 = wcs.wcs_l2(x, y)
    ra1, dec1 = wcs.wcs_l1(x + 4, y + 4)
    np.testing.assert_allclose(ra1, ra2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dec1, dec2, rtol=0, atol=1e-12)
    ra0, dec0 = calibrated["cal"].meta.wcs(x, y)
    np.testing.assert_allclose(ra2, ra0, rtol=0, atol=1e-12)
    (x0, x1), (_y0, y1) = wcs.wcs_l1.bounding_box.bounding_box(order="F")
    assert (x0, x1, y1) == (-0.5, 255.5, 255.5)


def test_segmentation_matches_catalog(calibrated):
    from astropy.table import Table

    from photoncal.roman import datamodels as rdm

    segm = rdm.open(calibrated["base"] + "_segm.asdf")
    catalog = Table.read(calibrated["base"] + "_cat.ecsv", format="ascii.ecsv")
    labels = set(np.unique(segm.data)) - {0}
    assert labels == set(int(v) for v in catalog["label"])
    for row in catalog[:5]:
        assert segm.data[int(round(row["y_centroid"])), int(round(row["x_centroid"]))] == row["label"]
