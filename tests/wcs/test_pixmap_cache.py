"""pixmap_cache: identical maps are computed once, changed WCSs are not served stale maps."""

import os

import numpy as np
from astropy.modeling import models
from gwcs import coordinate_frames as cf
from gwcs import wcs as gwcs_wcs

from photoncal.wcs import pixmap as pm


def _tan_wcs(crval=(53.16, -27.79), scale=0.031, rot=0.0, shift=(0.0, 0.0)):
    import astropy.units as u
    from astropy import coordinates as coord

    pc = models.Rotation2D(rot)
    sky = (models.Shift(-50.0 + shift[0]) & models.Shift(-40.0 + shift[1])) | pc | (
        models.Scale(scale / 3600) & models.Scale(scale / 3600)) | models.Pix2Sky_TAN() | \
        models.RotateNative2Celestial(crval[0], crval[1], 180.0)
    det = cf.Frame2D(name="detector", unit=(u.pix, u.pix))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    return gwcs_wcs.WCS([(det, sky), (world, None)])


def test_cached_maps_equal_computed_ones(tmp_path, monkeypatch):
    src, dst = _tan_wcs(rot=3.0), _tan_wcs(shift=(7.5, -2.25))
    direct = pm.calc_pixmap(src, dst, (80, 100))
    calls = []
    original = pm._compute_pixmap
    monkeypatch.setattr(pm, "_compute_pixmap", lambda *a: calls.append(1) or original(*a))
    with pm.pixmap_cache(tmp_path):
        first = pm.calc_pixmap(src, dst, (80, 100))
        second = pm.calc_pixmap(_tan_wcs(rot=3.0), _tan_wcs(shift=(7.5, -2.25)), (80, 100))
        moved = pm.calc_pixmap(_tan_wcs(rot=3.0, shift=(0.01, 0.0)), dst, (80, 100))
        with pm.pixmap_cache(tmp_path / "inner") as inner:
            assert inner == os.fspath(tmp_path)  # nested blocks share the outer cache
    np.testing.assert_array_equal(first, direct)
    np.testing.assert_array_equal(second, direct)
    assert len(calls) == 2  # the moved WCS got its own map
    assert 0.005 < np.abs(moved - direct).max() < 0.05
    assert len(list(tmp_path.glob("pixmap_*.npy"))) == 2
    # outside the block nothing is cached
    pm.calc_pixmap(src, dst, (80, 100))
    assert len(calls) == 3


def _distorted_wcs(kink=False):
    import astropy.units as u
    from astropy import coordinates as coord

    px = models.Polynomial2D(3, c1_0=1.0, c2_0=2e-5, c1_1=-1e-5, c3_0=1e-9)
    py = models.Polynomial2D(3, c0_1=1.0, c0_2=3e-5, c2_1=2e-9)
    dist = models.Mapping((0, 1, 0, 1)) | (px & py)
    if kink:
        # not smooth: a 0.3-pixel step half way across the image
        dist = dist | (models.Tabular1D(points=np.array([-1.0, 299.99, 300.0, 701.0]),
                                        lookup_table=np.array([-1.0, 299.99, 300.3, 701.3]),
                                        bounds_error=False) & models.Identity(1))
    sky = (models.Shift(-300.0) & models.Shift(-300.0)) | (
        models.Scale(0.031 / 3600) & models.Scale(0.031 / 3600)) | models.Pix2Sky_TAN() | \
        models.RotateNative2Celestial(53.16, -27.79, 180.0)
    det = cf.Frame2D(name="detector", unit=(u.pix, u.pix))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    return gwcs_wcs.WCS([(det, dist | sky), (world, None)])


def test_large_maps_are_interpolated_only_when_exact(monkeypatch):
    src, dst = _distorted_wcs(), _tan_wcs(rot=1.0, shift=(260.0, 250.0))
    fast = pm.calc_pixmap(src, dst, (600, 640))
    monkeypatch.setattr(pm, "_FAST_MIN_PIXELS", 1 << 40)
    exact = pm.calc_pixmap(src, dst, (600, 640))
    assert np.nanmax(np.abs(fast - exact)) < 1e-7
    # a map with a kink is not interpolated: the cell-centre check rejects the spline
    monkeypatch.setattr(pm, "_FAST_MIN_PIXELS", 1 << 10)
    kinked = _distorted_wcs(kink=True)
    np.testing.assert_array_equal(pm.calc_pixmap(kinked, dst, (600, 640)),
                                  pm._compute_pixmap(kinked, dst, (600, 640), "to", 1, 1, 1 << 40))
    monkeypatch.setattr(pm, "_FAST_MIN_PIXELS", 1 << 40)
    np.testing.assert_array_equal(pm.calc_pixmap(kinked, dst, (600, 640)),
                                  pm._compute_pixmap(kinked, dst, (600, 640), "to", 1, 1, 1 << 20))
