"""SourceCatalogStep on a resampled simulated exposure."""

import os

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table

from photoncal import datamodels
from photoncal.steps.resample import ResampleStep
from photoncal.steps.source_catalog import SourceCatalogStep

import stage3_data as S3  # tests/steps, on pytest's pythonpath


@pytest.fixture(scope="module")
def i2d(calset):
    """The first exposure alone, resampled (its WCS has the simulated pointing error: positions are
    compared with the truth through the exposure's own WCS)."""
    return ResampleStep.call(calset.exposures[0], reference_dir=S3.reference_dir())


@pytest.fixture(scope="module")
def calset():
    return S3.cal_set()


def _match(cat, truth, model, exposure_wcs):
    x, y = model.meta.wcs.invert(*exposure_wcs(truth["x"], truth["y"]), with_bounding_box=False)
    d = np.hypot(np.asarray(cat["xcentroid"])[None, :] - x[:, None], np.asarray(cat["ycentroid"])[None, :] - y[:, None])
    return d.argmin(axis=1), d.min(axis=1)


def test_catalog_finds_and_measures_the_truth_sources(i2d, calset):
    cat = SourceCatalogStep.call(i2d, reference_dir=S3.reference_dir())
    truth = calset.truths[0]
    src = truth.sources[truth.sources["on_image"]]
    ny, nx = 640, 640
    inner = (src["x"] > 10) & (src["x"] < nx - 10) & (src["y"] > 10) & (src["y"] < ny - 10)
    with datamodels.open(calset.exposures[0]) as cal:
        j, dist = _match(cat, src, i2d, cal.meta.wcs)
    noise = np.nanmedian(cat["aper_total_flux_err"].to_value(u.Jy))
    bright = inner & (src["flux"] / noise > 10)
    assert bright.sum() > 20
    assert (dist[bright] < 1.0).mean() >= 0.95
    # isolated point sources: positions and aperture-corrected fluxes
    sep = np.hypot(src["x"][:, None] - src["x"][None], src["y"][:, None] - src["y"][None])
    np.fill_diagonal(sep, 1e9)
    stars = bright & (src["type"] == "point") & (sep.min(axis=1) > 40) & (dist < 1.0)
    assert stars.sum() >= 5
    assert np.median(dist[stars]) < 0.1      # pixels (3 mas)
    ratio = cat["aper_total_flux"].to_value(u.Jy)[j[stars]] / src["flux"][stars]
    assert abs(np.median(ratio) - 1) < 0.02
    assert cat["aper_total_flux"].unit == u.Jy
    assert {"aper30_flux", "aper50_flux", "aper70_flux", "aper_total_vegamag", "CI_50_30",
            "is_extended", "sky_centroid"} <= set(cat.colnames)
    # AB - Vega offset of the simulated ABVEGAOFFSET reference
    from photoncal.sim.references import vega_ab_offset

    diff = np.nanmedian(cat["aper_total_abmag"] - cat["aper_total_vegamag"])
    assert diff == pytest.approx(vega_ab_offset(1.990), abs=1e-4)


def test_products_and_reference_files(i2d, tmp_path):
    model = i2d.copy()
    model.meta.filename = "jw01234-o001_t001_nircam_clear-f200w_i2d.fits"
    SourceCatalogStep.call(model, save_results=True, output_dir=str(tmp_path), reference_dir=S3.reference_dir())
    assert sorted(os.listdir(tmp_path)) == ["jw01234-o001_t001_nircam_clear-f200w_cat.ecsv",
                                            "jw01234-o001_t001_nircam_clear-f200w_segm.fits"]
    cat = QTable.read(tmp_path / "jw01234-o001_t001_nircam_clear-f200w_cat.ecsv")
    assert len(cat) > 20
    with datamodels.open(tmp_path / "jw01234-o001_t001_nircam_clear-f200w_segm.fits") as segm:
        assert type(segm).__name__ == "SegmentationMapModel"
        assert segm.data.dtype == np.uint32
        labels = set(np.unique(segm.data)) - {0}
        assert labels == set(int(v) for v in cat["label"])


def test_fallbacks_without_references(i2d, tmp_path):
    cat = SourceCatalogStep.call(i2d, override_apcorr="N/A", override_abvegaoffset="N/A")
    assert "aper1_flux" in cat.colnames and "aper30_flux" not in cat.colnames
    np.testing.assert_allclose(cat["aper_total_abmag"], cat["aper_total_vegamag"], equal_nan=True)


def test_no_sources_gives_no_catalog(i2d):
    model = i2d.copy()
    model.data[...] = np.float32(0.1)
    assert SourceCatalogStep.call(model, override_apcorr="N/A", override_abvegaoffset="N/A") is None


def test_wrong_inputs_are_refused(calset):
    with pytest.raises(ValueError, match="pixel area|PIXAR"):
        model = datamodels.ImageModel((20, 20))
        model.meta.wcs = datamodels.open(calset.exposures[0]).meta.wcs
        SourceCatalogStep.call(model, override_apcorr="N/A", override_abvegaoffset="N/A")
    with pytest.raises(TypeError, match="CubeModel"):
        SourceCatalogStep.call(datamodels.CubeModel((2, 5, 5)))
