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
