"""photom: truth surface brightness and fluxes, row selection, area, inverse."""


import numpy as np
import pytest

from photoncal import datamodels

import stage2_data as data  # tests/steps, on pytest's pythonpath


def _flat_then_photom(model, **kwargs):
    from photoncal.steps.flat_field import FlatFieldStep
    from photoncal.steps.photom import PhotomStep

    flat = FlatFieldStep.call(model, reference_dir=data.reference_dir())
    return PhotomStep.call(flat, reference_dir=data.reference_dir(), **kwargs)


# The simulator renders MIRI point sources 0.3-0.6 % fainter than their catalog
# flux (coarse sampling of the Airy rings at 0.11"/pixel: the truth rate itself
# sums to 0.997 of the flux), so MIRI fluxes are checked to 1 %.
@pytest.mark.parametrize("detector, subarray, filter_name, flux_rtol",
                         [("NRCA1", "SUB160", None, 1e-3), ("MIRIMAGE", "SUB256", "F770W", 1e-2),
                          ("NIS", "SUB128", None, 1e-3)])
def test_surface_brightness_and_point_source_flux(detector, subarray, filter_name, flux_rtol, tmp_path):
    model, truth = data.rate_exposure(detector, subarray, filter_name=filter_name, scene="stars")
    result = _flat_then_photom(model, save_results=True, output_dir=str(tmp_path))
    assert result.meta.cal_step.photom == "COMPLETE"
    assert result.meta.bunit_data == "MJy/sr" and result.meta.bunit_err == "MJy/sr"
    assert result.meta.photometry.conversion_megajanskys == pytest.approx(truth.photmjsr, rel=1e-6)
    assert result.meta.photometry.conversion_microjanskys == pytest.approx(truth.photmjsr * 23.504430, rel=1e-6)
    assert result.meta.photometry.pixelarea_steradians == pytest.approx(truth.pixar_sr, rel=1e-6)
    assert result.meta.photometry.pixelarea_arcsecsq == pytest.approx(truth.pixar_sr * 4.25451702961522e10,
                                                                      rel=1e-6)
    good = np.isfinite(result.data)
    # per pixel: the truth surface brightness to float precision (required: 0.1 %)
    assert np.allclose(result.data[good], truth.surface_brightness[good], rtol=1e-5)
    # the AREA map is the simulator's relative pixel area, cut to the subarray
    from photoncal.sim.distortion import pixel_area_map

    sub = result.meta.subarray
    rows = slice(sub.ystart - 1, sub.ystart - 1 + sub.ysize)
    cols = slice(sub.xstart - 1, sub.xstart - 1 + sub.xsize)
    area, _ = pixel_area_map(detector, slices=(rows, cols))
    assert np.allclose(result.area, area, rtol=1e-6)
    # point sources: sum((SB - sky) * PIXAR_SR * AREA) over the PSF = the truth flux (0.1 %)
    yy, xx = np.mgrid[0 : model.data.shape[0], 0 : model.data.shape[1]]
    src = truth.sources
    radius = 12 * 1.22 * _pivot_um(truth) * 1e-6 / 6.5 * 206264.8 / np.sqrt(truth.pixar_sr * 4.25451702961522e10)
    for row in src:
        near = np.hypot(xx - row["x"], yy - row["y"]) < radius + 2
        # dead pixels (a few) have no value: use the truth there
        assert np.mean(good[near]) > 0.99
        sb = np.where(good, result.data, truth.surface_brightness)[near] - truth.sky_background
        flux_jy = np.sum(sb * result.area[near]) * result.meta.photometry.pixelarea_steradians * 1e6
        assert flux_jy == pytest.approx(row["flux"], rel=flux_rtol)
    # saved with the step's suffix and provenance
    out = tmp_path / model.meta.filename.replace("_rate", "_photom")
    with datamodels.open(out) as saved:
        assert saved.meta.ref_file.photom.name.endswith("photom.fits")
        assert saved.meta.ref_file.area.name.endswith("area.fits")
        assert saved.area.shape == model.data.shape
    from astropy.io import fits

    hdr = fits.getheader(out, "SCI")
    assert hdr["BUNIT"] == "MJy/sr" and hdr["PHOTMJSR"] == pytest.approx(truth.photmjsr, rel=1e-6)


