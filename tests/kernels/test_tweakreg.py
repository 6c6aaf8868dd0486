"""tweakreg: matching, linear fits and the alignment loop on synthetic catalogs."""

import math

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from photoncal.kernels import tweakreg as tw
from photoncal.wcs.footprint import tangent_plane_to_sky
from photoncal.sim import analytic as S


def _affine(sx, sy, rx_deg, ry_deg):
    return tw.build_fit_matrix((rx_deg, ry_deg), (sx, sy))


def _catalog_pair(matrix, shift, *, n=400, noise=5e-4, missing=0.1, extra=40, seed=0, span=100.0):
    """Reference positions and an image catalog with ``ref = matrix . im + shift``."""
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-span, span, (n, 2))
    im = (ref - shift) @ np.linalg.inv(matrix).T + rng.normal(0, noise, (n, 2))
    keep = rng.random(n) > missing
    truth = np.flatnonzero(keep)
    im = np.vstack([im[keep], rng.uniform(-span, span, (extra, 2))])
    order = rng.permutation(len(im))
    im = im[order]
    # true reference index of each image row (-1 for the extra sources)
    true_ref = np.concatenate([truth, np.full(extra, -1)])[order]
    return ref, im, true_ref


CASES = {
    "shift": (np.eye(2), np.array([0.37, -0.21])),
    "rshift": (_affine(1.0, 1.0, math.degrees(2e-3), math.degrees(2e-3)), np.array([-0.42, 0.3])),
    "rscale": (_affine(1.0012, 1.0012, math.degrees(-1.5e-3), math.degrees(-1.5e-3)), np.array([0.2, 0.45])),
    "general": (_affine(1.001, 0.9993, math.degrees(1e-3), math.degrees(1.6e-3)), np.array([-0.3, -0.1])),
}


@pytest.mark.parametrize("fitgeom", list(CASES))
def test_match_and_fit_recover_known_transform(fitgeom):
    matrix, shift = CASES[fitgeom]
    ref, im, true_ref = _catalog_pair(matrix, shift, seed=len(fitgeom))
    match = tw.match_catalogs(ref, im, searchrad=2.0, separation=1.0, tolerance=0.7, pscale=1.0)
    # nearly every true pair is found, nearly nothing else
    correct = true_ref[match.im_idx] == match.ref_idx
    assert correct.sum() >= 0.97 * np.count_nonzero(true_ref >= 0)
    assert (~correct).sum() <= 3
    assert match.offset[0] == pytest.approx(-shift[0], abs=0.3)
    fit = tw.iter_linear_fit(ref[match.ref_idx], im[match.im_idx], fitgeom=fitgeom, nclip=3, sigma=3.0)
    # shift to < 1e-4 pixel, rotation/scale/skew terms to < 1e-6
    assert np.max(np.abs(fit.shift - shift)) < 1e-4
    assert np.max(np.abs(fit.matrix - matrix)) < 1e-6
    true_rot = math.atan2(matrix[0, 1] - matrix[1, 0], matrix[0, 0] + matrix[1, 1])
    assert abs(math.radians(fit.proper_rot) - true_rot) < 1e-6
    # and positions at the field corners (141 px out) land within 3e-4 pixel of the truth
    probe = np.array([[-100.0, -100.0], [100.0, -100.0], [0.0, 0.0], [-100.0, 100.0], [100.0, 100.0]])
    assert np.max(np.abs(fit(probe) - (probe @ matrix.T + shift))) < 3e-4
    assert fit.rmse == pytest.approx(5e-4 * math.sqrt(2), rel=0.25)
    assert fit.fitmask.sum() >= correct.sum() - 5


def test_fit_reports_rotation_scale_and_skew():
    m = _affine(1.02, 0.98, 0.5, 0.8)
    rng = np.random.default_rng(3)
    uv = rng.uniform(-50, 50, (30, 2))
    xy = uv @ m.T + [1.0, 2.0]
    fit = tw.iter_linear_fit(xy, uv, fitgeom="general", nclip=0)
    assert np.allclose(fit.matrix, m, atol=1e-12) and np.allclose(fit.shift, [1, 2], atol=1e-10)
    assert fit.rot == pytest.approx((0.5, 0.8)) and fit.scale == pytest.approx((1.02, 0.98))
    assert fit.skew == pytest.approx(0.3) and fit.mean_rot == pytest.approx(0.65)
    assert fit.proper and fit.rmse < 1e-10
    fit = tw.iter_linear_fit(xy @ np.diag([1, 1]), uv, fitgeom="shift", nclip=0)
    assert np.allclose(fit.matrix, np.eye(2)) and fit.scale == (1.0, 1.0)
    # a mirrored catalog is fitted with a reflection in rscale mode
    mirror = uv * [1, -1]
    fit = tw.iter_linear_fit(mirror @ _affine(1.0, 1.0, 10, 10).T, uv, fitgeom="rscale", nclip=0)
    assert not fit.proper and fit.rmse < 1e-9
    info = fit.as_dict()
    assert set(info) >= {"matrix", "shift", "rot", "<rot>", "scale", "<scale>", "skew", "rmse", "mae"}


