"""Footprints, polygon geometry, overlap masks and the mosaic WCS."""

import math

import numpy as np
import pytest

from photoncal.wcs import footprint as fp
from photoncal.sim import analytic as S


ARCSEC = 1.0 / 3600.0


def test_tangent_plane_round_trip_and_orientation():
    ra0, dec0 = 150.0, 60.0
    rng = np.random.default_rng(0)
    ra = ra0 + rng.uniform(-1, 1, 50)
    dec = dec0 + rng.uniform(-1, 1, 50)
    xi, eta = fp.sky_to_tangent_plane(ra, dec, ra0, dec0)
    r2, d2 = fp.tangent_plane_to_sky(xi, eta, ra0, dec0)
    assert np.allclose(r2, ra, atol=1e-11) and np.allclose(d2, dec, atol=1e-11)
    # east is +xi, north is +eta; small offsets scale with cos(dec) in RA
    xi, eta = fp.sky_to_tangent_plane(ra0 + 1e-3, dec0, ra0, dec0)
    assert xi == pytest.approx(1e-3 * math.cos(math.radians(dec0)), rel=1e-6)
    assert abs(eta) < 1e-8
    xi, eta = fp.sky_to_tangent_plane(ra0, dec0 + 1e-3, ra0, dec0)
    assert eta == pytest.approx(1e-3, rel=1e-6) and abs(xi) < 1e-12
    # the far hemisphere has no projection
    xi, eta = fp.sky_to_tangent_plane(ra0 + 180.0, -dec0, ra0, dec0)
    assert np.isnan(xi) and np.isnan(eta)


def test_convex_hull_and_planar_area():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1, (200, 2))
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float) * 1.5 - 0.25
    allp = np.vstack([pts, corners])
    hx, hy = fp.convex_hull(allp[:, 0], allp[:, 1])
    assert len(hx) == 4
    assert fp.polygon_area(hx, hy) == pytest.approx(1.5**2)  # counter-clockwise -> positive
    assert fp.polygon_area(hx[::-1], hy[::-1]) == pytest.approx(-(1.5**2))
    assert (hx[0], hy[0]) == (-0.25, -0.25)  # lexicographically smallest first


def test_clip_polygon_exact_area():
    a = np.array([[0, 0], [4, 0], [4, 3], [0, 3]], float)
    b = np.array([[2, 1], [6, 1], [6, 5], [2, 5]], float)
    c = fp.clip_polygon(a, b)
    assert abs(fp.polygon_area(c[:, 0], c[:, 1])) == pytest.approx(2 * 2)
    # clockwise clip polygon and concave subject
    l_shape = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4]], float)
    square = np.array([[0.5, 0.5], [0.5, 3.5], [3.5, 3.5], [3.5, 0.5]], float)
    c = fp.clip_polygon(l_shape, square)
    assert abs(fp.polygon_area(c[:, 0], c[:, 1])) == pytest.approx(3.0 * 0.5 + 2.5 * 0.5)
    # disjoint
    far = b + 100
    assert len(fp.clip_polygon(a, far)) == 0


def test_spherical_area_of_an_octant():
    # the triangle (0,0), (90,0), (0,90) covers one eighth of the sphere
    assert fp.spherical_polygon_area([0, 90, 0], [0, 0, 90]) == pytest.approx(math.pi / 2, rel=1e-12)
    # a tiny square of side s arcsec has area s^2 in arcsec^2
    s = 10.0 * ARCSEC
    r, d = fp.tangent_plane_to_sky([-s / 2, s / 2, s / 2, -s / 2], [-s / 2, -s / 2, s / 2, s / 2], 30, -40)
    area_arcsec2 = fp.spherical_polygon_area(r, d) * (180 / math.pi * 3600) ** 2
    assert area_arcsec2 == pytest.approx(100.0, rel=1e-6)


