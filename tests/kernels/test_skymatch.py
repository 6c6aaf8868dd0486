"""skymatch: sky statistics, DQ masks and the four sky methods on overlapping images."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from photoncal.dqflags import pixel as dqflags
from photoncal.kernels import skymatch as sm
from photoncal.wcs.footprint import sky_to_tangent_plane
from photoncal.sim import analytic as S


RA0, DEC0 = 53.1, -27.8


# ---------------------------------------------------------------- statistics

def test_mean_and_median_with_clipping_and_limits():
    rng = np.random.default_rng(0)
    v = rng.normal(10.0, 2.0, 50000)
    v[:200] = 1000.0  # cosmic rays
    mean, n = sm.sky_statistic(v, "mean", nclip=5, lsigma=4, usigma=4)
    assert mean == pytest.approx(10.0, abs=0.03) and 49700 < n < 49800 + 1
    raw, n0 = sm.sky_statistic(v, "mean", nclip=0)
    assert raw > 13 and n0 == 50000
    med, _ = sm.sky_statistic(v, "median")
    assert med == pytest.approx(10.0, abs=0.03)
    capped, n1 = sm.sky_statistic(v, "mean", nclip=0, upper=100.0)
    assert capped == pytest.approx(10.0, abs=0.03) and n1 == 49800
    assert sm.sky_statistic(np.array([np.nan, np.nan]), "mean") == (None, 0)
    assert sm.sky_statistic(v, "mean", lower=2000.0) == (None, 0)
    with pytest.raises(ValueError, match="lower"):
        sm.sky_statistic(v, "mean", lower=3.0, upper=2.0)


def test_mode_and_midpt_of_a_gaussian():
    rng = np.random.default_rng(1)
    v = rng.normal(5.0, 1.0, 200000)
    v[:500] = 80.0
    mode, _ = sm.sky_statistic(v, "mode", binwidth=0.1)
    midpt, _ = sm.sky_statistic(v, "midpt", binwidth=0.1)
    # the histogram peak of 0.1-sigma bins is noisy: a few bins of scatter
    assert mode == pytest.approx(5.0, abs=0.15)
    assert midpt == pytest.approx(5.0, abs=0.02)
    # a skewed distribution: mode < midpt < mean
    w = rng.gamma(2.0, 1.0, 200000)
    m1, _ = sm.sky_statistic(w, "mode", nclip=0)
    m2, _ = sm.sky_statistic(w, "midpt", nclip=0)
    m3, _ = sm.sky_statistic(w, "mean", nclip=0)
    assert m1 == pytest.approx(1.0, abs=0.1) and m2 == pytest.approx(1.678, abs=0.02)
    assert m1 < m2 < m3
    with pytest.raises(ValueError, match="skystat"):
        sm.sky_statistic(v, "max")
    stats = sm.SkyStats("median", nclip=0)
    assert stats(np.arange(5.0)) == (2.0, 5)


def test_dqbits_semantics():
    dq = np.array([0, 1, 2, 3, 4, 6, 8, 12], dtype=np.uint32)
    assert sm.good_pixel_mask(dq, 0).tolist() == [True] + [False] * 7
    # 6 = 2 + 4: 2, 4, 6 good; 3, 12 bad
    assert sm.good_pixel_mask(dq, 6).tolist() == [True, False, True, False, True, True, False, False]
    assert sm.good_pixel_mask(dq, "2,4").tolist() == sm.good_pixel_mask(dq, 6).tolist()
    # ~4+8: 4 and 8 are bad, everything else good
    assert sm.good_pixel_mask(dq, "~4+8").tolist() == [True, True, True, True, False, False, False, False]
    assert sm.good_pixel_mask(dq, None).all()
    named = np.array([0, dqflags["DO_NOT_USE"], dqflags["JUMP_DET"]], dtype=np.uint32)
    assert sm.good_pixel_mask(named, "~DO_NOT_USE+NON_SCIENCE").tolist() == [True, False, True]


# ---------------------------------------------------------------- matching

SHAPE = (160, 170)


def _images(offsets, skies, *, noise=0.05, diffuse=0.0, seed=5, dq_hole=False, stepsize=None):
    rng = np.random.default_rng(seed)
    out = []
    for k, ((dx, dy), sky) in enumerate(zip(offsets, skies)):
        r, d = S.offset_pointing(RA0, DEC0, dx, dy)
        w, _ = S.imaging_wcs(r, d, 10.0 * k, shape=SHAPE, distortion=0.3)
        data = sky + rng.normal(0, noise, SHAPE)
        if diffuse:
            yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
            xi, eta = sky_to_tangent_plane(*w(xx, yy), RA0 + 0.0005, DEC0 + 0.0005)
            data += diffuse * np.exp(-((xi * 3600) ** 2 + (eta * 3600) ** 2) / (2 * 2.0**2))
        dq = np.zeros(SHAPE, dtype=np.uint32)
        if dq_hole:
            dq[:20, :20] = dqflags["DO_NOT_USE"]
            data[:20, :20] = 1e6
        out.append(sm.sky_image(data.astype(np.float32), w, dq=dq, dqbits="~DO_NOT_USE+NON_SCIENCE",
                                id=f"im{k}", stepsize=stepsize))
    return out


OFFSETS = [(0, 0), (2.5, 0.5), (1.0, 3.0), (4.0, 3.5)]
SKIES = [1.0, 1.5, 0.8, 1.9]


def test_match_recovers_relative_offsets():
    images = _images(OFFSETS, SKIES, diffuse=0.5, dq_hole=True)
    res = sm.match_sky(images, "match", stat=sm.SkyStats("median", nclip=3))
    got = np.array([s for s, _ in res])
    want = np.array(SKIES) - min(SKIES)
    assert got[2] == 0.0  # the lowest is the reference
    assert np.max(np.abs(got - want)) < 0.01 * np.ptp(SKIES)
    assert all(valid for _, valid in res)
    # match_down=False brings everything up to the highest sky
    for im in images:
        im.sky = 0.0
    res = sm.match_sky(images, "match", match_down=False, stat=sm.SkyStats("median", nclip=3))
    assert np.allclose([s for s, _ in res], np.array(SKIES) - max(SKIES), atol=0.01 * np.ptp(SKIES))


def test_global_takes_the_minimum_and_global_match_both():
    images = _images(OFFSETS, SKIES)
    res = sm.match_sky(images, "global", stat=sm.SkyStats("median"))
    assert np.allclose([s for s, _ in res], min(SKIES), atol=0.005)
    images = _images(OFFSETS, SKIES)
    res = sm.match_sky(images, "global+match", stat=sm.SkyStats("median"))
    assert np.allclose([s for s, _ in res], SKIES, atol=0.01 * np.ptp(SKIES))
    images = _images(OFFSETS, SKIES)
    res = sm.match_sky(images, "local")
    assert np.allclose([s for s, _ in res], SKIES, atol=0.01)  # default clipped mode


def test_subtract_modifies_the_data():
    images = _images(OFFSETS, SKIES)
    before = [im.data.copy() for im in images]
    res = sm.match_sky(images, "global+match", subtract=True, stat=sm.SkyStats("median"))
    for im, b, (sky, _) in zip(images, before, res):
        assert np.allclose(im.data, b - np.float32(sky), atol=1e-5)
        assert np.median(im.data) == pytest.approx(0.0, abs=0.01)
    # not subtracting leaves the data alone
    images = _images(OFFSETS, SKIES)
    before = [im.data.copy() for im in images]
    sm.match_sky(images, "global+match")
    assert all(np.array_equal(im.data, b) for im, b in zip(images, before))


def test_groups_share_one_sky_and_isolated_images_are_flagged():
    images = _images(OFFSETS + [(200.0, 0.0)], SKIES + [3.0])
    group = sm.SkyGroup(images[:2], id="exposure 1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.match_sky([group] + images[2:], "match", stat=sm.SkyStats("median"))
    assert any("no sky overlap" in str(w.message) for w in caught)
    skies = [s for s, _ in res]
    assert skies[0] == skies[1]  # one value for the group
    assert skies[2] == 0.0 and res[4] == (0.0, False)  # isolated image: no value
    # the group's sky is matched as a whole (npix-weighted over its members)
    assert 0.3 < skies[0] < 0.8


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="skymethod"):
        sm.match_sky(_images(OFFSETS[:1], SKIES[:1]), "nearest")
    with pytest.raises(TypeError, match="SkyImage"):
        sm.match_sky([np.zeros((3, 3))])
    w, _ = S.imaging_wcs(shape=SHAPE)
    with pytest.raises(ValueError, match="DQ shape"):
        sm.sky_image(np.zeros(SHAPE), w, dq=np.zeros((3, 3), dtype=np.uint32))


# ---------------------------------------------------------------- parity with stsci.imagestats

def _established_python():
    import os
    import subprocess

    for candidate in (os.environ.get("PHOTONCAL_JWST_PYTHON"), "/work/jwstenv/bin/python"):
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import stsci.imagestats"], capture_output=True,
                                   timeout=120)
            if probe.returncode == 0:
                return candidate
    return None


def test_statistics_match_stsci_imagestats_up_to_the_bin_position_convention(tmp_path):
    """Same clipping, histogram and peak/midpoint rules as the established ImageStats.

    The one difference is deliberate: imagestats fills bins of width
    ``dz = (max - min) / (nbins - 1)`` but converts bin indices back to values
    with the nominal ``binwidth * std``; we use ``dz``.  So
    ``established = min + (ours - min) * hwidth / dz`` exactly, which moves
    the established mode/midpt by up to half a bin (0.05 sigma) depending on
    how ``nbins`` rounds - an exposure-to-exposure bias our statistic does
    not have.
    """
    import json
    import subprocess

    python = _established_python()
    if python is None:
        pytest.skip("stsci.imagestats (established pipeline) not available")
    rng = np.random.default_rng(7)
    # a sky with faint sources (positive tail) and cosmic rays
    v = np.concatenate([rng.normal(0.17, 0.028, 300000), 0.17 + rng.exponential(0.05, 20000),
                        np.full(300, 50.0)]).astype(np.float32)
    np.save(tmp_path / "v.npy", v)
    script = (
        "import json, sys, numpy as np\n"
        "from stsci.imagestats import ImageStats\n"
        f"v = np.load({str(tmp_path / 'v.npy')!r})\n"
        "s = ImageStats(v, fields='npix,mode,midpt,median,mean', nclip=5, lsig=4.0, usig=4.0,"
        " binwidth=0.1)\n"
        "print(json.dumps({k: float(getattr(s, k)) for k in"
        " ('npix', 'mode', 'midpt', 'median', 'mean', 'hmin', 'hwidth')}"
        " | {'nbins': int(s.histogram.size)}))\n"
    )
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    ours = {k: sm.sky_statistic(v, k, nclip=5, lsigma=4.0, usigma=4.0, binwidth=0.1)
            for k in ("mode", "midpt", "median", "mean")}
    assert ours["mean"][1] == ref["npix"]
    assert ours["mean"][0] == pytest.approx(ref["mean"], rel=1e-6)
    assert ours["median"][0] == pytest.approx(ref["median"], rel=1e-7)
    hwidth = ref["hwidth"]
    vmin = ref["hmin"] - 0.5 * hwidth
    # the final clipped range, by the clipping rule both codes share
    lo, hi = -np.inf, np.inf
    for it in range(6):
        n, mean, std, cmin, cmax = sm._range_stats(v, lo, hi)
        lo, hi = mean - 4.0 * std, mean + 4.0 * std
    assert n == ref["npix"] and cmin == pytest.approx(vmin, abs=1e-7)
    assert 0.1 * std == pytest.approx(hwidth, rel=1e-5)
    dz = (cmax - cmin) / (ref["nbins"] - 1)
    assert dz > hwidth
    for key in ("mode", "midpt"):
        established_from_ours = vmin + (ours[key][0] - vmin) * hwidth / dz
        assert established_from_ours == pytest.approx(ref[key], abs=0.02 * hwidth), key
        # and the convention alone moves the value by a fraction of a bin
        assert abs(ours[key][0] - ref[key]) < 0.6 * dz