def test_clipping_rejects_false_pairs():
    matrix, shift = CASES["rscale"]
    rng = np.random.default_rng(9)
    uv = rng.uniform(-100, 100, (200, 2))
    xy = uv @ matrix.T + shift + rng.normal(0, 0.01, (200, 2))
    bad = rng.choice(200, 12, replace=False)
    xy[bad] += rng.uniform(2, 5, (12, 2)) * rng.choice([-1, 1], (12, 2))
    fit = tw.iter_linear_fit(xy, uv, fitgeom="rscale", nclip=3, sigma=3.0)
    assert not fit.fitmask[bad].any()
    assert fit.fitmask.sum() >= 185
    assert np.max(np.abs(fit.shift - shift)) < 5e-3
    fit0 = tw.iter_linear_fit(xy, uv, fitgeom="rscale", nclip=0)
    assert fit0.rmse > 5 * fit.rmse
    with pytest.raises(tw.TweakregError, match="at least 3"):
        tw.iter_linear_fit(xy[:2], uv[:2], fitgeom="general")
    with pytest.raises(ValueError, match="fitgeom"):
        tw.iter_linear_fit(xy, uv, fitgeom="affine")


def test_triangle_matching_needs_no_initial_guess():
    # large rotation, scale change and offset: the histogram method cannot work
    matrix = _affine(1.08, 1.08, 37.0, 37.0)
    shift = np.array([45.0, -60.0])
    ref, im, true_ref = _catalog_pair(matrix, shift, n=150, noise=0.01, missing=0.2, extra=20, seed=5)
    tol = tw.match_catalogs(ref, im, searchrad=2.0, tolerance=0.7)
    assert len(tol) < 20
    # both lists know their sources' fluxes, so the brightest ones are compared
    rng = np.random.default_rng(6)
    ref_flux = rng.lognormal(0, 1, len(ref))
    im_flux = np.where(true_ref >= 0, ref_flux[np.maximum(true_ref, 0)], rng.lognormal(0, 1, len(im)))
    tri = tw.match_catalogs(ref, im, tolerance=0.7, separation=1.0, algorithm="triangles",
                            refflux=ref_flux, imflux=im_flux)
    correct = true_ref[tri.im_idx] == tri.ref_idx
    assert correct.sum() >= 0.95 * np.count_nonzero(true_ref >= 0) and (~correct).sum() <= 2
    fit = tw.iter_linear_fit(ref[tri.ref_idx], im[tri.im_idx], fitgeom="rscale")
    assert np.allclose(fit.matrix, matrix, atol=1e-4)
    assert np.allclose(fit.shift, shift, atol=2e-3)


def test_xyxymatch_is_one_to_one_and_drops_crowded_sources():
    ref = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [20.3, 0.2]])
    im = np.array([[0.1, 0.0], [-0.2, 0.1], [10.5, 0.0], [20.1, 0.1]]) + [5.0, 5.0]
    r, i = tw.xyxymatch(im, ref, origin=(5.0, 5.0), tolerance=0.6, separation=0.0)
    pairs = set(zip(r.tolist(), i.tolist()))
    assert (0, 0) in pairs and (1, 2) in pairs and len([p for p in pairs if p[0] == 0]) == 1
    assert not any(p[1] == 1 for p in pairs)  # the farther candidate of ref 0 is not reused
    # with separation 1, ref 3 (y = 0.2) is within 0.36 of ref 2 (y = 0): the later one goes
    assert tw.remove_close_sources(ref, 1.0).tolist() == [0, 1, 2]
    # image sources 0 and 1 are 0.32 apart: the one with smaller y (1 is not smaller) stays
    keep = tw.remove_close_sources(im, 1.0)
    assert keep.tolist() == [0, 2, 3]
    r, i = tw.xyxymatch(im, ref, origin=(5.0, 5.0), tolerance=0.6, separation=1.0)
    assert set(zip(r.tolist(), i.tolist())) == {(0, 0), (1, 2), (2, 3)}


