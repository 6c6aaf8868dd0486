"""Our IRAF/DAO star finders against photutils' IRAFStarFinder/DAOStarFinder.

The numba finders (:func:`photoncal.kernels.starfind.find_stars`) follow
photutils' algorithm step by step, so on the same image they must return
the same sources in the same order with the same columns.  The kernel and
the convolved image are bit-identical to photutils'; the moment sums of
IRAF starfind are plain float64 loops where photutils uses BLAS products,
so those columns agree to ~1e-13 (the tests allow 1e-9 relative).
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
from scipy import ndimage

from photoncal.kernels import starfind as sf
from photoncal.kernels import starfind_numba as nb
from photoncal.sim import analytic as S

photutils_detection = pytest.importorskip("photutils.detection")


def _photutils(data, threshold, fwhm, finder, mask=None, **kw):
    cls = photutils_detection.IRAFStarFinder if finder == "iraf" else photutils_detection.DAOStarFinder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(threshold, fwhm, **kw)(data, mask=mask)


def assert_same_table(ours, theirs, rtol=1e-9):
    assert (ours is None) == (theirs is None)
    if theirs is None:
        return
    assert ours.colnames == theirs.colnames
    assert len(ours) == len(theirs)
    for name in theirs.colnames:
        a, b = ours[name], theirs[name]
        assert getattr(a, "unit", None) == getattr(b, "unit", None), name
        a, b = np.asarray(getattr(a, "value", a)), np.asarray(getattr(b, "value", b))
        assert a.dtype == b.dtype, name
        if a.dtype.kind in "iu":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=name)


@pytest.fixture(scope="module")
def field():
    """Stars of many brightnesses, some off the edges, close pairs, flat (saturated) tops,
    NaN pixels and a masked region, on noise."""
    rng = np.random.default_rng(7)
    shape = (180, 200)
    n = 90
    x = rng.uniform(-3, shape[1] + 2, n)
    y = rng.uniform(-3, shape[0] + 2, n)
    flux = 10 ** rng.uniform(2.3, 4.7, n)
    # close pairs: 2.5 to 5 pixels apart
    x = np.concatenate([x, [40.0, 42.6, 120.0, 124.5, 160.3, 163.0]])
    y = np.concatenate([y, [30.0, 31.0, 90.0, 90.5, 150.2, 147.8]])
    flux = np.concatenate([flux, [5000, 3000, 8000, 8000, 2000, 4000]])
    image = S.gaussian_stars(shape, x, y, flux, 1.15) + rng.normal(0, 1.0, shape)
    image = np.minimum(image, 1500.0)  # saturated stars have flat tops (ties between pixels)
    image[20:23, 60:95] = np.nan
    image[100, 5] = np.nan
    mask = np.zeros(shape, dtype=bool)
    mask[130:150, 20:60] = True
    return image, mask


CASES = [
    {},
    {"min_separation": 0},
    {"min_separation": 2},
    {"min_separation": 4.5, "exclude_border": True},
    {"n_brightest": 25},
    {"peak_max": 800.0, "n_brightest": 40},
    {"sharpness_range": None, "roundness_range": None},
    {"sigma_radius": 2.5, "min_separation": 3},
]


@pytest.mark.parametrize("finder", ["iraf", "dao"])
@pytest.mark.parametrize("options", CASES, ids=[str(c) for c in CASES])
def test_same_sources_as_photutils(field, finder, options):
    image, mask = field
    ours = sf.find_stars(image, 6.0, 2.5, finder, mask, **options)
    theirs = _photutils(image, 6.0, 2.5, finder, mask, **options)
    assert theirs is not None and len(theirs) >= 20
    assert_same_table(ours, theirs)


def test_dao_elliptical_kernel_and_unscaled_threshold(field):
    image, mask = field
    for kw in ({"ratio": 0.6, "theta": 30.0}, {"ratio": 0.8, "theta": 125.0, "scale_threshold": False},
               {"fwhm": 3.7, "roundness_range": (-0.5, 0.5)}):
        kw = dict(kw)
        fwhm = kw.pop("fwhm", 2.5)
        threshold = 40.0 if kw.get("scale_threshold") is False else 6.0
        ours = sf.find_stars(image, threshold, fwhm, "dao", mask, **kw)
        theirs = _photutils(image, threshold, fwhm, "dao", mask, **kw)
        assert theirs is not None
        assert_same_table(ours, theirs)


def test_iraf_wide_kernel(field):
    image, _ = field
    ours = sf.find_stars(image, 4.0, 3.5, "iraf", sharpness_range=(0.2, 3.0), roundness_range=(0, 0.5))
    theirs = _photutils(image, 4.0, 3.5, "iraf", sharpness_range=(0.2, 3.0), roundness_range=(0, 0.5))
    assert theirs is not None
    assert_same_table(ours, theirs)
    # fwhm 4.5: the footprint fills the whole 5x5 cutout, no sky pixel is left and the sky
    # (and every source) is NaN - photutils finds nothing, and neither do we
    assert sf.find_stars(image, 4.0, 4.5, "iraf") is None
    assert _photutils(image, 4.0, 4.5, "iraf") is None


def test_float32_image_is_measured_in_float64(field):
    image, mask = field
    image32 = image.astype(np.float32)
    ours = sf.find_stars(image32, 6.0, 2.5, "iraf", mask)
    theirs = _photutils(image32.astype(np.float64), 6.0, 2.5, "iraf", mask)
    assert_same_table(ours, theirs)


def test_nothing_found():
    flat = np.zeros((40, 50))
    assert sf.find_stars(flat, 1.0, 2.5) is None  # constant image
    noise = np.random.default_rng(1).normal(0, 1, (40, 50))
    assert sf.find_stars(noise, 100.0, 2.5, "dao") is None
    assert _photutils(noise, 100.0, 2.5, "dao") is None
    # one star that fails the roundness cut
    star = S.gaussian_stars((40, 50), [25.0], [20.0], [1000.0], 1.1)
    star = star + S.gaussian_stars((40, 50), [27.0], [20.0], [1000.0], 1.1)
    assert sf.find_stars(star, 5.0, 2.5, "iraf", roundness_range=(0.0, 0.01)) is None
    assert _photutils(star, 5.0, 2.5, "iraf", roundness_range=(0.0, 0.01)) is None


def test_star_kernel_equals_photutils():
    from photutils.detection.core import _StarFinderKernel

    for fwhm, ratio, theta, sigma_radius in [(2.5, 1.0, 0.0, 1.5), (1.2, 1.0, 0.0, 1.5),
                                             (4.3, 0.55, 33.0, 2.0), (3.0, 0.8, 200.0, 1.0)]:
        ours = sf.StarKernel(fwhm, ratio, theta, sigma_radius)
        theirs = _StarFinderKernel(fwhm, ratio=ratio, theta=theta, sigma_radius=sigma_radius)
        np.testing.assert_array_equal(ours.data, theirs.data)
        np.testing.assert_array_equal(ours.mask, theirs.mask)
        np.testing.assert_array_equal(ours.gaussian, theirs.gaussian_kernel_unmasked)
        assert ours.rel_err == theirs.rel_err and ours.n_pixels == theirs.n_pixels
        assert (ours.x_radius, ours.y_radius) == (theirs.x_radius, theirs.y_radius)


def test_convolution_is_scipys_bit_for_bit(field):
    image, _ = field
    for kernel in (sf.StarKernel(2.5), sf.StarKernel(3.3, 0.7, 40.0)):
        expected = ndimage.convolve(image, kernel.data, mode="constant", cval=0.0)
        got = sf._star_kernel_convolve(image, kernel)
        np.testing.assert_array_equal(got, expected)  # NaN where a NaN is under the footprint


def test_local_peaks_match_maximum_filter():
    rng = np.random.default_rng(3)
    image = rng.normal(0, 1, (60, 70))
    image[10, 10:13] = 5.0  # a plateau: tied pixels are all peaks
    image[30, 40] = np.nan
    kernel = sf.StarKernel(2.5)
    for radius in (0, 2, 3.5):
        if radius == 0:
            footprint = kernel.mask.astype(bool)
        else:
            idx = np.arange(-radius, radius + 1)
            xx, yy = np.meshgrid(idx, idx)
            footprint = xx**2 + yy**2 <= radius**2
        filled = np.where(np.isnan(image), np.nanmin(image), image)
        peak = filled == ndimage.maximum_filter(filled, footprint=footprint, mode="constant", cval=0.0)
        peak &= (filled > 0.5) & ~np.isnan(image)
        ys, xs = np.nonzero(peak)
        got_x, got_y = sf._local_peaks(image, 0.5, kernel, radius, None, False)
        np.testing.assert_array_equal(got_x, xs)
        np.testing.assert_array_equal(got_y, ys)


def test_pairwise_sum_is_numpys():
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 8, 9, 25, 127, 128, 129, 300, 1000, 5003):
        values = rng.normal(size=n) * 10.0 ** rng.uniform(-6, 6, n)
        assert nb.pairwise_sum(values, 0, n) == np.sum(values)


def test_detect_backends_agree_and_find_sources_uses_ours(field):
    image, mask = field
    threshold = np.full(image.shape, 6.0)
    for finder in ("iraf", "dao"):
        ours, _ = sf.detect(image, threshold, 2.5, finder, mask, min_separation=2, n_brightest=30,
                            n_pixels=10, contrast=0.1)  # segmentation options are ignored
        theirs, _ = sf.detect(image, threshold, 2.5, finder, mask, backend="photutils",
                              min_separation=2, n_brightest=30)
        assert_same_table(ours, theirs)
    clean = np.where(np.isnan(image), 0.0, image) + 50.0
    a = sf.find_sources(clean, bkg_boxsize=45, brightest=30)
    b = sf.find_sources(clean, bkg_boxsize=45, brightest=30, backend="photutils")
    assert len(a) == len(b) == 30
    for name in ("id", "x", "y", "flux"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-9)
    with pytest.raises(ValueError, match="backend"):
        sf.detect(image, threshold, 2.5, "iraf", backend="cuda")


def test_bad_parameters():
    image = np.zeros((30, 30))
    with pytest.raises(ValueError, match="fwhm"):
        sf.find_stars(image, 1.0, 0.0)
    with pytest.raises(ValueError, match="ratio"):
        sf.find_stars(image, 1.0, 2.0, "dao", ratio=1.5)
    with pytest.raises(ValueError, match="min_separation"):
        sf.find_stars(image, 1.0, 2.0, min_separation=-1)
    with pytest.raises(ValueError, match="n_brightest"):
        sf.find_stars(image, 1.0, 2.0, n_brightest=0)
    with pytest.raises(TypeError, match="n_brightest"):
        sf.find_stars(image, 1.0, 2.0, n_brightest=True)
    with pytest.raises(ValueError, match="sharpness_range"):
        sf.find_stars(image, 1.0, 2.0, sharpness_range=(1.0,))
    with pytest.raises(ValueError, match="2-D"):
        sf.find_stars(np.zeros(5), 1.0, 2.0)
    with pytest.raises(ValueError, match="star finder"):
        sf.find_stars(image, 1.0, 2.0, "segmentation")
    assert u.deg == sf.find_stars(S.gaussian_stars((30, 30), [15.0], [15.0], [500.0], 1.1), 5.0, 2.5,
                                  roundness_range=None)["orientation"].unit


@pytest.mark.parametrize("kernel_fwhm", [2.0, 3.3])
def test_segmentation_smoothing_equals_astropy(field, kernel_fwhm):
    image, mask = field
    rng = np.random.default_rng(11)
    holes = image.copy()
    holes[60:75, 100:115] = np.nan  # a NaN patch wider than the kernel stays NaN inside
    cases = [(image, mask), (image, None), (np.where(np.isnan(image), 0.0, image), None),
             (holes.astype(np.float32), mask), (rng.poisson(5.0, (40, 50)), None)]
    for data, m in cases:
        ours = sf._convolve(data, kernel_fwhm, mask=m)
        theirs = sf._convolve(data, kernel_fwhm, mask=m, backend="photutils")
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(sf._convolve(holes, kernel_fwhm)[67, 107])


def test_segmentation_detect_same_with_both_smoothings(field):
    pytest.importorskip("photutils.segmentation")
    image, mask = field
    threshold = np.full(image.shape, 5.0)
    kw = {"n_pixels": 5, "deblend": False}
    ours, seg = sf.detect(image, threshold, 2.0, "segmentation", mask, **kw)
    theirs, seg_ref = sf.detect(image, threshold, 2.0, "segmentation", mask, backend="photutils", **kw)
    assert len(ours) == len(theirs) > 20
    np.testing.assert_array_equal(seg.data, seg_ref.data)
    for name in ("x_centroid", "y_centroid", "segment_flux", "area"):
        np.testing.assert_array_equal(np.asarray(getattr(ours[name], "value", ours[name])),
                                      np.asarray(getattr(theirs[name], "value", theirs[name])))
