"""Simulated calibrated (_cal) exposures and the stage-3 references."""

import numpy as np
import pytest

from photoncal import datamodels, dqflags
from photoncal.sim.calibrated import load_cal_truth, simulate_cal_set
from photoncal.sim.references import encircled_energy_radii, ensure_stage3_references


@pytest.fixture(scope="module")
def calset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal")
    return simulate_cal_set(2, subarray="SUB160", n_stars=20, n_galaxies=5, cosmic_rays=10,
                            pointing_error=0.2, output_dir=out, reference_dir=out / "refs",
                            keep_noiseless=True, seed=5)


def test_cal_files_carry_the_commanded_wcs_and_the_truth(calset):
    path, truth = calset.exposures[1], calset.truths[1]
    with datamodels.open(path) as model:
        assert type(model).__name__ == "ImageModel"
        assert model.meta.origin == "PHOTONCAL-SIM"
        assert model.meta.bunit_data == "MJy/sr"
        assert model.meta.cal_step.photom == "COMPLETE"
        assert model.meta.wcsinfo.ra_ref == pytest.approx(truth.commanded_pointing["ra_ref"])
        # the header WCS is the commanded pointing: sources sit off by the pointing error
        on = truth.sources[truth.sources["on_image"]]
        ra, dec = model.meta.wcs(on["x"], on["y"])
        d_east = (ra - on["ra"]) * np.cos(np.deg2rad(on["dec"])) * 3600
        d_north = (dec - on["dec"]) * 3600
        error = np.hypot(truth.pointing_error["d_east"], truth.pointing_error["d_north"])
        assert np.median(np.hypot(d_east, d_north)) == pytest.approx(error, abs=0.005)
        # reference pixels: NaN and DO_NOT_USE
        ref = (model.dq & dqflags.pixel["REFERENCE_PIXEL"]) != 0
        assert ref.any() and np.isnan(model.data[ref]).all()
        good = model.dq == 0
        # noise as reported: (data - noiseless) / err ~ N(0, 1) away from cosmic rays
        resid = (model.data - truth.noiseless) / model.err
        hit = np.zeros(model.data.shape, bool)
        hit[truth.cosmic_rays["y"], truth.cosmic_rays["x"]] = True
        assert np.std(resid[good & ~hit]) == pytest.approx(1.0, abs=0.05)
        assert np.allclose(model.err[good] ** 2, (model.var_poisson + model.var_rnoise)[good], rtol=1e-5)
    again = load_cal_truth(path)
    assert again.sky_offset == truth.sky_offset
    assert len(again.cosmic_rays) == len(truth.cosmic_rays) > 0


def test_flux_of_a_source_is_the_sum_of_sb_times_pixel_solid_angle(calset):
    truth = calset.truths[0]
    sky = truth.sky_background + truth.sky_offset
    with datamodels.open(calset.exposures[0]) as model:
        pixar, area = model.meta.photometry.pixelarea_steradians, model.area
        flux = np.nansum((truth.noiseless - sky) * pixar * area) * 1e6  # Jy
    on = truth.sources["on_image"]
    # the sources' light within the image (wings of edge sources are partly outside)
    assert flux == pytest.approx(truth.sources["flux"][on].sum(), rel=0.05)


def test_association_and_references(calset, tmp_path):
    from photoncal.associations import load_asn

    asn = load_asn(calset.image3_asn)
    assert asn["products"][0]["name"] == calset.product_name
    assert [m["expname"] for m in asn["products"][0]["members"]] == \
        [p.split("/")[-1] for p in calset.exposures]
    paths = ensure_stage3_references("NIRCAM", "NRCB4", directory=tmp_path)
    with datamodels.open(paths["apcorr"]) as ref:
        table = ref.apcorr_table
        rows = table[(table["filter"] == "F200W") & (np.isclose(table["eefraction"], 0.5))]
        assert len(rows) == 1 and rows["apcorr"][0] == pytest.approx(2.0)
        assert rows["skyin"][0] > 20
    with datamodels.open(paths["abvegaoffset"]) as ref:
        assert "abvega_offset" in ref.abvega_offset.colnames


def test_encircled_energy_radii_follow_the_diffraction_width():
    # lambda/D at 2 um is 2.04 pixels of 0.0311"; the Airy EE50 radius, 0.51 lambda/D,
    # is ~1.04 pixels before pixel integration and resampling broaden it.
    (r50, r80), trunc = encircled_energy_radii(2.0, 0.0311, fractions=(0.5, 0.8))
    (r50_long, _), _ = encircled_energy_radii(4.0, 0.0311, fractions=(0.5, 0.8))
    assert 1.04 < r50 < 1.6 < r80
    assert 1.5 < r50_long / r50 < 2.0
    assert trunc == pytest.approx(12 * 2.0e-6 / 6.5 * 206264.806 / 0.0311, rel=1e-3)