def test_2dhist_offset_estimate():
    rng = np.random.default_rng(11)
    ref = rng.uniform(0, 300, (300, 2))
    im = ref + [1.3, -0.8] + rng.normal(0, 0.05, ref.shape)
    dx, dy = tw.estimate_2dhist_shift(im, ref, searchrad=3.0, pscale=1.0)
    assert dx == pytest.approx(1.3, abs=0.05) and dy == pytest.approx(-0.8, abs=0.05)
    assert tw.estimate_2dhist_shift(im + 1e4, ref, searchrad=3.0) == (0.0, 0.0)  # no pair in reach


# ---------------------------------------------------------------- alignment loop

RA0, DEC0 = 53.1, -27.8
SHAPE = (300, 320)
PSCALE = 0.1  # arcsec: a 32" x 30" detector, sparse enough for separation = 1"


def _sky_stars(n=600, half=40.0, seed=3):
    rng = np.random.default_rng(seed)
    xi = rng.uniform(-half, half, n) / 3600
    eta = rng.uniform(-half, half, n) / 3600
    return tangent_plane_to_sky(xi, eta, RA0, DEC0)


def _exposure(dx, dy, droll, err, *, v2_ref=120.0, v3_ref=-480.0, group_id=None, name="", seed=0,
              stars=None, noise=0.01):
    """An image whose catalog comes from the true WCS but whose WCS is off by ``err``."""
    rng = np.random.default_rng(seed)
    ra, dec = stars if stars is not None else _sky_stars()
    r, d = S.offset_pointing(RA0, DEC0, dx, dy)
    true_wcs, _ = S.imaging_wcs(r, d, 30.0 + droll, v2_ref=v2_ref, v3_ref=v3_ref, shape=SHAPE,
                                pixel_scale=PSCALE, distortion=0.3)
    x, y = true_wcs.invert(ra, dec)
    inside = (x > 1) & (x < SHAPE[1] - 2) & (y > 1) & (y < SHAPE[0] - 2)
    x = x[inside] + rng.normal(0, noise, inside.sum())
    y = y[inside] + rng.normal(0, noise, inside.sum())
    ex, ey, eroll = err
    r2, d2 = S.offset_pointing(r, d, ex, ey)
    bad_wcs, info = S.imaging_wcs(r2, d2, 30.0 + droll + eroll, v2_ref=v2_ref, v3_ref=v3_ref,
                                  shape=SHAPE, pixel_scale=PSCALE, distortion=0.3)
    item = tw.AlignInput(bad_wcs, Table({"x": x, "y": y}), info, group_id, name)
    return item, true_wcs


def _max_error_mas(wcs, truth):
    gx, gy = np.meshgrid(np.linspace(0, SHAPE[1] - 1, 5), np.linspace(0, SHAPE[0] - 1, 5))
    a = SkyCoord(*wcs(gx, gy), unit="deg")
    b = SkyCoord(*truth(gx, gy), unit="deg")
    return float(np.max(a.separation(b).arcsec)) * 1000


def test_relative_alignment_corrects_each_image():
    items, truths = [], []
    for k, (dx, dy, droll, err) in enumerate([(0, 0, 0, (0, 0, 0)), (3, 2, 0.02, (0.25, -0.15, 0.01)),
                                              (-2, 4, -0.03, (-0.2, 0.3, -0.008))]):
        item, truth = _exposure(dx, dy, droll, err, name=f"im{k}", seed=k)
        items.append(item)
        truths.append(truth)
    results = tw.relative_align(items, enforce_user_order=True, minobj=15, fitgeometry="rshift")
    assert [r.status for r in results] == ["REFERENCE", "SUCCESS", "SUCCESS"]
    for res, item, truth in zip(results[1:], items[1:], truths[1:]):
        assert _max_error_mas(item.wcs, truth) > 150  # the starting error
        assert _max_error_mas(res.wcs, truth) < 1.5
        # 0.01 px = 1 mas noise per axis in both catalogs: rmse ~ 2 mas
        assert res.nmatches >= 60 and res.fit.rmse < 0.003
        assert len(res.matched_input_idx) == res.nmatches
    assert results[0].wcs is items[0].wcs