def test_image_footprint_area_and_corners():
    w, info = S.imaging_wcs(shape=(200, 220), pixel_scale=0.031)
    foot = fp.image_footprint(w)
    assert foot.shape == (4, 2)
    ra, dec = w(np.array([-0.5, 219.5, 219.5, -0.5]), np.array([-0.5, -0.5, 199.5, 199.5]))
    assert np.allclose(foot[:, 0], ra) and np.allclose(foot[:, 1], dec)
    area = fp.SkyPolygon([foot]).area() * (180 / math.pi * 3600) ** 2
    assert area == pytest.approx(200 * 220 * 0.031**2, rel=1e-4)
    dense = fp.image_footprint(w, stepsize=50)
    assert len(dense) == 2 * (math.ceil(220 / 50) + math.ceil(200 / 50))


def test_footprint_overlap_area_of_shifted_images():
    ra0, dec0 = 53.1, -27.8
    w1, _ = S.imaging_wcs(ra0, dec0, 0.0, shape=(200, 200), pixel_scale=0.05, v3yangle=0.0)
    r2, d2 = S.offset_pointing(ra0, dec0, 3.0, 2.0)  # arcsec east / north
    w2, _ = S.imaging_wcs(r2, d2, 0.0, shape=(200, 200), pixel_scale=0.05, v3yangle=0.0)
    p1, p2 = fp.SkyPolygon.from_wcs(w1), fp.SkyPolygon.from_wcs(w2)
    side = 200 * 0.05
    expected = (side - 3.0) * (side - 2.0)  # arcsec^2, axes aligned with north (roll 0)
    got = p1.intersection_area(p2) * (180 / math.pi * 3600) ** 2
    assert got == pytest.approx(expected, rel=1e-3)
    assert fp.overlap_area(p1, p2) == pytest.approx(p2.intersection_area(p1), rel=1e-9)
    far = fp.SkyPolygon.from_wcs(S.imaging_wcs(ra0 + 1, dec0)[0])
    assert p1.intersection(far).is_empty()


def test_polygon_mask_matches_point_in_polygon():
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(4)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radius = rng.uniform(10, 25, 9)
    x = 30.3 + radius * np.cos(angles)
    y = 27.7 + radius * np.sin(angles)
    mask = fp.polygon_mask(x, y, (60, 64))
    yy, xx = np.mgrid[:60, :64]
    ref = MplPath(np.column_stack([x, y])).contains_points(np.column_stack([xx.ravel(), yy.ravel()]))
    assert np.array_equal(mask.ravel(), ref)
    # rectangle: pixel centres 2..7 by 3..5
    m = fp.polygon_mask([1.5, 7.5, 7.5, 1.5], [2.5, 2.5, 5.5, 5.5], (10, 10))
    assert m.sum() == 6 * 3 and m[3, 2] and not m[2, 2]


def test_overlap_mask_agrees_with_pixel_mapping():
    ra0, dec0 = 53.1, -27.8
    w1, _ = S.imaging_wcs(ra0, dec0, 20.0, shape=(120, 140), distortion=0.5)
    r2, d2 = S.offset_pointing(ra0, dec0, 1.5, -1.0)
    w2, _ = S.imaging_wcs(r2, d2, 35.0, shape=(120, 140), distortion=0.5)
    region = fp.SkyPolygon.from_wcs(w1).intersection(fp.SkyPolygon.from_wcs(w2))
    mask = fp.overlap_mask(region, w1.invert, (120, 140), pixel_scale_deg=0.031 * ARCSEC)
    yy, xx = np.mgrid[:120, :140]
    ra, dec = w1(xx, yy)
    x2, y2 = w2.invert(ra, dec)
    truth = (x2 >= -0.5) & (x2 < 139.5) & (y2 >= -0.5) & (y2 < 119.5)
    assert truth.sum() > 2000
    disagree = mask != truth
    # only pixels within about a pixel of the overlap's edge may disagree
    assert disagree.sum() < 0.02 * truth.sum()
    from scipy import ndimage

    interior = ndimage.binary_erosion(truth, iterations=2)
    exterior = ndimage.binary_erosion(~truth, iterations=2)
    assert not np.any(disagree & (interior | exterior))


