"""Source finding for tweakreg (photutils star finders on a synthetic star field)."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from photoncal.dqflags import pixel as dqflags
from photoncal.kernels.starfind import estimate_background, find_sources
from photoncal.sim import analytic as S


@pytest.fixture(scope="module")
def star_field():
    rng = np.random.default_rng(0)
    shape = (200, 220)
    gx, gy = np.meshgrid(np.linspace(15, 205, 7), np.linspace(15, 185, 6))
    x = gx.ravel() + rng.uniform(-4, 4, gx.size)
    y = gy.ravel() + rng.uniform(-4, 4, gy.size)
    flux = rng.uniform(3000, 30000, x.size)
    image = S.gaussian_stars(shape, x, y, flux, 1.1) + 20.0 + rng.normal(0, 1.0, shape)
    return image.astype(np.float32), x, y, flux


@pytest.mark.parametrize("starfinder", ["iraf", "segmentation", "dao"])
def test_finders_locate_the_stars(star_field, starfinder):
    image, x, y, flux = star_field
    kw = {"roundlo": -1.0, "roundhi": 1.0} if starfinder == "dao" else {}
    if starfinder == "dao":
        kw.update(sharplo=0.2, sharphi=1.0)
    cat = find_sources(image, starfinder=starfinder, bkg_boxsize=50, snr_threshold=10.0, **kw)
    assert cat.colnames == ["id", "x", "y", "flux"]
    dist, idx = cKDTree(np.column_stack([x, y])).query(np.column_stack([cat["x"], cat["y"]]))
    assert len(cat) >= 0.95 * len(x)
    assert len(set(idx.tolist())) == len(cat)  # one detection per star
    tol = {"iraf": 0.3, "dao": 0.1, "segmentation": 0.05}[starfinder]  # IRAF centroids are coarse
    assert np.median(dist) < tol / 2 and dist.max() < tol
    # the brightest come out brightest
    assert np.corrcoef(cat["flux"], flux[idx])[0, 1] > 0.99


def test_brightest_and_dq_mask(star_field):
    image, x, y, _ = star_field
    cat = find_sources(image, bkg_boxsize=50, brightest=10)
    assert len(cat) == 10
    dq = np.zeros(image.shape, dtype=np.uint32)
    dq[:, :110] = dqflags["DO_NOT_USE"]
    cat = find_sources(image, dq=dq, bkg_boxsize=50)
    assert len(cat) > 10 and np.all(cat["x"] > 105)
    # only the listed bits exclude pixels
    dq[:, :110] = dqflags["JUMP_DET"]
    assert len(find_sources(image, dq=dq, bkg_boxsize=50)) >= 40


def test_empty_and_flat_images_give_empty_tables():
    flat = np.full((64, 64), 3.0, dtype=np.float32)
    cat = find_sources(flat + np.random.default_rng(1).normal(0, 1, flat.shape), bkg_boxsize=32)
    assert len(cat) == 0 and cat.colnames == ["id", "x", "y", "flux"]
    cat = find_sources(np.full((32, 32), np.nan))
    assert len(cat) == 0
    with pytest.raises(ValueError, match="2-D"):
        find_sources(np.zeros(10))
    with pytest.raises(ValueError, match="starfinder"):
        find_sources(flat, starfinder="sextractor")


def test_background_ignores_stars(star_field):
    image, *_ = star_field
    bkg, rms = estimate_background(image, 50)
    assert np.max(np.abs(bkg - 20.0)) < 0.1
    assert np.median(rms) == pytest.approx(1.0, rel=0.1)
    # a box larger than the image falls back to one box for the whole image
    bkg, _ = estimate_background(image, 1000)
    assert np.allclose(bkg, bkg.flat[0]) and abs(bkg.flat[0] - 20.0) < 0.1
