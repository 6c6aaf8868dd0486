"""OutlierDetectionStep: unflagged cosmic rays in simulated dithered exposures."""

import os
from pathlib import Path

import numpy as np
import pytest

from photoncal import datamodels
from photoncal.datamodels import ModelContainer
from photoncal.dqflags import pixel
from photoncal.steps.outlier_detection import OutlierDetectionStep
from photoncal.steps.tweakreg import TweakRegStep

import stage3_data as S3  # tests/steps, on pytest's pythonpath


@pytest.fixture(scope="module")
def calset():
    return S3.cal_set()


@pytest.fixture(scope="module")
def aligned_files(calset, tmp_path_factory):
    """The set after tweakreg, saved with its association (outlier detection needs aligned WCSs)."""
    out = tmp_path_factory.mktemp("aligned")
    files = S3.copy_set(calset, out)
    for model, path in zip(TweakRegStep.call(files["asn"]), files["exposures"]):
        model.save(path)
    return files


def _scores(models, calset):
    rows = []
    for model, path, truth in zip(models, calset.exposures, calset.truths):
        flagged = (model.dq & pixel["OUTLIER"]) != 0
        cr = truth.cosmic_rays
        primary = cr[cr["primary"]]
        strong = cr[cr["snr"] > 5]
        hit = np.zeros(flagged.shape, bool)
        hit[cr["y"], cr["x"]] = True
        with datamodels.open(path) as orig:
            good = (orig.dq == 0) & ~hit
        rows.append((flagged[primary["y"], primary["x"]].sum(), len(primary),
                     flagged[strong["y"], strong["x"]].sum(), len(strong),
                     (flagged & good).sum(), good.sum()))
    return np.array(rows, dtype=float)


@pytest.fixture(scope="module")
def flagged(aligned_files):
    return OutlierDetectionStep.call(aligned_files["asn"])


def test_cosmic_rays_are_flagged_and_good_pixels_are_not(flagged, calset):
    s = _scores(flagged, calset).sum(axis=0)
    assert s[0] / s[1] >= 0.95          # cosmic-ray hits
    assert s[2] / s[3] >= 0.90          # every pixel > 5 sigma, side spills included
    assert s[4] / s[5] < 1e-3           # good pixels
    for m in flagged:
        assert m.meta.cal_step.outlier_detection == "COMPLETE"
        out = (m.dq & pixel["OUTLIER"]) != 0
        assert np.all((m.dq[out] & pixel["DO_NOT_USE"]) != 0)
        assert np.all(np.isnan(m.data[out])) and np.all(np.isnan(m.err[out]))


def test_on_disk_crf_products_and_intermediates(aligned_files, flagged, tmp_path):
    """On disk (one row section at a time): the same flags, the products named with the candidate id."""
    out = OutlierDetectionStep.call(aligned_files["asn"], in_memory=False, buffer_mb=1, save_results=True,
                                    suffix="crf", output_dir=str(tmp_path), save_intermediate_results=True)
    assert out.on_disk
    for a, b in zip(out, flagged):
        np.testing.assert_array_equal(a.dq, b.dq)
    workdir = out._photoncal_workdir.name
    assert not [n for n in os.listdir(workdir) if "outlier_i2d" in n or n == "pixmaps"]
    names = sorted(os.listdir(tmp_path))
    stems = [Path(p).name.replace("_cal.fits", "") for p in aligned_files["exposures"]]
    for stem in stems:
        assert f"{stem}_o001_crf.fits" in names
        assert f"{stem}_o001_outlier_i2d.fits" in names
        assert f"{stem}_o001_blot.fits" in names
    assert f"{stems[0]}_median.fits" in names
    with datamodels.open(tmp_path / f"{stems[1]}_o001_crf.fits") as crf:
        assert crf.meta.cal_step.outlier_detection == "COMPLETE"
        np.testing.assert_array_equal(crf.dq, flagged[1].dq)


def test_thresholds_change_the_outcome(aligned_files, flagged):
    loose = OutlierDetectionStep.call(aligned_files["asn"], snr="50.0 40.0")
    n_default = sum(int(np.count_nonzero(m.dq & pixel["OUTLIER"])) for m in flagged)
    n_loose = sum(int(np.count_nonzero(m.dq & pixel["OUTLIER"])) for m in loose)
    assert 0 < n_loose < n_default
    with pytest.raises(ValueError, match="snr"):
        OutlierDetectionStep.call(aligned_files["asn"], snr="5.0 4.0 3.0")


def test_single_exposure_is_skipped(aligned_files):
    out = OutlierDetectionStep.call([aligned_files["exposures"][0]])
    assert out[0].meta.cal_step.outlier_detection == "SKIPPED"
    assert not np.any(out[0].dq & pixel["OUTLIER"])


def test_without_resampling_on_one_grid():
    rng = np.random.default_rng(3)
    models = []
    for i in range(5):
        m = datamodels.ImageModel((40, 50))
        m.data = rng.normal(10.0, 1.0, (40, 50)).astype(np.float32)
        m.err = np.ones((40, 50), np.float32)
        m.var_rnoise = np.ones((40, 50), np.float32)
        m.meta.filename = f"img{i}_cal.fits"
        m.meta.exposure.type = "NRC_IMAGE"
        m.meta.exposure.exposure_time = 100.0
        models.append(m)
    models[2].data[20, 25] += 30.0
    out = OutlierDetectionStep.call(models, resample_data=False)
    flagged = [np.argwhere(m.dq & pixel["OUTLIER"]).tolist() for m in out]
    assert flagged[2] == [[20, 25]]
    assert sum(len(f) for f in flagged) == 1
    grown = OutlierDetectionStep.call(models, resample_data=False, grow=3)
    box = np.argwhere(grown[2].dq & pixel["OUTLIER"])
    assert len(box) == 9 and box.min(axis=0).tolist() == [19, 24]


def test_time_series_cube():
    rng = np.random.default_rng(4)
    cube = datamodels.CubeModel((30, 20, 20))
    cube.data = rng.normal(100.0, 1.0, (30, 20, 20)).astype(np.float32)
    cube.err = np.ones((30, 20, 20), np.float32)
    cube.meta.exposure.type = "NRC_TSIMAGE"
    cube.data[7, 5, 6] += 40.0
    out = OutlierDetectionStep.call(cube)
    assert np.argwhere(out.dq & pixel["OUTLIER"]).tolist() == [[7, 5, 6]]
    assert out.meta.cal_step.outlier_detection == "COMPLETE"