def _pivot_um(truth):
    from photoncal.sim.instruments import FILTERS

    for name in (truth.filter, truth.pupil):
        for table in FILTERS.values():
            if name in table:
                return table[name].pivot_um
    raise KeyError(truth.filter)


def test_variances_scale_with_the_square():
    model, truth = data.rate_exposure()
    from photoncal.steps.photom import PhotomStep

    vp, vr, err, d = model.var_poisson.copy(), model.var_rnoise.copy(), model.err.copy(), model.data.copy()
    result = PhotomStep.call(model, reference_dir=data.reference_dir())
    c = truth.photmjsr
    good = np.isfinite(d)
    assert np.allclose(result.data[good], d[good] * c, rtol=1e-6)
    assert np.allclose(result.err[good], err[good] * c, rtol=1e-6)
    assert np.allclose(result.var_poisson[good], vp[good] * c * c, rtol=1e-6)
    assert np.allclose(result.var_rnoise[good], vr[good] * c * c, rtol=1e-6)
    assert "var_flat" not in result.keys()  # not created when the input had none
    back = PhotomStep.call(result, reference_dir=data.reference_dir(), inverse=True)
    assert back.meta.bunit_data == "DN/s"
    assert np.allclose(back.data[good], d[good], rtol=1e-6)


def test_row_selection():
    from photoncal.steps.photom import select_photom_row

    nrc = np.array([("F200W", "CLEAR", 1.0), ("F200W", "MASKRND", 2.0), ("F150W", "CLEAR", 3.0)],
                   dtype=[("filter", "U12"), ("pupil", "U12"), ("photmjsr", "f4")])
    assert select_photom_row(nrc, "NIRCAM", "F200W", "MASKRND", "FULL") == 1
    assert select_photom_row(nrc, "NIRCAM", "f150w", "clear", "SUB160") == 2
    assert select_photom_row(nrc, "NIRCAM", "F444W", "CLEAR", "FULL") is None
    miri = np.array([("F770W", "FULL", 1.0), ("F770W", "GENERIC", 2.0), ("F560W", "SUB256", 3.0)],
                    dtype=[("filter", "U12"), ("subarray", "U17"), ("photmjsr", "f4")])
    assert select_photom_row(miri, "MIRI", "F770W", None, "FULL") == 0
    assert select_photom_row(miri, "MIRI", "F770W", None, "SUB64") == 1  # GENERIC fallback
    assert select_photom_row(miri, "MIRI", "F560W", None, "SUB256") == 2
    dup = np.concatenate([nrc, nrc[:1]])
    with pytest.raises(ValueError, match="2 PHOTOM rows"):
        select_photom_row(dup, "NIRCAM", "F200W", "CLEAR")
    assert select_photom_row(nrc[:1], "FGS") == 0


def test_missing_row_skips_and_na_skips():
    from photoncal.steps.photom import PhotomStep

    model, _ = data.rate_exposure()
    model.meta.instrument.filter = "F999W"
    result = PhotomStep.call(model, reference_dir=data.reference_dir())
    assert result.meta.cal_step.photom == "SKIPPED"
    assert result.meta.bunit_data == "DN/s"
    model, _ = data.rate_exposure()
    result = PhotomStep.call(model, reference_dir=data.reference_dir(), override_photom="N/A")
    assert result.meta.cal_step.photom == "SKIPPED"


def test_area_na_uses_photom_pixar():
    from photoncal.steps.photom import PhotomStep

    model, truth = data.rate_exposure()
    result = PhotomStep.call(model, reference_dir=data.reference_dir(), override_area="N/A")
    assert result.meta.cal_step.photom == "COMPLETE"
    assert result.meta.photometry.pixelarea_steradians == pytest.approx(truth.pixar_sr, rel=1e-6)
    assert "area" not in result.keys()
