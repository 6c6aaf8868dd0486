"""source_catalog: detection, positions and photometry of a field of known Gaussian stars."""

import io
import math
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table
from scipy.spatial import cKDTree

from photoncal.kernels import source_catalog as sc
from photoncal.sim import analytic as S


SIGMA = 1.5  # PSF sigma, pixels
NOISE = 2e-6  # Jy per pixel
SHAPE = (300, 320)

ESTABLISHED_COLUMNS = [
    "label", "xcentroid", "ycentroid", "sky_centroid", "aper_bkg_flux", "aper_bkg_flux_err",
    "aper30_flux", "aper30_flux_err", "aper50_flux", "aper50_flux_err", "aper70_flux",
    "aper70_flux_err", "aper_total_flux", "aper_total_flux_err", "aper30_abmag", "aper30_abmag_err",
    "aper50_abmag", "aper50_abmag_err", "aper70_abmag", "aper70_abmag_err", "aper_total_abmag",
    "aper_total_abmag_err", "aper30_vegamag", "aper30_vegamag_err", "aper50_vegamag",
    "aper50_vegamag_err", "aper70_vegamag", "aper70_vegamag_err", "aper_total_vegamag",
    "aper_total_vegamag_err", "CI_50_30", "CI_70_50", "CI_70_30", "is_extended", "sharpness",
    "roundness", "nn_label", "nn_dist", "isophotal_flux", "isophotal_flux_err", "isophotal_abmag",
    "isophotal_abmag_err", "isophotal_vegamag", "isophotal_vegamag_err", "isophotal_area",
    "semimajor_sigma", "semiminor_sigma", "ellipticity", "orientation", "sky_orientation",
    "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur",
]


def _pixelated_ee_radius(fraction):
    """Radius enclosing ``fraction`` of a pixel-integrated Gaussian (effective sigma)."""
    s = math.sqrt(SIGMA**2 + 1.0 / 12.0)
    return s * math.sqrt(-2.0 * math.log(1.0 - fraction))


