"""SkyMatchStep on simulated dithered exposures with injected sky offsets."""

import copy
from pathlib import Path

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.steps.skymatch import SkyMatchStep

import stage3_data as S3  # tests/steps, on pytest's pythonpath


@pytest.fixture(scope="module")
def calset():
    return S3.cal_set()


def _truth_sky(calset):
    return np.array([t.sky_background + t.sky_offset for t in calset.truths])


def test_match_recovers_the_injected_offsets(calset):
    sky = _truth_sky(calset)
    out = SkyMatchStep.call(calset.image3_asn, skymethod="match", skystat="median")
    levels = np.array([m.meta.background.level for m in out])
    # match: relative skies, the lowest at 0
    assert levels.min() == 0.0
    np.testing.assert_allclose(levels - levels[0], sky - sky[0], atol=0.01 * sky.mean())
    for m in out:
        assert m.meta.background.method == "match"
        assert m.meta.background.subtracted is False
        assert m.meta.cal_step.skymatch == "COMPLETE"


@pytest.mark.parametrize("method", ["global+match", "local"])
def test_absolute_sky_methods(calset, method):
    sky = _truth_sky(calset)
    out = SkyMatchStep.call(calset.image3_asn, skymethod=method, skystat="median")
    levels = np.array([m.meta.background.level for m in out])
    # sources and residual cosmic rays raise the median by a few percent
    np.testing.assert_allclose(levels, sky, rtol=0.07)
    np.testing.assert_allclose(levels - levels[0], sky - sky[0], atol=0.01 * sky.mean())


def test_global_is_the_lowest_local_sky(calset):
    local = [m.meta.background.level for m in SkyMatchStep.call(calset.image3_asn, skymethod="local")]
    glob = [m.meta.background.level for m in SkyMatchStep.call(calset.image3_asn, skymethod="global")]
    assert glob == pytest.approx([min(local)] * len(local))


def test_default_mode_is_noise_limited_median_meets_1_percent(calset):
    """The default (skymethod='match', skystat='mode', as the established step).

    The histogram peak of 0.1-sigma bins is flat to 0.5 % per bin while each
    bin's count scatters by ~0.8 %, so the peak wanders by ~0.05-0.15 sigma
    of the pixel noise: offset errors of 0.42-0.64 % of the sky on this set,
    0.7-2.4 % on benchmarks/image3.py's SUB640 set (seed 7, where
    stsci.imagestats' mode is 1.1-3.0 % off).  'median' (and 'midpt') stay
    within 0.02 % here and 0.12 % there: use them to meet the 1 % target.
    """
    sky = _truth_sky(calset)
    noise = np.nanmedian(datamodels.open(calset.exposures[0]).err)
    out = SkyMatchStep.call(calset.image3_asn)
    levels = np.array([m.meta.background.level for m in out])
    error = (levels - levels[0]) - (sky - sky[0])
    assert np.abs(error).max() < 0.2 * noise
    median = np.array([m.meta.background.level
                       for m in SkyMatchStep.call(calset.image3_asn, skystat="median")])
    error_median = (median - median[0]) - (sky - sky[0])
    assert np.abs(error_median).max() < 0.001 * sky.mean()
    # noise-limited, not exact: the exact median does several times better
    assert 3 * np.abs(error_median).max() < np.abs(error).max()


def test_default_mode_statistic_is_close(calset):
    """The default statistic (mode, as the established step) is noise limited (~0.06 sigma)."""
    sky = _truth_sky(calset)
    out = SkyMatchStep.call(calset.image3_asn, skymethod="local")
    levels = np.array([m.meta.background.level for m in out])
    noise = np.nanmedian(datamodels.open(calset.exposures[0]).err)
    np.testing.assert_allclose(levels, sky, atol=0.15 * noise)


def test_subtract_and_on_disk_agree(calset, tmp_path):
    files = S3.copy_set(calset, tmp_path / "mem")
    before = [datamodels.open(p).data.copy() for p in files["exposures"]]
    mem = SkyMatchStep.call(files["asn"], skymethod="global+match", skystat="median", subtract=True)
    disk = SkyMatchStep.call(files["asn"], skymethod="global+match", skystat="median", subtract=True,
                             in_memory=False)
    for m, d, b in zip(mem, disk, before):
        assert m.meta.background.subtracted is True
        assert d.meta.background.level == pytest.approx(m.meta.background.level, rel=1e-6)
        np.testing.assert_allclose(m.data, b - np.float32(m.meta.background.level), atol=1e-6,
                                   rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(d.data, m.data, atol=1e-6, rtol=1e-6, equal_nan=True)
    # the sky found in already-subtracted data is added to the recorded level
    again = SkyMatchStep.call(mem, skymethod="global+match", skystat="median", subtract=True)
    for a, m in zip(again, mem):
        assert a.meta.background.level == pytest.approx(m.meta.background.level, abs=1e-4)
    with pytest.raises(ValueError, match="subtract=True.*subtract=False"):
        SkyMatchStep.call(mem, subtract=False)


def test_user_sky_list(calset, tmp_path):
    skylist = tmp_path / "sky.txt"
    names = [Path(p).name for p in calset.exposures]
    skylist.write_text("# name sky\n" + "".join(f"{n} {0.1 * i}\n" for i, n in enumerate(names)))
    out = SkyMatchStep.call(calset.image3_asn, skymethod="user", skylist=str(skylist), subtract=True)
    for i, (m, p) in enumerate(zip(out, calset.exposures)):
        assert m.meta.background.level == pytest.approx(0.1 * i)
        assert m.meta.background.method == "user"
        with datamodels.open(p) as orig:
            np.testing.assert_allclose(m.data, orig.data - np.float32(0.1 * i), equal_nan=True)
    skylist.write_text(f"{names[0]} 0.1\n")
    with pytest.raises(ValueError, match="1 entries for 4 images"):
        SkyMatchStep.call(calset.image3_asn, skymethod="user", skylist=str(skylist))


def test_an_image_without_overlap_is_skipped(calset):
    models = [datamodels.open(p) for p in calset.exposures[:2]]
    far = datamodels.open(calset.exposures[2])
    # move the third image's WCS far away: no overlap with the others
    from astropy.modeling import models as am

    far.meta.wcs = copy.deepcopy(far.meta.wcs)
    shift = am.Shift(5000.0) & am.Shift(5000.0)
    far.meta.wcs.insert_transform("detector", shift, after=True)
    out = SkyMatchStep.call(models + [far], skymethod="match")
    assert [m.meta.cal_step.skymatch for m in out] == ["COMPLETE", "COMPLETE", "SKIPPED"]
    assert out[2].meta.background.level is None