def test_exposure_groups_are_fitted_together():
    # two detectors of one exposure share one pointing error
    stars = _sky_stars(n=900, half=60)
    ref_a, truth_a = _exposure(-12, 0, 0, (0, 0, 0), stars=stars, name="ref", seed=1)
    err = (0.3, 0.2, 0.01)
    det1, t1 = _exposure(-10, 1, 0.0, err, stars=stars, group_id="exp2", name="exp2a", seed=2)
    det2, t2 = _exposure(-10, 1, 0.0, err, v2_ref=150.0, v3_ref=-480.0, stars=stars,
                         group_id="exp2", name="exp2b", seed=3)
    results = tw.relative_align([ref_a, det1, det2], enforce_user_order=True, minobj=10)
    assert results[1].status == results[2].status == "SUCCESS"
    assert results[1].fit is results[2].fit  # one fit for the group
    assert results[1].nmatches == results[2].nmatches
    assert results[1].nmatches > len(results[1].matched_input_idx) > 0
    assert _max_error_mas(results[1].wcs, t1) < 2.0
    assert _max_error_mas(results[2].wcs, t2) < 2.0


def test_expanded_reference_catalog_and_overlap_order():
    # a chain a - b - c: a and c do not overlap; b overlaps both, so b (listed
    # last) becomes the reference and the order is decided by overlap
    stars = _sky_stars(n=1500, half=80, seed=8)
    a, ta = _exposure(-20, 0, 0, (0.25, -0.1, 0.0), stars=stars, name="a", seed=1)
    c, tc = _exposure(20, 0, 0, (0.2, 0.1, 0.004), stars=stars, name="c", seed=3)
    b, _ = _exposure(0, 0, 0, (0, 0, 0), stars=stars, name="b", seed=2)
    results, refcat = tw.align_images([a, c, b], None, enforce_user_order=False, expand_refcat=True,
                                      minobj=10, fitgeometry="rshift")
    assert [r.status for r in results] == ["SUCCESS", "SUCCESS", "REFERENCE"]
    # fitted on ~20 stars in a 12" strip of overlap: a few mas at the far corners
    assert _max_error_mas(a.wcs, ta) > 200
    assert _max_error_mas(results[0].wcs, ta) < 6 and _max_error_mas(results[1].wcs, tc) < 6
    # the reference grew by the unmatched sources of a and c
    assert len(refcat) > len(b.catalog) + 20
    assert set(refcat.colnames) >= {"RA", "DEC", "id"}


def test_absolute_alignment_to_a_sky_catalog():
    stars = _sky_stars(n=600, half=40, seed=4)
    item1, t1 = _exposure(0, 0, 0, (0.4, -0.3, 0.0), stars=stars, name="i1", seed=1)
    item2, t2 = _exposure(3, 2, 0, (0.4, -0.3, 0.0), stars=stars, name="i2", seed=2)
    refcat = Table({"ra": stars[0], "dec": stars[1]})
    refcat = tw.parse_refcat(refcat)
    results = tw.absolute_align([item1, item2], refcat, abs_minobj=15, abs_searchrad=2.0,
                                abs_tolerance=0.7, abs_separation=1.0, abs_fitgeometry="rshift")
    assert all(r.succeeded for r in results)
    assert _max_error_mas(results[0].wcs, t1) < 1.5 and _max_error_mas(results[1].wcs, t2) < 1.5
    with pytest.raises(tw.TweakregError, match="abs_minobj"):
        tw.absolute_align([item1], refcat[:5], abs_minobj=15)


def test_alignment_failures_are_reported():
    item, _ = _exposure(0, 0, 0, (0, 0, 0), name="only")
    with pytest.raises(tw.TweakregError, match="too few"):
        tw.relative_align([item])
    empty = tw.AlignInput(item.wcs, Table({"x": [], "y": []}), item.ref_angles, None, "empty")
    with pytest.raises(tw.TweakregError, match="too few"):
        tw.relative_align([item, empty])
    far, _ = _exposure(0, 0, 0, (0, 0, 0), stars=_sky_stars(n=150, seed=99), name="other stars", seed=5)
    results = tw.relative_align([item, far], minobj=15)
    assert results[1].status.startswith("FAILED: not enough matches")
    assert results[1].wcs is far.wcs
    with pytest.raises(KeyError, match="'x'"):
        tw.relative_align([item, tw.AlignInput(item.wcs, Table({"xc": [1.0]}), item.ref_angles)])


def test_parse_refcat_accepts_sky_centroid_columns():
    sc = SkyCoord([10.0, 10.1], [-5.0, -5.1], unit="deg")
    t = tw.parse_refcat(Table({"sky_centroid": sc, "flux": [1.0, 2.0]}))
    assert np.allclose(t["RA"], [10.0, 10.1]) and np.allclose(t["DEC"], [-5.0, -5.1])
    with pytest.raises(KeyError, match="needs RA and DEC"):
        tw.parse_refcat(Table({"x": [1.0]}), name="my.ecsv")