def _apcorr_table():
    """An APCORR table calibrated on a noiseless star of this PSF, as the reference files are."""
    from photutils.aperture import CircularAperture, aperture_photometry

    star = S.gaussian_stars((41, 41), [20.3], [19.8], [1.0], SIGMA)
    rows = []
    for ee in (0.3, 0.5, 0.7):
        r = _pixelated_ee_radius(ee)
        measured = float(aperture_photometry(star, CircularAperture((20.3, 19.8), r))["aperture_sum"][0])
        rows.append((ee, r, 1.0 / measured, 12.0, 20.0))
    return Table(rows=rows, names=("eefraction", "radius", "apcorr", "skyin", "skyout"))


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(2)
    gx, gy = np.meshgrid(np.linspace(25, 295, 8), np.linspace(25, 275, 7))
    x = gx.ravel() + rng.uniform(-3, 3, gx.size)
    y = gy.ravel() + rng.uniform(-3, 3, gy.size)
    # bright stars: integrated S/N from about 400 to 4000
    flux = rng.uniform(5e-3, 5e-2, x.size)
    image = S.gaussian_stars(SHAPE, x, y, flux, SIGMA) + 1e-5 + rng.normal(0, NOISE, SHAPE)
    err = np.full(SHAPE, NOISE)
    wcs, _ = S.imaging_wcs(shape=SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no scikit-image: no deblending
        cat, segm = sc.make_source_catalog(
            image, err, wcs=wcs, bkg_boxsize=100, kernel_fwhm=2.0, npixels=10,
            aperture_params=sc.aperture_parameters(_apcorr_table()), abvega_offset=1.5)
    return cat, segm, x, y, flux, wcs


def test_stars_are_found_with_accurate_positions_and_fluxes(field):
    cat, segm, x, y, flux, wcs = field
    assert isinstance(cat, QTable)
    dist, idx = cKDTree(np.column_stack([x, y])).query(
        np.column_stack([cat["xcentroid"], cat["ycentroid"]]))
    assert len(set(idx.tolist())) == len(cat) >= 0.95 * len(x)
    assert np.all(dist < 0.02)
    total = cat["aper_total_flux"].to_value(u.Jy) / flux[idx]
    assert np.all(np.abs(total - 1) < 0.02)
    iso = cat["isophotal_flux"].to_value(u.Jy) / flux[idx]
    assert np.median(iso) == pytest.approx(1.0, abs=0.02)
    # errors: aperture flux error is the noise summed over the aperture area
    r70 = _pixelated_ee_radius(0.7)
    expected = NOISE * math.sqrt(math.pi * r70**2)
    assert np.median(cat["aper70_flux_err"].to_value(u.Jy)) == pytest.approx(expected, rel=0.02)
    # sky positions through the WCS
    ra, dec = wcs(cat["xcentroid"], cat["ycentroid"])
    assert np.allclose(cat["sky_centroid"].ra.deg, ra) and np.allclose(cat["sky_centroid"].dec.deg, dec)


def test_magnitudes_indices_and_star_flags(field):
    cat, *_ = field
    f = cat["aper_total_flux"].to_value(u.Jy)
    assert np.allclose(cat["aper_total_abmag"], -2.5 * np.log10(f) + 8.9)
    assert np.allclose(cat["aper_total_vegamag"], cat["aper_total_abmag"] - 1.5)
    assert np.allclose(cat["CI_50_30"], cat["aper50_flux"] / cat["aper30_flux"])
    # for a Gaussian: EE(r50)/EE(r30) = 5/3, EE(r70)/EE(r50) = 7/5 (up to the aperture-pixel approximation)
    assert np.median(cat["CI_50_30"]) == pytest.approx(5 / 3, rel=0.03)
    assert np.median(cat["CI_70_50"]) == pytest.approx(7 / 5, rel=0.03)
    assert not np.any(cat["is_extended"])
    assert np.all((cat["sharpness"] > 0.2) & (cat["sharpness"] < 1.0))
    assert np.all(np.abs(cat["roundness"]) < 0.3)
    # shapes are measured on the image convolved with the detection kernel (FWHM 2),
    # within the segment (which trims the wings a little for the fainter stars)
    kernel_sigma = 2.0 / (2 * math.sqrt(2 * math.log(2)))
    expected = math.sqrt(SIGMA**2 + 1 / 12 + kernel_sigma**2)
    semimajor = cat["semimajor_sigma"].value
    assert np.all((semimajor > 0.95 * expected) & (semimajor < 1.005 * expected))
    assert np.all(cat["ellipticity"] < 0.03)
    assert np.all(cat["nn_dist"].value > 20) and np.all(cat["nn_label"] != cat["label"])
    assert np.abs(cat["aper_bkg_flux"].to_value(u.Jy) - 1e-5).max() < 1e-6


def test_columns_and_segmentation_map(field):
    cat, segm, *_ = field
    assert cat.colnames == ESTABLISHED_COLUMNS
    assert segm.dtype == np.int32 and segm.shape == SHAPE
    assert set(np.unique(segm)) - {0} == set(cat["label"].tolist())
    for row in cat[:5]:
        assert segm[int(round(row["ycentroid"])), int(round(row["xcentroid"]))] == row["label"]
    assert cat["aper30_flux"].info.description.startswith("Flux within the 30% encircled energy")
    buf = io.StringIO()
    cat.write(buf, format="ascii.ecsv")
    back = QTable.read(buf.getvalue(), format="ascii.ecsv")
    assert back.colnames == ESTABLISHED_COLUMNS
    assert back["aper_total_flux"].unit == u.Jy


def test_extended_source_is_flagged():
    rng = np.random.default_rng(4)
    shape = (120, 120)
    star = S.gaussian_stars(shape, [30.2], [60.1], [0.02], SIGMA)
    galaxy = S.gaussian_stars(shape, [85.4], [60.3], [0.05], 6.0)
    image = star + galaxy + rng.normal(0, NOISE, shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # a flat profile has CI_50_30 = (r50/r30)^2 = 1.94 for a Gaussian PSF's radii, so
        # the thresholds sit between that and a star's 5/3 (JWST PSFs have wider wings)
        cat, _ = sc.make_source_catalog(image, np.full(shape, NOISE), bkg_boxsize=120, npixels=10,
                                        aperture_params=sc.aperture_parameters(_apcorr_table()),
                                        ci_star_thresholds=(1.75, 1.55))
    assert len(cat) == 2
    order = np.argsort(cat["xcentroid"])
    assert cat["is_extended"][order].tolist() == [False, True]
    assert np.all(np.isnan(cat["sky_orientation"].value))  # no WCS given


def test_aperture_parameters_and_magnitudes():
    fallback = sc.aperture_parameters()
    assert fallback["aperture_radii"].tolist() == [1.0, 2.0, 3.0]
    params = sc.aperture_parameters(_apcorr_table(), pixel_scale_ratio=0.5)
    assert params["aperture_radii"][1] == pytest.approx(2 * _pixelated_ee_radius(0.5))
    assert params["bkg_aperture_outer_radius"] == 40.0
    with pytest.raises(ValueError, match="encircled energy 40"):
        sc.aperture_parameters(_apcorr_table(), aperture_ee=(30, 40, 70))
    with pytest.raises(ValueError, match="increasing"):
        sc.aperture_parameters(aperture_ee=(50, 30, 70))
    mag, err = sc.flux_to_abmag(np.array([3631.0, 1.0, -1.0]), np.array([0.0, 0.1, 0.1]))
    assert mag[0] == pytest.approx(0.0, abs=2e-4) and mag[1] == pytest.approx(8.9)
    assert err[1] == pytest.approx(2.5 * math.log10(1.1)) and np.isnan(mag[2]) and np.isnan(err[2])
    assert sc.mjysr_to_jy_factor(1e-12) == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="PIXAR_SR"):
        sc.mjysr_to_jy_factor(None)


def test_daofind_statistics_of_a_delta_and_a_star():
    img = np.zeros((31, 31))
    img[15, 15] = 1.0
    sharp, rnd = sc.daofind_sharpness_roundness(img, np.array([15.0]), np.array([15.0]), 2.0)
    star = S.gaussian_stars((31, 31), [15.0], [15.0], [1.0], 2.0 / 2.3548)
    s2, r2 = sc.daofind_sharpness_roundness(star, np.array([15.0]), np.array([15.0]), 2.0)
    assert sharp[0] > s2[0] > 0.2 and abs(r2[0]) < 1e-6
    elong = S.gaussian_stars((31, 31), [14.0, 16.0], [15.0, 15.0], [0.5, 0.5], 0.9)
    _, r3 = sc.daofind_sharpness_roundness(elong, np.array([15.0]), np.array([15.0]), 2.0)
    assert abs(r3[0]) > 0.2


def test_nothing_found_returns_none():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, (64, 64))
    assert sc.make_source_catalog(noise, np.ones((64, 64)), bkg_boxsize=32) == (None, None)
    assert sc.make_source_catalog(np.full((8, 8), np.nan), np.ones((8, 8))) == (None, None)