def test_wcs_from_footprints_covers_inputs_and_keeps_scale():
    ra0, dec0 = 53.1, -27.8
    wcss, infos = [], []
    for dx, dy in [(0, 0), (5, 1), (2, 6)]:
        r, d = S.offset_pointing(ra0, dec0, dx, dy)
        w, info = S.imaging_wcs(r, d, 30.0, shape=(200, 220))
        wcss.append(w)
        infos.append(info)
    out = fp.wcs_from_footprints(wcss, ref_wcsinfo=infos[0])
    ny, nx = out.array_shape
    xs, ys = [], []
    for w in wcss:
        foot = fp.image_footprint(w)
        x, y = out.invert(foot[:, 0], foot[:, 1], with_bounding_box=False)
        xs.append(x)
        ys.append(y)
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    # the established sizing puts the lowest outline vertex at pixel 0 and rounds
    # the extent, so the outlines end within a pixel of the output edges
    assert xs.min() == pytest.approx(0.0, abs=1e-6) and ys.min() == pytest.approx(0.0, abs=1e-6)
    assert xs.max() < nx + 0.5 and ys.max() < ny + 0.5
    assert xs.max() > nx - 1.5 and ys.max() > ny - 1.5
    assert fp.pixel_scale_at(out, nx / 2, ny / 2) * 3600 == pytest.approx(0.031, rel=1e-3)
    # half the pixel scale doubles the shape
    out2 = fp.wcs_from_footprints(wcss, ref_wcsinfo=infos[0], pixel_scale_ratio=0.5)
    assert out2.array_shape[0] == pytest.approx(2 * ny, abs=2)
    # rotation 0: +y points north, +x points west (east left)
    north = fp.wcs_from_footprints(wcss, rotation=0.0, pixel_scale=0.05)
    cx, cy = np.array(north.array_shape[::-1]) / 2
    ra_a, dec_a = north(cx, cy)
    ra_b, dec_b = north(cx, cy + 100)
    ra_c, dec_c = north(cx + 100, cy)
    assert dec_b - dec_a == pytest.approx(100 * 0.05 * ARCSEC, rel=1e-3)
    assert abs(ra_b - ra_a) * 3600 < 1e-6
    assert ra_c < ra_a
    # without wcsinfo the orientation follows the detector axes of the reference
    auto = fp.wcs_from_footprints(wcss)
    x0, y0 = np.array(auto.array_shape[::-1]) / 2
    r1, d1 = auto(x0, y0)
    r2, d2 = auto(x0, y0 + 1)
    rw, dw = wcss[0](110, 100)
    rw2, dw2 = wcss[0](110, 101)
    pa_out = math.atan2((r2 - r1) * math.cos(math.radians(d1)), d2 - d1)
    pa_in = math.atan2((rw2 - rw) * math.cos(math.radians(dw)), dw2 - dw)
    assert pa_out == pytest.approx(pa_in, abs=2e-3)


def test_wcs_from_footprints_crpix_crval_shape():
    w, info = S.imaging_wcs(shape=(100, 100))
    out = fp.wcs_from_footprints([w], crval=(53.1, -27.8), crpix=(10.0, 20.0), shape=(80, 90),
                                 pixel_scale=0.1, rotation=30.0)
    r, d = out(10.0, 20.0)
    assert r == pytest.approx(53.1, abs=1e-10) and d == pytest.approx(-27.8, abs=1e-10)
    assert out.array_shape == (80, 90)
    with pytest.raises(ValueError, match="too small"):
        fp.wcs_from_footprints([w], pixel_scale=100.0)


def test_s_region_text():
    text = fp.s_region_from_footprint([[1, 2], [3, 4], [5, 6]])
    assert text.startswith("POLYGON ICRS 1.000000000 2.000000000")
