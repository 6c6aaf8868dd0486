"""assign_wcs on simulated exposures: positions against the truth, SIP, provenance."""


import numpy as np
import pytest

import stage2_data as data  # tests/steps, on pytest's pythonpath


def _separation_mas(ra1, dec1, ra2, dec2):
    dra = (np.asarray(ra1) - np.asarray(ra2) + 180.0) % 360.0 - 180.0
    return np.hypot(dra * np.cos(np.deg2rad(dec2)), np.asarray(dec1) - np.asarray(dec2)) * 3.6e6


def _run(model, **kwargs):
    from photoncal.steps.assign_wcs import AssignWcsStep

    return AssignWcsStep.call(model, reference_dir=data.reference_dir(), **kwargs)


@pytest.mark.parametrize(
    "detector, subarray, filter_name",
    [("NRCA1", "SUB160", None), ("NRCA1", "SUB64P", None), ("MIRIMAGE", "SUB64", "F770W")],
)
def test_truth_positions_better_than_1_mas(detector, subarray, filter_name):
    model, truth = data.rate_exposure(detector, subarray, filter_name=filter_name)
    result = _run(model)
    assert result.meta.cal_step.assign_wcs == "COMPLETE"
    src = truth.sources[truth.sources["on_image"]]
    assert len(src) >= 1
    ra, dec = result.meta.wcs(src["x"], src["y"])
    assert np.all(_separation_mas(ra, dec, src["ra"], src["dec"]) < 1.0)
    # inverse: the truth sky positions land on the truth pixels
    x, y = result.meta.wcs.invert(src["ra"], src["dec"])
    assert np.allclose(x, src["x"], atol=1e-3) and np.allclose(y, src["y"], atol=1e-3)
    # the FITS SIP approximation in the SCI header agrees to the fit tolerance (0.01 pix ~ 0.3-1 mas)
    fits_wcs = result.get_fits_wcs()
    ra2, dec2 = fits_wcs.all_pix2world(src["x"], src["y"], 0)
    scale_mas = abs(truth.pixar_sr) ** 0.5 * 180 / np.pi * 3.6e6
    assert np.all(_separation_mas(ra2, dec2, src["ra"], src["dec"]) < 0.01 * scale_mas)
    assert fits_wcs.sip is not None
    if detector == "MIRIMAGE":
        assert result.meta.ref_file.filteroffset.name.endswith(".asdf")
        assert truth.filter_offset != (0.0, 0.0)


def test_frames_footprint_and_provenance(tmp_path):
    model, _ = data.rate_exposure()
    result = _run(model, save_results=True, output_dir=str(tmp_path))
    wcs = result.meta.wcs
    assert wcs.available_frames == ["detector", "v2v3", "world"]
    # detector -> v2v3 is the distortion reference shifted by the subarray origin
    from photoncal import datamodels

    dist = datamodels.open(result.meta.ref_file.distortion.name)
    xs, ys = result.meta.subarray.xstart - 1, result.meta.subarray.ystart - 1
    v2, v3 = wcs.get_transform("detector", "v2v3")(10.0, 20.0)
    v2r, v3r = dist.model(10.0 + xs, 20.0 + ys)
    assert v2 == pytest.approx(v2r, abs=1e-9) and v3 == pytest.approx(v3r, abs=1e-9)
    # V2_REF/V3_REF maps to RA_REF/DEC_REF
    ra, dec = wcs.get_transform("v2v3", "world")(model.meta.wcsinfo.v2_ref, model.meta.wcsinfo.v3_ref)
    assert _separation_mas(ra, dec, model.meta.wcsinfo.ra_ref, model.meta.wcsinfo.dec_ref) < 1e-6
    # S_REGION is the sky outline of the pixel edges
    corners = np.array(result.meta.wcsinfo.s_region.split()[2:], dtype=float).reshape(-1, 2)
    ny, nx = model.data.shape
    ra_c, dec_c = wcs([-0.5, nx - 0.5, nx - 0.5, -0.5], [-0.5, -0.5, ny - 0.5, ny - 0.5], with_bounding_box=False)
    assert np.all(_separation_mas(corners[:, 0], corners[:, 1], ra_c, dec_c) < 0.01)  # 9 decimals
    assert wcs.bounding_box.bounding_box(order="F") == ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    # saved under the step's suffix, with the WCS in the ASDF extension
    out = tmp_path / model.meta.filename.replace("_rate", "_assign_wcs")
    assert out.is_file()
    with datamodels.open(out) as saved:
        assert saved.meta.cal_step.assign_wcs == "COMPLETE"
        assert saved.meta.ref_file.distortion.name.endswith("distortion.asdf")
        assert np.allclose(saved.meta.wcs(5.0, 7.0), wcs(5.0, 7.0), rtol=0, atol=1e-12)
        assert saved.get_fits_wcs().wcs.ctype[0] == "RA---TAN-SIP"
    from astropy.io import fits

    header = fits.getheader(out, "SCI")
    assert header["S_REGION"].startswith("POLYGON ICRS")
    assert "A_ORDER" in header and "AP_ORDER" in header and "CD1_1" in header and "PC1_1" not in header


def test_cube_input_and_no_sip():
    model, truth = data.rate_exposure(nints=2)
    result = _run(model, sip_approx=False)
    assert result.meta.cal_step.assign_wcs == "COMPLETE"
    src = truth.sources[truth.sources["on_image"]]
    ra, dec = result.meta.wcs(src["x"], src["y"])
    assert np.all(_separation_mas(ra, dec, src["ra"], src["dec"]) < 1.0)
    assert result.meta.wcsinfo.ctype1 == "RA---TAN"  # the header's linear WCS is left alone


def test_spectroscopic_exposure_is_skipped():
    model, _ = data.rate_exposure()
    model.meta.exposure.type = "NRC_WFSS"
    result = _run(model)
    assert result.meta.cal_step.assign_wcs == "SKIPPED"
    assert result.meta.wcs is None


def test_missing_pointing_keyword_is_named():
    model, _ = data.rate_exposure()
    model.meta.wcsinfo.roll_ref = None
    with pytest.raises(ValueError, match="ROLL_REF"):
        _run(model)


def test_distortion_na_skips():
    model, _ = data.rate_exposure()
    result = _run(model, override_distortion="N/A")
    assert result.meta.cal_step.assign_wcs == "SKIPPED"
