"""Our background mesh (numba box statistics) against photutils' Background2D.

The clipping follows astropy's ``SigmaClip`` fast path and the box
statistics numpy's ``nanmedian``/``nanstd`` operation for operation, so
the meshes and the expanded background images are equal bit for bit.
"""

import warnings

import numpy as np
import pytest

from photoncal.kernels import starfind as sf
from photoncal.kernels import starfind_numba as nb
from photoncal.sim import analytic as S

pytest.importorskip("photutils.background")


def _sky(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    n = 40
    image = S.gaussian_stars(shape, rng.uniform(0, shape[1], n), rng.uniform(0, shape[0], n),
                             10 ** rng.uniform(2, 4, n), 1.2)
    image = image + 20.0 + 0.02 * np.arange(shape[1])[None, :] + rng.normal(0, 1.0, shape)
    image = image.astype(dtype)
    image[rng.random(shape) < 0.01] = np.nan
    image[5, 7] = np.inf
    return image


# (shape, box): full boxes only; partial edge row/column boxes that are left out; an edge
# row of boxes that keeps enough pixels (47 of 50 rows); an edge corner box that keeps enough
# (48 x 48 of 50 x 50, clipped without an axis); rectangular boxes; a box larger than the image
LAYOUTS = [((150, 200), 50), ((170, 220), 50), ((197, 217), 50), ((148, 148), 50),
           ((160, 200), (40, 64)), ((60, 70), 1000)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, box", LAYOUTS)
def test_mesh_equals_background2d(shape, box, dtype):
    image = _sky(shape, dtype, seed=sum(shape))
    coverage = np.zeros(shape, dtype=bool)
    coverage[:30, :60] = True
    for cov in (None, coverage):
        try:
            ours = sf.background_mesh(image, box, cov)
        except ValueError:  # the coverage leaves no box of 1000 > 90% covered: one box, as photutils
            ours = sf.background_mesh(image, image.shape, cov, exclude_percentile=100.0)
        theirs = sf._photutils_background_mesh(image, np.asarray(box).astype(int), cov)
        for a, b in zip(ours[:2], theirs[:2]):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ours[2], theirs[2])
        images = sf.estimate_background(image, box, cov)
        reference = sf.estimate_background(image, box, cov, backend="photutils")
        for a, b in zip(images, reference):
            np.testing.assert_array_equal(a, b)
    # the mesh is right, not only equal: a 20 + 0.02 x sky with unit noise (one box for the
    # whole image also holds the gradient's spread)
    if np.any(np.asarray(box) >= shape):
        return
    bkg, rms = sf.estimate_background(image, box)
    x = np.arange(shape[1])[None, :]
    assert np.median(np.abs(bkg - (20.0 + 0.02 * x))) < 0.6
    assert abs(np.median(rms) - 1.0) < 0.15


def test_masked_boxes_are_interpolated_and_fallback_to_one_box():
    image = _sky((200, 200), np.float32, seed=3)
    coverage = np.zeros(image.shape, dtype=bool)
    coverage[:100, :100] = True  # four boxes of 50 fully masked: filled by IDW
    ours = sf.background_mesh(image, 50, coverage)
    theirs = sf._photutils_background_mesh(image, np.array([50, 50]), coverage)
    np.testing.assert_array_equal(ours[0], theirs[0])
    # every box over 10% masked: Background2D raises, estimate_background falls back
    heavy = np.zeros(image.shape, dtype=bool)
    heavy[::3, :] = True
    with pytest.raises(ValueError, match="too few"):
        sf.background_mesh(image, 50, heavy)
    a = sf.estimate_background(image, 50, heavy)
    b = sf.estimate_background(image, 50, heavy, backend="photutils")
    np.testing.assert_array_equal(a[0], b[0])
    assert np.all(a[0][heavy] == 0.0)  # no-coverage pixels get the fill value


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        sf.background_mesh(np.full((20, 20), np.nan), 10)
    with pytest.raises(ValueError, match="masked"):
        sf.background_mesh(np.ones((20, 20)), 10, np.ones((20, 20), dtype=bool))
    with pytest.raises(ValueError, match="box size"):
        sf.background_mesh(np.ones((20, 20)), 0)
    with pytest.raises(ValueError, match="coverage mask shape"):
        sf.background_mesh(np.ones((20, 20)), 10, np.zeros((5, 5), dtype=bool))
    with pytest.raises(ValueError, match="backend"):
        sf.estimate_background(np.ones((20, 20)), 10, backend="gpu")


def test_integer_image_is_measured_as_float32():
    image = np.random.default_rng(4).poisson(30.0, (100, 120)).astype(np.int32)
    ours = sf.background_mesh(image, 25)
    theirs = sf._photutils_background_mesh(image, np.array([25, 25]), None)
    assert ours[0].dtype == np.float32
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_sigma_clip_bounds_equal_astropy():
    from astropy.stats import SigmaClip

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(2, 2000))
        values = rng.normal(10, 1, n)
        outliers = rng.random(n) < 0.05
        values[outliers] += rng.normal(0, 30, outliers.sum())
        for maxiters in (5, 1, -1):
            clip = SigmaClip(sigma=2.5, maxiters=None if maxiters == -1 else maxiters)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, lower, upper = clip(values[None, :], axis=-1, masked=False, return_bounds=True)
            buffer = values.copy()
            got = nb.sigma_clip_bounds(buffer, n, 2.5, 2.5, maxiters)
            assert got[0] == lower[0] and got[1] == upper[0]
            kept = values[(values >= lower[0]) & (values <= upper[0])]
            assert got[2] == kept.size
            np.testing.assert_array_equal(np.sort(buffer[:got[2]]), np.sort(kept))


def test_big_endian_image():
    image = _sky((120, 130), np.float32, seed=9)
    swapped = image.astype(">f4")
    ours = sf.background_mesh(swapped, 40)
    np.testing.assert_array_equal(ours[0], sf.background_mesh(image, 40)[0])
    cat = sf.find_sources(swapped, bkg_boxsize=40)
    assert len(cat) > 0
